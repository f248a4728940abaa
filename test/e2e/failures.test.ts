/**
 * Every way an invocation can fail, against the BUILT handler, real PostgreSQL and real S3:
 * each is a coded function error, nothing is half applied, and a failed run leaves its offline
 * SQL at <prefix>/<db>/sql/<from>__<to>__<request id>.sql.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, readBuiltBundle, type BuiltBundle } from "../../src/bundle/build-bundles.ts";
import { bundleKey, publishBundle } from "../../src/bundle/s3-bundles.ts";
import { loadConfig } from "../../src/config.ts";
import { freePort } from "../../src/db/cluster.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startStallingProxy } from "../support/latency-proxy.ts";
import { ensureBuilt } from "./support/build.ts";
import { inspectDatabase } from "./support/inspect.ts";
import { emfLines, handlerEnv, jsonLines, LambdaFunction, type Invocation } from "./support/lambda.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const PREFIX = "faulty";
const TABLES = ["base_t", "sqlfail_t", "throws_t", "leaks_t", "sleeps_t"];

let s3: TestS3;
let db: TestDatabase;
let project: string;
let main: BuiltBundle;
let other: BuiltBundle;
const functions: LambdaFunction[] = [];

/** A project whose graph has one base and three branches that each fail in their own way. */
function writeProject(dir: string): void {
  const revisions = join(dir, "revisions/main");
  mkdirSync(revisions, { recursive: true });
  mkdirSync(join(dir, "revisions/other"), { recursive: true });
  writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { main: { url: "${DATABASE_URL:-}" }, other: { url: "${DATABASE_URL:-}" }, slowtenants: { url: "${DATABASE_URL:-}", revisions: "revisions/other", tenants: { query: "SELECT 'slow_tenant' FROM pg_sleep(5)" } } }, defaultDatabase: "main" }));
  writeFileSync(join(revisions, "01_base.sql"), "-- revision: b0000001\n-- message: base\n-- +up\nCREATE TABLE base_t (id int);\n-- +down\nDROP TABLE base_t;\n");
  writeFileSync(
    join(revisions, "02_sqlfail.sql"),
    "-- revision: f0000001\n-- revises: b0000001\n-- branch-labels: sqlfail\n-- message: fails in SQL\n-- +up\nCREATE TABLE sqlfail_t (id int);\nINSERT INTO no_such_table VALUES (1);\n-- +down\nDROP TABLE sqlfail_t;\n",
  );
  writeFileSync(
    join(revisions, "03_throws.ts"),
    `export default {
  id: "t0000001", revises: "b0000001", branchLabels: ["throws"], message: "throws in code",
  async upgrade(op) { op.createTable("throws_t", { id: "int" }); throw new Error("3 orphan rows found, refusing to continue"); },
  async downgrade(op) { op.dropTable("throws_t"); },
};
`,
  );
  writeFileSync(
    join(revisions, "03_leaks.ts"),
    `export default {
  id: "l0000001", revises: "b0000001", branchLabels: ["leaks"], message: "quotes the database URL in its error",
  async upgrade(op) { op.createTable("leaks_t", { id: "int" }); throw new Error("cannot reach " + process.env.LAMBIC_DATABASE_URL + " (password=" + new URL(process.env.LAMBIC_DATABASE_URL).password + ")"); },
};
`,
  );
  writeFileSync(
    join(revisions, "04_sleeps.sql"),
    "-- revision: s0000001\n-- revises: b0000001\n-- branch-labels: sleeps\n-- message: longer than the deadline\n-- +up\nCREATE TABLE sleeps_t (id int);\nSELECT pg_sleep(5);\n-- +down\nDROP TABLE sleeps_t;\n",
  );
  writeFileSync(
    join(revisions, "05_kills.sql"),
    "-- revision: k0000001\n-- revises: b0000001\n-- branch-labels: kills\n-- message: its downgrade ends its own session\n-- +up\nCREATE TABLE kills_t (id int);\n-- +down\nSELECT pg_terminate_backend(pg_backend_pid());\n",
  );
  writeFileSync(
    join(revisions, "06_downfails.sql"),
    "-- revision: d0000001\n-- revises: b0000001\n-- branch-labels: downfails\n-- message: its downgrade fails\n-- +up\nCREATE TABLE downfails_t (id int);\n-- +down\nINSERT INTO no_such_table VALUES (1);\n",
  );
  writeFileSync(join(revisions, "07_downfails.sql"), "-- revision: d0000002\n-- revises: d0000001\n-- message: above it\n-- +up\nCREATE TABLE downfails2_t (id int);\n-- +down\nDROP TABLE downfails2_t;\n");
  // PostgreSQL quotes the whole literal it cannot read in its message.
  writeFileSync(join(revisions, "08_longvalue.sql"), `-- revision: v0000001\n-- revises: b0000001\n-- branch-labels: longvalue\n-- message: casts a long literal\n-- +up\nSELECT '${"y".repeat(300_000)}'::int;\n-- +down\nSELECT 1;\n`);
  writeFileSync(join(dir, "revisions/other/01_other.sql"), "-- revision: o0000001\n-- message: other base\n-- +up\nCREATE TABLE other_t (id int);\n-- +down\nDROP TABLE other_t;\n");
}

