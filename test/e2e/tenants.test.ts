/**
 * Tenant databases in the Lambda, all real: the built CLI publishes a tenant database's bundle
 * to s3rver; the BUILT handler runs in local execution environments behind a local Lambda
 * Invoke API (as many environments as are busy, like Lambda's scaling); `lambic invoke --fanout`
 * makes the handler list 30 tenant schemas (a config query, on a connection) and invoke itself
 * per batch through that API with the real @aws-sdk/client-lambda.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compactReportFromMessage, messageWithoutReport, REPORT_MARKER, reportFromMessage } from "../../handler/tenant-report.ts";
import { getObject } from "../../src/bundle/s3-bundles.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { ensureBuilt } from "./support/build.ts";
import { runCli } from "./support/cli.ts";
import { emfLines, handlerEnv, jsonLines, LambdaFunction, LambdaPool, startInvokeServer, type InvokeServer } from "./support/lambda.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const PREFIX = "tenants";
const FUNCTION = "lambic-tenants";
/** The same function with a 6000-byte response limit: a 30-tenant report (~7 KB) is over it, a batch of 8 is not. */
const SMALL_FUNCTION = "lambic-tenants-small";
const SMALL_LIMIT = 6000;
const HEAD = "cccc00000003";
const TENANTS = Array.from({ length: 30 }, (_, i) => `tenant_${String(i).padStart(3, "0")}`);

let s3: TestS3;
let db: TestDatabase;
let sql: postgres.Sql;
let project: string;
let pool: LambdaPool;
let smallPool: LambdaPool;
let server: InvokeServer;
let sha: string;
const functions = new Map<string, LambdaPool>();
const cliEnv = () => ({ AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });

function writeProject(dir: string): void {
  const revisions = join(dir, "revisions/app");
  mkdirSync(revisions, { recursive: true });
  const tenants = { query: "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1" };
  writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB:-}", revisions: "revisions/app", tenants } } }));
  writeFileSync(join(revisions, "0001_accounts.ts"), `export default { id: "aaaa00000001", revises: null, message: "accounts", upgrade(op) { op.createTable("account", { id: "bigint primary key", name: "text" }); }, downgrade(op) { op.dropTable("account"); } };\n`);
  writeFileSync(join(revisions, "0002_invoices.ts"), `export default { id: "bbbb00000002", revises: "aaaa00000001", message: "invoices", upgrade(op) { op.createTable("invoice", { id: "bigint primary key", account_id: "bigint references account" }); }, downgrade(op) { op.dropTable("invoice"); } };\n`);
  writeFileSync(join(revisions, "0003_index.sql"), `-- revision: cccc00000003\n-- revises: bbbb00000002\n-- message: index\n-- +up\nCREATE INDEX invoice_account_idx ON invoice (account_id);\n-- +down\nDROP INDEX invoice_account_idx;\n`);
}

/** Each tenant's version rows, read from its own version table. */
async function tenantVersions(): Promise<Record<string, string[]>> {
  const versions: Record<string, string[]> = {};
  for (const tenant of TENANTS) {
    const [exists] = await sql`SELECT to_regclass(${`${tenant}.lambic_version`}) IS NOT NULL AS e`;
    // Test-only: the names are the fixed TENANTS above.
    versions[tenant] = exists!.e ? (await sql.unsafe(`SELECT version_num FROM ${tenant}.lambic_version`)).map((r) => String(r.version_num)) : [];
  }
  return versions;
}

function fanout(args: string[]) {
  return runCli(["invoke", "--fanout", "--function", FUNCTION, "--endpoint", server.endpoint, "--name", "app", "--json", ...args], cliEnv(), project);
}

/** The invocations of the pool since `from` that ran a batch (their events name tenants). */
function batchInvocations(from: number) {
  return pool.invocations.slice(from).filter((i) => Array.isArray((i.event as { tenants?: unknown }).tenants));
}

beforeAll(async () => {
  await ensureBuilt();
  [s3, db, project] = await Promise.all([startS3(), createTestDatabase("e2e_tenants"), mkdtemp(join(tmpdir(), "lambic-e2e-tenants-"))]);
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  for (const tenant of TENANTS) await sql.unsafe(`CREATE SCHEMA ${tenant}`);
  writeProject(project);
  const published = await runCli(["publish", "--name", "app", "--bucket", s3.bucket, "--prefix", PREFIX], s3.env, project);
  expect(published.code, published.stderr).toBe(0);
  sha = published.stdout.trim();

  server = await startInvokeServer(functions);
  pool = new LambdaPool(FUNCTION, {
    ...handlerEnv({ s3, prefix: PREFIX, database: "app", url: db.url, cacheDir: join(project, "cache") }),
    LAMBIC_LAMBDA_ENDPOINT: server.endpoint,
  });
  functions.set(FUNCTION, pool);
  smallPool = new LambdaPool(SMALL_FUNCTION, { ...pool.env, LAMBIC_RESPONSE_LIMIT_BYTES: String(SMALL_LIMIT) });
  functions.set(SMALL_FUNCTION, smallPool);
});

