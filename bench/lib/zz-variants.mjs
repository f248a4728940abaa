import postgres from "postgres";
const [variant, countText] = process.argv.slice(2);
const count = Number(countText);
const sql = postgres(process.env.DATABASE_URL, { max: 1, idle_timeout: 0, max_lifetime: 0, max_pipeline: 1000, prepare: false, fetch_types: false, onnotice: () => {} });
const simple = (text) => sql.unsafe(text, [], { simple: true });
const revision = (i) => `r${String(i).padStart(11, "0")}`;
await simple("select 1");
await simple("BEGIN; CREATE TABLE IF NOT EXISTS floor_version (version_num varchar(32) NOT NULL PRIMARY KEY); " + `INSERT INTO floor_version VALUES ('${revision(0)}'); ` +
 "PREPARE floor_update (varchar, varchar, int) AS UPDATE floor_version SET version_num = $1 WHERE version_num = $2 RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS at, $3 AS lambic_step");
const t3 = performance.now();
const messages = [];
const per = variant === "c" ? 1 : 32;
for (let first = 0; first < count; first += per) {
  let text = "";
  for (let step = first; step < Math.min(count, first + per); step++) {
    if (variant === "a") text += `SELECT 1;\nEXECUTE floor_update('${revision(step + 1)}', '${revision(step)}', ${step});\n`;
    else if (variant === "b") text += `SELECT 1;\nSELECT clock_timestamp() AS at, ${step} AS lambic_step;\n`;
    else text += `SELECT 1;\n`;
  }
  messages.push(simple(text));
}
await Promise.all(messages);
const t4 = performance.now();
await simple("COMMIT");
await sql.end();
console.log(variant, count, "steps ms", (t4 - t3).toFixed(1));
