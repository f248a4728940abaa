import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Duration, type Stack } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import { describe, expect, test } from "vitest";
import type { LambicMigrations } from "../../infra/lambic-migrations.ts";
import { SECRET_ARN, SHA, allStatements, asList, only, synth } from "./helpers.ts";
import { tempDir } from "../support/temp-dir.ts";

function migrationFunction(template: Template): any {
  const fns = template.findResources("AWS::Lambda::Function", { Properties: { Handler: "handler.handler" } });
  expect(Object.keys(fns)).toHaveLength(1);
  return Object.values(fns)[0]!.Properties;
}

/** The statements of the migration function's own role policy. */
function functionStatements(stack: Stack, migrations: LambicMigrations, template: Template): unknown[] {
  const roleRef = stack.resolve(migrations.fn.role!.roleName);
  const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) =>
    p.Properties.Roles.some((r: unknown) => JSON.stringify(r) === JSON.stringify(roleRef)),
  );
  expect(policies).toHaveLength(1);
  return policies[0]!.Properties.PolicyDocument.Statement;
}

function objectArn(stack: Stack, bucket: s3.IBucket, path: string): unknown {
  return stack.resolve(bucket.arnForObjects(path));
}

describe("the function", () => {
  test("runs handler.mjs on nodejs22.x, arm64", () => {
    const fn = migrationFunction(synth().template);
    expect(fn.Runtime).toBe("nodejs22.x");
    expect(fn.Architectures).toEqual(["arm64"]);
    expect(fn.Handler).toBe("handler.handler");
  });

  test("defaults to 512 MB and a 5 minute timeout", () => {
    const fn = migrationFunction(synth().template);
    expect(fn.MemorySize).toBe(512);
    expect(fn.Timeout).toBe(300);
  });

  test("takes memory and timeout from props", () => {
    const fn = migrationFunction(synth({ memorySize: 1024, timeout: Duration.minutes(10) }).template);
    expect(fn.MemorySize).toBe(1024);
    expect(fn.Timeout).toBe(600);
  });

  test("gets bucket, prefix, database, secret ARN and Powertools settings as environment", () => {
    const { stack, migrations, template } = synth({ database: "billing" });
    expect(migrationFunction(template).Environment.Variables).toEqual({
      LAMBIC_BUCKET: stack.resolve(migrations.bucket.bucketName),
      LAMBIC_PREFIX: "lambic",
      LAMBIC_DATABASE: "billing",
      LAMBIC_DATABASE_SECRET_ARN: SECRET_ARN,
      POWERTOOLS_SERVICE_NAME: "lambic",
      POWERTOOLS_METRICS_NAMESPACE: "Lambic",
    });
  });

  test("is never retried by Lambda after a failed asynchronous invocation (a relative downgrade would step again)", () => {
    const { stack, migrations, template } = synth();
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: stack.resolve(migrations.fn.functionName),
      MaximumRetryAttempts: 0,
    });
  });

  test("database defaults to main", () => {
    expect(migrationFunction(synth().template).Environment.Variables.LAMBIC_DATABASE).toBe("main");
  });

  test("logs to its own log group kept one month by default", () => {
    const { stack, migrations, template } = synth();
    expect(migrationFunction(template).LoggingConfig.LogGroup).toEqual(stack.resolve(migrations.logGroup.logGroupName));
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  test("log retention follows the prop", () => {
    const { template } = synth({ logRetention: logs.RetentionDays.ONE_YEAR });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 365 });
  });

  test("fails with a build hint when handlerDir has no handler.mjs", () => {
    const empty = tempDir("lambic-infra-empty-");
    expect(() => synth({ handlerDir: empty })).toThrow(/handlerDir .* holds no handler\.mjs\. Point it at the folder `npm run build` writes/);
  });

  test("warns when handlerDir holds more than the handler", () => {
    const dir = tempDir("lambic-infra-extra-");
    writeFileSync(join(dir, "handler.mjs"), "export const handler = async () => ({});\n");
    writeFileSync(join(dir, "revisions.mjs"), "");
    const { stack } = synth({ handlerDir: dir });
    const warnings = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === "aws:cdk:warning"));
    expect(warnings.map((w) => String(w.data))).toEqual([expect.stringContaining("revisions.mjs")]);
  });

  test("rejects a bundle prefix with a slash at either end, or an empty folder", () => {
    expect(() => synth({ bundlePrefix: "/lambic" })).toThrow(/bundlePrefix "\/lambic"/);
    expect(() => synth({ bundlePrefix: "lambic/" })).toThrow(/bundlePrefix/);
    expect(() => synth({ bundlePrefix: "lambic//x" })).toThrow(/bundlePrefix "lambic\/\/x"/);
  });

  test("rejects a database name that is not a folder name", () => {
    expect(() => synth({ database: "a/*" })).toThrow(/database "a\/\*" may hold letters, digits, _ and - only/);
  });

  test("rejects what Lambda would refuse at deploy: a timeout over 15 minutes, memory outside 128 to 10240 MB", () => {
    expect(() => synth({ timeout: Duration.minutes(16) })).toThrow(/timeout must be at most 15 minutes \(Lambda's limit\), got 16 minutes/);
    expect(() => synth({ memorySize: 64 })).toThrow(/memorySize must be a whole number of MB from 128 to 10240/);
  });

  test("rejects a timeout that leaves no time beyond the handler's deadline margin, where every invocation would fail", () => {
    expect(() => synth({ timeout: Duration.seconds(3) })).toThrow(/timeout must leave time to migrate beyond the 3 s the handler keeps back .*LAMBIC_DEADLINE_MARGIN_MS.*got 3 seconds/);
    expect(() => synth({ timeout: Duration.seconds(30) })).not.toThrow();
  });

  test("names the prop and the way out for a secret ARN that is not complete", () => {
    for (const arn of ["not-an-arn", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/main-db"]) {
      expect(() => synth({ databaseSecret: arn })).toThrow(/databaseSecret ".*" is not a complete Secrets Manager secret ARN.*fromSecretPartialArn/);
    }
  });

  test("warns that bucketEncryptionKey and outputRetention do not apply to an existing bucket", () => {
    const { stack } = synth({}, (s) => ({ bucket: s3.Bucket.fromBucketName(s, "Existing", "acme-migrations"), outputRetention: Duration.days(30) }));
    const warnings = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === "aws:cdk:warning"));
    expect(warnings.map((w) => String(w.data))).toEqual([expect.stringContaining("with an existing bucket they are ignored")]);
  });
});

