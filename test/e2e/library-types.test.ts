/**
 * The package's types as a TypeScript project that depends on lambic sees them: through the
 * "types" condition of package.json's exports, under a plain tsconfig of its own (no
 * allowImportingTsExtensions, which only a project that emits no JavaScript may set).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "./support/build.ts";

let project: string;

beforeAll(async () => {
  await ensureBuilt();
  project = mkdtempSync(join(tmpdir(), "lambic-types-"));
  mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
  symlinkSync(ROOT, join(project, "node_modules", "lambic"));
  symlinkSync(join(ROOT, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"));
});
afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** tsc over the project: its output, empty when everything type-checks. */
function typeCheck(source: string, compilerOptions: Record<string, unknown> = {}): string {
  writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(project, "deploy.ts"), source);
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "out", types: ["node"], ...compilerOptions }, files: ["deploy.ts"] }),
  );
  const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", project], { cwd: project, stdio: "pipe" });
    return "";
  } catch (error) {
    return String((error as { stdout?: Buffer }).stdout ?? error);
  }
}

it("type-checks the README's programmatic example in a project that emits JavaScript, with or without skipLibCheck", () => {
  const example = `
import { randomUUID } from "node:crypto";
import { checkDatabase, loadConfig, openConnection, openRevisionSet, resolveDatabase, runMigration, type Revision, type RunResult, type CheckResult } from "lambic";

export const revision = { id: "8a5d0e6f7c97", revises: null, upgrade: async (op) => void op.createTable("customer", { id: "serial primary key" }) } satisfies Revision;

const database = resolveDatabase(loadConfig({ cwd: process.cwd(), env: process.env }), "main");
const set = await openRevisionSet(database, process.cwd());
const connection = await openConnection(database.url ?? "", { applicationName: "my-deploy" });
try {
  const options = { versionTable: database.versionTable, schema: database.schema, lockTimeoutMs: database.lockTimeoutMs, statementTimeoutMs: database.statementTimeoutMs };
  const result: RunResult = await runMigration(connection, set, { kind: "upgrade", target: "head" }, {
    ...options,
    actor: "deploy-script",
    runId: randomUUID(),
    onStep: (step) => console.log(step.revision, step.direction, step.ms),
  });
  const check: CheckResult = await checkDatabase(connection, set, options);
  console.log(result.from, "->", result.to, check.upToDate);
} finally {
  await connection.close();
}
`;
  expect(typeCheck(example)).toBe("");
  expect(typeCheck(example, { skipLibCheck: true })).toBe("");
});
