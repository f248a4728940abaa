// A no-op `upgrade head` (the database is already at head) through the in-process API, counting
// round trips after connect: openConnection → roundTrips before/after runMigration.
// Usage (cwd = a lambic project dir): DATABASE_URL=... node roundtrips-child.mjs <path of dist/index.mjs>
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";

const { loadConfig, resolveDatabase, openRevisionSet, openConnection, runMigration } = await import(pathToFileURL(process.argv[2]).href);
const database = resolveDatabase(loadConfig({ cwd: process.cwd(), env: process.env }));
const set = await openRevisionSet(database, process.cwd());
const connection = await openConnection(database.url, { applicationName: "lambic-bench" });
try {
  const before = connection.roundTrips;
  const started = performance.now();
  const result = await runMigration(connection, set, { kind: "upgrade", target: "head" }, {
    versionTable: database.versionTable,
    schema: database.schema,
    lockTimeoutMs: database.lockTimeoutMs,
    statementTimeoutMs: database.statementTimeoutMs,
    actor: "bench",
    runId: randomUUID(),
  });
  const ms = performance.now() - started;
  process.stdout.write(JSON.stringify({ roundTrips: connection.roundTrips - before, steps: result.steps.length, ms, from: result.from.length }));
} finally {
  await connection.close();
}