describe("the role", () => {
  test("has exactly: read <prefix>/*, write <prefix>/<db>/sql/* and <prefix>/<db>/reports/*, read the named secret", () => {
    const { stack, migrations, template } = synth();
    expect(functionStatements(stack, migrations, template)).toEqual([
      { Action: "s3:GetObject", Effect: "Allow", Resource: objectArn(stack, migrations.bucket, "lambic/*") },
      { Action: "s3:PutObject", Effect: "Allow", Resource: [objectArn(stack, migrations.bucket, "lambic/main/sql/*"), objectArn(stack, migrations.bucket, "lambic/main/reports/*")] },
      { Action: "secretsmanager:GetSecretValue", Effect: "Allow", Resource: SECRET_ARN },
    ]);
  });

  test("scopes S3 access to a custom bundle prefix", () => {
    const { stack, migrations, template } = synth({ bundlePrefix: "team/migrations" });
    const resources = functionStatements(stack, migrations, template).map((s: any) => s.Resource);
    expect(resources.slice(0, 2)).toEqual([
      objectArn(stack, migrations.bucket, "team/migrations/*"),
      [objectArn(stack, migrations.bucket, "team/migrations/main/sql/*"), objectArn(stack, migrations.bucket, "team/migrations/main/reports/*")],
    ]);
    expect(migrationFunction(template).Environment.Variables.LAMBIC_PREFIX).toBe("team/migrations");
  });

  test("matches a partial secret ARN with Secrets Manager's 6-character suffix", () => {
    const partial = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/main-db";
    const { stack, migrations, template } = synth({}, (s) => ({
      databaseSecret: secretsmanager.Secret.fromSecretPartialArn(s, "Partial", partial),
    }));
    expect(functionStatements(stack, migrations, template)[2]).toEqual({
      Action: "secretsmanager:GetSecretValue",
      Effect: "Allow",
      Resource: `${partial}-??????`,
    });
  });

  test("may decrypt with the secret's customer managed key (databaseSecretKey), only that key and only through Secrets Manager in the secret's region", () => {
    const keyArn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const { stack, migrations, template } = synth({}, (s) => ({ databaseSecretKey: kms.Key.fromKeyArn(s, "SecretKey", keyArn) }));
    // As Secret.grantRead does: GetSecretValue decrypts through Secrets Manager, so kms:Decrypt
    // on its own would let the function decrypt anything else under that key as well.
    expect(functionStatements(stack, migrations, template)[3]).toEqual({
      Action: "kms:Decrypt",
      Effect: "Allow",
      Resource: keyArn,
      Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } },
    });
    const kmsActions = allStatements(template).filter((st) => asList(st.Action).some((a) => a.startsWith("kms:")));
    expect(kmsActions).toHaveLength(1);
  });

  test("uses a secret's own key, created in the stack, only through Secrets Manager", () => {
    const { stack, migrations, template } = synth({}, (s) => ({ databaseSecret: new secretsmanager.Secret(s, "Db", { encryptionKey: new kms.Key(s, "DbKey") }) }));
    const key = stack.node.findChild("DbKey") as kms.Key;
    const decrypt = allStatements(template).filter((st) => asList(st.Action).includes("kms:Decrypt"));
    expect(decrypt).toEqual([
      {
        Action: "kms:Decrypt",
        Effect: "Allow",
        Resource: stack.resolve(key.keyArn),
        Condition: { StringEquals: { "kms:ViaService": { "Fn::Join": ["", ["secretsmanager.", { Ref: "AWS::Region" }, ".amazonaws.com"]] } } },
      },
    ]);
    expect(JSON.stringify(functionStatements(stack, migrations, template))).toContain("kms:ViaService");
  });

  test("no IAM statement in the stack grants S3 or Secrets Manager on * or a whole bucket", () => {
    const { template } = synth({ migrateOnDeploy: { bundleSha256: SHA } }, (s) => ({
      alarmTopic: new sns.Topic(s, "Topic"),
      vpc: new ec2.Vpc(s, "Vpc"),
    }));
    const scoped = allStatements(template).filter((st) =>
      asList(st.Action).some((a) => /^(s3|secretsmanager|kms):/.test(a) || a === "*"),
    );
    expect(scoped.length).toBeGreaterThanOrEqual(3);
    for (const st of scoped) {
      for (const resource of asList(st.Resource)) {
        expect(resource).not.toBe("*");
        // An S3 resource must name objects under a prefix, never the bucket itself.
        const text = JSON.stringify(resource);
        if (asList(st.Action).some((a) => a.startsWith("s3:"))) expect(text).toMatch(/\/lambic\/(\*|main\/)/);
      }
    }
  });

  test("is never granted s3:ListBucket", () => {
    const { template } = synth({ migrateOnDeploy: { bundleSha256: SHA } });
    const actions = allStatements(template).flatMap((st) => asList(st.Action));
    expect(actions.filter((a) => /ListBucket|^s3:\*$|^s3:List/.test(a))).toEqual([]);
  });

  test("has only the basic execution managed policy without a VPC", () => {
    const { stack, migrations, template } = synth();
    const roleId = (stack.resolve(migrations.fn.role!.roleName) as { Ref: string }).Ref;
    const role = template.findResources("AWS::IAM::Role")[roleId]!;
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toMatch(/AWSLambdaBasicExecutionRole"/);
    expect(role.Properties.ManagedPolicyArns).toHaveLength(1);
  });
});