afterAll(async () => {
  await pool?.stop();
  await smallPool?.stop();
  await server?.stop();
  await sql?.end({ timeout: 5 });
  await s3?.stop();
  await db?.drop();
  if (project) await rm(project, { recursive: true, force: true });
});

describe("lambic invoke --fanout", () => {
  it("fans 30 tenants out in batches through the Invoke API: every tenant at head, one EMF line per tenant", async () => {
    const before = pool.invocations.length;
    const run = await fanout(["upgrade", "head", "--batch-size", "8", "--concurrency", "3"]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ ok: true, command: "fanout", operation: "upgrade", targets: ["head"], database: "app", bundleSha256: sha, succeeded: 30, failed: 0, batchSize: 8, concurrency: 3 });
    expect(report.batches.map((b: { tenants: number }) => b.tenants)).toEqual([8, 8, 8, 6]);
    expect(report.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(TENANTS);
    for (const tenant of report.tenants) expect(tenant).toMatchObject({ ok: true, from: [], to: [HEAD], steps: [{ revision: "aaaa00000001" }, { revision: "bbbb00000002" }, { revision: HEAD }] });
    expect(run.stderr).toContain("batch 4/4: 6 tenant(s), 6 ok, 0 failed");
    expect(run.stderr).toMatch(/tenants: 30 done, 0 failed, 0 remaining, [\d.]+\/s/);
    expect(Object.values(await tenantVersions())).toEqual(TENANTS.map(() => [HEAD]));

    // The coordinator invoked itself once per batch, each pinned to the bundle it loaded.
    const sent = server.requests.slice(-5);
    expect(sent[0]!.payload).toEqual({ command: "fanout", operation: "upgrade", target: "head", database: "app", batchSize: 8, concurrency: 3 });
    const batchEvents = sent.slice(1).map((r) => r.payload as { tenants: string[] });
    expect(batchEvents.flatMap((e) => e.tenants).sort()).toEqual(TENANTS);
    for (const event of batchEvents) expect(event).toMatchObject({ command: "upgrade", target: "head", database: "app", bundle: { sha256: sha } });
    expect(pool.size).toBeGreaterThanOrEqual(2);

    // Per-tenant EMF: the tenant is a property; the dimension set stays {service, database, command}.
    const batches = batchInvocations(before);
    expect(batches).toHaveLength(4);
    const tenantRecords = batches.flatMap((b) => emfLines(b.invocation.log)).filter((line) => "tenant" in line);
    expect(tenantRecords.map((r) => r.tenant).sort()).toEqual(TENANTS);
    for (const record of tenantRecords) {
      expect(record._aws.CloudWatchMetrics).toEqual([{ Namespace: "Lambic", Dimensions: [["service", "database", "command"]], Metrics: expect.arrayContaining([{ Name: "TenantFailed", Unit: "Count" }]) }]);
      expect(record).toMatchObject({ service: "lambic", database: "app", command: "upgrade", TenantFailed: 0, TenantRevisionsApplied: 3, from: "base", to: HEAD });
    }
    // Each batch's own invocation record, and the coordinator's under command "fanout".
    for (const b of batches) expect(emfLines(b.invocation.log).find((l) => !("tenant" in l))).toMatchObject({ command: "upgrade", MigrationFailed: 0, tenantsFailed: "0" });
    const coordinator = pool.invocations.slice(before).find((i) => (i.event as { command: string }).command === "fanout")!;
    // The batches counted the 90 revisions applied; the coordinator counts none, so a sum over RevisionsApplied is 90.
    const batchRecords = batches.map((b) => emfLines(b.invocation.log).find((l) => !("tenant" in l))!);
    expect(batchRecords.reduce((n, r) => n + (r.RevisionsApplied as number), 0)).toBe(90);
    expect(emfLines(coordinator.invocation.log)).toEqual([expect.objectContaining({ command: "fanout", MigrationFailed: 0, RevisionsApplied: 0, tenantsSucceeded: "30" })]);
    expect(jsonLines(coordinator.invocation.log).filter((l) => l.message === "batch")).toHaveLength(4);
  });

  it("one tenant fails (a conflicting table in its schema): rolled back alone, reported, the others at head, exit 1", async () => {
    const down = await fanout(["downgrade", "base", "--batch-size", "10"]);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ succeeded: 30, failed: 0 });
    expect(Object.values(await tenantVersions())).toEqual(TENANTS.map(() => []));
    await sql.unsafe("CREATE TABLE tenant_013.invoice (conflicting int)");

    const before = pool.invocations.length;
    const run = await fanout(["upgrade", "head", "--batch-size", "8", "--concurrency", "4"]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ ok: false, command: "fanout", succeeded: 29, failed: 1 });
    const failed = report.tenants.find((t: { tenant: string }) => t.tenant === "tenant_013");
    expect(failed).toMatchObject({ ok: false, error: { code: "STATEMENT_FAILED", message: expect.stringMatching(/^Revision bbbb00000002 \(upgrade\) failed: relation "invoice" already exists \[SQLSTATE 42P07\]/) } });
    expect(report.tenants.filter((t: { ok: boolean }) => t.ok)).toHaveLength(29);
    expect(report.batches[1]).toMatchObject({ tenants: 8, succeeded: 7, failed: 1 });
    expect(run.stderr).toContain("tenant tenant_013 failed: STATEMENT_FAILED");
    expect(run.stderr).toMatch(/lambic: TENANTS_FAILED: 1 of 30 tenant\(s\) of database "app" failed fanout: tenant_013/);

    const versions = await tenantVersions();
    expect(versions.tenant_013).toEqual([]);
    expect(await sql`SELECT to_regclass('tenant_013.account') AS t`).toEqual([{ t: null }]);
    expect(Object.entries(versions).filter(([t]) => t !== "tenant_013").map(([, v]) => v)).toEqual(TENANTS.slice(1).map(() => [HEAD]));

    // The batch holding tenant_013 was a typed function error (its pipeline step fails), with
    // the tenant's own EMF line failed and its invocation's MigrationFailed at 1.
    const failing = batchInvocations(before).find((b) => (b.event as { tenants: string[] }).tenants.includes("tenant_013"))!;
    expect(failing.invocation.functionError).toBe("Unhandled");
    expect(failing.invocation.payload).toMatchObject({ errorType: "TENANTS_FAILED" });
    // Its "failed" line is the summary, not the report again: each tenant has a "tenant" line.
    const failedLine = jsonLines(failing.invocation.log).find((l) => l.message === "failed")!;
    expect(failedLine.error).toMatchObject({ code: "TENANTS_FAILED", failedTenants: ["tenant_013"], message: messageWithoutReport(failing.invocation.payload!.errorMessage as string) });
    expect(JSON.stringify(failedLine)).not.toContain(REPORT_MARKER.trim());
    expect(jsonLines(failing.invocation.log).filter((l) => l.message === "tenant")).toHaveLength(8);
    const records = emfLines(failing.invocation.log);
    expect(records.find((r) => r.tenant === "tenant_013")).toMatchObject({ TenantFailed: 1, errorCode: "STATEMENT_FAILED" });
    expect(records.find((r) => r.tenant === "tenant_012")).toMatchObject({ TenantFailed: 0, to: HEAD });
    expect(records.find((r) => !("tenant" in r))).toMatchObject({ command: "upgrade", MigrationFailed: 1, errorCode: "TENANTS_FAILED", tenantsFailed: "1", tenantsSucceeded: "7" });

    await sql.unsafe("DROP TABLE tenant_013.invoice");
  });
});