function lambda(name: string, env: Record<string, string> = {}): LambdaFunction {
  const fn = new LambdaFunction(name, {
    ...handlerEnv({ s3, prefix: PREFIX, database: "main", url: db.url, cacheDir: join(project, "cache", name) }),
    LAMBIC_DEADLINE_MARGIN_MS: "500",
    ...env,
  });
  functions.push(fn);
  return fn;
}

async function objectText(key: string): Promise<string | undefined> {
  try {
    const response = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return await response.Body!.transformToString();
  } catch {
    return undefined;
  }
}

async function sqlObjects(): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${PREFIX}/main/sql/` }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

/** An endpoint that accepts connections and never answers: a silent S3 or Secrets Manager. */
async function withSilentEndpoint(use: (url: string) => Promise<void>): Promise<void> {
  const silent = createNetServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  try {
    await use(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
  } finally {
    silent.close();
  }
}

/** A cache folder holding the main bundle read from the real S3: an invocation naming its sha256 then reads nothing from S3. */
async function warmCache(name: string): Promise<string> {
  const cacheDir = join(project, "cache", name);
  const warm = lambda(`${name}-warm`, { LAMBIC_CACHE_DIR: cacheDir });
  expect((await warm.invoke({ command: "heads", bundle: { sha256: main.sha256 } })).payload).toMatchObject({ ok: true });
  return cacheDir;
}

function expectFailure(invocation: Invocation, code: string): string {
  expect(invocation.functionError, JSON.stringify(invocation.payload)).toBe("Unhandled");
  expect(invocation.payload).toMatchObject({ errorType: code, errorMessage: expect.any(String), trace: expect.any(Array) });
  return invocation.payload!.errorMessage as string;
}

async function expectUntouched(): Promise<void> {
  const state = await inspectDatabase(db.url, TABLES);
  expect(state.tables).toEqual(Object.fromEntries(TABLES.map((t) => [t, false])));
  expect(state.versions ?? []).toEqual([]);
  expect(state.historyRows ?? 0).toBe(0);
}

beforeAll(async () => {
  await ensureBuilt();
  [s3, db, project] = await Promise.all([startS3(), createTestDatabase("e2e_failures"), mkdtemp(join(tmpdir(), "lambic-faulty-"))]);
  writeProject(project);
  const config = loadConfig({ cwd: project, env: {} });
  const outDir = join(project, "dist/bundles");
  [main, other] = [await buildBundle(config.databases.main!, { projectDir: project, outDir }), await buildBundle(config.databases.other!, { projectDir: project, outDir })];
  await publishBundle(s3.client, { bucket: s3.bucket, prefix: PREFIX }, readBuiltBundle(main.dir));
});

afterAll(async () => {
  await Promise.all(functions.map((fn) => fn.stop()));
  await s3?.stop();
  await db?.drop();
  if (project) await rm(project, { recursive: true, force: true });
});

describe("a failing run is rolled back and leaves its SQL fallback in S3", () => {
  it("a revision whose SQL fails: STATEMENT_FAILED, nothing applied, fallback written, EMF MigrationFailed", async () => {
    const fn = lambda("sqlfail");
    const invocation = await fn.invoke({ command: "upgrade", target: "sqlfail@head" });
    const message = expectFailure(invocation, "STATEMENT_FAILED");
    expect(message).toContain("f0000001");
    expect(message).toContain("no_such_table");
    await expectUntouched();

    const key = `${PREFIX}/main/sql/base__f0000001__${invocation.requestId}.sql`;
    expect(message).toContain(`s3://${s3.bucket}/${key}`);
    const script = await objectText(key);
    expect(script).toContain("-- Running upgrade  -> b0000001");
    expect(script).toContain("-- Running upgrade b0000001 -> f0000001");
    expect(script).toContain("INSERT INTO no_such_table VALUES (1)");

    const [emf, ...more] = emfLines(invocation.log);
    expect(more).toHaveLength(0);
    expect(emf!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: "Lambic", Dimensions: [["service", "database", "command"]] });
    // The lock was taken before the revision failed: how long that took is reported too.
    expect(emf!._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort()).toEqual(["LockWaitMs", "MigrationDurationMs", "MigrationFailed", "RevisionsApplied"]);
    expect(emf).toMatchObject({ service: "lambic", database: "main", command: "upgrade", MigrationFailed: 1, RevisionsApplied: 0, LockWaitMs: expect.any(Number), from: "base", to: "f0000001", bundleSha256: main.sha256, errorCode: "STATEMENT_FAILED" });
    const failed = jsonLines(invocation.log).find((line) => line.message === "failed")!;
    expect(failed).toMatchObject({ level: "ERROR", function_request_id: invocation.requestId, error: { code: "STATEMENT_FAILED", sqlFallback: { bucket: s3.bucket, key } } });
  });

  it("a server message quoting a long value is cut in its middle in the answer and the failed line, which keep its end (rolled back, the fallback)", async () => {
    const invocation = await lambda("longvalue").invoke({ command: "upgrade", target: "longvalue@head" });
    const message = expectFailure(invocation, "STATEMENT_FAILED");
    expect(message.length).toBeLessThan(20_000);
    expect(message).toMatch(/^Revision v0000001 \(upgrade\) failed: invalid input syntax for type integer: "y+ … \[\d+ characters cut\] … y+"/);
    expect(message).toContain(`/main/sql/base__v0000001__${invocation.requestId}.sql`);
    expect((invocation.payload!.trace as string[])[0]!.length).toBeLessThan(20_000);
    const failedLine = invocation.log.split("\n").find((line) => line.includes('"message":"failed"'))!;
    expect(failedLine.length).toBeLessThan(64 * 1024);
    expect(JSON.parse(failedLine)).toMatchObject({ error: { code: "STATEMENT_FAILED", message } });
    await expectUntouched();
  });

  it("a revision that throws: REVISION_FAILED, nothing applied, and the error says why no SQL exists", async () => {
    const fn = lambda("throws");
    const before = await sqlObjects();
    const invocation = await fn.invoke({ command: "upgrade", target: "throws@head" });
    const message = expectFailure(invocation, "REVISION_FAILED");
    expect(message).toContain("t0000001");
    expect(message).toContain("3 orphan rows found");
    expect(message).toContain("No offline SQL fallback was written: the revision throws when rendered offline too");
    await expectUntouched();
    expect(await sqlObjects()).toEqual(before);
    expect(emfLines(invocation.log)[0]).toMatchObject({ MigrationFailed: 1, errorCode: "REVISION_FAILED" });
  });

  it("a revision whose error quotes the database URL: the answer and the failed line show it without its password, and the line has the revision's own frames", async () => {
    const fn = lambda("leaks");
    const invocation = await fn.invoke({ command: "upgrade", target: "leaks@head" });
    const password = decodeURIComponent(new URL(db.url).password);
    expect(password.length).toBeGreaterThan(3);
    const message = expectFailure(invocation, "REVISION_FAILED");
    expect(message).toContain("cannot reach postgres");
    expect(message).toContain(":***@");
    expect(message).toContain("(password=***");
    expect(JSON.stringify(invocation.payload)).not.toContain(password);
    const failed = jsonLines(invocation.log).find((line) => line.message === "failed")!;
    expect(JSON.stringify(failed)).not.toContain(password);
    // The revision's upgrade, in the bundle's module of revisions.
    expect(failed.causeStack).toMatch(/^ {4}at Object\.upgrade \(file:\/\/.+\.mjs:\d+:\d+\)/);
    expect(invocation.log).not.toContain(password);
    await expectUntouched();
  });

  it("a deadline shorter than the migration: statement_timeout fires first, STATEMENT_TIMEOUT, rolled back, fallback written", async () => {
    // A margin with room for the fallback's write besides the 500 ms the handler keeps to answer.
    const fn = lambda("deadline", { LAMBIC_DEADLINE_MARGIN_MS: "1500" });
    const started = Date.now();
    // 3.5 s left, 1.5 s margin: statement_timeout 2 s against pg_sleep(5).
    const invocation = await fn.invoke({ command: "upgrade", target: "sleeps@head" }, { timeoutMs: 3500 });
    expect(Date.now() - started).toBeLessThan(5500);
    expect(invocation.ms).toBeLessThan(3500);
    const message = expectFailure(invocation, "STATEMENT_TIMEOUT");
    expect(message).toContain("s0000001");
    await expectUntouched();
    const key = `${PREFIX}/main/sql/base__s0000001__${invocation.requestId}.sql`;
    expect(message).toContain(key);
    const fallback = await objectText(key);
    expect(fallback).toContain("SELECT pg_sleep(5)");
    // The script is for psql later: the configured timeouts, not the invocation's leftover time.
    expect(fallback).toContain("SET LOCAL lock_timeout = '10000ms';");
    expect(fallback).not.toContain("statement_timeout");
    expect(emfLines(invocation.log)[0]).toMatchObject({ command: "upgrade", MigrationFailed: 1, errorCode: "STATEMENT_TIMEOUT" });
  });

  it("a network that stalls mid-run: CONNECTION_FAILED before the invocation's end, not a Lambda timeout, rolled back", async () => {
    const server = new URL(db.url);
    // Passes everything up to the revision's pg_sleep, then nothing either way: no reply, no close.
    const stalling = await startStallingProxy({ host: server.hostname, port: Number(server.port) }, Buffer.from("pg_sleep(5)"));
    try {
      const through = new URL(db.url);
      through.port = String(stalling.port);
      const fn = lambda("stalled", { LAMBIC_DATABASE_URL: through.toString() });
      // 2.5 s left, 0.5 s margin: the server would cancel at 2 s, but its reply never comes.
      const invocation = await fn.invoke({ command: "upgrade", target: "sleeps@head" }, { timeoutMs: 2500 });
      // The handler's own time: the environment's cold start (a process spawn) comes before the clock starts, as in Lambda.
      expect(invocation.ms).toBeLessThan(2500);
      const message = expectFailure(invocation, "CONNECTION_FAILED");
      expect(message).toContain("no reply from the server by the deadline the run was given (the Lambda invocation's end, less half the margin kept to report)");
      expect(message).toContain("The run was rolled back: the database is as it was before.");
      expect(emfLines(invocation.log)[0]).toMatchObject({ MigrationFailed: 1, errorCode: "CONNECTION_FAILED" });
    } finally {
      await stalling.close();
    }
    await expectUntouched();
  });

  it("a run that fails near the invocation's deadline while S3 does not answer writes: its coded error before the deadline, rolled back, no fallback for lack of time", async () => {
    // The invocation under test reads its bundle from the cache folder: its first S3 request is the fallback's write.
    const cacheDir = await warmCache("no-time-for-fallback");
    await withSilentEndpoint(async (endpoint) => {
      // The request timeout (2 s, with the SDK's retries) outlasts the invocation: only its deadline can stop the write in time.
      // statement_timeout 2 s against pg_sleep(5) in both: a 1.5 s margin leaves time to start the
      // write, which S3 never answers; a 0.5 s margin leaves less than the 500 ms kept to answer.
      for (const { marginMs, reason } of [
        { marginMs: 1500, reason: /\(\d+ ms of the invocation remained, and the write did not finish in the \d+ ms of them not kept back to answer, so it was cancelled\)/ },
        { marginMs: 500, reason: /\(\d+ ms of the invocation remained, less than the 500 ms kept back to answer, so the write was not started\)/ },
      ]) {
        const fn = lambda(`no-time-for-fallback-${marginMs}`, { LAMBIC_CACHE_DIR: cacheDir, LAMBIC_S3_ENDPOINT: endpoint, LAMBIC_DEADLINE_MARGIN_MS: String(marginMs), LAMBIC_AWS_REQUEST_TIMEOUT_MS: "2000" });
        const timeoutMs = 2000 + marginMs;
        const invocation = await fn.invoke({ command: "upgrade", target: "sleeps@head", bundle: { sha256: main.sha256 } }, { timeoutMs });
        expect(invocation.ms).toBeLessThan(timeoutMs);
        const message = expectFailure(invocation, "STATEMENT_TIMEOUT");
        expect(message).toContain("s0000001");
        expect(message).toContain("No offline SQL fallback was written: no time was left to write it (");
        expect(message).toMatch(reason);
        expect(message).toContain('Render it with `lambic upgrade base:sleeps@head --sql`, or invoke {"command": "sql", "target": "base:sleeps@head"}.');
        expect(emfLines(invocation.log)[0]).toMatchObject({ command: "upgrade", MigrationFailed: 1, errorCode: "STATEMENT_TIMEOUT" });
        expect(jsonLines(invocation.log).find((line) => line.message === "failed")).toMatchObject({ error: { code: "STATEMENT_TIMEOUT", sqlFallback: null } });
        await expectUntouched();
      }
    });
  });

  it("a sql command whose script S3 does not take in the time left: AWS_FAILED before the deadline, saying the script was rendered and how to render it locally", async () => {
    const cacheDir = await warmCache("no-time-for-script");
    await withSilentEndpoint(async (endpoint) => {
      // The request timeout outlasts the invocation: only its deadline can stop the write in time.
      const fn = lambda("no-time-for-script", { LAMBIC_CACHE_DIR: cacheDir, LAMBIC_S3_ENDPOINT: endpoint, LAMBIC_AWS_REQUEST_TIMEOUT_MS: "10000" });
      const timeoutMs = 2000;
      const invocation = await fn.invoke({ command: "sql", target: "base:sqlfail@head", bundle: { sha256: main.sha256 } }, { timeoutMs });
      expect(invocation.ms).toBeLessThan(timeoutMs);
      const message = expectFailure(invocation, "AWS_FAILED");
      expect(message).toMatch(/^No time was left to write s3:\/\/[^ ]+\/faulty\/main\/sql\/[^ ]+\.sql: \d+ ms of the invocation remained, and the write did not finish in the \d+ ms of them not kept back to answer, so it was cancelled\. /);
      expect(message).toContain("The script (2 steps, ");
      expect(message).toContain("was rendered but not stored. Raise the function's timeout and invoke again, or render it locally with `lambic upgrade base:sqlfail@head --sql`.");
      expect(emfLines(invocation.log)[0]).toMatchObject({ command: "sql", MigrationFailed: 1, errorCode: "AWS_FAILED" });
    });
  });

  it("a downgrade that loses its connection names lambic downgrade to render its script, not upgrade, and an event that renders it", async () => {
    const lost = await createTestDatabase("e2e_lost");
    try {
      const fn = lambda("lost", { LAMBIC_DATABASE_URL: lost.url });
      expect((await fn.invoke({ command: "upgrade", target: "kills@head" })).payload).toMatchObject({ ok: true, to: ["k0000001"] });
      const message = expectFailure(await fn.invoke({ command: "downgrade", target: "b0000001" }), "CONNECTION_FAILED");
      expect(message).toContain("No offline SQL fallback was written: the version rows could not be read");
      expect(message).toContain('Render it with `lambic downgrade <from>:b0000001 --sql`, or invoke {"command": "sql", "target": "<from>:b0000001", "direction": "downgrade"}, <from> being the version rows');
      // The advice, followed with the rows the database is at, renders the downgrade that failed.
      const advised = JSON.parse(/invoke (\{"command": "sql".*?\})/.exec(message)![1]!.replace("<from>", "k0000001"));
      const rendered = await fn.invoke(advised);
      expect(rendered.payload, rendered.log).toMatchObject({ ok: true, from: ["k0000001"], to: ["b0000001"], steps: [{ revision: "k0000001", direction: "down" }] });
    } finally {
      await lost.drop();
    }
  });

  it("a relative downgrade that committed part of its plan renders the rest of that plan, not -2 again from where it stopped", async () => {
    const partial = await createTestDatabase("e2e_partial");
    try {
      const fn = lambda("partial", { LAMBIC_DATABASE_URL: partial.url });
      expect((await fn.invoke({ command: "upgrade", target: "downfails@head" })).payload).toMatchObject({ ok: true, to: ["d0000002"] });
      const invocation = await fn.invoke({ command: "downgrade", target: "downfails@-2", perRevision: true });
      const message = expectFailure(invocation, "STATEMENT_FAILED");
      expect(message).toContain("the database is at d0000001");
      const key = `${PREFIX}/main/sql/d0000001__b0000001__${invocation.requestId}.sql`;
      expect(message).toContain(`The offline SQL of the plan (d0000001 -> b0000001) is at s3://${s3.bucket}/${key}`);
      const script = (await objectText(key))!;
      expect(script).toContain("-- Running downgrade d0000001 -> b0000001");
      expect(script).not.toContain("-> base");
    } finally {
      await partial.drop();
    }
  });

  it("with less time left than the margin nothing starts", async () => {
    const fn = lambda("no-time");
    const invocation = await fn.invoke({ command: "upgrade", target: "b0000001" }, { timeoutMs: 400 });
    expect(expectFailure(invocation, "STATEMENT_TIMEOUT")).toContain("nothing was started");
    await expectUntouched();
  });

  it("a numeric setting out of range fails every command, even one that does not read it", async () => {
    const fn = lambda("bad-setting", { LAMBIC_TENANT_CONCURRENCY: "abc" });
    const message = expectFailure(await fn.invoke({ command: "heads" }), "CONFIG_INVALID");
    expect(message).toContain('LAMBIC_TENANT_CONCURRENCY is "abc"');
  });

  it("an event whose deadline has passed starts nothing and says the deadline is why", async () => {
    const fn = lambda("past-deadline");
    const invocation = await fn.invoke({ command: "upgrade", target: "b0000001", deadline: Date.now() - 1000 });
    const message = expectFailure(invocation, "STATEMENT_TIMEOUT");
    expect(message).toContain(`The event's "deadline" (`);
    expect(message).toContain("nothing was started");
    await expectUntouched();
  });

  it("an AWS endpoint that accepts and stays silent: AWS_FAILED within the request timeout, with its failed line and metric", async () => {
    await withSilentEndpoint(async (endpoint) => {
      for (const env of <Record<string, string>[]>[
        { LAMBIC_S3_ENDPOINT: endpoint },
        { LAMBIC_DATABASE_URL: "", LAMBIC_DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf", AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint },
      ]) {
        const fn = lambda(`silent-${Object.keys(env).length}`, { ...env, LAMBIC_AWS_REQUEST_TIMEOUT_MS: "300" });
        const started = Date.now();
        const invocation = await fn.invoke({ command: "current" }, { timeoutMs: 20_000 });
        expect(Date.now() - started).toBeLessThan(10_000);
        expectFailure(invocation, "AWS_FAILED");
        expect(emfLines(invocation.log)[0]).toMatchObject({ MigrationFailed: 1, errorCode: "AWS_FAILED" });
      }
    });
  });

  it("tenants named on a database without tenants: INVALID_TENANT before connecting", async () => {
    const fn = lambda("no-tenants", { LAMBIC_DATABASE_URL: `postgres://lambic:pw@127.0.0.1:${await freePort()}/app` });
    const invocation = await fn.invoke({ command: "current", tenants: ["acme"] });
    expect(expectFailure(invocation, "INVALID_TENANT")).toContain('Database "main" has no tenants');
    expect(invocation.log).not.toContain("CONNECTION_FAILED");
    for (const event of [{ command: "tenants" }, { command: "fanout", operation: "upgrade", target: "head" }]) {
      const refused = await fn.invoke(event);
      expect(expectFailure(refused, "INVALID_TENANT")).toContain(`{"command": "${event.command}"} works on a database with tenants: run the command itself on this database`);
      expect(refused.log).not.toContain("CONNECTION_FAILED");
    }
  });

  it("a tenants query slower than the invocation's time left: STATEMENT_TIMEOUT in time, with its failed line and metric, no tenant run", async () => {
    const config = loadConfig({ cwd: project, env: {} });
    const built = await buildBundle(config.databases.slowtenants!, { projectDir: project, outDir: join(project, "dist/bundles") });
    await publishBundle(s3.client, { bucket: s3.bucket, prefix: PREFIX }, readBuiltBundle(built.dir));
    const fn = lambda("slow-tenants", { LAMBIC_DATABASES: "main,slowtenants" });
    for (const event of [{ command: "upgrade", target: "head", database: "slowtenants" }, { command: "tenants", database: "slowtenants" }]) {
      const invocation = await fn.invoke(event, { timeoutMs: 2000 });
      const message = expectFailure(invocation, "STATEMENT_TIMEOUT");
      expect(message).toContain("The tenants query did not answer within");
      expect(invocation.ms).toBeLessThan(2000);
      expect(jsonLines(invocation.log).find((line) => line.message === "failed")).toMatchObject({ error: { code: "STATEMENT_TIMEOUT" } });
      expect(emfLines(invocation.log)[0]).toMatchObject({ MigrationFailed: 1, errorCode: "STATEMENT_TIMEOUT" });
    }
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      expect(await sql`SELECT to_regnamespace('slow_tenant') AS s`).toEqual([{ s: null }]);
    } finally {
      await sql.end();
    }
  });

  it("an unreachable database: CONNECTION_FAILED naming the host, without the password", async () => {
    const port = await freePort();
    const fn = lambda("unreachable", { LAMBIC_DATABASE_URL: `postgres://lambic:s3cret-pw@127.0.0.1:${port}/app` });
    const invocation = await fn.invoke({ command: "upgrade", target: "b0000001" });
    const message = expectFailure(invocation, "CONNECTION_FAILED");
    expect(message).toContain(`127.0.0.1:${port}`);
    expect(invocation.log).not.toContain("s3cret-pw");
    expect(emfLines(invocation.log)[0]).toMatchObject({ MigrationFailed: 1, errorCode: "CONNECTION_FAILED" });
    await expectUntouched();
  });
});

