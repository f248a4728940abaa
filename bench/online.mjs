// Issue 3's speed: online runs on one local PostgreSQL 17 (the embedded binaries, started here,
// with the server's default durability: fsync and synchronous_commit on). One transaction per
// run; the database is dropped and re-created before every timed run.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildLambic } from "./lib/build.mjs";
import { linearGraph, tableSql, writeAlembic, writeLambicTs } from "./lib/graphs.mjs";
import { ALEMBIC, WORK_DIR, childEnv, ensureDir, interleaved, log, median, ratio, secs, timeProcess, verdict } from "./lib/util.mjs";

const DB = "bench";

export async function onlineBench({ alembic, runs = 5, quick = false }) {
  const { cli, index, cluster: clusterModule } = await buildLambic();
  const cluster = await import(pathToFileURL(clusterModule).href);
  const rows = [];
  const checks = [];
  const node = process.execPath;

  const dataDir = join(tmpdir(), `lambic-bench-pg-${process.pid}`);
  const port = await cluster.freePort();
  const password = cluster.randomPassword();
  log("## Online (issue 3): one local PostgreSQL 17, one transaction per run, whole process, median of runs");
  await cluster.initCluster({ dataDir, port, password });
  await cluster.startCluster({ dataDir, port });
  const stop = () => cluster.stopCluster(dataDir).finally(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    const url = cluster.clusterUrl(port, password, DB);
    const pgEnv = childEnv({ PGPASSWORD: password, PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "postgres", PGCONNECT_TIMEOUT: "10" });
    const env = childEnv({ DATABASE_URL: url });
    // SQLAlchemy 1.4 accepts only the postgresql:// scheme.
    const alembicEnv = childEnv({ DATABASE_URL: url.replace(/^postgres:/, "postgresql:") });
    const psql = (database, args) => timeProcess("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database, ...args], { env: pgEnv });
    const reset = () => psql("postgres", ["-c", `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, "-c", `CREATE DATABASE ${DB}`]);
    const settings = psql("postgres", ["-At", "-c", "SELECT version()", "-c", "SHOW fsync", "-c", "SHOW synchronous_commit", "-c", "SHOW wal_sync_method", "-c", "SHOW shared_buffers"]).stdout.trim().split("\n");
    const server = `${settings[0].split(" on ")[0]}, fsync=${settings[1]}, synchronous_commit=${settings[2]}, wal_sync_method=${settings[3]}, shared_buffers=${settings[4]} (the server's defaults), TCP 127.0.0.1, data in ${dataDir}`;
    log(`server: ${server}`);
    rows.push({ group: "online", what: "server", note: server });

    const lambicRun = (dir, args = ["upgrade", "head"]) => () => timeProcess(node, [cli, ...args], { cwd: dir, env }).seconds;
    const alembicRun = (dir) => () => timeProcess(ALEMBIC, ["-c", "alembic.ini", "upgrade", "head"], { cwd: dir, env: alembicEnv }).seconds;

    // 1. 1,000 table-creating revisions: psql -f of the same SQL (lambic's own offline script) vs lambic vs alembic.
    {
      const revisions = linearGraph(1000, tableSql.table, 11);
      const base = ensureDir(join(WORK_DIR, "online", "tables-1000"));
      const tsDir = writeLambicTs(join(base, "lambic-ts"), revisions);
      const alembicDir = alembic.ok ? writeAlembic(join(base, "alembic"), revisions) : undefined;
      const script = join(base, "upgrade-head.sql");
      timeProcess(node, [cli, "upgrade", "head", "--sql", "--output", script], { cwd: tsDir, env });
      const tools = {
        "psql -f": () => timeProcess("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB, "-f", script], { env: pgEnv }).seconds,
        lambic: lambicRun(tsDir),
        ...(alembicDir ? { alembic: alembicRun(alembicDir) } : {}),
      };
      const verify = () => {
        const count = Number(psql(DB, ["-At", "-c", "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\\_%'"]).stdout.trim());
        if (count !== 1000) throw new Error(`expected 1000 tables after a run, found ${count}`);
      };
      // Warm without a timed run: lambic's cache was built by the --sql run above; alembic heads writes __pycache__.
      if (alembicDir) timeProcess(ALEMBIC, ["-c", "alembic.ini", "heads"], { cwd: alembicDir, env: alembicEnv });
      const result = interleaved(tools, { runs: quick ? 2 : Math.min(runs, 3), reset, verify, warmup: false });
      const floorRatio = result.lambic / result["psql -f"];
      const ok = floorRatio <= 1.2;
      log(`1,000 table-creating revisions: psql -f ${secs(result["psql -f"])}, lambic ${secs(result.lambic)}, alembic ${secs(result.alembic)}`);
      log(`  1,000 tables: lambic ${secs(result.lambic)}, psql -f ${secs(result["psql -f"])} → ${ratio(floorRatio)} of the floor (target ≤ 1.2×) ${verdict(ok)}` +
        (result.alembic ? `; alembic ${secs(result.alembic)} → lambic ${ratio(result.alembic / result.lambic)} faster (no target)` : ""));
      rows.push({ group: "online", what: "upgrade head, 1,000 table-creating revisions", floor: result["psql -f"], lambic: result.lambic, alembic: result.alembic });
      checks.push({ name: "1,000 tables, lambic vs psql -f", value: ratio(floorRatio), target: "≤ 1.2× psql -f", ok });
    }

    // 2. Trivial revisions (SELECT 1 each): tool overhead.
    let noopDir;
    // The 1,000-revision figure is the cheapest and swings most with the machine (±10 ms of
    // 0.13 s): more runs for its median, which costs ≈ 1.5 s a run, Alembic's second included.
    for (const [count, target, caseRuns] of [[1000, 8, quick ? runs : runs * 2 + 1], [5000, 10, quick ? 3 : Math.min(runs, 3)]]) {
      const revisions = linearGraph(count, tableSql.trivial, 20 + count);
      const base = ensureDir(join(WORK_DIR, "online", `trivial-${count}`));
      const tsDir = writeLambicTs(join(base, "lambic-ts"), revisions);
      const alembicDir = alembic.ok ? writeAlembic(join(base, "alembic"), revisions) : undefined;
      // Cold: compiling the TS revisions into the cache, once, not part of the median.
      reset();
      rmSync(join(tsDir, ".lambic"), { recursive: true, force: true });
      const cold = lambicRun(tsDir)();
      if (alembicDir) timeProcess(ALEMBIC, ["-c", "alembic.ini", "heads"], { cwd: alembicDir, env: alembicEnv });
      const floorChild = fileURLToPath(new URL("./lib/driver-floor-child.mjs", import.meta.url));
      const tools = {
        lambic: lambicRun(tsDir),
        "driver floor": () => timeProcess(node, [floorChild, String(count)], { env }).seconds,
        ...(alembicDir ? { alembic: alembicRun(alembicDir) } : {}),
      };
      const result = interleaved(tools, { runs: caseRuns, reset, warmup: false });
      const what = `${count.toLocaleString("en-US")} trivial revisions`;
      log(`${what} (SELECT 1 each): lambic ${secs(result.lambic)} (cold, compiling the TS: ${secs(cold)}), alembic ${secs(result.alembic)}`);
      const floor = result["driver floor"];
      log(
        `  driver floor (postgres.js and the server alone, lambic's per-step messages, whole process): ${secs(floor)}; ` +
          `lambic's own share ${secs(result.lambic - floor)}, ${(((result.lambic - floor) / count) * 1e6).toFixed(0)} µs per revision` +
          (result.alembic ? `; the target (≥ ${target}×) allows ${secs(result.alembic / target)} in all` : ""),
      );
      if (result.alembic) {
        const speedup = result.alembic / result.lambic;
        const ok = speedup >= target;
        log(`  ${what}: lambic ${secs(result.lambic)}, alembic ${secs(result.alembic)} → ${ratio(speedup)} (target ≥ ${target}×) ${verdict(ok)}`);
        checks.push({ name: `${what}, lambic vs alembic`, value: ratio(speedup), target: `≥ ${target}× alembic`, ok });
      } else {
        log(`  ${what}: alembic skipped, no comparison`);
      }
      rows.push({ group: "online", what: `upgrade head, ${what}`, floor, lambic: result.lambic, lambicCold: cold, alembic: result.alembic });
      if (count === 1000) noopDir = tsDir;
    }

    // 3. No-op upgrade head: round trips after connect (in-process API), and the whole process.
    {
      reset();
      timeProcess(node, [cli, "upgrade", "head"], { cwd: noopDir, env });
      const child = fileURLToPath(new URL("./lib/roundtrips-child.mjs", import.meta.url));
      const result = spawnSync(node, [child, index], { cwd: noopDir, env, encoding: "utf8" });
      if (result.status !== 0) throw new Error(`round-trip probe failed: ${result.stderr}`);
      const probe = JSON.parse(result.stdout);
      if (probe.steps !== 0) throw new Error(`the no-op upgrade ran ${probe.steps} steps`);
      const samples = [];
      timeProcess(node, [cli, "upgrade", "head"], { cwd: noopDir, env });
      for (let i = 0; i < runs; i++) samples.push(lambicRun(noopDir)());
      const whole = median(samples);
      const ok = probe.roundTrips <= 3;
      log(`no-op upgrade head (at head, 1,000 revisions): ${probe.roundTrips} round trip(s) after connect, runMigration ${probe.ms.toFixed(1)} ms in-process; ` +
        `whole process ${secs(whole)} → (target ≤ 3 round trips) ${verdict(ok)}`);
      rows.push({ group: "online", what: "no-op upgrade head (1,000 revisions, at head)", lambic: whole, roundTrips: probe.roundTrips });
      checks.push({ name: "no-op upgrade head, round trips after connect", value: String(probe.roundTrips), target: "≤ 3", ok });
    }
  } finally {
    await stop();
  }
  return { rows, checks };
}
