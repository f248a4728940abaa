// The driver's floor for N trivial revisions: postgres.js and the server alone, sending what an
// online `lambic upgrade head` sends per step (the revision's `SELECT 1`, then the step's marker
// row with the server's clock and the step's number), 32 steps per simple-protocol message, and
// the version row written once before COMMIT, in one transaction, with no revision loading,
// planning, rendering or history. Timed as a whole process by the bench: what is left of
// lambic's time above it is lambic's own.
// Usage: DATABASE_URL=... node driver-floor-child.mjs <N>
import postgres from "postgres";

const count = Number(process.argv[2] ?? 1000);
const STEPS_PER_MESSAGE = 32;
const sql = postgres(process.env.DATABASE_URL, { max: 1, idle_timeout: 0, max_lifetime: 0, max_pipeline: 1000, prepare: false, onnotice: () => {} });
const simple = (text) => sql.unsafe(text, [], { simple: true });
const revision = (i) => `r${String(i).padStart(11, "0")}`;

await simple("select 1");
await simple("BEGIN; CREATE TABLE IF NOT EXISTS floor_version (version_num varchar(32) NOT NULL PRIMARY KEY)");
let markers = 0;
const messages = [];
for (let first = 0; first < count; first += STEPS_PER_MESSAGE) {
  let text = "";
  for (let step = first; step < Math.min(count, first + STEPS_PER_MESSAGE); step++) {
    text += `SELECT 1;\nSELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS at, ${step} AS lambic_step;\n`;
  }
  messages.push(simple(text).forEach((row) => {
    if (row.lambic_step !== undefined) markers++;
  }));
}
await Promise.all(messages);
await simple(`INSERT INTO floor_version (version_num) VALUES ('${revision(count)}'); COMMIT`);
await sql.end();
if (markers !== count) throw new Error(`expected ${count} step rows, got ${markers}`);
