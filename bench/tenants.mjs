// Issue 6's speed: 1,000 tenant schemas × 5 revisions on one local PostgreSQL 17, base → head,
// through the CLI (whole process), with the default concurrency against one tenant at a time.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildLambic } from "./lib/build.mjs";
import { WORK_DIR, childEnv, ensureDir, log, ratio, secs, timeProcess, verdict } from "./lib/util.mjs";

const DB = "tenants";
const TARGET_SECONDS = 60;

function writeProject(dir, tenants) {
  rmSync(dir, { recursive: true, force: true });
  const revisions = join(dir, "revisions/app");
  mkdirSync(revisions, { recursive: true });
  const ids = ["aa0000000001", "bb0000000002", "cc0000000003", "dd0000000004", "ee0000000005"];
  const bodies = [
    `op.createTable("account", { id: "bigint primary key", name: { type: "text", nullable: false } });`,
    `op.createTable("invoice", { id: "bigint primary key", account_id: { type: "bigint", references: { table: "account" } }, total_cents: "integer" });`,
    `op.createIndex("invoice_account_idx", "invoice", ["account_id"]);`,
    `op.addColumn("account", "created_at", { type: "timestamptz", nullable: false, default: { raw: "now()" } });`,
    `op.createEnum("invoice_state", ["draft", "issued", "paid"]); op.addColumn("invoice", "state", { type: "invoice_state", default: "draft" });`,
  ];
  ids.forEach((id, i) => {
    writeFileSync(
      join(revisions, `${String(i + 1).padStart(4, "0")}_${id}.ts`),
      `export default { id: "${id}", revises: ${i === 0 ? "null" : `"${ids[i - 1]}"`}, message: "step ${i + 1}", upgrade(op) { ${bodies[i]} }, downgrade() {} };\n`,
    );
  });
  writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${DATABASE_URL}", revisions: "revisions/app", tenants } } }));
  return dir;
}

export async function tenantsBench({ quick = false } = {}) {
  const { cli, cluster: clusterModule } = await buildLambic();
  const cluster = await import(pathToFileURL(clusterModule).href);
  const rows = [];
  const checks = [];
  const count = quick ? 200 : 1000;
  const tenants = Array.from({ length: count }, (_, i) => `tenant_${String(i).padStart(4, "0")}`);
  const dataDir = join(tmpdir(), `lambic-bench-tenants-${process.pid}`);
  const port = await cluster.freePort();
  const password = cluster.randomPassword();
  log(`## Tenants (issue 6): ${count} tenant schemas × 5 revisions, base → head, one local PostgreSQL 17, whole process`);
  await cluster.initCluster({ dataDir, port, password });
  await cluster.startCluster({ dataDir, port });
  try {
    const url = cluster.clusterUrl(port, password, DB);
    const pgEnv = childEnv({ PGPASSWORD: password, PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "postgres" });
    const psql = (database, args) => timeProcess("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, ...args], { env: pgEnv });
    const reset = () => psql("postgres", ["-c", `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, "-c", `CREATE DATABASE ${DB}`]);
    const dir = writeProject(join(ensureDir(join(WORK_DIR, "tenants")), `project-${count}`), tenants);
    const env = childEnv({ DATABASE_URL: url });
    // Warm the revision cache once, so both runs measure migrating, not compiling.
    timeProcess(process.execPath, [cli, "--name", "app", "heads"], { cwd: dir, env });

    const run = (concurrency) => {
      reset();
      const result = timeProcess(process.execPath, [cli, "--name", "app", "--json", "upgrade", "head", "--concurrency", String(concurrency)], { cwd: dir, env });
      const report = JSON.parse(result.stdout);
      if (report.ok !== count) throw new Error(`expected ${count} tenants at head, got ${report.ok} ok and ${report.failed} failed`);
      return result.seconds;
    };
    const parallel = run(4);
    const serial = run(1);
    const perSecond = count / parallel;
    log(`default concurrency (4): ${secs(parallel)} (${perSecond.toFixed(1)} tenants/s); one at a time: ${secs(serial)} (${(count / serial).toFixed(1)} tenants/s) → ${ratio(serial / parallel)} faster`);
    const ok = count < 1000 ? undefined : parallel <= TARGET_SECONDS;
    log(`target: ${count} tenants ≤ ${TARGET_SECONDS} s ${count < 1000 ? "(not checked with --quick)" : verdict(ok)}`);
    rows.push({ group: "tenants", what: `upgrade head, ${count} tenants × 5 revisions, concurrency 4`, lambic: parallel, note: `${perSecond.toFixed(1)} tenants/s` });
    rows.push({ group: "tenants", what: `upgrade head, ${count} tenants × 5 revisions, one at a time`, lambic: serial, note: `${(count / serial).toFixed(1)} tenants/s; concurrency 4 is ${ratio(serial / parallel)} faster` });
    if (ok !== undefined) checks.push({ name: `${count} tenants × 5 revisions, concurrency 4`, value: secs(parallel), target: `≤ ${TARGET_SECONDS} s`, ok });
  } finally {
    await cluster.stopCluster(dataDir).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { rows, checks };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await tenantsBench({ quick: process.argv.includes("--quick") });
}