describe("bundles that must not be imported", () => {
  it("a bundle with one byte changed in S3 is BUNDLE_INTEGRITY, by sha256 or by pointer, before anything connects", async () => {
    const prefix = "tampered";
    await publishBundle(s3.client, { bucket: s3.bucket, prefix }, readBuiltBundle(main.dir));
    const bytes = Buffer.from(readBuiltBundle(main.dir).code);
    const at = bytes.indexOf("CREATE TABLE base_t");
    bytes[at] = "c".charCodeAt(0); // one byte: CREATE -> cREATE
    const key = bundleKey({ bucket: s3.bucket, prefix, database: "main" }, main.sha256);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));

    const fn = lambda("tampered", { LAMBIC_PREFIX: prefix, LAMBIC_DATABASE_URL: `postgres://x:y@127.0.0.1:${await freePort()}/none` });
    const bySha = await fn.invoke({ command: "upgrade", target: "b0000001", bundle: { sha256: main.sha256 } });
    const message = expectFailure(bySha, "BUNDLE_INTEGRITY");
    expect(message).toContain(main.sha256);
    expect(message).toContain("was not imported");
    const byPointer = await fn.invoke({ command: "upgrade", target: "b0000001" });
    expectFailure(byPointer, "BUNDLE_INTEGRITY");
    await expectUntouched();
  });

  it("a tampered /tmp copy is not trusted: it is checked, ignored and downloaded again", async () => {
    const fn = lambda("tmp-tampered");
    const cached = join(project, "cache", "tmp-tampered");
    mkdirSync(cached, { recursive: true });
    writeFileSync(join(cached, `${main.sha256}.mjs`), "export const formatVersion = 1; export const database = 'main'; export const revisions = [];");
    const invocation = await fn.invoke({ command: "heads", bundle: { sha256: main.sha256 } });
    expect(invocation.payload).toMatchObject({ ok: true, heads: expect.arrayContaining(["f0000001", "t0000001", "s0000001"]) });
    expect(jsonLines(invocation.log).find((line) => line.message === "done")).toMatchObject({ bundleFrom: "s3", s3Requests: 1 });
  });

  it("a cache folder that cannot be written is CONFIG_INVALID naming LAMBIC_CACHE_DIR, not a lambic bug", async () => {
    const file = join(project, "cache", "not-a-folder");
    mkdirSync(join(project, "cache"), { recursive: true });
    writeFileSync(file, "");
    const fn = lambda("cache-unwritable", { LAMBIC_CACHE_DIR: join(file, "bundles") });
    const invocation = await fn.invoke({ command: "upgrade", target: "b0000001" });
    const message = expectFailure(invocation, "CONFIG_INVALID");
    expect(message).toContain(`LAMBIC_CACHE_DIR (${join(file, "bundles")})`);
    expect(message).toContain("ENOTDIR");
    expect(message).toContain("/tmp");
    expect(jsonLines(invocation.log).find((line) => line.message === "failed")).toMatchObject({ error: { code: "CONFIG_INVALID", variable: "LAMBIC_CACHE_DIR" } });
    await expectUntouched();
  });

  it("a missing bundle or pointer is BUNDLE_NOT_FOUND", async () => {
    const fn = lambda("missing");
    const missing = await fn.invoke({ command: "current", bundle: { sha256: "a".repeat(64) } });
    expect(expectFailure(missing, "BUNDLE_NOT_FOUND")).toContain(`${PREFIX}/main/${"a".repeat(64)}/revisions.mjs`);
    const noPointer = lambda("no-pointer", { LAMBIC_PREFIX: "never-published" });
    expect(expectFailure(await noPointer.invoke({ command: "current" }), "BUNDLE_NOT_FOUND")).toContain("No bundle has been published");
  });

  it("a bucket that does not exist is BUNDLE_NOT_FOUND saying so and to check LAMBIC_BUCKET, not that nothing was published", async () => {
    const fn = lambda("no-bucket", { LAMBIC_BUCKET: "no-such-bucket" });
    for (const event of [{ command: "current" }, { command: "current", bundle: { sha256: main.sha256 } }]) {
      const message = expectFailure(await fn.invoke(event), "BUNDLE_NOT_FOUND");
      expect(message).toContain('The bucket "no-such-bucket" does not exist');
      expect(message).toContain("LAMBIC_BUCKET");
      expect(message).not.toContain("No bundle has been published");
      expect(message).not.toContain("lambic publish");
    }
  });

  it("a pointer naming a missing bundle, or holding no sha256, says it is the pointer and to publish again", async () => {
    const prefix = "bad-pointer";
    const pointer = `${prefix}/main/current.json`;
    const fn = lambda("bad-pointer", { LAMBIC_PREFIX: prefix });
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: pointer, Body: JSON.stringify({ sha256: "b".repeat(64) }) }));
    const missing = expectFailure(await fn.invoke({ command: "current" }), "BUNDLE_NOT_FOUND");
    expect(missing).toContain(`which s3://${s3.bucket}/${pointer} names as the current one, is not in S3`);
    expect(missing).toContain("Publish again");
    for (const body of ["null", "[]", "{}"]) {
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: pointer, Body: body }));
      expect(expectFailure(await fn.invoke({ command: "current" }), "BUNDLE_INTEGRITY")).toContain(`s3://${s3.bucket}/${pointer} names no valid sha256`);
    }
  });

  it("another database's bundle is BUNDLE_DATABASE_MISMATCH", async () => {
    const key = bundleKey({ bucket: s3.bucket, prefix: PREFIX, database: "main" }, other.sha256);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: readBuiltBundle(other.dir).code }));
    const fn = lambda("mismatch");
    const invocation = await fn.invoke({ command: "upgrade", target: "head", bundle: { sha256: other.sha256 } });
    const message = expectFailure(invocation, "BUNDLE_DATABASE_MISMATCH");
    expect(message).toContain(`database "other", not "main"`);
    await expectUntouched();
  });
});

