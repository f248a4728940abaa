const t0 = performance.now();
const { default: postgres } = await import("postgres");
const t1 = performance.now();
const count = Number(process.argv[2] ?? 1000);
const sql = postgres(process.env.DATABASE_URL, { max: 1, idle_timeout: 0, max_lifetime: 0, max_pipeline: 1000, prepare: false, onnotice: () => {} });
const simple = (text) => sql.unsafe(text, [], { simple: true });
const revision = (i) => `r${String(i).padStart(11, "0")}`;
await simple("select 1");
const t2 = performance.now();
await simple(
  "BEGIN; CREATE TABLE IF NOT EXISTS floor_version (version_num varchar(32) NOT NULL PRIMARY KEY); " +
    `INSERT INTO floor_version VALUES ('${revision(0)}'); ` +
    "PREPARE floor_update (varchar, varchar, int) AS UPDATE floor_version SET version_num = $1 WHERE version_num = $2 " +
    "RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS at, $3 AS lambic_step",
);
const t3 = performance.now();
let markers = 0;
const messages = [];
for (let first = 0; first < count; first += 32) {
  let text = "";
  for (let step = first; step < Math.min(count, first + 32); step++) text += `SELECT 1;\nEXECUTE floor_update('${revision(step + 1)}', '${revision(step)}', ${step});\n`;
  messages.push(simple(text).forEach((row) => { if (row.lambic_step !== undefined) markers++; }));
}
await Promise.all(messages);
const t4 = performance.now();
await simple("COMMIT");
const t5 = performance.now();
await sql.end();
console.log({ start: t0.toFixed(0), import: (t1-t0).toFixed(1), connect: (t2-t1).toFixed(1), setup: (t3-t2).toFixed(1), steps: (t4-t3).toFixed(1), commit: (t5-t4).toFixed(1) });