describe("the revision bucket", () => {
  test("is versioned, S3-managed encrypted, private and retained", () => {
    const { template } = synth();
    const { resource } = only(template, "AWS::S3::Bucket");
    expect(resource.Properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(resource.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
    ]);
    expect(resource.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(resource.DeletionPolicy).toBe("Retain");
    expect(resource.UpdateReplacePolicy).toBe("Retain");
  });

  test("expires the SQL fallbacks and reports after 90 days (or outputRetention), never the bundles", () => {
    const rules = (template: Template) => only(template, "AWS::S3::Bucket").resource.Properties.LifecycleConfiguration.Rules;
    expect(rules(synth().template)).toEqual([
      { Id: "expire-sql", Prefix: "lambic/main/sql/", ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: "Enabled" },
      { Id: "expire-reports", Prefix: "lambic/main/reports/", ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: "Enabled" },
      { Id: "abort-incomplete-uploads", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: "Enabled" },
    ]);
    const custom = rules(synth({ database: "billing", bundlePrefix: "team/migrations", outputRetention: Duration.days(400) }).template);
    expect(custom[0]).toMatchObject({ Prefix: "team/migrations/billing/sql/", ExpirationInDays: 400 });
  });

  test("refuses an outputRetention S3 would refuse at deploy (not a whole number of days, at least 1), naming the prop", () => {
    expect(() => synth({ outputRetention: Duration.days(0) })).toThrow(/outputRetention must be a whole number of days, at least 1 .*got 0 days/);
    expect(() => synth({ outputRetention: Duration.hours(36) })).toThrow(/outputRetention must be a whole number of days, at least 1 .*got 1 day 12 hours/);
    expect(() => synth({ outputRetention: Duration.hours(48) })).not.toThrow();
  });

  test("denies every request not made over TLS", () => {
    const { stack, migrations, template } = synth();
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
            Effect: "Deny",
            Principal: { AWS: "*" },
            Resource: [stack.resolve(migrations.bucket.bucketArn), objectArn(stack, migrations.bucket, "*")],
          },
        ]),
      },
    });
  });

  test("uses SSE-KMS with a given key and lets the function use only that key", () => {
    const { stack, template } = synth({}, (s) => ({ bucketEncryptionKey: new kms.Key(s, "Key") }));
    const keyArn = stack.resolve((stack.node.findChild("Key") as kms.Key).keyArn);
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn },
          },
        ],
      },
    });
    const kmsStatements = allStatements(template).filter((st) => asList(st.Action).some((a) => a.startsWith("kms:")));
    expect(kmsStatements).toEqual([
      { Action: ["kms:Decrypt", "kms:GenerateDataKey"], Effect: "Allow", Resource: keyArn },
    ]);
  });

  test("an existing bucket is used as given and none is created", () => {
    const { stack, migrations, template } = synth({}, (s) => ({
      bucket: s3.Bucket.fromBucketName(s, "Existing", "acme-migrations"),
    }));
    template.resourceCountIs("AWS::S3::Bucket", 0);
    template.resourceCountIs("AWS::S3::BucketPolicy", 0);
    expect(migrationFunction(template).Environment.Variables.LAMBIC_BUCKET).toBe("acme-migrations");
    expect(JSON.stringify(functionStatements(stack, migrations, template)[0])).toContain(
      ":s3:::acme-migrations/lambic/*",
    );
  });
});

