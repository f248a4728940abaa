import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { applyStatementByStatement, applyWithPsql, findPsql } from "../support/schema-snapshot.ts";
import { tempDir } from "../support/temp-dir.ts";

/** Named databases and schema-per-tenant, through the built command line. */
const repo = resolve(import.meta.dirname, "../..");
const cli = join(repo, "dist/cli.cjs");

beforeAll(() => {
  if (!existsSync(cli)) execFileSync(process.execPath, ["build.mjs", "--cli"], { cwd: repo });
});

function lambic(dir: string, args: string[], env: Record<string, string>): Promise<{ code: number; json: any; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, "--json", ...args], { cwd: dir, env: { ...process.env, DATABASE_URL: undefined, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code: code ?? -1, json: stdout ? JSON.parse(stdout) : undefined, stderr }));
  });
}

function lambicText(dir: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, DATABASE_URL: undefined, ...env } });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.on("close", (code) => done({ code: code ?? -1, stdout }));
  });
}

function revision(dir: string, file: string, body: string): void {
  writeFileSync(join(dir, file), body);
}

function tenantRevisions(dir: string): void {
  mkdirSync(dir, { recursive: true });
  revision(dir, "0001_aaaa00000001_accounts.ts", `export default { id: "aaaa00000001", revises: null, message: "accounts", upgrade(op) { op.createTable("account", { id: "bigint primary key", name: "text" }); }, downgrade(op) { op.dropTable("account"); } };\n`);
  revision(dir, "0002_bbbb00000002_invoices.ts", `export default { id: "bbbb00000002", revises: "aaaa00000001", message: "invoices", upgrade(op) { op.createTable("invoice", { id: "bigint primary key", account_id: "bigint references account" }); }, downgrade(op) { op.dropTable("invoice"); } };\n`);
  revision(dir, "0003_cccc00000003_index.sql", `-- revision: cccc00000003\n-- revises: bbbb00000002\n-- message: index\n-- +up\nCREATE INDEX invoice_account_idx ON invoice (account_id);\n-- +down\nDROP INDEX invoice_account_idx;\n`);
}

