/**
 * build → publish (the built CLI) → invoke the BUILT handler with each infra/events/*.json →
 * check the database, the version rows, the S3 objects and the EMF lines. Then `lambic invoke`
 * through a local Lambda Invoke API with the real @aws-sdk/client-lambda.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { CLI_FILE, ensureBuilt, ROOT } from "./support/build.ts";
import { runCli } from "./support/cli.ts";
import { inspectDatabase } from "./support/inspect.ts";
import { emfLines, handlerEnv, jsonLines, LambdaFunction, startInvokeServer, type Invocation, type InvokeServer } from "./support/lambda.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const PREFIX = "e2e";
const HEAD = "8a5d0e6f7c97";
const MERGE = "7f4c9d5e6b86";
const ALL_TABLES = ["customer", "product", "orders", "order_line", "invoice"];
const event = (name: string) => JSON.parse(readFileSync(join(ROOT, "infra/events", `${name}.json`), "utf8")) as Record<string, unknown>;

let s3: TestS3;
let db: TestDatabase;
let fn: LambdaFunction;
let cacheDir: string;
let sha: string;

async function objectText(key: string): Promise<string> {
  const response = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return response.Body!.transformToString();
}

beforeAll(async () => {
  await ensureBuilt();
  [s3, db, cacheDir] = await Promise.all([startS3(), createTestDatabase("e2e_lambda"), mkdtemp(join(tmpdir(), "lambic-cache-"))]);
  fn = new LambdaFunction("lambic", handlerEnv({ s3, prefix: PREFIX, database: "main", url: db.url, cacheDir }));
});

afterAll(async () => {
  await fn?.stop();
  await s3?.stop();
  await db?.drop();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

describe("lambic publish (built CLI)", () => {
  it("uploads the bundle content-addressed, moves current.json and prints the sha256", async () => {
    const run = await runCli(["publish", "--bucket", s3.bucket, "--prefix", PREFIX], s3.env);
    expect(run.stderr).toContain("Uploaded");
    expect(run.code).toBe(0);
    sha = run.stdout.trim();
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    const manifest = JSON.parse(readFileSync(join(ROOT, "dist/bundles/main/manifest.json"), "utf8"));
    expect(manifest.sha256).toBe(sha);

    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${PREFIX}/` }));
    expect(listed.Contents!.map((o) => o.Key).sort()).toEqual([`${PREFIX}/main/${sha}/manifest.json`, `${PREFIX}/main/${sha}/revisions.mjs`, `${PREFIX}/main/current.json`].sort());
    expect(JSON.parse(await objectText(`${PREFIX}/main/current.json`))).toMatchObject({ sha256: sha, database: "main" });
    const uploaded = JSON.parse(await objectText(`${PREFIX}/main/${sha}/manifest.json`));
    expect(uploaded).toMatchObject({ formatVersion: 1, database: "main", sha256: sha, heads: [HEAD] });
    expect(uploaded.revisions).toHaveLength(8);
  });

  it("publishing the same sources again uploads nothing and keeps the sha256", async () => {
    const run = await runCli(["publish", "--bucket", s3.bucket, "--prefix", PREFIX, "--json"], s3.env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ sha256: sha, uploaded: false, previous: sha, key: `${PREFIX}/main/${sha}/revisions.mjs` });
  });
});

describe("lambic publish of a database without revisions", () => {
  it("is refused before anything is uploaded: the pointer keeps naming the bundle it named", async () => {
    const root = await mkdtemp(join(tmpdir(), "lambic-publish-empty-"));
    try {
      mkdirSync(join(root, "revisions/main"), { recursive: true });
      writeFileSync(join(root, "lambic.config.json"), JSON.stringify({ databases: { main: { revisions: "revisions/main" } } }));
      writeFileSync(join(root, "revisions/main/0001_a.sql"), "-- revision: c0ffee000001\n-- message: a\n-- +up\nSELECT 1;\n");
      const first = await runCli(["publish", "--bucket", s3.bucket, "--prefix", "empty", "--json"], s3.env, root);
      expect(first.code, first.stderr).toBe(0);
      const before = (await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "empty/" }))).Contents!.map((o) => o.Key).sort();

      // A checkout without the revision files (a sparse checkout, a wrong "revisions" path).
      rmSync(join(root, "revisions/main/0001_a.sql"));
      const run = await runCli(["publish", "--bucket", s3.bucket, "--prefix", "empty", "--json"], s3.env, root);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "CONFIG_INVALID", database: "main" });
      expect(run.stderr).toContain('lambic: CONFIG_INVALID: Database "main" has no revisions');
      expect(run.stderr).toContain("Nothing was uploaded");
      const after = (await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "empty/" }))).Contents!.map((o) => o.Key).sort();
      expect(after).toEqual(before);
      expect(JSON.parse(await objectText("empty/main/current.json")).sha256).toBe(JSON.parse(first.stdout).sha256);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("lambic publish from a subfolder with --config", () => {
  it("builds into the config file's folder, not the current one", async () => {
    const root = await mkdtemp(join(tmpdir(), "lambic-publish-"));
    try {
      mkdirSync(join(root, "revisions/main"), { recursive: true });
      mkdirSync(join(root, "sub"));
      writeFileSync(join(root, "lambic.config.json"), JSON.stringify({ databases: { main: { revisions: "revisions/main" } } }));
      writeFileSync(join(root, "revisions/main/0001_a.sql"), "-- revision: c0ffee000001\n-- message: a\n-- +up\nSELECT 1;\n");
      const run = await runCli(["--config", "../lambic.config.json", "publish", "--bucket", s3.bucket, "--prefix", "subfolder", "--json"], s3.env, join(root, "sub"));
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(root, "dist/bundles/main/manifest.json"), "utf8"))).toMatchObject({ sha256: JSON.parse(run.stdout).sha256, heads: ["c0ffee000001"] });
      expect(existsSync(join(root, "sub/dist"))).toBe(false);
      expect(existsSync(join(root, "sub/.lambic"))).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("the built handler with the test events", () => {
  it("upgrade.json follows current.json, applies every revision, and reports logs and EMF", async () => {
    const invocation = await fn.invoke(event("upgrade"));
    expect(invocation.functionError, invocation.log).toBeUndefined();
    const result = invocation.payload!;
    expect(result).toMatchObject({ ok: true, command: "upgrade", database: "main", from: [], to: [HEAD], bundleSha256: sha });
    expect((result.steps as unknown[]).length).toBe(8);
    expect(result.steps).toContainEqual({ revision: "1f3a9c2e7b10", direction: "up", ms: expect.any(Number) });
    expect(result.durationMs).toEqual(expect.any(Number));

    const state = await inspectDatabase(db.url, ALL_TABLES);
    expect(Object.values(state.tables)).toEqual(ALL_TABLES.map(() => true));
    expect(state.versions).toEqual([HEAD]);

    // One JSON log line per step, each with the request id.
    const steps = jsonLines(invocation.log).filter((line) => line.message === "step");
    expect(steps).toHaveLength(8);
    for (const line of steps) expect(line).toMatchObject({ level: "INFO", service: "lambic", function_request_id: invocation.requestId });
    expect(steps[0]).toMatchObject({ revision: "1f3a9c2e7b10", direction: "up", revisionMessage: expect.any(String) });
    // Nothing is dropped with a warning (Powertools keeps "message" for itself).
    expect(jsonLines(invocation.log).filter((line) => line.level === "WARN")).toEqual([]);

    const [emf, ...more] = emfLines(invocation.log);
    expect(more).toHaveLength(0);
    expect(emf!._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: "Lambic",
        Dimensions: [["service", "database", "command"]],
        Metrics: expect.arrayContaining([
          { Name: "RevisionsApplied", Unit: "Count" },
          { Name: "MigrationDurationMs", Unit: "Milliseconds" },
          { Name: "MigrationFailed", Unit: "Count" },
          { Name: "LockWaitMs", Unit: "Milliseconds" },
        ]),
      },
    ]);
    expect(emf).toMatchObject({ service: "lambic", database: "main", command: "upgrade", RevisionsApplied: 8, MigrationFailed: 0, from: "base", to: HEAD, bundleSha256: sha });
    expect(emf!.MigrationDurationMs).toEqual(expect.any(Number));
    expect(emf!.LockWaitMs).toEqual(expect.any(Number));
  });

  it("a warm no-op with the sha256 hits the bundle cache: no S3 request, at most 3 round trips", async () => {
    const invocation = await fn.invoke({ command: "upgrade", target: "head", bundle: { sha256: sha } });
    expect(invocation.payload).toMatchObject({ ok: true, from: [HEAD], to: [HEAD], steps: [] });
    const done = jsonLines(invocation.log).find((line) => line.message === "done")!;
    expect(done).toMatchObject({ bundleFrom: "memory", s3Requests: 0 });
    expect(done.roundTrips as number).toBeLessThanOrEqual(3);
    expect(emfLines(invocation.log)[0]).toMatchObject({ RevisionsApplied: 0, MigrationFailed: 0, from: HEAD, to: HEAD });
  });

  it("current.json reports the version rows", async () => {
    const invocation = await fn.invoke(event("current"));
    expect(invocation.payload).toMatchObject({ ok: true, command: "current", versions: [HEAD], heads: [HEAD], bundleSha256: sha });
  });

  it("rollback.json downgrades one step; from a merge point -1 is ambiguous, as in Alembic", async () => {
    const rollback = await fn.invoke(event("rollback"));
    expect(rollback.functionError, rollback.log).toBeUndefined();
    expect(rollback.payload).toMatchObject({ ok: true, command: "downgrade", from: [HEAD], to: [MERGE], steps: [{ revision: HEAD, direction: "down" }] });

    const ambiguous = await fn.invoke(event("rollback"));
    expect(ambiguous.functionError).toBe("Unhandled");
    expect(ambiguous.payload).toMatchObject({ errorType: "AMBIGUOUS_RELATIVE" });
    expect(ambiguous.payload!.errorMessage).not.toContain("fallback");
    expect((await inspectDatabase(db.url, [])).versions).toEqual([MERGE]);

    const partial = await fn.invoke({ command: "downgrade", target: "3b9e5f1a2d42" });
    expect(partial.payload).toMatchObject({ ok: true, from: [MERGE], to: ["3b9e5f1a2d42"] });
    const invocation = await fn.invoke(event("rollback"));
    expect(invocation.functionError, invocation.log).toBeUndefined();
    expect(invocation.payload).toMatchObject({ ok: true, command: "downgrade", from: ["3b9e5f1a2d42"], to: ["2a7d4e8f0c31"], steps: [{ revision: "3b9e5f1a2d42", direction: "down" }] });
    const state = await inspectDatabase(db.url, ["product", "orders"]);
    expect(state).toMatchObject({ versions: ["2a7d4e8f0c31"], tables: { product: true, orders: false } });
    expect(emfLines(invocation.log)[0]).toMatchObject({ command: "downgrade", RevisionsApplied: 1, MigrationFailed: 0, from: "3b9e5f1a2d42", to: "2a7d4e8f0c31" });

    const dry = await fn.invoke({ command: "upgrade", target: "head", dryRun: true });
    expect(dry.payload).toMatchObject({ ok: true, dryRun: true, from: ["2a7d4e8f0c31"], to: [HEAD] });
    expect(dry.payload!.sql).toContain(`-- Running upgrade 5d2a7b3c4f64, 6e3b8c4d5a75 -> ${MERGE}`);
    expect((await inspectDatabase(db.url, [])).versions).toEqual(["2a7d4e8f0c31"]);

    const again = await fn.invoke(event("upgrade"));
    expect(again.payload).toMatchObject({ ok: true, from: ["2a7d4e8f0c31"], to: [HEAD] });
    expect((again.payload!.steps as { revision: string }[]).map((step) => step.revision)).toHaveLength(6);
    expect((await inspectDatabase(db.url, ALL_TABLES)).tables).toEqual(Object.fromEntries(ALL_TABLES.map((t) => [t, true])));
  });

  it("sql.json writes the offline script to <prefix>/<db>/sql/<from>__<to>__<request id>.sql", async () => {
    const invocation = await fn.invoke(event("sql"));
    expect(invocation.functionError, invocation.log).toBeUndefined();
    const key = `${PREFIX}/main/sql/base__${HEAD}__${invocation.requestId}.sql`;
    expect(invocation.payload).toMatchObject({ ok: true, command: "sql", bucket: s3.bucket, key, from: [], to: [HEAD] });
    const script = await objectText(key);
    expect(script).toContain(`bundle sha256: ${sha}`);
    expect(script).toContain("-- Running upgrade  -> 1f3a9c2e7b10");
    expect(script).toContain(`-- Running upgrade 5d2a7b3c4f64, 6e3b8c4d5a75 -> ${MERGE}`);
    expect(script).toContain("\nCOMMIT;\n");
  });

  it("heads, history, check and stamp", async () => {
    const heads = await fn.invoke({ command: "heads" });
    expect(heads.payload).toMatchObject({ ok: true, heads: [HEAD] });
    const history = await fn.invoke({ command: "history", range: "5d2a7b3c4f64:" });
    expect((history.payload!.revisions as { id: string }[]).map((r) => r.id)).toEqual([HEAD, MERGE, "5d2a7b3c4f64"]);
    const check = await fn.invoke({ command: "check" });
    expect(check.payload).toMatchObject({ ok: true, upToDate: true, pending: [] });
    const stamp = await fn.invoke({ command: "stamp", target: "1f3a9c2e7b10" });
    expect(stamp.payload).toMatchObject({ ok: true, command: "stamp", to: ["1f3a9c2e7b10"] });
    expect(emfLines(stamp.log)[0]).toMatchObject({ command: "stamp", RevisionsApplied: 0 });
    const behind = await fn.invoke({ command: "check" });
    expect(behind.payload).toMatchObject({ upToDate: false });
    // "current" in a history range reads the version rows (now 1f3a9c2e7b10).
    const toCurrent = await fn.invoke({ command: "history", range: ":current" });
    expect((toCurrent.payload!.revisions as { id: string }[]).map((r) => r.id)).toEqual(["1f3a9c2e7b10"]);
    await fn.invoke({ command: "stamp", target: "head" });
  });

  it("repair records the bundle's checksum of an applied revision that changed since it ran", async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      // As if the revision had run from other sources than the published bundle's.
      await sql`UPDATE lambic_history SET checksum = 'from-an-older-edit' WHERE revision = '1f3a9c2e7b10' AND direction = 'up'`;
      const behind = await fn.invoke({ command: "check" });
      expect(behind.payload).toMatchObject({ ok: true, upToDate: false, changed: [{ revision: "1f3a9c2e7b10", appliedChecksum: "from-an-older-edit" }] });
      const refused = await fn.invoke({ command: "upgrade", target: "head" });
      expect(refused.payload).toMatchObject({ errorType: "CHECKSUM_MISMATCH" });

      const repair = await fn.invoke({ command: "repair" });
      expect(repair.functionError, repair.log).toBeUndefined();
      expect(repair.payload).toMatchObject({ ok: true, command: "repair", versions: [HEAD], repaired: [{ revision: "1f3a9c2e7b10", appliedChecksum: "from-an-older-edit" }] });
      const [row] = await sql`SELECT direction, actor, bundle_sha256 FROM lambic_history ORDER BY id DESC LIMIT 1`;
      expect(row).toEqual({ direction: "repair", actor: expect.stringContaining("lambda:lambic:"), bundle_sha256: sha });
      expect((await fn.invoke({ command: "check" })).payload).toMatchObject({ upToDate: true, changed: [] });
      expect((await fn.invoke({ command: "repair" })).payload).toMatchObject({ ok: true, repaired: [] });
    } finally {
      await sql.end();
    }
  });

  it("a cold environment finds the bundle in /tmp (checked) without downloading it", async () => {
    await fn.stop();
    const invocation = await fn.invoke({ command: "current", bundle: { sha256: sha } });
    expect(invocation.payload).toMatchObject({ ok: true, versions: [HEAD] });
    expect(jsonLines(invocation.log).find((line) => line.message === "done")).toMatchObject({ bundleFrom: "tmp", s3Requests: 0 });
  });
});

describe("lambic invoke (built CLI) against a local Lambda Invoke API", () => {
  let server: InvokeServer;
  const cliEnv = () => ({ AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });

  beforeAll(async () => {
    server = await startInvokeServer(new Map([["lambic", fn]]));
  });
  afterAll(async () => server?.stop());

  it("sends the event built from the arguments, prints the result and exits 0", async () => {
    const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--json", "upgrade", "head", "--bundle", sha, "-x", "data=true"], cliEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, command: "upgrade", database: "main", to: [HEAD], bundleSha256: sha });
    expect(server.requests.at(-1)).toEqual({ name: "lambic", logType: "Tail", payload: { command: "upgrade", database: "main", target: "head", bundle: { sha256: sha }, x: { data: "true" } } });

    const text = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "current"], cliEnv());
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`main: ${HEAD}`);
  });

  it("sends --per-revision as the event's perRevision", async () => {
    const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--json", "upgrade", "head", "--per-revision"], cliEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(server.requests.at(-1)).toEqual({ name: "lambic", logType: "Tail", payload: { command: "upgrade", database: "main", target: "head", perRevision: true } });
  });

  it("sends repair and prints what it accepted", async () => {
    const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--json", "repair"], cliEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(server.requests.at(-1)).toEqual({ name: "lambic", logType: "Tail", payload: { command: "repair", database: "main" } });
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, command: "repair", repaired: [] });
  });

  it("history prints Alembic's history lines, not the JSON document, without --json", async () => {
    const history = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "history"], cliEnv());
    expect(history.code, history.stderr).toBe(0);
    const lines = history.stdout.trim().split("\n");
    expect(lines[0]).toBe(`${MERGE} -> ${HEAD} (billing), order status`);
    expect(lines).toContain("<base> -> 1f3a9c2e7b10, create customer table");
    expect(lines.at(-1)).toMatch(/^bundle [0-9a-f]{64}$/);
  });

  it("repair prints what it recorded as a sentence, not the JSON document, without --json", async () => {
    const repair = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "repair"], cliEnv());
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stdout).toContain("Nothing to repair: no applied revision of main changed since it ran");
    expect(repair.stdout).not.toContain("{");
  });

  it("a failed migration prints the error and the decoded log tail and exits 1", async () => {
    const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--json", "upgrade", "nosuchrevision"], cliEnv());
    expect(run.code).toBe(1);
    const error = JSON.parse(run.stdout).error;
    expect(error).toMatchObject({ code: "INVOKE_FAILED", errorType: "REVISION_NOT_FOUND", functionError: "Unhandled" });
    expect(run.stderr).toContain("--- log tail of lambic ---");
    expect(run.stderr).toContain("START RequestId:");
    expect(run.stderr).toMatch(/"MigrationFailed":1/);
    expect(run.stderr).toContain("lambic: INVOKE_FAILED: lambic failed: REVISION_NOT_FOUND:");
  });

  it("an event the function would refuse is a usage error, exit 2, without invoking", async () => {
    const before = server.requests.length;
    for (const args of [["upgrade"], ["stamp", "head", "-x", "a=b"], ["upgrade", "base:head"]]) {
      const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--json", ...args], cliEnv());
      expect(run.code, run.stderr).toBe(2);
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "USAGE" });
    }
    const purge = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "upgrade", "head", "--purge"], cliEnv());
    expect(purge.stderr).toContain('lambic: USAGE: lambic invoke --purge: "purge" is not used by command "upgrade"');
    expect(server.requests.length).toBe(before);
  });

  it("--fanout with an option a fan-out does not take (-r, --output) is a usage error, not ignored", async () => {
    const before = server.requests.length;
    for (const extra of [["-r", "base:head"], ["--output", "up.sql"]]) {
      const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--fanout", "upgrade", "head", ...extra], cliEnv());
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`lambic: USAGE: ${extra[0]} does not apply to lambic invoke --fanout`);
    }
    expect(server.requests.length).toBe(before);
  });

  it("an unknown function is INVOKE_FAILED before anything runs", async () => {
    const run = await runCli(["invoke", "--function", "nope", "--endpoint", server.endpoint, "current"], cliEnv());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/INVOKE_FAILED: Invoking nope failed before it ran: ResourceNotFoundException/);
  });

  it("without --region or AWS_REGION, the profile's region in the AWS config file is used", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lambic-aws-config-"));
    writeFileSync(join(dir, "config"), "[profile prod]\nregion = eu-west-1\n");
    writeFileSync(join(dir, "credentials"), "[prod]\naws_access_key_id = test\naws_secret_access_key = test\n");
    try {
      const env = { AWS_PROFILE: "prod", AWS_CONFIG_FILE: join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
      const before = server.requests.length;
      await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "heads"], env);
      expect(server.requests.length).toBe(before + 1);
      expect(server.signingRegions.at(-1)).toBe("eu-west-1");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a throttled invocation says it did not run and what limits it, not to check the function name", async () => {
    const throttling = await startRawServer((req, res) => {
      res.writeHead(429, { "Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException", "x-amzn-RequestId": "r1" });
      res.end(JSON.stringify({ Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", Type: "User", message: "Rate Exceeded." }));
    });
    try {
      const run = await runCli(["invoke", "--function", "lambic", "--endpoint", throttling.endpoint, "--json", "upgrade", "head"], cliEnv());
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", awsError: "TooManyRequestsException", ran: false, reason: "ReservedFunctionConcurrentInvocationLimitExceeded" });
      expect(run.stderr).toContain("lambic: INVOKE_FAILED: Lambda throttled the invocation of lambic (ReservedFunctionConcurrentInvocationLimitExceeded), so it did not run: TooManyRequestsException: Rate Exceeded. Run again once");
      expect(run.stderr).toContain("reserved concurrency");
      expect(run.stderr).not.toContain("Check the function name");
    } finally {
      await throttling.stop();
    }
  });

  it("an answer lost after the request was sent is not 'failed before it ran': the function may have run", async () => {
    const dropping = await startRawServer((req) => req.socket.destroy());
    try {
      const run = await runCli(["invoke", "--function", "lambic", "--endpoint", dropping.endpoint, "--json", "upgrade", "head"], cliEnv());
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", ran: null });
      expect(run.stderr).not.toContain("before it ran");
      expect(run.stderr).toContain("after the request was sent: the function may have run, or may still be running");
      expect(run.stderr).toContain("lambic invoke current");
    } finally {
      await dropping.stop();
    }
  });

  it("a Lambda service error (500 ServiceException, a gateway's 504) does not say the function did not run: it may have", async () => {
    const answers: [number, Record<string, string>, string][] = [
      [500, { "x-amzn-ErrorType": "ServiceException" }, JSON.stringify({ Type: "Service", message: "Lambda encountered an internal error" })],
      [504, { "Content-Type": "text/html" }, "<html>504 Gateway Time-out</html>"],
    ];
    for (const [status, headers, body] of answers) {
      const failing = await startRawServer((req, res) => {
        res.writeHead(status, { "Content-Type": "application/json", "x-amzn-RequestId": "r1", ...headers });
        res.end(body);
      });
      try {
        const run = await runCli(["invoke", "--function", "lambic", "--endpoint", failing.endpoint, "--json", "downgrade", "-1"], cliEnv());
        expect(run.code).toBe(1);
        expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", ran: null });
        expect(run.stderr).not.toContain("before it ran");
        expect(run.stderr).toContain("the function may have run, or may still be running");
        expect(run.stderr).toContain("lambic invoke current");
      } finally {
        await failing.stop();
      }
    }
    // Lambda's own refusal to start the function (its network interfaces, its KMS key) did not run it.
    const refusing = await startRawServer((req, res) => {
      res.writeHead(502, { "Content-Type": "application/json", "x-amzn-RequestId": "r1", "x-amzn-ErrorType": "ENILimitReachedException" });
      res.end(JSON.stringify({ Type: "Server", message: "Lambda was not able to create an ENI in the VPC of the Lambda function" }));
    });
    try {
      const run = await runCli(["invoke", "--function", "lambic", "--endpoint", refusing.endpoint, "--json", "downgrade", "-1"], cliEnv());
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", ran: false, awsError: "ENILimitReachedException" });
    } finally {
      await refusing.stop();
    }
  });

  it("a Lambda endpoint that refuses the connection is INVOKE_FAILED before it ran", async () => {
    const closed = await startRawServer(() => undefined);
    await closed.stop(); // its port now refuses connections
    const run = await runCli(["invoke", "--function", "lambic", "--endpoint", closed.endpoint, "--json", "current"], cliEnv());
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", ran: false });
    expect(run.stderr).toContain("lambic: INVOKE_FAILED: Invoking lambic failed before it ran: Error: connect ECONNREFUSED");
  });

  it("a function that timed out says so, what it means for the database and the next step", async () => {
    const timedOut = (payload: Record<string, unknown>) => ({
      invoke: async () => ({ payload, functionError: "Unhandled", log: "START RequestId: r1 Version: $LATEST\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 900000.00 ms\tStatus: timeout\n", requestId: "r1", ms: 900_000 }),
    });
    const timeouts = await startInvokeServer(
      new Map([
        ["slow", timedOut({ errorType: "Sandbox.Timedout", errorMessage: "RequestId: r1 Error: Task timed out after 900.00 seconds" })],
        ["slow-old-runtime", timedOut({ errorMessage: "2026-12-07T00:00:00.000Z r1 Task timed out after 900.00 seconds" })],
      ]),
    );
    try {
      for (const name of ["slow", "slow-old-runtime"]) {
        const run = await runCli(["invoke", "--function", name, "--endpoint", timeouts.endpoint, "--json", "upgrade", "head"], cliEnv());
        expect(run.code).toBe(1);
        expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", errorType: "Sandbox.Timedout", functionError: "Unhandled" });
        expect(run.stderr).toContain(`lambic: INVOKE_FAILED: ${name} failed: Sandbox.Timedout: `);
        expect(run.stderr).toContain("Task timed out after 900.00 seconds. The function reached its timeout and Lambda stopped it mid-run");
        expect(run.stderr).toContain("Read the database with lambic invoke current");
      }
    } finally {
      await timeouts.stop();
    }
  });

  it("an answer over Lambda's 6 MB limit says the function ran to its end and only its answer was dropped", async () => {
    const tooLarge = { errorType: "Function.ResponseSizeTooLarge", errorMessage: "Response payload size exceeded maximum allowed payload size (6291556 bytes)." };
    const large = await startInvokeServer(new Map([["large", { invoke: async () => ({ payload: tooLarge, functionError: "Unhandled", log: "START RequestId: r1\nEND RequestId: r1\n", requestId: "r1", ms: 1 }) }]]));
    try {
      const run = await runCli(["invoke", "--function", "large", "--endpoint", large.endpoint, "--json", "upgrade", "head"], cliEnv());
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", errorType: "Function.ResponseSizeTooLarge", ran: true });
      expect(run.stderr).toContain("lambic: INVOKE_FAILED: large failed: Function.ResponseSizeTooLarge: Response payload size exceeded maximum allowed payload size (6291556 bytes).");
      expect(run.stderr).toContain("The function ran to its end, but its answer was over Lambda's 6 MB limit");
      expect(run.stderr).toContain("lambic invoke current");
    } finally {
      await large.stop();
    }
  });

  /** Invokes a function that answers only when released, sends `signal` once the CLI waits on it, and returns what the CLI did. */
  async function interruptWaitingInvoke(signal: NodeJS.Signals, command: string[]) {
    let release: () => void = () => undefined;
    let reachedServer: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (reachedServer = resolve));
    const waiting = {
      invoke: () => {
        reachedServer();
        return new Promise<Invocation>((resolve) => (release = () => resolve({ payload: { ok: true }, functionError: undefined, log: "", requestId: "r1", ms: 1 })));
      },
    };
    const slow = await startInvokeServer(new Map([["slow", waiting]]));
    try {
      const child = spawn(process.execPath, [CLI_FILE, "invoke", "--function", "slow", "--endpoint", slow.endpoint, "--json", ...command], { cwd: ROOT, env: { PATH: process.env.PATH, ...cliEnv() } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      await reached;
      child.kill(signal);
      return { code: await exited, error: JSON.parse(stdout).error, stderr };
    } finally {
      release();
      await slow.stop();
    }
  }

  it("Ctrl-C while waiting exits 130 and says the function goes on running", async () => {
    const { code, error, stderr } = await interruptWaitingInvoke("SIGINT", ["upgrade", "head"]);
    expect(code).toBe(130);
    expect(error).toMatchObject({ code: "INTERRUPTED", function: "slow", ran: null });
    expect(stderr).toContain("lambic: INTERRUPTED: Interrupted: lambic stopped waiting for slow, but Lambda cannot cancel an invocation, so the function goes on to its end");
  });

  it("SIGTERM while waiting (a cancelled CI job) exits 143 and says the function goes on running", async () => {
    const { code, error, stderr } = await interruptWaitingInvoke("SIGTERM", ["downgrade", "-1"]);
    expect(code).toBe(143);
    expect(error).toMatchObject({ code: "INTERRUPTED", function: "slow", ran: null, signal: "SIGTERM" });
    expect(stderr).toContain("lambic: INTERRUPTED: Terminated (SIGTERM): lambic stopped waiting for slow, but Lambda cannot cancel an invocation, so the function goes on to its end");
  });

  it("a function that answers without a lambic result (another function) is INVOKE_FAILED asking whether --function is right", async () => {
    const other = await startInvokeServer(new Map([["other", { invoke: async () => ({ payload: null, functionError: undefined, log: "", requestId: "r1", ms: 1 }) }]]));
    try {
      const run = await runCli(["invoke", "--function", "other", "--endpoint", other.endpoint, "--json", "current"], cliEnv());
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", function: "other", functionError: null, remote: null });
      expect(run.stderr).toContain("lambic: INVOKE_FAILED: other answered without a lambic result: null. Is other the lambic function");
    } finally {
      await other.stop();
    }
  });

  it("prints a tenants answer of 150,000 schemas one a line (more than a call's argument list takes)", async () => {
    const names = Array.from({ length: 150_000 }, (_, i) => `t${i}`);
    const batches = [];
    for (let at = 0; at < names.length; at += 1000) batches.push({ tenants: names.slice(at, at + 1000) });
    const answer = { ok: true, command: "tenants", database: "main", bundleSha256: "a".repeat(64), count: names.length, batchSize: 1000, batches };
    const fake = await startInvokeServer(new Map([["many", { invoke: async () => ({ payload: answer, functionError: undefined, log: "", requestId: "r1", ms: 1 }) }]]));
    try {
      const run = await runCli(["invoke", "--function", "many", "--endpoint", fake.endpoint, "tenants"], cliEnv());
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.split("\n");
      expect(lines.slice(0, 2)).toEqual(["t0", "t1"]);
      expect(lines).toContain("t149999");
      expect(run.stdout).toContain("150000 tenant(s) of main in 150 batch(es) of up to 1000");
    } finally {
      await fake.stop();
    }
  });

  it("check behind only because an applied revision changed names it and the next step, not \"pending base\"", async () => {
    const answer = { ok: true, command: "check", database: "main", bundleSha256: "a".repeat(64), versions: [HEAD], heads: [HEAD], pending: [], changed: [{ revision: MERGE, file: "revisions/main/merge.ts" }], upToDate: false };
    const fake = await startInvokeServer(new Map([["edited", { invoke: async () => ({ payload: answer, functionError: undefined, log: "", requestId: "r1", ms: 1 }) }]]));
    try {
      const run = await runCli(["invoke", "--function", "edited", "--endpoint", fake.endpoint, "check"], cliEnv());
      expect(run.code).toBe(1);
      expect(run.stdout).not.toContain("pending");
      expect(run.stdout).toContain(`main: changed since applied: ${MERGE} (revisions/main/merge.ts)`);
      expect(run.stdout).toContain("lambic invoke repair");
    } finally {
      await fake.stop();
    }
  });

  it("an upgrade run past edited applied revisions (--allow-changed) names them in its text, as the local upgrade warns", async () => {
    const answer = { ok: true, command: "upgrade", database: "main", bundleSha256: "a".repeat(64), durationMs: 5, from: [HEAD], to: [HEAD], steps: [], lockWaitMs: 0, changed: [{ revision: MERGE, appliedChecksum: "b".repeat(64), currentChecksum: "c".repeat(64), file: "revisions/main/merge.ts" }] };
    const fake = await startInvokeServer(new Map([["edited", { invoke: async () => ({ payload: answer, functionError: undefined, log: "", requestId: "r1", ms: 1 }) }]]));
    try {
      const run = await runCli(["invoke", "--function", "edited", "--endpoint", fake.endpoint, "upgrade", "head", "--allow-changed"], cliEnv());
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`changed since applied (--allow-changed): ${MERGE} (revisions/main/merge.ts)`);
    } finally {
      await fake.stop();
    }
  });

  it("a failure whose statement holds a database URL prints it with the password redacted, in the message, the log tail and --json", async () => {
    const root = await mkdtemp(join(tmpdir(), "lambic-leak-"));
    const leaky = new LambdaFunction("leaky", handlerEnv({ s3, prefix: "leak", database: "main", url: db.url, cacheDir: join(root, "cache") }));
    const leakServer = await startInvokeServer(new Map([["leaky", leaky]]));
    try {
      mkdirSync(join(root, "revisions/main"), { recursive: true });
      writeFileSync(join(root, "lambic.config.json"), JSON.stringify({ databases: { main: { revisions: "revisions/main", versionTable: "leak_version" } } }));
      // A revision that reads its publisher's URL from the function's environment, say; here, written out.
      writeFileSync(join(root, "revisions/main/0001_sub.sql"), "-- revision: 5ec7e7000001\n-- message: subscribe\n-- +up\nSELECT 'postgresql://replicator:Sup3r-s3cret@10.0.0.5:5432/app'::int;\n");
      const published = await runCli(["publish", "--bucket", s3.bucket, "--prefix", "leak"], s3.env, root);
      expect(published.code, published.stderr).toBe(0);
      for (const json of [false, true]) {
        const run = await runCli(["invoke", "--function", "leaky", "--endpoint", leakServer.endpoint, ...(json ? ["--json"] : []), "upgrade", "head"], cliEnv());
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("lambic: INVOKE_FAILED: leaky failed: STATEMENT_FAILED:");
        expect(run.stderr).toContain("postgresql://replicator:***@10.0.0.5:5432/app");
        expect(run.stderr + run.stdout).not.toContain("Sup3r-s3cret");
        if (json) expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", errorType: "STATEMENT_FAILED" });
      }
    } finally {
      await leakServer.stop();
      await leaky.stop();
      await rm(root, { recursive: true, force: true });
    }
  });

  it("a machine without AWS credentials is INVOKE_FAILED saying how to provide them", async () => {
    const before = server.requests.length;
    const noCredentials = { AWS_REGION: "us-east-1", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent", AWS_CONFIG_FILE: "/nonexistent", AWS_EC2_METADATA_DISABLED: "true", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
    const run = await runCli(["invoke", "--function", "lambic", "--endpoint", server.endpoint, "--json", "current"], noCredentials);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INVOKE_FAILED", awsError: "CredentialsProviderError" });
    expect(run.stderr).toContain("No AWS credentials were found: set AWS_PROFILE");
    expect(server.requests.length).toBe(before);
  });
});

