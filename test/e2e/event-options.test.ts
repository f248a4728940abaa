/**
 * What the event's options do to a run, against the BUILT handler: its "x" is the revision's
 * ctx.x (as -x key=value on the command line), ctx.online is true in a run and false where the
 * plan is rendered as SQL (the sql command, a dry run); "perRevision" commits after each
 * revision (the CLI's --per-revision), where a run is otherwise one transaction.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectDatabase } from "./support/inspect.ts";
import { buildBundle, readBuiltBundle } from "../../src/bundle/build-bundles.ts";
import { publishBundle } from "../../src/bundle/s3-bundles.ts";
import { loadConfig } from "../../src/config.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { ensureBuilt } from "./support/build.ts";
import { handlerEnv, LambdaFunction } from "./support/lambda.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const PREFIX = "context";

let s3: TestS3;
let db: TestDatabase;
let project: string;
let fn: LambdaFunction;

beforeAll(async () => {
  await ensureBuilt();
  [s3, db, project] = await Promise.all([startS3(), createTestDatabase("e2e_revision_context"), mkdtemp(join(tmpdir(), "lambic-context-"))]);
  mkdirSync(join(project, "revisions/main"), { recursive: true });
  writeFileSync(join(project, "lambic.config.json"), JSON.stringify({ databases: { main: { url: "${DATABASE_URL:-}" } } }));
  writeFileSync(
    join(project, "revisions/main/01_seen.ts"),
    `export default {
  id: "c0000001", revises: null, message: "records what the revision saw",
  async upgrade(op, ctx) {
    op.createTable("seen", { key: "text", value: "text" });
    op.bulkInsert("seen", [{ key: "data", value: ctx.x.data ?? "(none)" }, { key: "online", value: String(ctx.online) }]);
  },
  async downgrade(op) { op.dropTable("seen"); },
};
`,
  );
  writeFileSync(join(project, "revisions/main/02_second.sql"), "-- revision: c0000002\n-- revises: c0000001\n-- message: second\n-- +up\nCREATE TABLE second_t (id int);\n-- +down\nDROP TABLE second_t;\n");
  writeFileSync(join(project, "revisions/main/03_fails.sql"), "-- revision: c0000003\n-- revises: c0000002\n-- message: fails\n-- +up\nINSERT INTO no_such_table VALUES (1);\n-- +down\nSELECT 1;\n");
  const config = loadConfig({ cwd: project, env: {} });
  const built = await buildBundle(config.databases.main!, { projectDir: project, outDir: join(project, "dist/bundles") });
  await publishBundle(s3.client, { bucket: s3.bucket, prefix: PREFIX }, readBuiltBundle(built.dir));
  fn = new LambdaFunction("lambic-context", handlerEnv({ s3, prefix: PREFIX, database: "main", url: db.url, cacheDir: join(project, "cache") }));
});

afterAll(async () => {
  await fn?.stop();
  await s3?.stop();
  await db?.drop();
  if (project) await rm(project, { recursive: true, force: true });
});

describe("the event's x and ctx.online", () => {
  it('{"command": "sql", "x": {...}} renders the revision with ctx.x from the event and ctx.online false', async () => {
    const invocation = await fn.invoke({ command: "sql", target: "c0000001", x: { data: "for-the-dba" } });
    expect(invocation.functionError, invocation.log).toBeUndefined();
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: invocation.payload!.key as string }));
    const script = await object.Body!.transformToString();
    expect(script).toMatch(/INSERT INTO "seen" \("key", "value"\) VALUES\s*\('data', 'for-the-dba'\),\s*\('online', 'false'\)/);
  });

  it("a dry run renders with the event's x and ctx.online false, and changes nothing", async () => {
    const dry = await fn.invoke({ command: "upgrade", target: "c0000001", dryRun: true, x: { data: "dry" } });
    expect(dry.functionError, dry.log).toBeUndefined();
    expect(dry.payload!.sql).toMatch(/\('data', 'dry'\),\s*\('online', 'false'\)/);
    expect(dry.payload).toMatchObject({ ok: true, dryRun: true, from: [], to: ["c0000001"] });
  });

  it("a dry run whose script is over the function's answer limit writes it to S3 and names it, instead of an answer Lambda would drop", async () => {
    const small = new LambdaFunction("lambic-context-small", { ...handlerEnv({ s3, prefix: PREFIX, database: "main", url: db.url, cacheDir: join(project, "cache-small") }), LAMBIC_RESPONSE_LIMIT_BYTES: "4096" });
    try {
      const data = "d".repeat(5000);
      const dry = await small.invoke({ command: "upgrade", target: "c0000001", dryRun: true, x: { data } });
      expect(dry.functionError, dry.log).toBeUndefined();
      expect(JSON.stringify(dry.payload).length).toBeLessThanOrEqual(4096);
      const key = `${PREFIX}/main/sql/base__c0000001__${dry.requestId}.sql`;
      expect(dry.payload).toMatchObject({ ok: true, dryRun: true, from: [], to: ["c0000001"], steps: [{ revision: "c0000001", direction: "up" }], sql: null, script: { bucket: s3.bucket, key, bytes: expect.any(Number) } });
      const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      const script = await object.Body!.transformToString();
      expect(script).toContain(`('data', '${data}')`);
      expect(Buffer.byteLength(script)).toBe((dry.payload!.script as { bytes: number }).bytes);
      expect(await inspectDatabase(db.url, ["seen"])).toMatchObject({ tables: { seen: false } });
    } finally {
      await small.stop();
    }
  });

  it('{"command": "upgrade", "x": {"data": "true"}} runs the revision with ctx.x.data "true" and ctx.online true', async () => {
    const invocation = await fn.invoke({ command: "upgrade", target: "c0000001", x: { data: "true" } });
    expect(invocation.functionError, invocation.log).toBeUndefined();
    expect(invocation.payload).toMatchObject({ ok: true, from: [], to: ["c0000001"] });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      expect(await sql`SELECT key, value FROM seen ORDER BY key`).toEqual([
        { key: "data", value: "true" },
        { key: "online", value: "true" },
      ]);
    } finally {
      await sql.end();
    }
  });
});

describe('"perRevision"', () => {
  it("without it, a failing revision rolls back the whole run: the revisions before it in the plan are not applied", async () => {
    const invocation = await fn.invoke({ command: "upgrade", target: "head" });
    expect(invocation.payload).toMatchObject({ errorType: "STATEMENT_FAILED" });
    expect(await inspectDatabase(db.url, ["second_t"])).toMatchObject({ versions: ["c0000001"], tables: { second_t: false } });
  });

  it("commits each revision: those before the failing one stay applied, and the fallback script starts after them", async () => {
    const invocation = await fn.invoke({ command: "upgrade", target: "head", perRevision: true });
    expect(invocation.payload).toMatchObject({ errorType: "STATEMENT_FAILED" });
    expect(await inspectDatabase(db.url, ["second_t"])).toMatchObject({ versions: ["c0000002"], tables: { second_t: true } });
    expect(invocation.payload!.errorMessage).toContain(`/main/sql/c0000002__c0000003__${invocation.requestId}.sql`);
  });

  it("is refused on a command that runs no revision in order, naming the field", async () => {
    const invocation = await fn.invoke({ command: "stamp", target: "head", perRevision: true });
    expect(invocation.payload).toMatchObject({ errorType: "INVALID_EVENT" });
    expect(invocation.payload!.errorMessage).toContain('"perRevision" is not used by command "stamp"');
  });
});
