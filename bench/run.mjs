#!/usr/bin/env node
// lambic's benchmarks (`npm run bench`): node bench/run.mjs [graph|online|all] [--quick] [--runs N]
//   graph   issue 2: heads and upgrade --sql vs Alembic on generated graphs; in-process load + plan
//   online  issue 3: a local PostgreSQL 17; psql -f floor, lambic, Alembic; round trips of a no-op
//   tenants issue 6: 1,000 tenant schemas × 5 revisions, concurrency 4 vs one at a time
// Prints each figure with the comparison and target it checks, then a markdown table, also written
// to bench/RESULTS.md. Alembic (Debian: apt-get install -y alembic python3-psycopg2) is optional:
// without it the Alembic comparisons are skipped, saying so.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { graphBench } from "./graph.mjs";
import { onlineBench } from "./online.mjs";
import { tenantsBench } from "./tenants.mjs";
import { BENCH_DIR, INSTALL_ALEMBIC, alembicAvailable, ensureDir, extraCaCertsCost, log, machineInfo, ms, ratio, secs, skipAlembicMessage, verdict, WORK_DIR } from "./lib/util.mjs";

const args = process.argv.slice(2);
const which = args.find((a) => !a.startsWith("--")) ?? "all";
if (!["graph", "online", "tenants", "all"].includes(which)) {
  process.stderr.write("usage: node bench/run.mjs [graph|online|tenants|all] [--quick] [--runs N]\n");
  process.exit(2);
}
const quick = args.includes("--quick");
const runsIndex = args.indexOf("--runs");
const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : quick ? 3 : 5;

ensureDir(WORK_DIR);
const machine = machineInfo();
const alembic = alembicAvailable();
const started = performance.now();
const load = loadavg().map((l) => l.toFixed(2)).join(" ");
log(`lambic bench: ${which}, median of ${runs} runs (${runs * 2 + 1} for 1,000 trivial revisions, fewer for the slowest cases), whole process unless said otherwise`);
log(`machine: ${machine.nproc} CPUs (${machine.cpu}), node ${machine.node}, ${machine.platform}, load average at start ${load}`);
if (alembic.ok) log(`alembic ${alembic.alembic} (SQLAlchemy ${alembic.sqlalchemy}, psycopg2 ${alembic.psycopg2}) via /usr/bin/alembic; to reproduce: ${INSTALL_ALEMBIC}`);
else log(skipAlembicMessage(alembic.why));
const caCerts = extraCaCertsCost();
const caCertsNote = caCerts &&
  `This shell sets NODE_EXTRA_CA_CERTS=${caCerts.file}: \`node -e 0\` takes ${secs(caCerts.with)} with it and ${secs(caCerts.without)} without, ` +
  `since Node reads and parses every certificate in it before running any code. No run here uses TLS, and a user's shell does not set it, ` +
  `so every Node process (lambic's and the floors') is timed without it; add ${secs(caCerts.with - caCerts.without)} to each Node figure for this shell.`;
if (caCertsNote) log(caCertsNote.replaceAll("`", ""));
log();

const results = [];
if (which === "graph" || which === "all") results.push(await graphBench({ alembic, runs, quick }));
if (which === "online" || which === "all") {
  log();
  results.push(await onlineBench({ alembic, runs, quick }));
}
if (which === "tenants" || which === "all") {
  log();
  results.push(await tenantsBench({ quick }));
}
const rows = results.flatMap((r) => r.rows);
const checks = results.flatMap((r) => r.checks);
const elapsed = (performance.now() - started) / 1000;

const markdown = renderMarkdown({ rows, checks, machine, alembic, load, runs, elapsed, which, caCertsNote });
log(`\n${markdown}`);
writeFileSync(join(BENCH_DIR, "RESULTS.md"), markdown);
log(`(written to bench/RESULTS.md; ${elapsed.toFixed(0)} s in all)`);
const missed = checks.filter((c) => c.ok === false);
log(missed.length ? `${missed.length} of ${checks.length} targets MISSED: ${missed.map((c) => c.name).join("; ")}` : `all ${checks.length} targets met`);