describe("malformed events are INVALID_EVENT naming the field, before anything connects", () => {
  // No bucket and no reachable database: any other error would show the event got further.
  const cases: [string, unknown, string][] = [
    ["unknown command", { command: "upgrad", target: "head" }, "command"],
    ["missing command", { target: "head" }, "command"],
    ["ill-typed command", { command: 7 }, "command"],
    ["missing target", { command: "upgrade" }, "target"],
    ["ill-typed target", { command: "downgrade", target: -1 }, "target"],
    ["unknown database", { command: "upgrade", target: "head", database: "mian" }, "database"],
    ["extra top-level key", { command: "upgrade", target: "head", force: true }, "force"],
    ["field the command does not take", { command: "current", target: "head" }, "target"],
    ["bad bundle sha256", { command: "upgrade", target: "head", bundle: { sha256: "abc" } }, "bundle.sha256"],
    ["non-string x value", { command: "upgrade", target: "head", x: { data: true } }, "x.data"],
    ["ill-typed dryRun", { command: "upgrade", target: "head", dryRun: "yes" }, "dryRun"],
    ["not an object", "upgrade head", "(event)"],
  ];
  let fn: LambdaFunction;
  beforeAll(async () => {
    fn = lambda("invalid", { LAMBIC_BUCKET: "no-such-bucket", LAMBIC_DATABASE_URL: `postgres://x:y@127.0.0.1:${await freePort()}/none` });
  });

  it.each(cases)("%s", async (_name, event, field) => {
    const invocation = await fn.invoke(event);
    const message = expectFailure(invocation, "INVALID_EVENT");
    expect(message).toContain(field === "(event)" ? "must be a JSON object" : `"${field}`);
    const failed = jsonLines(invocation.log).find((line) => line.message === "failed")!;
    expect(failed).toMatchObject({ error: { code: "INVALID_EVENT", field } });
    // Counted under "invalid", even with a valid command: the upgrade alarm is for failed upgrades.
    expect(emfLines(invocation.log)[0]).toMatchObject({ database: "main", command: "invalid", MigrationFailed: 1, errorCode: "INVALID_EVENT" });
    expect(invocation.log).not.toMatch(/BUNDLE_|CONNECTION_FAILED|AWS_FAILED/);
  });
});

