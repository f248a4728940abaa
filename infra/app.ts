import { Annotations, App, CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { LambicMigrations } from "./lambic-migrations.ts";

/**
 * Settings of the example stack, each read from CDK context (`-c key=value`) or else from an
 * environment variable:
 *
 * | context             | environment                    | default                          |
 * |---------------------|--------------------------------|----------------------------------|
 * | `bundleSha256`      | `LAMBIC_BUNDLE_SHA256`         | none: no deploy-time migration   |
 * | `databaseSecretArn` | `LAMBIC_DATABASE_SECRET_ARN`   | a placeholder ARN (synth only)   |
 * | `databaseSecretKeyArn` | `LAMBIC_DATABASE_SECRET_KEY_ARN` | none: the AWS managed key     |
 * | `database`          | `LAMBIC_DATABASE`              | `main`                           |
 * | `bundlePrefix`      | `LAMBIC_PREFIX`                | `lambic`                         |
 * | `bucketName`        | `LAMBIC_BUCKET`                | none: the stack creates a bucket |
 * | `bucketKeyArn`      | `LAMBIC_BUCKET_KEY_ARN`        | none: the bucket is not SSE-KMS  |
 * | `alarmTopicArn`     | `LAMBIC_ALARM_TOPIC_ARN`       | none: alarms without actions     |
 * | `handlerDir`        | `LAMBIC_HANDLER_DIR`           | `dist/lambda`                    |
 *
 * and `stackName` (context only; default `LambicStack`).
 */
export const SETTINGS = {
  bundleSha256: "LAMBIC_BUNDLE_SHA256",
  databaseSecretArn: "LAMBIC_DATABASE_SECRET_ARN",
  databaseSecretKeyArn: "LAMBIC_DATABASE_SECRET_KEY_ARN",
  database: "LAMBIC_DATABASE",
  bundlePrefix: "LAMBIC_PREFIX",
  bucketName: "LAMBIC_BUCKET",
  bucketKeyArn: "LAMBIC_BUCKET_KEY_ARN",
  alarmTopicArn: "LAMBIC_ALARM_TOPIC_ARN",
  handlerDir: "LAMBIC_HANDLER_DIR",
} as const;

export type LambicSettings = { [K in keyof typeof SETTINGS]?: string };

/** Lets `cdk synth` work with no account; deploying with it fails at the first secret read. */
export const PLACEHOLDER_SECRET_ARN =
  "arn:aws:secretsmanager:us-east-1:123456789012:secret:lambic/placeholder-AbCdEf";

export interface LambicStackProps extends StackProps {
  readonly settings: LambicSettings;
}

export class LambicStack extends Stack {
  readonly migrations: LambicMigrations;

  constructor(scope: Construct, id: string, props: LambicStackProps) {
    super(scope, id, props);
    const { settings } = props;
    if (!settings.databaseSecretArn) {
      Annotations.of(this).addWarning(
        "No databaseSecretArn given (-c databaseSecretArn=arn:...): using a placeholder ARN. " +
          "Synth works; the function cannot reach a database.",
      );
    }
    if (!settings.bundleSha256) {
      Annotations.of(this).addInfo(
        "No bundleSha256 given (-c bundleSha256=<sha>): no migration runs during deploy.",
      );
    }
    // Customer managed keys of the secret and of an existing bucket: the function needs to use them.
    const key = (id: string, arn: string | undefined) => (arn ? kms.Key.fromKeyArn(this, id, arn) : undefined);
    const bucketKey = key("BucketKey", settings.bucketKeyArn);
    if (bucketKey && !settings.bucketName) {
      throw new Error("bucketKeyArn is the key of an existing bucket (-c bucketName=...); the bucket this stack creates is encrypted with S3-managed keys.");
    }
    this.migrations = new LambicMigrations(this, "Migrations", {
      databaseSecret: settings.databaseSecretArn ?? PLACEHOLDER_SECRET_ARN,
      databaseSecretKey: key("DatabaseSecretKey", settings.databaseSecretKeyArn),
      database: settings.database,
      bundlePrefix: settings.bundlePrefix,
      handlerDir: settings.handlerDir,
      bucket: settings.bucketName ? s3.Bucket.fromBucketAttributes(this, "Bucket", { bucketName: settings.bucketName, encryptionKey: bucketKey }) : undefined,
      alarmTopic: settings.alarmTopicArn
        ? sns.Topic.fromTopicArn(this, "AlarmTopic", settings.alarmTopicArn)
        : undefined,
      migrateOnDeploy: settings.bundleSha256 ? { bundleSha256: settings.bundleSha256 } : undefined,
    });
    // What `lambic publish --bucket` and `lambic invoke --function` need.
    new CfnOutput(this, "FunctionName", { value: this.migrations.fn.functionName });
    new CfnOutput(this, "BucketName", { value: this.migrations.bucket.bucketName });
  }
}

export interface CreateLambicAppOptions {
  /** Where the cloud assembly goes. @default CDK_OUTDIR, or a temporary directory */
  readonly outdir?: string;
  /** Context on top of what the CDK CLI passes (CDK_CONTEXT_JSON). */
  readonly context?: Record<string, string>;
  /** Used when neither context nor environment names a handler directory. */
  readonly defaultHandlerDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Builds the app without synthesizing it: `infra/synth.mjs` runs it, tests inspect it. */
export function createLambicApp(options: CreateLambicAppOptions = {}): { app: App; stack: LambicStack } {
  const app = new App({ outdir: options.outdir, context: options.context });
  const env = options.env ?? process.env;
  const settings: Record<string, string | undefined> = {};
  for (const [key, envName] of Object.entries(SETTINGS)) {
    const fromContext: unknown = app.node.tryGetContext(key);
    settings[key] = typeof fromContext === "string" && fromContext !== "" ? fromContext : env[envName] || undefined;
  }
  settings.handlerDir ??= options.defaultHandlerDir;
  const stack = new LambicStack(app, app.node.tryGetContext("stackName") ?? "LambicStack", {
    settings,
    env: { account: env.CDK_DEFAULT_ACCOUNT, region: env.CDK_DEFAULT_REGION },
  });
  return { app, stack };
}