describe("a fan-out batch whose answer is lost", () => {
  it("says its tenants may have been migrated, not that the batch failed before it ran", async () => {
    // The batches' Invoke API reads each request, then drops the connection without an answer.
    const dropping = createServer((req) => {
      req.resume();
      req.on("end", () => req.socket.destroy());
    });
    await new Promise<void>((resolve) => dropping.listen(0, "127.0.0.1", resolve));
    const coordinator = new LambdaFunction(FUNCTION, { ...pool.env, LAMBIC_LAMBDA_ENDPOINT: `http://127.0.0.1:${(dropping.address() as { port: number }).port}` });
    try {
      const run = await coordinator.invoke({ command: "fanout", operation: "upgrade", target: "head", database: "app", tenants: ["tenant_001", "tenant_002"] });
      expect(run.payload).toMatchObject({ errorType: "TENANTS_FAILED" });
      const report = reportFromMessage(run.payload!.errorMessage as string)!;
      expect(report.tenants).toHaveLength(2);
      for (const tenant of report.tenants) {
        expect(tenant).toMatchObject({ ok: false, error: { code: "INVOKE_FAILED" } });
        const { message } = (tenant as { error: { message: string } }).error;
        expect(message).not.toContain("before it ran");
        expect(message).toContain("was lost after the request was sent");
        expect(message).toContain("its tenants may have been migrated");
      }
    } finally {
      await coordinator.stop();
      dropping.closeAllConnections();
      await new Promise<void>((resolve) => dropping.close(() => resolve()));
    }
  });
});

