import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll } from "vitest";
import { LambicMigrations, type LambicMigrationsProps } from "../../infra/lambic-migrations.ts";

// CloudFormation schema validation makes each synth ~3 s instead of ~50 ms (PARTS.md). It is
// read when a stack synthesizes, so setting it on import is early enough.
process.env.CDK_VALIDATION = "false";

export const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/main-db-Ab12Cd";
export const SHA = "3f".repeat(32);

/** Everything a test file writes (stub handlers, synth output), removed after the file. */
const scratch = mkdtempSync(join(tmpdir(), "lambic-infra-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh directory under the test file's scratch folder. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(scratch, prefix));
}

/** A directory with a stub handler.mjs, standing in for the build's dist/lambda. */
export function stubHandlerDir(): string {
  const dir = scratchDir("handler-");
  writeFileSync(join(dir, "handler.mjs"), "export const handler = async () => ({ ok: true });\n");
  return dir;
}

const handlerDir = stubHandlerDir();

export function synth(
  props: Partial<LambicMigrationsProps> = {},
  prepare?: (stack: Stack) => Partial<LambicMigrationsProps>,
): { stack: Stack; migrations: LambicMigrations; template: Template } {
  // An explicit outdir: by default each App leaves a cdk.out folder in the OS temp dir.
  const app = new App({ outdir: scratchDir("cdk.out-") });
  const stack = new Stack(app, "Test");
  const migrations = new LambicMigrations(stack, "Migrations", {
    databaseSecret: SECRET_ARN,
    handlerDir,
    ...props,
    ...prepare?.(stack),
  });
  return { stack, migrations, template: Template.fromStack(stack) };
}

export type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

export function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement of every IAM policy in the template: inline, managed, or a role's own. */
export function allStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  const docs: Array<{ Statement: Statement[] }> = [];
  for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
    docs.push(policy.Properties.PolicyDocument);
  }
  for (const policy of Object.values(template.findResources("AWS::IAM::ManagedPolicy"))) {
    docs.push(policy.Properties.PolicyDocument);
  }
  for (const role of Object.values(template.findResources("AWS::IAM::Role"))) {
    for (const inline of role.Properties.Policies ?? []) docs.push(inline.PolicyDocument);
  }
  for (const doc of docs) statements.push(...doc.Statement);
  return statements;
}

/** The single resource of a type, with its logical id. */
export function only(template: Template, type: string): { id: string; resource: any } {
  const found = Object.entries(template.findResources(type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [id, resource] = found[0]!;
  return { id, resource };
}