/** An HTTP server answering every request with `answer`, after reading its body. */
async function startRawServer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const raw = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(req, res));
  });
  await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(raw.address() as { port: number }).port}`,
    stop: () => new Promise<void>((resolve) => {
      raw.closeAllConnections();
      raw.close(() => resolve());
    }),
  };
}

describe("Powertools Logger's documented variables", () => {
  const environment = (name: string, env: Record<string, string>) =>
    new LambdaFunction(name, { ...handlerEnv({ s3, prefix: PREFIX, database: "main", url: db.url, cacheDir }), ...env });

  it("POWERTOOLS_LOGGER_LOG_EVENT=true logs each invocation's event", async () => {
    const logged = environment("log-event", { POWERTOOLS_LOGGER_LOG_EVENT: "true" });
    try {
      const event = { command: "heads", bundle: { sha256: sha } };
      const invocation = await logged.invoke(event);
      expect(invocation.payload).toMatchObject({ ok: true });
      expect(jsonLines(invocation.log).find((line) => line.message === "Lambda invocation event")).toMatchObject({ event, function_request_id: invocation.requestId, command: "heads" });
    } finally {
      await logged.stop();
    }
  });

  it("POWERTOOLS_LOGGER_SAMPLE_RATE draws again on every invocation, not once per environment", async () => {
    const sampled = environment("sample-rate", { POWERTOOLS_LOGGER_SAMPLE_RATE: "1" });
    try {
      await sampled.invoke({ command: "heads", bundle: { sha256: sha } });
      const warm = await sampled.invoke({ command: "heads", bundle: { sha256: sha } });
      expect(jsonLines(warm.log).find((line) => line.message === "Setting log level to DEBUG due to sampling rate")).toMatchObject({ level: "DEBUG" });
    } finally {
      await sampled.stop();
    }
  });
});
