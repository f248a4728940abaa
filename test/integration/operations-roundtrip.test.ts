// The op API against a real PostgreSQL: every statement runs, hostile names come back exactly as
// written, literals read back as the values that were rendered, and the downgrade ops leave the
// database as it was.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOperations, qualifiedName, type Operations } from "../../src/operations/index.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

const SCHEMA = 'app "x"; --';
const TABLE = 'ünïcödé "table" $$';
const ENUM = "mood 🦆";
const INDEX = 'idx "1"';

let database: TestDatabase;
let sql: postgres.Sql;

beforeAll(async () => {
  database = await createTestDatabase("operations");
  sql = postgres(database.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await database?.drop();
});

/** Runs each statement on its own, in autocommit (as a `transactional: false` revision would). */
async function run(calls: (op: Operations) => void): Promise<void> {
  const statements: string[] = [];
  calls(createOperations((statement) => statements.push(statement)));
  for (const statement of statements) await sql.unsafe(statement);
}

async function userObjects(): Promise<readonly unknown[]> {
  return sql`
    select n.nspname, c.relname, c.relkind::text as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    union all
    select n.nspname, t.typname, 'type' from pg_type t join pg_namespace n on n.oid = t.typnamespace
    where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and t.typtype = 'e'
    union all
    select nspname, '', 'schema' from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema'
    union all
    select extname, extversion, 'extension' from pg_extension
    order by 1, 2, 3`;
}

const upgrade = (op: Operations): void => {
  op.createSchema(SCHEMA, { ifNotExists: true });
  op.createExtension("pg_trgm", { ifNotExists: true, version: "1.6" });
  op.createEnum(ENUM, ["sad", "it's", "back\\slash", "$$"], { schema: SCHEMA });
  op.addEnumValue(ENUM, "ünï", { schema: SCHEMA, after: "sad", ifNotExists: true });
  op.createTable(
    "org",
    {
      id: { type: "bigint", identity: "always", primaryKey: true },
      name: { type: "text", nullable: false, default: "it's $$ \\" },
    },
    { schema: SCHEMA, comment: "orgs 'quoted'" },
  );
  op.createTable(
    TABLE,
    {
      id: "bigserial primary key",
      org_id: { type: "bigint", references: { table: "org", column: "id", schema: SCHEMA, onDelete: "CASCADE" } },
      'we"ird col': { type: "text", comment: "c'mon \\ $$" },
      mood: { type: qualifiedName(SCHEMA, ENUM) },
      n: "double precision",
      amount: { type: "numeric(12, 2)", default: 0 },
      data: "jsonb",
      bytes: "bytea",
      at: "timestamptz",
      big: "bigint",
      flag: "boolean",
      note: "text",
    },
    {
      schema: SCHEMA,
      unique: [{ name: "uq 1", columns: ["org_id", "note"] }],
      checks: [{ name: "amount ok", condition: "amount >= 0" }],
    },
  );
  op.addColumn(TABLE, "extra", { type: "text", default: "x" }, { schema: SCHEMA });
  op.alterColumn(TABLE, "extra", { type: "varchar(20)", nullable: false, default: "y", newName: "extra 2", comment: "renamed", schema: SCHEMA });
  op.createIndex(INDEX, TABLE, ["org_id", { expression: "lower(note)", order: "DESC", nulls: "LAST" }], {
    schema: SCHEMA,
    where: "note IS NOT NULL",
    include: ["flag"],
    concurrently: true,
  });
  // The operator class comes from pg_trgm, in public, found through search_path.
  op.createIndex("trgm", TABLE, [{ column: "note", opclass: "gin_trgm_ops" }], { schema: SCHEMA, method: "gin" });
  op.createUniqueConstraint("uq note", TABLE, ["note"], { schema: SCHEMA, deferrable: true });
  op.createCheckConstraint("n check", TABLE, "n IS NULL OR n <> 0", { schema: SCHEMA, notValid: true });
  op.createTable("child", { id: "int primary key", parent: "bigint" }, { schema: SCHEMA });
  op.createForeignKey("fk 'child'", "child", ["parent"], TABLE, ["id"], { schema: SCHEMA, refSchema: SCHEMA, onDelete: "SET NULL" });
  op.renameTable("child", "child 2", { schema: SCHEMA });
  op.bulkInsert("org", [{ name: "acme" }, {}], { schema: SCHEMA });
  op.bulkInsert(TABLE, ROWS, { schema: SCHEMA });
};

const ROWS = [
  {
    org_id: 1,
    'we"ird col': "'); DROP TABLE org; -- \\ $$ $x$ ünïcödé 🦆\n",
    mood: "it's",
    n: NaN,
    amount: 12.5,
    data: { name: "O'Brien", list: [1, "two", null], "k\\ey": "\\u0041" },
    bytes: new Uint8Array([0, 39, 92, 255]),
    at: new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 123)),
    big: 9007199254740993n,
    flag: true,
    note: "first",
  },
  { org_id: 2, mood: "ünï", n: -Infinity, data: [1, 2], flag: false, note: null },
  { org_id: 1, mood: "back\\slash", n: 1e-7, note: "third" },
];