describe("in a VPC", () => {
  const warnings = (stack: Stack) =>
    stack.node.findAll().flatMap((c) => c.node.metadata).filter((m) => m.type === "aws:cdk:warning").map((m) => String(m.data));

  test("warns that isolated subnets need VPC endpoints for S3 and Secrets Manager (and Lambda with the fan-out)", () => {
    const isolatedVpc = (s: Stack) => new ec2.Vpc(s, "Vpc", { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: "db", subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const { stack } = synth({}, (s) => ({ vpc: isolatedVpc(s) }));
    expect(warnings(stack)).toEqual([expect.stringMatching(/isolated subnets.*gateway endpoint for S3 and interface endpoints for Secrets Manager \(/)]);
    const fanout = synth({ tenantFanout: {} }, (s) => ({ vpc: isolatedVpc(s) }));
    expect(warnings(fanout.stack)).toEqual([expect.stringContaining("interface endpoints for Secrets Manager and Lambda")]);
  });

  test("does not warn for subnets with a NAT", () => {
    const { stack } = synth({}, (s) => ({ vpc: new ec2.Vpc(s, "Vpc", { maxAzs: 2 }) }));
    expect(warnings(stack)).toEqual([]);
  });

  test("runs in the given subnets and security groups with the VPC access policy", () => {
    const { stack, template } = synth({}, (s) => {
      const vpc = new ec2.Vpc(s, "Vpc", { maxAzs: 2 });
      return {
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [new ec2.SecurityGroup(s, "DbClients", { vpc })],
      };
    });
    const vpc = stack.node.findChild("Vpc") as ec2.Vpc;
    const sg = stack.node.findChild("DbClients") as ec2.SecurityGroup;
    expect(migrationFunction(template).VpcConfig).toEqual({
      SecurityGroupIds: [stack.resolve(sg.securityGroupId)],
      SubnetIds: vpc.privateSubnets.map((subnet) => stack.resolve(subnet.subnetId)),
    });
    template.hasResourceProperties("AWS::IAM::Role", {
      ManagedPolicyArns: Match.arrayWith([
        { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]] },
      ]),
    });
  });
});

describe("deploy-time migration", () => {
  function deployed(props = {}) {
    const result = synth({ migrateOnDeploy: { bundleSha256: SHA }, ...props });
    return { ...result, migration: only(result.template, "Custom::LambicMigration") };
  }

  test("is absent unless migrateOnDeploy is set", () => {
    const { template } = synth();
    template.resourceCountIs("Custom::LambicMigration", 0);
    template.resourceCountIs("AWS::Lambda::Function", 1);
  });

  test("invokes the function with upgrade head and the bundle's sha256", () => {
    const { stack, migrations, migration } = deployed();
    const props = migration.resource.Properties;
    expect(props.FunctionName).toEqual(stack.resolve(migrations.fn.functionName));
    expect(JSON.parse(props.Payload)).toEqual({
      command: "upgrade",
      target: "head",
      database: "main",
      bundle: { sha256: SHA },
    });
  });

  test("changes its properties when the bundle changes, so CloudFormation re-runs it", () => {
    const first = deployed().migration.resource.Properties;
    const other = "0a".repeat(32);
    const second = synth({ migrateOnDeploy: { bundleSha256: other } });
    const next = only(second.template, "Custom::LambicMigration").resource.Properties;
    expect(next.BundleSha256).toBe(other);
    expect(next.Payload).not.toEqual(first.Payload);
  });

  test("waits for the function's role policy and log group", () => {
    const { stack, migrations, migration } = deployed();
    const policyId = stack.resolve((migrations.fn.role!.node.findChild("DefaultPolicy").node.defaultChild as any).logicalId);
    const logGroupId = stack.resolve((migrations.logGroup.node.defaultChild as any).logicalId);
    expect(migration.resource.DependsOn).toEqual(expect.arrayContaining([policyId, logGroupId]));
  });

  test("gives the invoker the function's timeout plus one minute", () => {
    const { template } = deployed({ timeout: Duration.minutes(10) });
    template.hasResourceProperties("AWS::Lambda::Function", { Handler: "index.handler", Timeout: 660 });
  });

  test("lets the invoker invoke only the migration function, and read only its own stack's status", () => {
    const { stack, migrations, template } = deployed();
    const invoker = Object.entries(template.findResources("AWS::Lambda::Function", { Properties: { Handler: "index.handler" } }));
    const roleRef = { Ref: invoker[0]![1].Properties.Role["Fn::GetAtt"][0] };
    const policy = Object.values(template.findResources("AWS::IAM::Policy")).find(
      (p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([roleRef]),
    );
    const fnArn = stack.resolve(migrations.fn.functionArn);
    expect(policy!.Properties.PolicyDocument.Statement).toEqual([
      { Action: "lambda:InvokeFunction", Effect: "Allow", Resource: [fnArn, { "Fn::Join": ["", [fnArn, ":*"]] }] },
      { Action: "cloudformation:DescribeStacks", Effect: "Allow", Resource: { Ref: "AWS::StackId" } },
    ]);
  });

  test("rejects a function timeout the 15-minute deploy invoke cannot cover", () => {
    expect(() => deployed({ timeout: Duration.minutes(15) })).toThrow(/at most 14 minutes/);
  });

  test("rejects a sha256 that is not 64 hex digits", () => {
    expect(() => synth({ migrateOnDeploy: { bundleSha256: "latest" } })).toThrow(/64 lowercase hex digits/);
  });
});

describe("the deploy invoker's code", () => {
  type InvokerEvent = { RequestType: string; StackId?: string; PhysicalResourceId?: string; ResourceProperties: Record<string, string> };

  /**
   * Runs the inline onEvent source from the template against a fake Lambda client, in a stack
   * whose status is `stackStatus`.
   */
  function loadInvoker(response: { FunctionError?: string; Payload?: string }, stackStatus: string | Error = "UPDATE_IN_PROGRESS") {
    const { template } = synth({ migrateOnDeploy: { bundleSha256: SHA } });
    const source: string = Object.values(
      template.findResources("AWS::Lambda::Function", { Properties: { Handler: "index.handler" } }),
    )[0]!.Properties.Code.ZipFile;
    const sent: any[] = [];
    const sdk = {
      LambdaClient: class {
        constructor(readonly config: unknown) {}
        async send(command: { input: unknown }) {
          sent.push(command.input);
          return { ...response, Payload: response.Payload === undefined ? undefined : new TextEncoder().encode(response.Payload) };
        }
      },
      InvokeCommand: class {
        constructor(readonly input: unknown) {}
      },
    };
    const described: any[] = [];
    const cloudformation = {
      CloudFormationClient: class {
        async send(command: { input: unknown }) {
          described.push(command.input);
          if (stackStatus instanceof Error) throw stackStatus;
          return { Stacks: [{ StackStatus: stackStatus }] };
        }
      },
      DescribeStacksCommand: class {
        constructor(readonly input: unknown) {}
      },
    };
    const module = { exports: {} as { handler: (event: InvokerEvent) => Promise<unknown> } };
    const require = (name: string) => {
      if (name === "@aws-sdk/client-lambda") return sdk;
      if (name === "@aws-sdk/client-cloudformation") return cloudformation;
      throw new Error(`unexpected require ${name}`);
    };
    const quiet = { log: () => {} };
    new Function("require", "exports", "module", "console", source)(require, module.exports, module, quiet);
    return { handler: module.exports.handler, sent, described };
  }

  const create: InvokerEvent = {
    RequestType: "Create",
    ResourceProperties: { FunctionName: "fn", Payload: '{"command":"upgrade"}' },
  };

  test("fails (and so fails the deploy) when the invocation reports a FunctionError", async () => {
    const { handler } = loadInvoker({
      FunctionError: "Unhandled",
      Payload: JSON.stringify({ errorType: "LambicError", errorMessage: "STATEMENT_FAILED: relation exists" }),
    });
    await expect(handler(create)).rejects.toThrow(/LambicError: STATEMENT_FAILED: relation exists/);
  });

  test("invokes synchronously with the payload and succeeds on a good result", async () => {
    const { handler, sent } = loadInvoker({ Payload: JSON.stringify({ ok: true, to: ["ae10"] }) });
    await expect(handler(create)).resolves.toEqual({ PhysicalResourceId: "lambic-migration" });
    expect(sent).toEqual([{ FunctionName: "fn", InvocationType: "RequestResponse", Payload: '{"command":"upgrade"}' }]);
  });

  const update: InvokerEvent = { ...create, RequestType: "Update", StackId: "arn:aws:cloudformation:eu-west-1:111122223333:stack/S/1", PhysicalResourceId: "lambic-migration" };

  test("invokes on an Update while the stack deploys forward (a new bundle)", async () => {
    const { handler, sent, described } = loadInvoker({ Payload: JSON.stringify({ ok: true }) });
    await expect(handler(update)).resolves.toEqual({ PhysicalResourceId: "lambic-migration" });
    expect(described).toEqual([{ StackName: update.StackId }]);
    expect(sent).toHaveLength(1);
  });

  test("does not invoke on the Update a rollback sends, so the rollback cannot fail on a database ahead of the old bundle", async () => {
    // A resource after the migration failed: the database is at the new head, and upgrading it
    // with the old bundle would be UNKNOWN_VERSION, leaving the stack UPDATE_ROLLBACK_FAILED.
    const { handler, sent } = loadInvoker(
      { FunctionError: "Unhandled", Payload: JSON.stringify({ errorType: "UNKNOWN_VERSION", errorMessage: "holds 8a5d0e6f7c97" }) },
      "UPDATE_ROLLBACK_IN_PROGRESS",
    );
    await expect(handler(update)).resolves.toEqual({ PhysicalResourceId: "lambic-migration" });
    expect(sent).toEqual([]);
  });

  test("runs the migration when the stack's status cannot be read (a forward deploy must not skip it)", async () => {
    const { handler, sent } = loadInvoker({ Payload: JSON.stringify({ ok: true }) }, new Error("AccessDenied"));
    await expect(handler(update)).resolves.toEqual({ PhysicalResourceId: "lambic-migration" });
    expect(sent).toHaveLength(1);
  });

  test("does not invoke on Delete", async () => {
    const { handler, sent } = loadInvoker({ Payload: "{}" });
    await handler({ ...create, RequestType: "Delete", PhysicalResourceId: "p" });
    expect(sent).toEqual([]);
  });
});

describe("alarms", () => {
  test("MigrationFailed alarm: Lambic namespace, service/database/command dimensions, sum >= 1 over 5 minutes", () => {
    const { template } = synth({ database: "billing" });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "Lambic",
      MetricName: "MigrationFailed",
      Dimensions: [
        { Name: "command", Value: "upgrade" },
        { Name: "database", Value: "billing" },
        { Name: "service", Value: "lambic" },
      ],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
    });
  });

  test("Errors alarm watches the function's Errors metric", () => {
    const { stack, migrations, template } = synth();
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: stack.resolve(migrations.fn.functionName) }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
  });

  test("both alarms notify the SNS topic when one is given", () => {
    const { stack, template } = synth({}, (s) => ({ alarmTopic: new sns.Topic(s, "Topic") }));
    const topicArn = stack.resolve((stack.node.findChild("Topic") as sns.Topic).topicArn);
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.map((a) => a.Properties.AlarmActions)).toEqual([[topicArn], [topicArn]]);
  });

  test("have no actions without a topic", () => {
    const alarms = Object.values(synth().template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms).toHaveLength(2);
    expect(alarms.map((a) => a.Properties.AlarmActions)).toEqual([undefined, undefined]);
  });
});