describe("a fan-out whose Lambda endpoint accepts no connection", () => {
  it("fails each batch as not run within seconds (isolated subnets without a Lambda endpoint), rather than waiting on the connection", async () => {
    // A listener that never accepts, its queue filled: a connection to it hangs as one does to
    // Lambda's public address from subnets with no route out.
    const source = `const s = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => { process.stdout.write(s.address().port + "\\n"); setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 50); });`;
    const listener = spawn(process.execPath, ["-e", source], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await new Promise<number>((resolve) => listener.stdout!.once("data", (data) => resolve(Number(String(data).trim()))));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const filling = await Promise.all([0, 1].map(() => new Promise<Socket>((resolve, reject) => { const socket = connect(port, "127.0.0.1", () => resolve(socket)); socket.on("error", reject); })));
    const coordinator = new LambdaFunction(FUNCTION, { ...pool.env, LAMBIC_LAMBDA_ENDPOINT: `http://127.0.0.1:${port}` });
    try {
      // Bounded here, so that a fan-out still waiting fails the test and its environment is stopped.
      const waited = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the fan-out was still waiting on the connection after 20 s")), 20_000).unref());
      const run = await Promise.race([coordinator.invoke({ command: "fanout", operation: "upgrade", target: "head", database: "app", tenants: ["tenant_001", "tenant_002"] }), waited]);
      expect(run.payload).toMatchObject({ errorType: "TENANTS_FAILED" });
      const report = reportFromMessage(run.payload!.errorMessage as string)!;
      expect(report.tenants).toHaveLength(2);
      for (const tenant of report.tenants) {
        expect(tenant).toMatchObject({ ok: false, error: { code: "INVOKE_FAILED", message: expect.stringContaining("failed before it ran") } });
      }
    } finally {
      await coordinator.stop();
      for (const socket of filling) socket.destroy();
      listener.kill();
    }
  });
});

describe("the handler's tenant events", () => {
  it('"tenants" runs the named tenants in this invocation; without it, every tenant; current reports each', async () => {
    const named = await pool.invoke({ command: "upgrade", target: "head", tenants: ["tenant_013"] });
    expect(named.functionError, named.log).toBeUndefined();
    expect(named.payload).toMatchObject({ ok: true, command: "upgrade", database: "app", bundleSha256: sha, succeeded: 1, failed: 0, tenants: [{ tenant: "tenant_013", ok: true, from: [], to: [HEAD] }] });

    const down = await pool.invoke({ command: "downgrade", target: "-1", tenants: ["tenant_002", "tenant_005"] });
    expect(down.payload).toMatchObject({ ok: true, succeeded: 2, tenants: [{ tenant: "tenant_002", to: ["bbbb00000002"] }, { tenant: "tenant_005", to: ["bbbb00000002"] }] });
    expect(jsonLines(down.log).filter((l) => l.message === "step").map((l) => l.tenant).sort()).toEqual(["tenant_002", "tenant_005"]);

    const all = await pool.invoke({ command: "upgrade", target: "head" });
    expect(all.payload).toMatchObject({ ok: true, succeeded: 30, failed: 0 });
    const ran = (all.payload!.tenants as { tenant: string; steps: unknown[] }[]).filter((t) => t.steps.length > 0).map((t) => t.tenant);
    expect(ran).toEqual(["tenant_002", "tenant_005"]);

    const current = await pool.invoke({ command: "current" });
    expect((current.payload!.tenants as { heads: string[] }[]).every((t) => t.heads[0] === HEAD)).toBe(true);
    expect(current.payload!.tenants).toHaveLength(30);
  });

  it('"check" reports each tenant, and the database is up to date only when every tenant is', async () => {
    await pool.invoke({ command: "downgrade", target: "-1", tenants: ["tenant_021"] });
    const behind = await pool.invoke({ command: "check" });
    expect(behind.functionError, behind.log).toBeUndefined();
    expect(behind.payload).toMatchObject({ ok: true, command: "check", upToDate: false, succeeded: 30, failed: 0 });
    const tenants = behind.payload!.tenants as { tenant: string; upToDate: boolean; pending: string[] }[];
    expect(tenants.filter((t) => !t.upToDate)).toEqual([expect.objectContaining({ tenant: "tenant_021", pending: [HEAD] })]);

    await pool.invoke({ command: "upgrade", target: "head", tenants: ["tenant_021"] });
    const atHead = await pool.invoke({ command: "check", tenants: ["tenant_021", "tenant_022"] });
    expect(atHead.payload).toMatchObject({ ok: true, upToDate: true, succeeded: 2 });
  });

  it("lambic invoke check on a tenant database says how many tenants are behind when it exits 1", async () => {
    await pool.invoke({ command: "downgrade", target: "-1", tenants: ["tenant_021"] });
    try {
      const run = await runCli(["invoke", "--function", FUNCTION, "--endpoint", server.endpoint, "--name", "app", "check", "--tenant", "tenant_021", "--tenant", "tenant_022"], cliEnv(), project);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout.trim().split("\n")).toEqual([`tenant_021: bbbb00000002, pending ${HEAD}`, `tenant_022: ${HEAD}`, `2 tenant(s) ok, 0 failed (database app, bundle ${sha}).`, "1 tenant(s) behind."]);
    } finally {
      await pool.invoke({ command: "upgrade", target: "head", tenants: ["tenant_021"] });
    }
  });

  it('"repair" records the checksum per tenant where an applied revision changed', async () => {
    await sql`UPDATE tenant_007.lambic_history SET checksum = 'from-an-older-edit' WHERE direction = 'up' AND revision = ${HEAD}`;
    expect((await pool.invoke({ command: "check", tenants: ["tenant_007"] })).payload).toMatchObject({ upToDate: false });
    const repair = await pool.invoke({ command: "repair", tenants: ["tenant_006", "tenant_007"] });
    expect(repair.functionError, repair.log).toBeUndefined();
    expect(repair.payload).toMatchObject({ ok: true, command: "repair", succeeded: 2, failed: 0 });
    expect(repair.payload!.tenants).toEqual([
      expect.objectContaining({ tenant: "tenant_006", ok: true, repaired: [] }),
      expect.objectContaining({ tenant: "tenant_007", ok: true, repaired: [HEAD] }),
    ]);
    expect((await pool.invoke({ command: "check", tenants: ["tenant_007"] })).payload).toMatchObject({ upToDate: true });
  });

  it('"upgrade" with allowChanged names in each tenant\'s entry the edited applied revisions it ran past, as a run on one database does', async () => {
    await sql`UPDATE tenant_012.lambic_history SET checksum = 'from-an-older-edit' WHERE direction = 'up' AND revision = ${HEAD}`;
    try {
      const run = await pool.invoke({ command: "upgrade", target: "head", allowChanged: true, tenants: ["tenant_012", "tenant_013"] });
      expect(run.functionError, run.log).toBeUndefined();
      expect(run.payload!.tenants).toEqual([
        expect.objectContaining({ tenant: "tenant_012", ok: true, steps: [], changed: [HEAD] }),
        expect.not.objectContaining({ changed: expect.anything() }),
      ]);
      const text = await runCli(["invoke", "--function", FUNCTION, "--endpoint", server.endpoint, "--name", "app", "upgrade", "head", "--allow-changed", "--tenant", "tenant_012"], cliEnv(), project);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`tenant_012: at ${HEAD}; changed since applied (--allow-changed): ${HEAD}\n`);
    } finally {
      await pool.invoke({ command: "repair", tenants: ["tenant_012"] });
    }
  });

  it('"sql" on a tenant database renders the one tenant the event names', async () => {
    const none = await pool.invoke({ command: "sql", target: "base:head" });
    expect(none.payload).toMatchObject({ errorType: "INVALID_EVENT", errorMessage: expect.stringContaining('set "tenants": ["<tenant>"] (one name)') });
    const two = await pool.invoke({ command: "sql", target: "base:head", tenants: ["tenant_003", "tenant_004"] });
    expect(two.payload).toMatchObject({ errorType: "INVALID_EVENT" });

    const one = await pool.invoke({ command: "sql", target: "base:head", tenants: ["tenant_003"] });
    expect(one.functionError, one.log).toBeUndefined();
    expect(one.payload).toMatchObject({ ok: true, command: "sql", tenant: "tenant_003", to: [HEAD] });
    const script = Buffer.from(await getObject(s3.client, s3.bucket, one.payload!.key as string)).toString("utf8");
    expect(script).toContain('tenant schema "tenant_003"');
    expect(script).toContain('"tenant_003"."lambic_version"');
  });

  it("a hostile tenant name is INVALID_EVENT before anything connects; a name that is not a tenant is INVALID_TENANT", async () => {
    // No reachable database and no bucket: only the event check can answer.
    const isolated = new LambdaFunction("isolated", { LAMBIC_DATABASE: "app", LAMBIC_DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", POWERTOOLS_SERVICE_NAME: "lambic" });
    try {
      const hostile = await isolated.invoke({ command: "upgrade", target: "head", tenants: ["tenant_001", 'x"; DROP SCHEMA public CASCADE; --'] });
      expect(hostile.functionError).toBe("Unhandled");
      expect(hostile.payload).toMatchObject({ errorType: "INVALID_EVENT", errorMessage: expect.stringContaining(`(from the event's "tenants[1]") is not a plain schema name`) });
      const failed = jsonLines(hostile.log).find((l) => l.message === "failed")!;
      expect(failed.error).toMatchObject({ code: "INVALID_EVENT", field: "tenants[1]" });
      const empty = await isolated.invoke({ command: "fanout", operation: "upgrade", target: "head", tenants: [] });
      expect(empty.payload).toMatchObject({ errorType: "INVALID_EVENT", errorMessage: expect.stringContaining('"tenants" is an array') });
    } finally {
      await isolated.stop();
    }
    const notTenant = await pool.invoke({ command: "upgrade", target: "head", tenants: ["public"] });
    expect(notTenant.payload).toMatchObject({ errorType: "INVALID_TENANT", errorMessage: expect.stringContaining("Not tenants of this database: public") });
    expect(await sql`SELECT to_regclass('public.lambic_version') AS t`).toEqual([{ t: null }]);
  });

  it('"tenants" lists the tenants and their batches (the Step Functions Map items)', async () => {
    const listed = await pool.invoke({ command: "tenants", batchSize: 12 });
    expect(listed.functionError, listed.log).toBeUndefined();
    expect(listed.payload).toMatchObject({ ok: true, command: "tenants", database: "app", bundleSha256: sha, count: 30, batchSize: 12 });
    const batches = listed.payload!.batches as { tenants: string[] }[];
    expect(batches.map((b) => b.tenants.length)).toEqual([12, 12, 6]);
    // Each name once (the listing shares a Step Functions state's 256 KB): in its batch only.
    expect(batches.flatMap((b) => b.tenants)).toEqual(TENANTS);
    expect(listed.payload!.tenants).toBeUndefined();
  });

  it("lambic invoke sql on a tenant database sends the one --tenant, and refuses to send without it", async () => {
    const before = pool.invocations.length;
    const none = await runCli(["invoke", "--function", FUNCTION, "--endpoint", server.endpoint, "--name", "app", "sql", "head"], cliEnv(), project);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("renders one tenant's script: name it with --tenant T (one)");
    expect(pool.invocations.length).toBe(before);
    const one = await runCli(["invoke", "--function", FUNCTION, "--endpoint", server.endpoint, "--name", "app", "--json", "sql", "head", "--tenant", "tenant_005"], cliEnv(), project);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ ok: true, command: "sql", tenant: "tenant_005" });
  });

  it("lambic invoke tenants prints one tenant a line, then the count and the batches", async () => {
    const run = await runCli(["invoke", "--function", FUNCTION, "--endpoint", server.endpoint, "--name", "app", "tenants", "--batch-size", "12"], cliEnv(), project);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([...TENANTS, "30 tenant(s) of app in 3 batch(es) of up to 12", `bundle ${sha}`]);
  });

  it("a fan-out's batches answer by its deadline: a tenant waiting on a lock times out in time for the report", async () => {
    // 6 s for the coordinator, 0.5 s kept back by each: a batch's lock wait is cut near 5 s
    // (lock_timeout and statement_timeout both end there, whichever fires first), where the
    // configured lock_timeout (10 s) would outlast the coordinator.
    const name = "lambic-tenants-short";
    const short = new LambdaPool(name, { ...pool.env, LAMBIC_FANOUT_START_MARGIN_MS: "1000", LAMBIC_DEADLINE_MARGIN_MS: "500" });
    functions.set(name, short);
    const blocker = await sql.reserve();
    try {
      // Started first: the deadline counts from the invocation, not from a cold start.
      expect((await short.invoke({ command: "heads" })).functionError).toBeUndefined();
      // (The version table as lambic makes it, for when this test runs alone.)
      await blocker`CREATE TABLE IF NOT EXISTS tenant_005.lambic_version (version_num varchar(32) NOT NULL, CONSTRAINT lambic_version_pkc PRIMARY KEY (version_num))`;
      await blocker`BEGIN`;
      await blocker`LOCK TABLE tenant_005.lambic_version IN ACCESS EXCLUSIVE MODE`;
      const started = Date.now();
      const run = await short.invoke({ command: "fanout", operation: "upgrade", target: "head", tenants: ["tenant_004", "tenant_005"], batchSize: 1 }, { timeoutMs: 6000 });
      expect(Date.now() - started).toBeLessThan(6000);
      expect(run.payload).toMatchObject({ errorType: "TENANTS_FAILED" });
      const report = reportFromMessage(run.payload!.errorMessage as string)!;
      expect(report.tenants).toEqual([
        expect.objectContaining({ tenant: "tenant_004", ok: true }),
        expect.objectContaining({ tenant: "tenant_005", ok: false, error: expect.objectContaining({ code: expect.stringMatching(/^(LOCK|STATEMENT)_TIMEOUT$/) }) }),
      ]);
      // Each batch event carried the coordinator's end less its margin (the invocation began a few ms after `started`).
      const batchEvents = short.invocations.map((i) => i.event as { command: string; deadline?: number }).filter((e) => e.command === "upgrade");
      expect(batchEvents).toHaveLength(2);
      for (const event of batchEvents) expect(event.deadline! - started).toSatisfy((ms: number) => ms > 5000 && ms <= 5500 + 100);
    } finally {
      await blocker`ROLLBACK`;
      blocker.release();
      functions.delete(name);
      await short.stop();
    }
  });
});