describe("the database URL from AWS Secrets Manager", () => {
  let server: Server;
  const requests: unknown[] = [];
  beforeAll(async () => {
    const url = new URL(db.url);
    // RDS secret JSON with its host (as CDK's generated database secret holds); the real SDK client talks to this over HTTP.
    const secret = { engine: "postgres", host: url.hostname, port: Number(url.port), username: decodeURIComponent(url.username), password: decodeURIComponent(url.password), dbname: url.pathname.slice(1) };
    server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      requests.push({ target: req.headers["x-amz-target"], body: JSON.parse(body) });
      res.writeHead(200, { "Content-Type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf", Name: "db", SecretString: JSON.stringify(secret), VersionId: "v1" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads the secret once per environment and connects with it", async () => {
    const { port } = server.address() as { port: number };
    const fn = lambda("secret", { LAMBIC_DATABASE_URL: "", LAMBIC_DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf", AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}` });
    const first = await fn.invoke({ command: "current" });
    expect(first.payload, first.log).toMatchObject({ ok: true, versions: [] });
    const second = await fn.invoke({ command: "current" });
    expect(second.payload).toMatchObject({ ok: true });
    expect(requests).toEqual([{ target: "secretsmanager.GetSecretValue", body: { SecretId: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf" } }]);
  });
});

describe("a rotated database password", () => {
  let server: Server;
  let answers = 0;
  beforeAll(async () => {
    const url = new URL(db.url);
    const secret = (password: string) => ({ engine: "postgres", host: url.hostname, port: Number(url.port), username: decodeURIComponent(url.username), password, dbname: url.pathname.slice(1) });
    server = createServer(async (req, res) => {
      for await (const _chunk of req);
      // The first read gets the password from before the rotation; later reads the current one.
      const password = answers++ === 0 ? "rotated-away" : decodeURIComponent(url.password);
      res.writeHead(200, { "Content-Type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:rot-AbCdEf", Name: "rot", SecretString: JSON.stringify(secret(password)), VersionId: "v1" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("reads the secret again after the server refuses the cached password, and connects", async () => {
    const { port } = server.address() as { port: number };
    const fn = lambda("rotated", { LAMBIC_DATABASE_URL: "", LAMBIC_DATABASE_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:rot-AbCdEf", AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${port}` });
    const invocation = await fn.invoke({ command: "current" });
    expect(invocation.payload, invocation.log).toMatchObject({ ok: true });
    expect(answers).toBe(2);
    expect(invocation.log).not.toContain("rotated-away");
  });
});