const downgrade = (op: Operations): void => {
  op.dropConstraint("fk 'child'", "child 2", { schema: SCHEMA });
  op.dropTable("child 2", { schema: SCHEMA });
  op.dropConstraint("n check", TABLE, { schema: SCHEMA });
  op.dropConstraint("uq note", TABLE, { schema: SCHEMA, ifExists: true });
  op.dropIndex(INDEX, { schema: SCHEMA, concurrently: true });
  op.dropIndex("trgm", { schema: SCHEMA });
  op.dropColumn(TABLE, "extra 2", { schema: SCHEMA });
  op.dropTable(TABLE, { schema: SCHEMA });
  op.dropTable("org", { schema: SCHEMA });
  op.dropEnum(ENUM, { schema: SCHEMA });
  op.dropSchema(SCHEMA);
  op.dropExtension("pg_trgm");
};

describe("operations against PostgreSQL", () => {
  let before: readonly unknown[];

  it("runs on a server with standard_conforming_strings on, which quoteLiteral assumes", async () => {
    const [row] = await sql`show standard_conforming_strings`;
    expect(row.standard_conforming_strings).toBe("on");
  });

  it("runs every upgrade statement and creates objects named exactly as written", async () => {
    before = await userObjects();
    await run(upgrade);
    const tables = await sql`
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${SCHEMA} and c.relkind = 'r' order by 1`;
    expect(tables.map((row) => row.relname)).toEqual(["child 2", "org", TABLE].sort());
    const [index] = await sql`select indexdef from pg_indexes where schemaname = ${SCHEMA} and indexname = ${INDEX}`;
    expect(index.indexdef).toContain("WHERE (note IS NOT NULL)");
    const labels = await sql`
      select e.enumlabel from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = ${ENUM} order by e.enumsortorder`;
    expect(labels.map((row) => row.enumlabel)).toEqual(["sad", "ünï", "it's", "back\\slash", "$$"]);
  });

  it("stores comments and defaults with quotes, backslashes and $$ intact", async () => {
    const [comments] = await sql.unsafe(
      `select obj_description('${qualifiedName(SCHEMA, "org").replaceAll("'", "''")}'::regclass, 'pg_class') as tbl,
              col_description('${qualifiedName(SCHEMA, TABLE).replaceAll("'", "''")}'::regclass, 3) as col`,
    );
    expect(comments).toEqual({ tbl: "orgs 'quoted'", col: "c'mon \\ $$" });
    const orgs = await sql.unsafe(`select id, name from ${qualifiedName(SCHEMA, "org")} order by id`);
    expect(orgs).toEqual([
      { id: "1", name: "acme" },
      { id: "2", name: "it's $$ \\" },
    ]);
  });

  it("reads back every bulk-inserted value as it was rendered", async () => {
    const rows = await sql.unsafe(
      `select "we""ird col" as weird, mood::text, n, amount::text, data, bytes, at, big::text, flag, note, "extra 2" as extra
       from ${qualifiedName(SCHEMA, TABLE)} order by id`,
    );
    expect(rows).toEqual([
      {
        weird: ROWS[0]['we"ird col'],
        mood: "it's",
        n: NaN,
        amount: "12.50",
        data: ROWS[0].data,
        bytes: Buffer.from([0, 39, 92, 255]),
        at: ROWS[0].at,
        big: "9007199254740993",
        flag: true,
        note: "first",
        extra: "y",
      },
      { weird: null, mood: "ünï", n: -Infinity, amount: "0.00", data: [1, 2], bytes: null, at: null, big: null, flag: false, note: null, extra: "y" },
      { weird: null, mood: "back\\slash", n: 1e-7, amount: "0.00", data: null, bytes: null, at: null, big: null, flag: null, note: "third", extra: "y" },
    ]);
  });

  it("stores -0 in a float column with its sign, and as 0 in integer and numeric columns", async () => {
    await sql`CREATE TEMPORARY TABLE zeros (f float8, r real, i int, n numeric)`;
    await run((op) => op.bulkInsert("zeros", [{ f: -0, r: -0, i: -0, n: -0 }]));
    const [row] = await sql`SELECT f::text, r::text, i, n::text FROM zeros`;
    await sql`DROP TABLE zeros`;
    expect(row).toEqual({ f: "-0", r: "-0", i: 0, n: "0" });
  });

  it("stores a JSON object as written in a json column (keys in their order), parsed in a jsonb column, as text in a text column", async () => {
    await sql`CREATE TEMPORARY TABLE documents (n int, j json, jb jsonb, t text, d json DEFAULT '{}')`;
    const value = { zebra: 1, apple: [2, { y: true, x: null }] };
    await run((op) => {
      op.alterColumn("documents", "d", { default: { b: 1, a: 2 } });
      op.bulkInsert("documents", [{ n: 1, j: value, jb: value, t: value }, { n: 2, j: [3, 1] }]);
    });
    const rows = await sql`SELECT j::text, jb::text, t, d::text FROM documents ORDER BY n`;
    await sql`DROP TABLE documents`;
    expect(rows).toEqual([
      { j: JSON.stringify(value), jb: '{"apple": [2, {"x": null, "y": true}], "zebra": 1}', t: JSON.stringify(value), d: '{"b":1,"a":2}' },
      { j: "[3,1]", jb: null, t: null, d: '{"b":1,"a":2}' },
    ]);
  });

  it("updates rows through execute with op.inlineLiteral's and op.quoteIdentifier's text, hostile values kept as given", async () => {
    await sql`CREATE TEMPORARY TABLE "we""ird" (n int, note text, at timestamptz, raw bytea)`;
    await sql`INSERT INTO "we""ird" (n) VALUES (1)`;
    const note = "it's \\ $$ done ✓";
    const at = new Date("2024-02-29T12:00:00.123Z");
    await run((op) => {
      const table = op.quoteIdentifier('we"ird');
      op.execute(`UPDATE ${table} SET note = ${op.inlineLiteral(note)}, at = ${op.inlineLiteral(at)}, raw = ${op.inlineLiteral(new Uint8Array([0, 39, 92]))}`);
    });
    const rows = await sql`SELECT note, at, raw FROM "we""ird"`;
    await sql`DROP TABLE "we""ird"`;
    expect(rows).toEqual([{ note, at, raw: Buffer.from([0, 39, 92]) }]);
  });

  it("updates only the rows execute's WHERE names when op.inlineLiteral gives a negative number after a minus (x-${-5} is no -- comment)", async () => {
    await sql`CREATE TEMPORARY TABLE balance (id int, amount int)`;
    await sql`INSERT INTO balance VALUES (1, 10), (2, 10)`;
    await run((op) => op.execute(`UPDATE balance SET amount = amount-${op.inlineLiteral(-5)} WHERE id = 1`));
    const rows = await sql`SELECT id, amount FROM balance ORDER BY id`;
    await sql`DROP TABLE balance`;
    expect(rows).toEqual([{ id: 1, amount: 15 }, { id: 2, amount: 10 }]);
  });

  it("enforces an exclusion constraint: an overlapping booking of the same room is refused (23P01), a cancelled one is not constrained", async () => {
    await run((op) => {
      op.createExtension("btree_gist", { ifNotExists: true });
      op.createTable("booking", { room: "int", starts: "timestamptz", ends: "timestamptz", cancelled: "boolean NOT NULL DEFAULT false" });
      op.createExcludeConstraint('no "double" booking', "booking", [["room", "="], { expression: "tstzrange(starts, ends)", operator: "&&" }], { using: "gist", where: "NOT cancelled" });
    });
    await sql`INSERT INTO booking (room, starts, ends) VALUES (1, '2026-01-01 10:00Z', '2026-01-01 12:00Z'), (2, '2026-01-01 11:00Z', '2026-01-01 13:00Z')`;
    await expect(sql`INSERT INTO booking (room, starts, ends) VALUES (1, '2026-01-01 11:00Z', '2026-01-01 11:30Z')`).rejects.toMatchObject({ code: "23P01", constraint_name: 'no "double" booking' });
    await sql`INSERT INTO booking (room, starts, ends, cancelled) VALUES (1, '2026-01-01 11:00Z', '2026-01-01 11:30Z', true)`;
    await run((op) => op.dropConstraint('no "double" booking', "booking"));
    await sql`INSERT INTO booking (room, starts, ends) VALUES (1, '2026-01-01 11:00Z', '2026-01-01 11:30Z')`;
    await run((op) => {
      op.dropTable("booking");
      op.dropExtension("btree_gist");
    });
  });

  it("refuses a second row whose keys are NULL under nullsNotDistinct, and takes it without", async () => {
    await run((op) => {
      op.createTable("address", { customer: "int", preferred: "boolean" });
      op.createUniqueConstraint("one_preferred", "address", ["customer", "preferred"], { nullsNotDistinct: true });
      op.createIndex("one_per_customer", "address", ["customer"], { unique: true, nullsNotDistinct: true, where: "preferred IS NULL" });
    });
    await sql`INSERT INTO address (customer, preferred) VALUES (NULL, NULL)`;
    await expect(sql`INSERT INTO address (customer, preferred) VALUES (NULL, NULL)`).rejects.toMatchObject({ code: "23505" });
    await run((op) => {
      op.dropConstraint("one_preferred", "address");
      op.dropIndex("one_per_customer");
      op.createUniqueConstraint("plain", "address", ["customer", "preferred"]);
    });
    await sql`INSERT INTO address (customer, preferred) VALUES (NULL, NULL)`;
    await run((op) => op.dropTable("address"));
  });

  it("makes one primary key of the columns each marked primaryKey: a pair is refused twice, each column alone repeats", async () => {
    await run((op) => op.createTable("membership", { org_id: { type: "int", primaryKey: true }, user_id: { type: "int", primaryKey: true } }));
    await sql`INSERT INTO membership VALUES (1, 1), (1, 2), (2, 1)`;
    await expect(sql`INSERT INTO membership VALUES (1, 2)`).rejects.toMatchObject({ code: "23505", constraint_name: "membership_pkey" });
    await run((op) => op.dropTable("membership"));
  });

  it("refuses a half-NULL key under a MATCH FULL foreign key, which MATCH SIMPLE lets through", async () => {
    await run((op) => {
      op.createTable("shop_order", { id: "int", shop: "int" }, { primaryKey: ["id", "shop"] });
      op.createTable("order_line", { order_id: "int", shop: "int" });
      op.createForeignKey("line_order", "order_line", ["order_id", "shop"], "shop_order", ["id", "shop"], { match: "full" });
    });
    await expect(sql`INSERT INTO order_line VALUES (1, NULL)`).rejects.toMatchObject({ code: "23503" });
    await run((op) => {
      op.dropConstraint("line_order", "order_line");
      op.createForeignKey("line_order", "order_line", ["order_id", "shop"], "shop_order", ["id", "shop"], { match: "simple" });
    });
    await sql`INSERT INTO order_line VALUES (1, NULL)`;
    await run((op) => {
      op.dropTable("order_line");
      op.dropTable("shop_order");
    });
  });

  it("turns a serial column into an identity column, which numbers on from its rows once setval'd, and drops the identity", async () => {
    await run((op) => op.createTable("ticket", { id: "serial PRIMARY KEY", title: "text" }));
    await sql`INSERT INTO ticket (title) VALUES ('a'), ('b')`;
    await run((op) => {
      op.alterColumn("ticket", "id", { default: null, identity: "always" });
      // The serial's own sequence stays owned by the column until dropped, and pg_get_serial_sequence would name it.
      op.execute('DROP SEQUENCE "ticket_id_seq"');
      op.execute("SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT max(id) FROM ticket))");
    });
    await expect(sql`INSERT INTO ticket (id, title) VALUES (9, 'c')`).rejects.toMatchObject({ code: "428C9" });
    expect(await sql`INSERT INTO ticket (title) VALUES ('c') RETURNING id`).toEqual([{ id: 3 }]);
    const [column] = await sql`SELECT is_identity, identity_generation FROM information_schema.columns WHERE table_name = 'ticket' AND column_name = 'id'`;
    expect(column).toEqual({ is_identity: "YES", identity_generation: "ALWAYS" });
    await run((op) => op.alterColumn("ticket", "id", { identity: null }));
    await sql`INSERT INTO ticket (id, title) VALUES (9, 'd')`;
    await run((op) => op.dropTable("ticket"));
  });

  it("creates a range-partitioned table whose rows go to their partition, and refuses a row no partition takes", async () => {
    await run((op) => {
      op.createTable("event", { id: "bigint", at: "timestamptz NOT NULL" }, { partitionBy: "RANGE (at)" });
      op.execute(`CREATE TABLE ${op.quoteIdentifier("event_2026")} PARTITION OF ${op.quoteIdentifier("event")} FOR VALUES FROM (${op.inlineLiteral(new Date("2026-01-01T00:00:00Z"))}) TO (${op.inlineLiteral(new Date("2027-01-01T00:00:00Z"))})`);
    });
    await sql`INSERT INTO event VALUES (1, '2026-06-01Z')`;
    expect(await sql`SELECT tableoid::regclass::text AS partition FROM event`).toEqual([{ partition: "event_2026" }]);
    await expect(sql`INSERT INTO event VALUES (2, '2025-06-01Z')`).rejects.toMatchObject({ code: "23514" });
    await run((op) => op.dropTable("event"));
  });

  it("sets, replaces and removes a table's comment as written", async () => {
    const comment = "it's \\ $$ ünï";
    await sql`CREATE TABLE "we""ird" (id int)`;
    const read = async () => (await sql`SELECT obj_description('"we""ird"'::regclass, 'pg_class') AS comment`)[0]!.comment;
    await run((op) => op.createTableComment('we"ird', "first"));
    await run((op) => op.createTableComment('we"ird', comment));
    expect(await read()).toBe(comment);
    await run((op) => op.dropTableComment('we"ird'));
    expect(await read()).toBe(null);
    await sql`DROP TABLE "we""ird"`;
  });

  it("inserts given values into a GENERATED ALWAYS identity column only with overridingSystemValue", async () => {
    await sql`CREATE TEMPORARY TABLE seeded (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)`;
    await expect(run((op) => op.bulkInsert("seeded", [{ id: 7, name: "seven" }]))).rejects.toMatchObject({ code: "428C9" });
    await run((op) => op.bulkInsert("seeded", [{ id: 7, name: "seven" }, { name: "next" }], { overridingSystemValue: true }));
    const rows = await sql`SELECT id, name FROM seeded ORDER BY id`;
    await sql`DROP TABLE seeded`;
    expect(rows).toEqual([{ id: 1, name: "next" }, { id: 7, name: "seven" }]);
  });

  it("stores Dates before 1 AD and after 9999 as the same instants", async () => {
    const dates = [new Date(Date.UTC(-43, 2, 15, 12, 30)), new Date(Date.UTC(10000, 0, 1, 0, 0, 0, 250))];
    await sql`create temporary table far_dates (n int, at timestamptz)`;
    await run((op) => op.bulkInsert("far_dates", dates.map((at, n) => ({ n, at }))));
    const rows = await sql`select (extract(epoch from at) * 1000)::float8 as ms from far_dates order by n`;
    await sql`drop table far_dates`;
    expect(rows.map((row) => row.ms)).toEqual(dates.map((date) => date.getTime()));
  });

  it("refuses the string default 'now', which PostgreSQL freezes at the migration's time, and keeps { raw: \"now()\" } a default of each insert", async () => {
    // What PostgreSQL does with the literal: the default is the constant of the moment the DDL ran.
    await sql`CREATE TEMPORARY TABLE frozen (at timestamptz DEFAULT 'now')`;
    const [frozen] = await sql`SELECT pg_get_expr(d.adbin, d.adrelid) AS def FROM pg_attrdef d WHERE d.adrelid = 'frozen'::regclass`;
    expect(frozen.def).toMatch(/^'\d{4}-\d\d-\d\d [\d:.]+\+00'::timestamp with time zone$/);
    await sql`DROP TABLE frozen`;
    const statements: string[] = [];
    const op = createOperations((statement) => statements.push(statement));
    expect(() => op.createTable("stamped", { at: { type: "timestamptz", default: "now" } })).toThrow(/converts once, when the statement runs/);
    expect(statements).toEqual([]);
    await run((o) => o.createTable("stamped", { n: "int", at: { type: "timestamptz", default: { raw: "now()" } } }));
    const [kept] = await sql`SELECT pg_get_expr(d.adbin, d.adrelid) AS def FROM pg_attrdef d WHERE d.adrelid = 'stamped'::regclass`;
    expect(kept.def).toBe("now()");
    await run((o) => o.dropTable("stamped"));
  });

  it("fails the rerun of a CREATE INDEX CONCURRENTLY IF NOT EXISTS whose first build failed, instead of keeping its INVALID index", async () => {
    await sql`CREATE TABLE dup (a int)`;
    await sql`INSERT INTO dup VALUES (1), (1)`;
    const build = (o: Operations) => o.createIndex("dup_a", "dup", ["a"], { unique: true, concurrently: true, ifNotExists: true });
    await expect(run(build)).rejects.toMatchObject({ code: "23505" });
    await sql`DELETE FROM dup WHERE ctid = (SELECT min(ctid) FROM dup)`;
    // IF NOT EXISTS skips the INVALID index the failed build left: the check after it says so.
    await expect(run(build)).rejects.toMatchObject({ code: "55000", message: expect.stringContaining('index "dup_a" exists but is INVALID') });
    await run((o) => o.dropIndex("dup_a", { concurrently: true }));
    await run(build);
    const [index] = await sql`SELECT indisvalid FROM pg_index WHERE indexrelid = 'dup_a'::regclass`;
    expect(index.indisvalid).toBe(true);
    await sql`DROP TABLE dup`;
  });

  it("leaves the database as it was after the downgrade ops", async () => {
    await run(downgrade);
    expect(await userObjects()).toEqual(before);
  });
});