/** An object the handler wrote to s3rver, as JSON. */
async function readJson(bucket: string, key: string): Promise<Record<string, any>> {
  return JSON.parse(Buffer.from(await getObject(s3.client, bucket, key)).toString("utf8"));
}

/** What Lambda would send back: the payload's JSON. */
const responseBytes = (payload: unknown) => Buffer.byteLength(JSON.stringify(payload));

describe("a report too large for Lambda's response (LAMBIC_RESPONSE_LIMIT_BYTES)", () => {
  it("a fan-out or tenant run over the limit writes its full report to S3 and answers a compact report", async () => {
    const before = smallPool.invocations.length;
    const run = await runCli(["invoke", "--fanout", "--function", SMALL_FUNCTION, "--endpoint", server.endpoint, "--name", "app", "--json", "downgrade", "base", "--batch-size", "8"], cliEnv(), project);
    expect(run.code, run.stderr).toBe(0);
    const compact = JSON.parse(run.stdout);
    const coordinator = smallPool.invocations.slice(before).find((i) => (i.event as { command: string }).command === "fanout")!;
    const key = `${PREFIX}/app/reports/fanout-downgrade__${coordinator.invocation.requestId}.json`;
    expect(compact).toMatchObject({ ok: true, command: "fanout", operation: "downgrade", database: "app", bundleSha256: sha, count: 30, succeeded: 30, failed: 0, failedTenants: [], report: { bucket: s3.bucket, key } });
    expect(compact.tenants).toBeUndefined();
    expect(compact.batches.map((b: { tenants: number }) => b.tenants)).toEqual([8, 8, 8, 6]);
    expect(responseBytes(coordinator.invocation.payload)).toBeLessThanOrEqual(SMALL_LIMIT);
    expect(jsonLines(coordinator.invocation.log).find((l) => l.message === "report")).toMatchObject({ bucket: s3.bucket, key, limitBytes: SMALL_LIMIT });
    expect(run.stderr).toContain("batch 4/4: 6 tenant(s), 6 ok, 0 failed");
    expect(run.stderr).toMatch(/tenants: 30 done, 0 failed, 0 remaining, [\d.]+\/s/);

    // The object holds every tenant's outcome, steps included: what the answer would have been.
    const full = await readJson(s3.bucket, key);
    expect(compact.report.bytes).toBeGreaterThan(SMALL_LIMIT);
    expect(full).toMatchObject({ ok: true, command: "fanout", succeeded: 30, failed: 0 });
    expect(full.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(TENANTS);
    for (const tenant of full.tenants) expect(tenant).toMatchObject({ ok: true, from: [HEAD], to: [], steps: [{ direction: "down" }, { direction: "down" }, { direction: "down" }] });
    expect(Object.values(await tenantVersions())).toEqual(TENANTS.map(() => []));

    // One invocation over every tenant (no fan-out): the same, under its own command.
    const direct = await smallPool.invoke({ command: "upgrade", target: "head" });
    expect(direct.functionError, direct.log).toBeUndefined();
    const directKey = `${PREFIX}/app/reports/upgrade__${direct.requestId}.json`;
    expect(direct.payload).toMatchObject({ ok: true, command: "upgrade", count: 30, succeeded: 30, failed: 0, report: { bucket: s3.bucket, key: directKey } });
    expect(responseBytes(direct.payload)).toBeLessThanOrEqual(SMALL_LIMIT);
    expect((await readJson(s3.bucket, directKey)).tenants.filter((t: { steps: unknown[] }) => t.steps.length === 3)).toHaveLength(30);
  });

  it("when a report cannot be written to S3, the compact report still answers and says why the full one is missing", async () => {
    // A bucket that does not exist: the bundle comes from the execution environment's cache
    // (the event names it), the report's PutObject gets NoSuchBucket from s3rver.
    const name = "lambic-tenants-nobucket";
    const noBucket = new LambdaPool(name, { ...smallPool.env, LAMBIC_BUCKET: "lambic-missing" });
    functions.set(name, noBucket);
    try {
      const run = await noBucket.invoke({ command: "fanout", operation: "downgrade", target: "base", bundle: { sha256: sha }, batchSize: 10 });
      expect(run.functionError, run.log).toBeUndefined();
      expect(run.payload).toMatchObject({ ok: true, command: "fanout", count: 30, succeeded: 30, failed: 0, report: null });
      expect(run.payload!.reportError).toMatch(
        new RegExp(`^The full report \\(\\d+ bytes of JSON\\) is over the ${SMALL_LIMIT}-byte response limit and could not be written to s3://lambic-missing/${PREFIX}/app/reports/fanout-downgrade__${run.requestId}\\.json: AWS_FAILED: .*NoSuchBucket.*Every tenant's outcome is still in the function's log`),
      );
      expect(responseBytes(run.payload)).toBeLessThanOrEqual(SMALL_LIMIT);
      expect(Object.values(await tenantVersions())).toEqual(TENANTS.map(() => []));

      // A batch that failed over the limit could not write its report either: the coordinator
      // keeps the failure the batch named, and reports its other tenants as unknown, saying why.
      await sql.unsafe("CREATE TABLE tenant_013.invoice (conflicting int)");
      const before = noBucket.invocations.length;
      const failed = await noBucket.invoke({ command: "fanout", operation: "upgrade", target: "head", bundle: { sha256: sha }, batchSize: 8 });
      expect(failed.payload).toMatchObject({ errorType: "TENANTS_FAILED" });
      expect(responseBytes(failed.payload)).toBeLessThanOrEqual(SMALL_LIMIT);
      const message = failed.payload!.errorMessage as string;
      // The batch's compact report named tenant_013's own failure; its 7 other tenants have no
      // outcome (the batch's full report is nowhere) and count as failed, never as done.
      expect(message).toMatch(/^8 of 30 tenant\(s\) of database "app" failed fanout: tenant_013 \(STATEMENT_FAILED: Revision bbbb00000002 \(upgrade\) failed: relation "invoice" already exists/);
      expect(message).toContain(", and 7 more.");
      expect(message).toContain(`could not be written to s3://lambic-missing/${PREFIX}/app/reports/fanout-upgrade__${failed.requestId}.json: AWS_FAILED`);
      expect(compactReportFromMessage(message)).toMatchObject({ count: 30, succeeded: 22, failed: 8, failedTenants: [{ tenant: "tenant_013", error: { code: "STATEMENT_FAILED" } }], failedTenantsOmitted: 7, report: null });
      const batchTwo = noBucket.invocations.slice(before).find((i) => (i.event as { tenants?: string[] }).tenants?.includes("tenant_013"))!.invocation;
      expect(compactReportFromMessage(batchTwo.payload!.errorMessage as string)).toMatchObject({ count: 8, failed: 1, failedTenants: [{ tenant: "tenant_013" }], report: null, reportError: expect.stringContaining("could not be written to s3://lambic-missing/") });
      // It did run: only its outcome was lost with the batch's report.
      expect((await tenantVersions()).tenant_012).toEqual([HEAD]);
    } finally {
      await sql.unsafe("DROP TABLE IF EXISTS tenant_013.invoice");
      functions.delete(name);
      await noBucket.stop();
    }
    const reset = await pool.invoke({ command: "fanout", operation: "downgrade", target: "base", batchSize: 10 });
    expect(reset.payload).toMatchObject({ ok: true, failed: 0 });
  });

  it("TENANTS_FAILED over the limit: a readable, bounded message naming the S3 report; batches over it pass theirs through S3", async () => {
    await sql.unsafe("CREATE TABLE tenant_013.invoice (conflicting int)");
    try {
      const before = smallPool.invocations.length;
      const run = await runCli(["invoke", "--fanout", "--function", SMALL_FUNCTION, "--endpoint", server.endpoint, "--name", "app", "--json", "upgrade", "head", "--batch-size", "8"], cliEnv(), project);
      expect(run.code).toBe(1);
      const invocations = smallPool.invocations.slice(before);
      const coordinator = invocations.find((i) => (i.event as { command: string }).command === "fanout")!.invocation;
      const key = `${PREFIX}/app/reports/fanout-upgrade__${coordinator.requestId}.json`;
      expect(coordinator.functionError).toBe("Unhandled");
      expect(responseBytes(coordinator.payload)).toBeLessThanOrEqual(SMALL_LIMIT);
      const message = coordinator.payload!.errorMessage as string;
      expect(coordinator.payload!.errorType).toBe("TENANTS_FAILED");
      expect(message).toMatch(/^1 of 30 tenant\(s\) of database "app" failed fanout: tenant_013 \(STATEMENT_FAILED: Revision bbbb00000002 \(upgrade\) failed: relation "invoice" already exists/);
      expect(message).toContain(`Every tenant's outcome is in s3://${s3.bucket}/${key} (`);
      expect(compactReportFromMessage(message)).toMatchObject({ command: "fanout", count: 30, succeeded: 29, failed: 1, failedTenants: [{ tenant: "tenant_013", error: { code: "STATEMENT_FAILED" } }], report: { bucket: s3.bucket, key } });
      expect(run.stderr).toContain("TENANTS_FAILED: 1 of 30 tenant(s)");
      expect(run.stderr).toContain(`s3://${s3.bucket}/${key}`);
      expect(run.stderr).toContain("tenant tenant_013 failed: STATEMENT_FAILED: Revision bbbb00000002 (upgrade) failed");
      expect(run.stderr).toMatch(/tenants: 30 done, 1 failed, 0 remaining/);
      expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, command: "fanout", count: 30, succeeded: 29, failed: 1, failedTenants: [{ tenant: "tenant_013" }], report: { bucket: s3.bucket, key } });

      // The batch holding tenant_013 failed over the limit too: its report went to S3 and the
      // coordinator read every one of its tenants' outcomes back from there.
      const failing = invocations.find((i) => (i.event as { tenants?: string[] }).tenants?.includes("tenant_013"))!.invocation;
      const batchKey = `${PREFIX}/app/reports/upgrade__${failing.requestId}.json`;
      expect(failing.payload).toMatchObject({ errorType: "TENANTS_FAILED" });
      expect(compactReportFromMessage(failing.payload!.errorMessage as string)).toMatchObject({ count: 8, failed: 1, report: { key: batchKey } });
      expect(responseBytes(failing.payload)).toBeLessThanOrEqual(SMALL_LIMIT);

      const full = await readJson(s3.bucket, key);
      expect(full).toMatchObject({ ok: false, command: "fanout", succeeded: 29, failed: 1 });
      expect(full.tenants.map((t: { tenant: string }) => t.tenant)).toEqual(TENANTS);
      expect(full.tenants.find((t: { tenant: string }) => t.tenant === "tenant_013")).toMatchObject({ ok: false, error: { code: "STATEMENT_FAILED" } });
      // tenant_012 ran in the failing batch: its steps came from the batch's S3 report.
      expect(full.tenants.find((t: { tenant: string }) => t.tenant === "tenant_012")).toMatchObject({ ok: true, from: [], to: [HEAD], steps: [{ revision: "aaaa00000001" }, { revision: "bbbb00000002" }, { revision: HEAD }] });
      expect(full.tenants.filter((t: { ok: boolean }) => t.ok)).toHaveLength(29);
    } finally {
      await sql.unsafe("DROP TABLE tenant_013.invoice");
    }
    const rerun = await pool.invoke({ command: "upgrade", target: "head", tenants: ["tenant_013"] });
    expect(rerun.payload).toMatchObject({ ok: true, succeeded: 1 });
  });

  it("lambic invoke in text mode prints a compact report's counts and where every tenant's outcome is", async () => {
    const run = await runCli(["invoke", "--function", SMALL_FUNCTION, "--endpoint", server.endpoint, "--name", "app", "downgrade", "base"], cliEnv(), project);
    expect(run.code, run.stderr).toBe(0);
    const invocation = smallPool.invocations.at(-1)!.invocation;
    const key = `${PREFIX}/app/reports/downgrade__${invocation.requestId}.json`;
    expect(run.stdout.trim()).toBe(`30 of 30 tenant(s) ok, 0 failed (database app, bundle ${sha}). Every tenant's outcome is in s3://${s3.bucket}/${key} (${(invocation.payload!.report as { bytes: number }).bytes} bytes of JSON, too large for the function's answer).`);
    expect(run.stderr).toMatch(/tenants: 30 done, 0 failed, 0 remaining/);
  });
});