describe("tenants", () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  let dir: string;
  const tenants = Array.from({ length: 200 }, (_, i) => `tenant_${String(i).padStart(3, "0")}`);
  const env = () => ({ APP_DB: db.url });

  beforeAll(async () => {
    db = await createTestDatabase("tenants");
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    dir = tempDir("lambic-tenants-");
    tenantRevisions(join(dir, "revisions/app"));
    writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants } } }));
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  it("migrates 200 tenant schemas from base to head, each with its own version table", async () => {
    const run = await lambic(dir, ["upgrade", "head", "--concurrency", "4"], env());
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ ok: 200, failed: 0 });
    expect(run.json.tenants[0]).toMatchObject({ tenant: "tenant_000", ok: true, from: [], to: ["cccc00000003"] });
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'invoice' AND schemaname LIKE 'tenant\\_%'`;
    expect(n).toBe(200);
    expect(await sql`SELECT version_num FROM tenant_199.lambic_version`).toEqual([{ version_num: "cccc00000003" }]);
    expect(run.stderr).toMatch(/tenants: 200 done, 0 failed, 0 remaining/);
  });

  it("downgrades one tenant alone", async () => {
    const run = await lambic(dir, ["downgrade", "base", "--tenant", "tenant_007"], env());
    expect(run.json).toMatchObject({ ok: 1, failed: 0 });
    expect(await sql`SELECT to_regclass('tenant_007.account') AS t`).toEqual([{ t: null }]);
    expect(await sql`SELECT to_regclass('tenant_008.account') AS t`).toEqual([{ t: "tenant_008.account" }]);
    const current = await lambic(dir, ["current", "--all-tenants"], env());
    const byTenant = Object.fromEntries(current.json.tenants.map((t: any) => [t.tenant, t.versions]));
    expect(byTenant.tenant_007).toEqual([]);
    expect(byTenant.tenant_008).toEqual(["cccc00000003"]);
  });

  it("checks every tenant: exit 1 while one is behind, naming its pending revisions; 0 for those at head", async () => {
    const all = await lambic(dir, ["check"], env());
    expect(all.code).toBe(1);
    expect(all.json).toMatchObject({ ok: 200, failed: 0 });
    const byTenant = Object.fromEntries(all.json.tenants.map((t: any) => [t.tenant, t]));
    expect(byTenant.tenant_007).toMatchObject({ ok: true, upToDate: false, versions: [], pending: ["aaaa00000001", "bbbb00000002", "cccc00000003"] });
    // Each tenant's entry has what the Lambda's check report gives (and `check --json` on one database).
    expect(byTenant.tenant_008).toEqual({ tenant: "tenant_008", ok: true, versions: ["cccc00000003"], heads: ["cccc00000003"], upToDate: true, pending: [], changed: [] });
    const oneAtHead = await lambic(dir, ["check", "--tenant", "tenant_008"], env());
    expect(oneAtHead.code).toBe(0);
  });

  it("prints a line of text per tenant, not its JSON", async () => {
    const check = await lambicText(dir, ["check", "--tenant", "tenant_007", "--tenant", "tenant_008"], env());
    expect(check.stdout).toContain("tenant_007: 3 pending revision(s): aaaa00000001, bbbb00000002, cccc00000003\n");
    expect(check.stdout).toContain("tenant_008: up to date at cccc00000003\n");
    expect(check.stdout).toContain("2 tenant(s) ok, 0 failed.\n1 tenant(s) behind.");
    expect((await lambicText(dir, ["current", "--tenant", "tenant_008"], env())).stdout).toContain("tenant_008: cccc00000003 (head)\n");
    expect((await lambicText(dir, ["current", "--tenant", "tenant_007"], env())).stdout).toContain("tenant_007: (no versions: at base)\n");
    expect((await lambicText(dir, ["upgrade", "head", "--tenant", "tenant_008"], env())).stdout).toContain("tenant_008: nothing to do, at cccc00000003\n");
  });

  it("repair records the edited checksum in the tenants where the revision was applied", async () => {
    await sql`UPDATE tenant_009.lambic_history SET checksum = 'from-an-older-edit' WHERE direction = 'up' AND revision = 'aaaa00000001'`;
    const json = await lambic(dir, ["repair", "--tenant", "tenant_008"], env());
    expect(json.json.tenants).toEqual([expect.objectContaining({ tenant: "tenant_008", ok: true, versions: ["cccc00000003"], repaired: [], recorded: [] })]);
    const repair = await lambicText(dir, ["repair", "--tenant", "tenant_008", "--tenant", "tenant_009"], env());
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain("tenant_008: nothing to repair\n");
    expect(repair.stdout).toContain("tenant_009: recorded the checksum of aaaa00000001\n");
    expect((await lambic(dir, ["check", "--tenant", "tenant_009"], env())).code).toBe(0);
  });

  it("upgrade --allow-changed names in each tenant's entry and line the edited applied revisions it ran past", async () => {
    await sql`UPDATE tenant_010.lambic_history SET checksum = 'from-an-older-edit' WHERE direction = 'up' AND revision = 'aaaa00000001'`;
    const refused = await lambic(dir, ["upgrade", "head", "--tenant", "tenant_010"], env());
    expect(refused.json.tenants[0]).toMatchObject({ tenant: "tenant_010", ok: false, error: { code: "CHECKSUM_MISMATCH" } });
    const run = await lambic(dir, ["upgrade", "head", "--tenant", "tenant_010", "--tenant", "tenant_011", "--allow-changed"], env());
    expect(run.code).toBe(0);
    expect(run.json.tenants).toEqual([
      expect.objectContaining({ tenant: "tenant_010", ok: true, steps: [], changed: ["aaaa00000001"] }),
      expect.not.objectContaining({ changed: expect.anything() }),
    ]);
    const text = await lambicText(dir, ["upgrade", "head", "--tenant", "tenant_010", "--allow-changed"], env());
    expect(text.stdout).toContain("tenant_010: nothing to do, at cccc00000003; changed since applied (--allow-changed): aaaa00000001\n");
    await lambic(dir, ["repair", "--tenant", "tenant_010"], env());
  });

  it("--sql renders one tenant's script, which psql-style application runs in that tenant's schema", async () => {
    const none = await lambic(dir, ["upgrade", "head", "--sql"], env());
    expect(none.code).toBe(2);
    expect(none.json.error.message).toContain("name it with --tenant T (one)");
    expect((await lambic(dir, ["upgrade", "head", "--sql", "--tenant", "tenant_010", "--tenant", "tenant_011"], env())).code).toBe(2);
    expect((await lambic(dir, ["upgrade", "head", "--sql", "--tenant", "tenant_999"], env())).json.error.code).toBe("INVALID_TENANT");
    expect((await lambic(dir, ["upgrade", "head", "--sql", "--tenant", "tenant_010", "--concurrency", "2"], env())).code).toBe(2);

    await lambic(dir, ["downgrade", "base", "--tenant", "tenant_010"], env());
    const rendered = await lambic(dir, ["upgrade", "head", "--sql", "--tenant", "tenant_010"], env());
    expect(rendered.code).toBe(0);
    expect(rendered.json.script).toContain(`(database "app", tenant schema "tenant_010")`);
    const file = join(dir, "tenant_010.sql");
    writeFileSync(file, rendered.json.script);
    const psql = findPsql();
    if (psql) applyWithPsql(psql, db.url, file);
    else await applyStatementByStatement(db.url, file);
    expect(await sql`SELECT version_num FROM tenant_010.lambic_version`).toEqual([{ version_num: "cccc00000003" }]);
    expect(await sql`SELECT to_regclass('tenant_010.invoice') AS t`).toEqual([{ t: "tenant_010.invoice" }]);
    expect(await sql`SELECT to_regclass('public.invoice') AS t, to_regclass('public.lambic_version') AS v`).toEqual([{ t: null, v: null }]);
  });

  it("rolls back a failing tenant only and reports it, the others going on", async () => {
    await sql`CREATE TABLE tenant_007.account (conflict int)`;
    const run = await lambic(dir, ["upgrade", "head", "--tenant", "tenant_006", "--tenant", "tenant_007"], env());
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ ok: 1, failed: 1 });
    const failed = run.json.tenants.find((t: any) => t.tenant === "tenant_007");
    expect(failed.error).toMatchObject({ code: "STATEMENT_FAILED", revision: "aaaa00000001", sqlstate: "42P07" });
    expect(await sql`SELECT to_regclass('tenant_007.lambic_version') AS t`).toEqual([{ t: "tenant_007.lambic_version" }]);
    expect(await sql`SELECT count(*)::int AS n FROM tenant_007.lambic_version`).toEqual([{ n: 0 }]);
  });

  it("refuses --dry-run on a tenant database, before reading any version table", async () => {
    const run = await lambic(dir, ["upgrade", "head", "--dry-run"], env());
    expect(run.code).toBe(2);
    expect(run.json.error).toMatchObject({ code: "USAGE", option: "dry-run" });
    expect(run.json.error.message).toContain('--dry-run is not available on tenant database "app"');
  });

  it("refuses a hostile tenant name on the command line", async () => {
    const run = await lambic(dir, ["upgrade", "head", "--tenant", 'x"; DROP SCHEMA tenant_001 CASCADE; --'], env());
    expect(run.code).toBe(1);
    expect(run.json.error.code).toBe("INVALID_TENANT");
    expect(await sql`SELECT to_regclass('tenant_001.account') AS t`).toEqual([{ t: "tenant_001.account" }]);
  });

  it("refuses a hostile tenant name returned by the tenants query", async () => {
    const other = tempDir("lambic-tenants-q-");
    tenantRevisions(join(other, "revisions/app"));
    writeFileSync(join(other, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: { query: `SELECT 'ok_tenant' UNION ALL SELECT 'bad"name'` } } } }));
    const run = await lambic(other, ["upgrade", "head"], env());
    expect(run.json.error.code).toBe("INVALID_TENANT");
    expect(run.json.error.message).toContain("bad\\\"name".replace(/\\\\/g, "\\"));
    expect(await sql`SELECT to_regnamespace('ok_tenant') AS s`).toEqual([{ s: null }]);
  });

  it("refuses a schema PostgreSQL keeps for itself (pg_*, information_schema) returned by the tenants query, before any tenant runs", async () => {
    const other = tempDir("lambic-tenants-q-");
    tenantRevisions(join(other, "revisions/app"));
    const query = `SELECT 'ok_tenant2' UNION ALL SELECT 'information_schema' UNION ALL SELECT 'pg_catalog'`;
    writeFileSync(join(other, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: { query } } } }));
    const run = await lambic(other, ["upgrade", "head"], env());
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "INVALID_TENANT", tenant: "information_schema" });
    expect(run.json.error.message).toContain("left out of pg_dump's backups");
    expect(await sql`SELECT to_regnamespace('ok_tenant2') AS s, to_regclass('information_schema.lambic_version') AS v`).toEqual([{ s: null, v: null }]);
  });

  it("refuses a tenant named pg_... on the command line: PostgreSQL reserves the prefix", async () => {
    const run = await lambic(dir, ["current", "--tenant", "pg_tenant"], env());
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "INVALID_TENANT", tenant: "pg_tenant" });
    expect(run.json.error.message).toContain('PostgreSQL reserves the prefix "pg_"');
  });

  it("migrates a tenant the tenants query returns twice once", async () => {
    const other = tempDir("lambic-tenants-q-");
    tenantRevisions(join(other, "revisions/app"));
    const query = `SELECT s FROM (VALUES ('twice_a'), ('twice_b'), ('twice_a')) v(s)`;
    writeFileSync(join(other, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: { query } } } }));
    const run = await lambic(other, ["upgrade", "head"], env());
    expect(run.code).toBe(0);
    expect(run.json).toMatchObject({ ok: 2, failed: 0 });
    expect(run.json.tenants.map((t: any) => t.tenant)).toEqual(["twice_a", "twice_b"]);
  });

  it("says nothing was run when the tenants query returns no schema", async () => {
    const other = tempDir("lambic-tenants-q-");
    tenantRevisions(join(other, "revisions/app"));
    writeFileSync(join(other, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: { query: "SELECT nspname FROM pg_namespace WHERE false" } } } }));
    const run = await lambicText(other, ["upgrade", "head"], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`No tenants: the tenants query of database "app" returned no schema, so nothing was run.\n0 tenant(s) ok, 0 failed.\n`);
  });

  it("says nothing was run when the configured tenants list is empty, without speaking of a query", async () => {
    const other = tempDir("lambic-tenants-q-");
    tenantRevisions(join(other, "revisions/app"));
    writeFileSync(join(other, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: [] } } }));
    const run = await lambicText(other, ["upgrade", "head"], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`No tenants: database "app" lists none ("tenants": [] in lambic.config.json), so nothing was run.\n0 tenant(s) ok, 0 failed.\n`);
  });

  it("a tenants query that fails is CONFIG_INVALID naming the query and the server's error", async () => {
    const other = tempDir("lambic-tenants-q-");
    tenantRevisions(join(other, "revisions/app"));
    writeFileSync(join(other, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: { query: "SELECT nope FROM pg_namespace" } } } }));
    const run = await lambic(other, ["current"], env());
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "CONFIG_INVALID", sqlstate: "42703", query: "SELECT nope FROM pg_namespace" });
    expect(run.json.error.message).toContain(`The tenants query failed: column "nope" does not exist [SQLSTATE 42703] in: SELECT nope FROM pg_namespace.`);
  });
});

describe("named databases", () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  let dir: string;
  const env = () => ({ DB: db.url });

  beforeAll(async () => {
    db = await createTestDatabase("named");
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
    dir = tempDir("lambic-named-");
    tenantRevisions(join(dir, "revisions/main"));
    mkdirSync(join(dir, "revisions/analytics"), { recursive: true });
    writeFileSync(join(dir, "revisions/analytics/0001_eeee00000001_events.sql"), "-- revision: eeee00000001\n-- message: events\n-- +up\nCREATE SCHEMA analytics;\nCREATE TABLE analytics.event (id bigint);\n-- +down\nDROP SCHEMA analytics CASCADE;\n");
    writeFileSync(
      join(dir, "lambic.config.json"),
      JSON.stringify({ databases: { main: { url: "${DB}", revisions: "revisions/main" }, analytics: { url: "${DB}", revisions: "revisions/analytics", versionTable: "analytics_version" } }, defaultDatabase: "main" }),
    );
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  it("migrates and downgrades two named databases independently", async () => {
    expect((await lambic(dir, ["upgrade", "head"], env())).json.to).toEqual(["cccc00000003"]);
    expect((await lambic(dir, ["--name", "analytics", "upgrade", "head"], env())).json.to).toEqual(["eeee00000001"]);
    expect((await lambic(dir, ["--name", "analytics", "downgrade", "base"], env())).json.to).toEqual([]);
    expect(await sql`SELECT version_num FROM lambic_version`).toEqual([{ version_num: "cccc00000003" }]);
    expect(await sql`SELECT count(*)::int AS n FROM analytics_version`).toEqual([{ n: 0 }]);
    expect(await sql`SELECT to_regclass('public.invoice') IS NOT NULL AS kept`).toEqual([{ kept: true }]);
    expect((await lambic(dir, ["--name", "main", "current"], env())).json.versions).toEqual(["cccc00000003"]);
  });

  /** A project of two named databases, app and audit (its own version table), over the same tenant schemas, each with one revision. */
  function twoDatabasesOverTenants(tenants: readonly string[], appRevision: string, auditRevision: string): string {
    const other = tempDir("lambic-named-tenants-");
    mkdirSync(join(other, "revisions/app"), { recursive: true });
    mkdirSync(join(other, "revisions/audit"), { recursive: true });
    revision(join(other, "revisions/app"), "0001_app.sql", appRevision);
    revision(join(other, "revisions/audit"), "0001_audit.sql", auditRevision);
    writeFileSync(
      join(other, "lambic.config.json"),
      JSON.stringify({ databases: { app: { url: "${DB}", revisions: "revisions/app", tenants }, audit: { url: "${DB}", revisions: "revisions/audit", versionTable: "audit_version", tenants } }, defaultDatabase: "app" }),
    );
    return other;
  }

  it("two named databases with the same tenants: a first run waits while the other creates a tenant schema, instead of failing on pg_namespace", async () => {
    const tenants = ["shared_one", "shared_two"];
    const other = twoDatabasesOverTenants(
      tenants,
      "-- revision: ffff00000001\n-- message: slow\n-- +up\nCREATE TABLE account (id int);\nSELECT pg_sleep(1.5);\n-- +down\nDROP TABLE account;\n",
      "-- revision: ffff00000002\n-- message: log\n-- +up\nCREATE TABLE audit_log (id int);\n-- +down\nDROP TABLE audit_log;\n",
    );
    const app = lambic(other, ["--name", "app", "upgrade", "head"], env());
    // Both of app's tenant schemas are created, not yet committed, when audit's first run starts.
    for (let tries = 0; ; tries++) {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.5)%' AND state = 'active' AND pid <> pg_backend_pid()`;
      if (n >= 2) break;
      if (tries > 200) throw new Error("app's slow revision never started in both tenants");
      await new Promise((r) => setTimeout(r, 25));
    }
    const audit = await lambic(other, ["--name", "audit", "upgrade", "head"], env());
    const first = await app;
    expect(first.code, JSON.stringify(first.json)).toBe(0);
    expect(audit.code, JSON.stringify(audit.json)).toBe(0);
    expect(audit.json).toMatchObject({ ok: 2, failed: 0 });
    for (const tenant of tenants) {
      expect(await sql`SELECT version_num FROM ${sql(tenant)}.lambic_version`).toEqual([{ version_num: "ffff00000001" }]);
      expect(await sql`SELECT version_num FROM ${sql(tenant)}.audit_version`).toEqual([{ version_num: "ffff00000002" }]);
    }
  });

  it("two named databases' first runs over 40 new tenants at once: every tenant of both is migrated", async () => {
    const other = twoDatabasesOverTenants(
      Array.from({ length: 40 }, (_, i) => `both_${i}`),
      "-- revision: ffff00000003\n-- message: account\n-- +up\nCREATE TABLE account (id int);\n-- +down\nDROP TABLE account;\n",
      "-- revision: ffff00000004\n-- message: log\n-- +up\nCREATE TABLE audit_log (id int);\n-- +down\nDROP TABLE audit_log;\n",
    );
    // Each run looks a schema up (its search_path) before the other commits it, or after.
    const [app, audit] = await Promise.all([lambic(other, ["--name", "app", "upgrade", "head"], env()), lambic(other, ["--name", "audit", "upgrade", "head"], env())]);
    const failures = (run: { json: any }) => run.json.tenants.filter((t: any) => !t.ok).map((t: any) => `${t.tenant}: ${t.error.message}`);
    expect(failures(app)).toEqual([]);
    expect(failures(audit)).toEqual([]);
    expect(await sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'both\\_%' AND tablename IN ('audit_version', 'lambic_version', 'account', 'audit_log')`).toEqual([{ n: 160 }]);
  });

  it("refuses an unknown --name, listing the configured ones", async () => {
    const run = await lambic(dir, ["--name", "analytcs", "heads"], env());
    expect(run.json.error.code).toBe("CONFIG_INVALID");
    expect(run.json.error.message).toContain('Did you mean "analytics"');
  });
});

describe("Ctrl-C during a tenant run", () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  it("cancels the running tenant and fails those not started, each INTERRUPTED and rolled back, exit 130", async () => {
    db = await createTestDatabase("tenants_interrupt");
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const dir = tempDir("lambic-tenants-interrupt-");
    mkdirSync(join(dir, "revisions/app"), { recursive: true });
    revision(join(dir, "revisions/app"), "0001_slow.sql", "-- revision: dddd00000001\n-- message: slow\n-- +up\nCREATE TABLE marker (id int);\nSELECT pg_sleep(60);\n");
    writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/app", tenants: ["t_one", "t_two"] } } }));
    const child = spawn(process.execPath, [cli, "--json", "upgrade", "head", "--concurrency", "1"], { cwd: dir, env: { ...process.env, DATABASE_URL: undefined, APP_DB: db.url } });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((done) => child.on("close", done));
    try {
      for (let tries = 0; ; tries++) {
        const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()`;
        if (n > 0) break;
        if (tries > 200) throw new Error("the slow revision never started");
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      const report = JSON.parse(stdout);
      expect(report).toMatchObject({ ok: 0, failed: 2 });
      expect(report.tenants.map((t: { error: { code: string } }) => t.error.code)).toEqual(["INTERRUPTED", "INTERRUPTED"]);
      expect(await sql`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'marker'`).toEqual([{ n: 0 }]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
