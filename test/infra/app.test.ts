import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, test } from "vitest";
import { PLACEHOLDER_SECRET_ARN, createLambicApp } from "../../infra/app.ts";
import { SECRET_ARN, SHA, allStatements, asList, scratchDir, stubHandlerDir } from "./helpers.ts";

const run = promisify(execFile);
const handlerDir = stubHandlerDir();
const outdir = () => scratchDir("app-");

function fnEnvironment(template: Template): Record<string, unknown> {
  const fns = template.findResources("AWS::Lambda::Function", { Properties: { Handler: "handler.handler" } });
  return Object.values(fns)[0]!.Properties.Environment.Variables;
}

describe("the app", () => {
  test("synthesizes with no context: placeholder secret, a warning, no deploy-time migration", () => {
    const { stack } = createLambicApp({ outdir: outdir(), env: {}, context: { handlerDir } });
    const template = Template.fromStack(stack);
    expect(fnEnvironment(template).LAMBIC_DATABASE_SECRET_ARN).toBe(PLACEHOLDER_SECRET_ARN);
    template.resourceCountIs("Custom::LambicMigration", 0);
    const warnings = stack.node.metadata.filter((m) => m.type === "aws:cdk:warning");
    expect(warnings.map((w) => String(w.data))).toEqual([expect.stringContaining("databaseSecretArn")]);
  });

  test("takes the bundle sha, secret, database and existing bucket from context", () => {
    const { stack } = createLambicApp({
      outdir: outdir(),
      env: {},
      context: { handlerDir, bundleSha256: SHA, databaseSecretArn: SECRET_ARN, database: "billing", bucketName: "acme-b" },
    });
    const template = Template.fromStack(stack);
    expect(fnEnvironment(template)).toMatchObject({
      LAMBIC_DATABASE_SECRET_ARN: SECRET_ARN,
      LAMBIC_DATABASE: "billing",
      LAMBIC_BUCKET: "acme-b",
    });
    template.resourceCountIs("AWS::S3::Bucket", 0);
    template.hasResourceProperties("Custom::LambicMigration", { BundleSha256: SHA });
  });

  test("lets the function use the customer managed keys of the secret and of an existing bucket", () => {
    const secretKey = "arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-11aa-11aa-11aa-111111111111";
    const bucketKey = "arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-22bb-22bb-22bb-222222222222";
    const { stack } = createLambicApp({
      outdir: outdir(),
      env: {},
      context: { handlerDir, databaseSecretArn: SECRET_ARN, databaseSecretKeyArn: secretKey, bucketName: "acme-b", bucketKeyArn: bucketKey },
    });
    const kms = allStatements(Template.fromStack(stack)).filter((st) => asList(st.Action).some((a) => a.startsWith("kms:")));
    expect(kms).toEqual(
      expect.arrayContaining([
        { Action: ["kms:Decrypt", "kms:GenerateDataKey"], Effect: "Allow", Resource: bucketKey },
        { Action: "kms:Decrypt", Effect: "Allow", Resource: secretKey, Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } } },
      ]),
    );
    expect(kms).toHaveLength(2);
  });

  test("refuses a bucket key without an existing bucket: the bucket it creates uses S3-managed keys", () => {
    expect(() => createLambicApp({ outdir: outdir(), env: {}, context: { handlerDir, bucketKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/k" } })).toThrow(/bucketKeyArn.*-c bucketName/);
  });

  test("falls back to LAMBIC_* environment variables", () => {
    const { stack } = createLambicApp({
      outdir: outdir(),
      env: { LAMBIC_BUNDLE_SHA256: SHA, LAMBIC_DATABASE_SECRET_ARN: SECRET_ARN, LAMBIC_HANDLER_DIR: handlerDir },
    });
    const template = Template.fromStack(stack);
    expect(fnEnvironment(template).LAMBIC_DATABASE_SECRET_ARN).toBe(SECRET_ARN);
    template.hasResourceProperties("Custom::LambicMigration", { BundleSha256: SHA });
  });

  test("names the stack LambicStack, or -c stackName (one stack per database in an account)", () => {
    expect(createLambicApp({ outdir: outdir(), env: {}, context: { handlerDir } }).stack.stackName).toBe("LambicStack");
    expect(createLambicApp({ outdir: outdir(), env: {}, context: { handlerDir, stackName: "LambicBilling" } }).stack.stackName).toBe("LambicBilling");
  });

  test("outputs the function and bucket names for lambic invoke and publish", () => {
    const { stack } = createLambicApp({ outdir: outdir(), env: {}, context: { handlerDir } });
    expect(Object.keys(Template.fromStack(stack).toJSON().Outputs)).toEqual(["FunctionName", "BucketName"]);
  });
});

describe("infra/synth.mjs", () => {
  const env = { ...process.env, LAMBIC_HANDLER_DIR: handlerDir, CDK_OUTDIR: "" };
  delete (env as Record<string, string | undefined>).CDK_OUTDIR;

  test("prints the template as JSON, with -c context applied", async () => {
    const { stdout } = await run("node", ["infra/synth.mjs", "-c", `bundleSha256=${SHA}`], { env });
    const template = JSON.parse(stdout);
    const types = Object.values(template.Resources).map((r: any) => r.Type);
    expect(types).toContain("AWS::Lambda::Function");
    expect(types).toContain("Custom::LambicMigration");
  });

  test("writes a cloud assembly to CDK_OUTDIR for the CDK CLI and prints nothing", async () => {
    const dir = outdir();
    const { stdout } = await run("node", ["infra/synth.mjs"], {
      env: { ...env, CDK_OUTDIR: dir, CDK_CONTEXT_JSON: JSON.stringify({ bundleSha256: SHA }) },
    });
    expect(stdout).toBe("");
    expect(existsSync(join(dir, "manifest.json"))).toBe(true);
    const template = JSON.parse(readFileSync(join(dir, "LambicStack.template.json"), "utf8"));
    expect(JSON.stringify(template)).toContain(SHA);
  });

  test("exits 1 naming the problem on a bad argument", async () => {
    await expect(run("node", ["infra/synth.mjs", "--yaml"], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown argument "--yaml"'),
    });
  });
});