function renderMarkdown({ rows, checks, machine, alembic, load, runs, elapsed, which, caCertsNote }) {
  const lines = [];
  lines.push(`# lambic benchmarks`);
  lines.push("");
  lines.push(`\`npm run bench\` (\`node bench/run.mjs ${which}\`), ${new Date().toISOString().slice(0, 10)}: ${machine.nproc} CPUs (${machine.cpu}), node ${machine.node}, ${machine.platform}; ` +
    `load average at start ${load}. Whole process (spawn to exit), median of ${runs} runs (${runs * 2 + 1} for 1,000 trivial revisions online, 3 for the slowest Alembic cases); ${elapsed.toFixed(0)} s in all.`);
  lines.push(
    alembic.ok
      ? `Compared with Alembic ${alembic.alembic} (SQLAlchemy ${alembic.sqlalchemy}, psycopg2 ${alembic.psycopg2}), warm \`__pycache__\`; lambic with its warm compile cache (\`.lambic/cache\`), cold figures beside. To reproduce on Debian/Ubuntu: \`${INSTALL_ALEMBIC}\`, then \`npm run bench\`.`
      : `Alembic was not installed, so there is no comparison: \`${INSTALL_ALEMBIC}\` and run again.`,
  );
  if (caCertsNote) lines.push(caCertsNote);
  lines.push("");
  const graph = rows.filter((r) => r.group === "graph");
  if (graph.length) {
    lines.push("## Revision graph (no database)");
    lines.push("");
    lines.push("| what | lambic (TS revisions) | lambic (.sql revisions) | lambic cold (TS compile) | Alembic | Alembic ÷ lambic (TS) |");
    lines.push("|---|---:|---:|---:|---:|---:|");
    for (const r of graph) {
      if (r.inProcess) {
        lines.push(`| ${r.what} | ${ms(r.inProcess.first)} / ${ms(r.inProcess.warm)} | | | | |`);
        continue;
      }
      lines.push(`| ${r.what} | ${secs(r.lambic)} | ${r.lambicSql !== undefined ? secs(r.lambicSql) : ""} | ${r.lambicCold !== undefined ? secs(r.lambicCold) : ""} | ${r.alembic !== undefined ? secs(r.alembic) : r.what.includes("floor") ? "" : "skipped"} | ${r.alembic !== undefined ? ratio(r.alembic / r.lambic) : ""} |`);
    }
    lines.push("");
  }
  const online = rows.filter((r) => r.group === "online");
  if (online.length) {
    lines.push("## Online, one local PostgreSQL 17");
    lines.push("");
    const server = online.find((r) => r.what === "server");
    if (server) lines.push(`Server: ${server.note}. The database is dropped and re-created before each timed run; one transaction per run.`, "");
    lines.push("The floor is `psql -f` of the same SQL for the table-creating revisions, and for the trivial ones postgres.js and the server alone sending lambic's per-step messages (bench/lib/driver-floor-child.mjs).", "");
    lines.push("| what | floor | lambic | lambic cold (TS compile) | Alembic (psycopg2) | Alembic ÷ lambic | lambic ÷ floor |");
    lines.push("|---|---:|---:|---:|---:|---:|---:|");
    for (const r of online) {
      if (r.what === "server") continue;
      const lambicCell = r.roundTrips !== undefined ? `${secs(r.lambic)}, ${r.roundTrips} round trips after connect` : secs(r.lambic);
      lines.push(`| ${r.what} | ${r.floor !== undefined ? secs(r.floor) : ""} | ${lambicCell} | ${r.lambicCold !== undefined ? secs(r.lambicCold) : ""} | ${r.alembic !== undefined ? secs(r.alembic) : r.roundTrips !== undefined ? "" : "skipped"} | ${r.alembic !== undefined ? ratio(r.alembic / r.lambic) : ""} | ${r.floor !== undefined ? ratio(r.lambic / r.floor) : ""} |`);
    }
    lines.push("");
  }
  const tenants = rows.filter((r) => r.group === "tenants");
  if (tenants.length) {
    lines.push("## Tenants, one local PostgreSQL 17", "", "| what | lambic | |", "|---|---:|---|");
    for (const r of tenants) lines.push(`| ${r.what} | ${secs(r.lambic)} | ${r.note} |`);
    lines.push("");
  }
  lines.push("## Targets");
  lines.push("");
  lines.push("| target | figure | wanted | |");
  lines.push("|---|---:|---|---|");
  for (const c of checks) lines.push(`| ${c.name} | ${c.value} | ${c.target} | ${verdict(c.ok)} |`);
  if (!alembic.ok) lines.push("", `Alembic comparisons skipped: ${alembic.why}.`);
  lines.push("");
  return lines.join("\n");
}
