// The driver's floor for N trivial revisions: postgres.js and the server alone, sending what an
// online `lambic upgrade head` sends per step (the revision's `SELECT 1`, a simple-protocol
// message of its own, all pipelined), the server's clock read where the steps begin, and the
// version row written once before COMMIT, in one transaction, with no revision loading,
// planning, rendering or history. Timed as a whole process by the bench: what is left of
// lambic's time above it is lambic's own.
// Usage: DATABASE_URL=... node driver-floor-child.mjs <N>
import postgres from "postgres";

const count = Number(process.argv[2] ?? 1000);
const sql = postgres(process.env.DATABASE_URL, { max: 1, idle_timeout: 0, max_lifetime: 0, max_pipeline: 100_000, prepare: false, onnotice: () => {} });
const simple = (text) => sql.unsafe(text, [], { simple: true });
const revision = (i) => `r${String(i).padStart(11, "0")}`;

await simple("select 1");
await simple("BEGIN; CREATE TABLE IF NOT EXISTS floor_version (version_num varchar(32) NOT NULL PRIMARY KEY)");
let replies = 0;
const steps = [simple("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS at")];
for (let step = 0; step < count; step++) {
  steps.push(simple("SELECT 1").then(() => {
    replies++;
  }));
}
await Promise.all(steps);
await simple(`INSERT INTO floor_version (version_num) VALUES ('${revision(count)}'); COMMIT`);
await sql.end();
if (replies !== count) throw new Error(`expected ${count} step replies, got ${replies}`);
