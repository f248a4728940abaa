import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import { openRevisionSet } from "../../src/bundle/open-revisions.ts";
import { loadConfig, resolveDatabase } from "../../src/config.ts";
import { openConnection } from "../../src/db/connection.ts";
import { LambicError } from "../../src/errors.ts";
import { planUpgrade } from "../../src/revision/plan.ts";
import type { RevisionSet } from "../../src/revision/revision-set.ts";
import { renderScript, runMigration, type MigrationCommand } from "../../src/runner/run.ts";
import type { Operations } from "../../src/operations/index.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inlineRevisionSet, tableHistory } from "../support/revisions.ts";
import { applyStatementByStatement, applyWithPsql, findPsql, schemaSnapshot } from "../support/schema-snapshot.ts";
import { tempDir } from "../support/temp-dir.ts";

/**
 * The offline script must do what the online run does: applying `upgrade head --sql` with
 * `psql -v ON_ERROR_STOP=1 -f` and running `upgrade head` online leave the same schema and the
 * same version rows (and likewise for downgrades). Without psql on the machine, the script is
 * applied statement by statement as psql would (applyStatementByStatement).
 */
const psql = findPsql();
const options = () => ({ versionTable: "lambic_version", lockTimeoutMs: 5_000, statementTimeoutMs: 0, actor: "test", runId: randomUUID() });
const databases: TestDatabase[] = [];
const workDir = tempDir("lambic-offline-");

afterEach(async () => {
  for (const db of databases.splice(0)) await db.drop();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase("offline");
  databases.push(db);
  return db;
}

async function online(db: TestDatabase, set: RevisionSet, command: MigrationCommand): Promise<void> {
  const connection = await openConnection(db.url, { driver: "postgres" });
  try {
    await runMigration(connection, set, command, options());
  } finally {
    await connection.close();
  }
}

async function offline(db: TestDatabase, set: RevisionSet, command: MigrationCommand, start: string[], range: string): Promise<string> {
  const { script } = await renderScript(set, command, start, { ...options(), generatedAt: new Date(), range });
  const file = join(workDir, `${randomUUID()}.sql`);
  writeFileSync(file, script);
  if (psql) applyWithPsql(psql, db.url, file);
  else await applyStatementByStatement(db.url, file);
  return script;
}

async function versionRows(db: TestDatabase): Promise<string[]> {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    return (await sql`SELECT version_num FROM lambic_version ORDER BY 1`).map((r) => r.version_num as string);
  } finally {
    await sql.end();
  }
}

async function sampleSet(): Promise<RevisionSet> {
  const root = resolve(import.meta.dirname, "../..");
  return openRevisionSet(resolveDatabase(loadConfig({ cwd: root, env: {} })), root);
}

function generatedSet(): RevisionSet {
  return inlineRevisionSet([
    ...tableHistory(20),
    { id: "e0000001", revises: "r0020", upgrade: (op) => { op.createEnum("mood", ["ok", "it's \"fine\""]); op.addColumn("t1", "mood", { type: "mood", default: "ok" }); }, downgrade: (op) => { op.dropColumn("t1", "mood"); op.dropEnum("mood"); } },
    { id: "i0000002", revises: "e0000001", transactional: false, upgrade: (op) => op.createIndex("t2_note_idx", "t2", ["note"], { concurrently: true }), downgrade: (op) => op.dropIndex("t2_note_idx", { concurrently: true }) },
    { id: "d0000003", revises: "i0000002", upgrade: (op) => op.bulkInsert("t3", [{ id: 1, note: "back\\slash 'quote' $$dollar$$" }]), downgrade: (op) => op.execute("DELETE FROM t3") },
    {
      id: "v0000004",
      revises: "d0000003",
      upgrade: (op) => {
        op.createSchema("reporting");
        op.execute("CREATE VIEW reporting.notes AS SELECT id, note FROM t3");
        op.execute("CREATE FUNCTION reporting.note_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM t3 $$");
        op.execute("COMMENT ON TABLE t3 IS 'notes, with ''quotes'''");
      },
      downgrade: (op) => {
        op.execute("COMMENT ON TABLE t3 IS NULL");
        op.execute("DROP FUNCTION reporting.note_count()");
        op.execute("DROP VIEW reporting.notes");
        op.execute("DROP SCHEMA reporting");
      },
    },
  ]);
}

describe(`offline SQL equals the online run (applied with ${psql ?? "the statements one by one, as psql would: no psql here"})`, () => {
  for (const [name, makeSet] of [["the sample history", sampleSet], ["a generated history", async () => generatedSet()]] as const) {
    it(`upgrade head leaves the same schema and version rows for ${name}`, async () => {
      const set = await makeSet();
      const [a, b] = [await database(), await database()];
      await online(a, set, { kind: "upgrade", target: "heads" });
      await offline(b, set, { kind: "upgrade", target: "heads" }, [], "heads");
      expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
      expect(await versionRows(b)).toEqual(await versionRows(a));
      expect(await versionRows(a)).toEqual([...set.map.heads].sort());
    });

    it(`downgrade head:base leaves the same schema and version rows for ${name}`, async () => {
      const set = await makeSet();
      const [a, b] = [await database(), await database()];
      await online(a, set, { kind: "upgrade", target: "heads" });
      await online(b, set, { kind: "upgrade", target: "heads" });
      await online(a, set, { kind: "downgrade", target: "base" });
      await offline(b, set, { kind: "downgrade", target: "base" }, [...set.map.heads], "heads:base");
      expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
      expect(await versionRows(b)).toEqual([]);
    });
  }

  for (const [from, to] of [["heads", "3b9e5f1a2d42"], ["heads", "5d2a7b3c4f64"], ["7f4c9d5e6b86", "4c1f6a2b3e53"]] as const) {
    it(`downgrade ${from}:${to} across the sample history's merge leaves the same schema and version rows`, async () => {
      const set = await sampleSet();
      const [a, b] = [await database(), await database()];
      await online(a, set, { kind: "upgrade", target: from });
      await online(b, set, { kind: "upgrade", target: from });
      await online(a, set, { kind: "downgrade", target: to });
      const start = from === "heads" ? [...set.map.heads] : [from];
      await offline(b, set, { kind: "downgrade", target: to }, start, `${from}:${to}`);
      expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
      expect(await versionRows(b)).toEqual(await versionRows(a));
    });
  }

  it("writes each step under Alembic's comment line, a non-transactional one between COMMIT and BEGIN", async () => {
    const set = generatedSet();
    const { script } = await renderScript(set, { kind: "upgrade", target: "heads" }, [], { ...options(), generatedAt: new Date(), range: "heads" });
    expect(script).toContain("-- Running upgrade  -> r0001\n");
    expect(script).toContain("-- Running upgrade r0001 -> r0002\n");
    expect(script).toContain(`INSERT INTO "lambic_version" (version_num) VALUES ('r0001');\n`);
    expect(script).not.toContain("RETURNING");
    expect(script).not.toContain(" AS at");
    // Outside the transaction the session gets the run's settings; the next transaction its SET
    // LOCALs. Each step writes Alembic's version-table statement, and the script reads no clock.
    expect(script).toMatch(
      /COMMIT;\n\nSET lock_timeout = '\d+ms';\n\nSET standard_conforming_strings = on;\n\nSET tcp_keepalives_idle = 60;\n\nSET tcp_keepalives_interval = 10;\n\nSET tcp_keepalives_count = 6;\n\n-- Running upgrade e0000001 -> i0000002\n[\s\S]*CREATE INDEX CONCURRENTLY[\s\S]*BEGIN;\n\nSET LOCAL lock_timeout = '\d+ms';\n\nSET LOCAL standard_conforming_strings = on;\n\nSET LOCAL tcp_keepalives_idle = 60;\n\nSET LOCAL tcp_keepalives_interval = 10;\n\nSET LOCAL tcp_keepalives_count = 6;\n\nUPDATE "lambic_version"/,
    );
    expect(script).toMatch(/INSERT INTO "lambic_history" \(.*\)\nSELECT '[^']+', 'lambic_version', .*\nFROM unnest\('\{"r0001",/);
    expect(script.trimEnd().endsWith("COMMIT;\n\nSELECT pg_advisory_unlock(hashtextextended('lambic:' || coalesce(current_schema(), '') || '.lambic_version', 0));")).toBe(true);
  });

  it("keeps a range with line breaks on its header comment line, so psql runs no meta-command from it", async () => {
    // A relative target ("+1") reads only its leading part, so the rest of what was typed reaches the header.
    const marker = join(workDir, `${randomUUID()}.ran`);
    const range = `base:+1\n\\! touch ${marker} #\r\u2028x`;
    const db = await database();
    const script = await offline(db, inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "+1" }, [], range);
    expect(script.split("\n")[0]).toMatch(/^-- lambic offline SQL: upgrade base:\+1\\n\\! touch \S+ #\\r\\u2028x \(database "[^"]*"\)$/);
    // The script's own meta-commands, and no other.
    expect(script.split("\n").filter((line) => line.startsWith("\\"))).toEqual(["\\set ON_ERROR_STOP on", "\\set AUTOCOMMIT on"]);
    expect(existsSync(marker)).toBe(false);
    expect(await versionRows(db)).toEqual(["r0001"]);
  });

  it("takes and releases a session lock keyed on a version table named with a backslash and a quote, on a server with standard_conforming_strings off", async () => {
    const db = await database();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`ALTER DATABASE "${db.name}" SET standard_conforming_strings = off`);
      await sql`CREATE TABLE y (id int)`;
      const versionTable = "v\\', 0)); DROP TABLE y; --";
      const { script } = await renderScript(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "heads" }, [], { ...options(), versionTable, perRevision: true, generatedAt: new Date(), range: "heads" });
      expect(script).toContain(`WHILE NOT pg_try_advisory_xact_lock(hashtextextended('lambic:' || coalesce(current_schema(), '') || E'.v\\\\'', 0)); DROP TABLE y; --', 0)) LOOP`);
      expect(script).toContain(`SELECT pg_advisory_lock(hashtextextended('lambic:' || coalesce(current_schema(), '') || E'.v\\\\'', 0)); DROP TABLE y; --', 0))\n;`);
      expect(script).toContain(`SELECT pg_advisory_unlock(hashtextextended('lambic:' || coalesce(current_schema(), '') || E'.v\\\\'', 0)); DROP TABLE y; --', 0))\n;`);
      const file = join(workDir, `${randomUUID()}.sql`);
      writeFileSync(file, script);
      if (psql) applyWithPsql(psql, db.url, file);
      else await applyStatementByStatement(db.url, file);
      expect((await sql`SELECT to_regclass('y') IS NOT NULL AS kept`)[0]!.kept).toBe(true);
      expect((await sql.unsafe(`SELECT version_num FROM "${versionTable.replaceAll('"', '""')}"`)).map((r) => r.version_num)).toEqual(["r0002"]);
    } finally {
      await sql.end();
    }
  });

  it("begins by setting what psql must have, whatever it was given: ON_ERROR_STOP, AUTOCOMMIT and the UTF-8 client encoding", async () => {
    const { script } = await renderScript(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "heads" }, [], { ...options(), generatedAt: new Date(), range: "heads" });
    const lines = script.split("\n");
    expect(lines).toContain("-- apply with: psql -X -v ON_ERROR_STOP=1 -f <this file>");
    const first = lines.findIndex((line) => !line.startsWith("--") && line !== "");
    expect(lines.slice(first, first + 4)).toEqual(["\\set ON_ERROR_STOP on", "\\set AUTOCOMMIT on", "", "SET client_encoding = 'UTF8';"]);
  });

  it.skipIf(!psql)("does what the run does when psql is given no -v ON_ERROR_STOP=1 nor -X, with a .psqlrc turning AUTOCOMMIT off, in a LATIN1 client encoding", async () => {
    const psqlrc = join(workDir, `${randomUUID()}.psqlrc`);
    writeFileSync(psqlrc, "\\set AUTOCOMMIT off\n\\set ON_ERROR_STOP off\n");
    const apply = (url: string, file: string) =>
      spawnSync(psql!, ["-q", "-d", url, "-f", file], { encoding: "utf8", env: { ...process.env, PSQLRC: psqlrc, PGCLIENTENCODING: "LATIN1" } });
    const history = (failing: boolean) =>
      inlineRevisionSet([
        { id: "u0000001", revises: null, upgrade: (op) => { op.createTable("t", { id: "int", note: "text" }); op.bulkInsert("t", [{ id: 1, note: "café straße 中文 ✓" }, { id: 1, note: "twice" }]); } },
        { id: "u0000002", revises: "u0000001", upgrade: (op) => op.createIndex("t_id", "t", ["id"], { unique: failing }) },
        { id: "u0000003", revises: "u0000002", transactional: false, upgrade: (op) => op.createIndex("t_note", "t", ["note"], { concurrently: true }) },
        { id: "u0000004", revises: "u0000003", upgrade: (op) => op.createTable("after", { id: "int" }) },
      ]);
    for (const failing of [false, true]) {
      const set = history(failing);
      const [a, b] = [await database(), await database()];
      const ran = await online(a, set, { kind: "upgrade", target: "heads" }).then(() => true, () => false);
      expect(ran).toBe(!failing);
      const { script } = await renderScript(set, { kind: "upgrade", target: "heads" }, [], { ...options(), generatedAt: new Date(), range: "heads" });
      const file = join(workDir, `${randomUUID()}.sql`);
      writeFileSync(file, script);
      const result = apply(b.url, file);
      // psql stops at the failure (exit 3) instead of running on and committing what follows it.
      expect(result.status).toBe(failing ? 3 : 0);
      if (failing) {
        // Nothing stays, lambic's own tables included: they are made in the script's transaction.
        expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
        expect((await schemaSnapshot(b.url)).columns).toEqual([]);
      } else {
        expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
        expect(await versionRows(b)).toEqual(await versionRows(a));
        const notes = async (url: string) => {
          const sql = postgres(url, { max: 1, onnotice: () => {} });
          try {
            return (await sql`SELECT note FROM t ORDER BY note`).map((r) => r.note as string);
          } finally {
            await sql.end();
          }
        };
        expect(await notes(b.url)).toEqual(await notes(a.url));
        expect(await notes(b.url)).toContain("café straße 中文 ✓");
      }
    }
  });

  it("leaves psql nothing to substitute in a revision's colons (arr[1:PORT], arr[1:\"DBNAME\"]): the view reads as online", async () => {
    const set = inlineRevisionSet([
      {
        id: "c0000001",
        revises: null,
        upgrade: (op) => {
          op.execute("CREATE TABLE conf (port int, \"DBNAME\" int, vals int[])");
          op.execute("INSERT INTO conf VALUES (2, 1, '{10,20,30}')");
          // PORT and DBNAME are psql variables in every psql session.
          op.execute("CREATE VIEW v AS SELECT vals[1:PORT] AS head, vals[:PORT] AS upto, vals[1:\"DBNAME\"] AS first, ':PORT' AS quoted FROM conf");
        },
      },
    ]);
    const [a, b] = [await database(), await database()];
    await online(a, set, { kind: "upgrade", target: "heads" });
    const script = await offline(b, set, { kind: "upgrade", target: "heads" }, [], "heads");
    expect(script).toContain(`SELECT vals[1: PORT] AS head, vals[: PORT] AS upto, vals[1: "DBNAME"] AS first, ':PORT' AS quoted FROM conf;`);
    const view = async (url: string) => {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        return [...(await sql`SELECT * FROM v`)];
      } finally {
        await sql.end();
      }
    };
    expect(await view(b.url)).toEqual(await view(a.url));
    expect(await view(a.url)).toEqual([{ head: [10, 20], upto: [10, 20], first: [10], quoted: ":PORT" }]);
    expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
  });

  it("ends a statement psql would read on from although the server ends it (a function named begin) with \\g: the script does what the run does, a CREATE INDEX CONCURRENTLY after it included", async () => {
    const set = inlineRevisionSet([
      {
        id: "b0000001",
        revises: null,
        upgrade: (op) => {
          op.createTable("t", { id: "int" });
          op.execute("CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$");
          op.execute("CREATE FUNCTION begin_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM t $$");
        },
      },
      { id: "b0000002", revises: "b0000001", transactional: false, upgrade: (op) => op.createIndex("t_id", "t", ["id"], { concurrently: true }) },
    ]);
    const [a, b] = [await database(), await database()];
    await online(a, set, { kind: "upgrade", target: "heads" });
    const script = await offline(b, set, { kind: "upgrade", target: "heads" }, [], "heads");
    expect(script).toContain("CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$\n\\g\n");
    expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
    expect(await versionRows(b)).toEqual(["b0000002"]);
  });

  it("keeps a statement's trailing no-break space, part of a name to PostgreSQL: the view's column is named as online", async () => {
    const set = inlineRevisionSet([{ id: "s0000001", revises: null, upgrade: (op) => op.execute("CREATE VIEW v AS SELECT 1 AS a\u00a0") }]);
    const [a, b] = [await database(), await database()];
    await online(a, set, { kind: "upgrade", target: "heads" });
    await offline(b, set, { kind: "upgrade", target: "heads" }, [], "heads");
    expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
    expect((await schemaSnapshot(b.url)).columns).toContainEqual(expect.objectContaining({ relname: "v", attname: "a\u00a0" }));
  });

  it("refuses to render a statement psql would read on from (an open quote or comment), naming the revision and the statement", async () => {
    for (const [sql, inside] of [["SELECT 'abc", "a quoted string"], ["SELECT 1 /* note", "a /* comment"], ["DO $body$ BEGIN END $$", "a $body$ dollar quote"]] as const) {
      const set = inlineRevisionSet([{ id: "o0000001", revises: null, upgrade: (op) => op.execute(sql) }]);
      const error = await renderScript(set, { kind: "upgrade", target: "heads" }, [], { ...options(), generatedAt: new Date(), range: "heads" }).catch((e) => e);
      expect(error).toBeInstanceOf(LambicError);
      expect(error.code).toBe("INVALID_OPERATION");
      expect(error.details).toMatchObject({ revision: "o0000001", statement: sql, unterminated: inside });
      expect(error.message).toContain(`Revision o0000001 (upgrade): the statement ${sql} ends inside ${inside}, which the server refuses online while psql would read the script's next statements`);
    }
  });

  it("refuses CREATE INDEX CONCURRENTLY (and VACUUM in a .sql section) in a transactional revision online and offline alike, before anything runs, naming the revision", async () => {
    for (const upgrade of [
      (op: Operations) => op.createIndex("t_note", "t", ["note"], { concurrently: true }),
      (op: Operations) => op.dropIndex("t_note", { concurrently: true }),
      (op: Operations) => op.execute("-- tidy up\nVACUUM (ANALYZE) t;"),
    ]) {
      const set = inlineRevisionSet([
        { id: "c0000001", revises: null, upgrade: (op) => op.createTable("t", { id: "int primary key", note: "text" }) },
        { id: "c0000002", revises: "c0000001", upgrade },
      ]);
      const db = await database();
      const onlineError = await online(db, set, { kind: "upgrade", target: "heads" }).catch((e) => e);
      const offlineError = await renderScript(set, { kind: "upgrade", target: "heads" }, [], { ...options(), generatedAt: new Date(), range: "heads" }).catch((e) => e);
      for (const error of [onlineError, offlineError]) {
        expect(error).toBeInstanceOf(LambicError);
        expect(error.code).toBe("INVALID_OPERATION");
        expect(error.details).toMatchObject({ revision: "c0000002" });
        expect(error.message).toContain("cannot run inside a transaction block (PostgreSQL refuses it with SQLSTATE 25001), and revision c0000002 is transactional");
        expect(error.message).toContain("Mark revision c0000002 non-transactional (transactional: false");
      }
      // Online, the run stopped before sending anything of it: the first revision was rolled back too.
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      expect(await sql`SELECT to_regclass('t') AS t`).toEqual([{ t: null }]);
      await sql.end();
    }
  });

  it("runs an op.execute of several statements in a non-transactional revision one by one, as psql runs the script: two CREATE INDEX CONCURRENTLY, and what ran before a failure stays", async () => {
    const history = (failing: boolean) =>
      inlineRevisionSet([
        { id: "n0000001", revises: null, upgrade: (op) => op.createTable("t", { id: "int primary key", note: "text" }) },
        {
          id: "n0000002",
          revises: "n0000001",
          transactional: false,
          upgrade: (op) => {
            op.execute("CREATE INDEX CONCURRENTLY t_note ON t (note); CREATE INDEX CONCURRENTLY t_both ON t (id, note)");
            op.execute(`INSERT INTO t VALUES (1, 'kept');\nINSERT INTO t VALUES (${failing ? 1 : 2}, 'second')`);
          },
        },
      ]);
    const rows = async (url: string) => {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT id, note FROM t ORDER BY id`).map((r) => `${r.id} ${r.note}`);
      } finally {
        await sql.end();
      }
    };
    for (const failing of [false, true]) {
      const set = history(failing);
      const [a, b] = [await database(), await database()];
      const error = await online(a, set, { kind: "upgrade", target: "heads" }).catch((e) => e);
      const applied = await offline(b, set, { kind: "upgrade", target: "heads" }, [], "heads").then(() => true, () => false);
      expect(applied).toBe(!failing);
      if (failing) {
        expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "n0000002", statement: "INSERT INTO t VALUES (1, 'second')" } });
      } else {
        expect(error).toBeUndefined();
      }
      expect(await rows(a.url)).toEqual(failing ? ["1 kept"] : ["1 kept", "2 second"]);
      expect(await rows(b.url)).toEqual(await rows(a.url));
      expect(await schemaSnapshot(b.url)).toEqual(await schemaSnapshot(a.url));
      expect(await versionRows(b)).toEqual(await versionRows(a));
    }
  });

  it("takes the run lock before it creates lambic's tables, in its transaction, as the run does: a script that finds the lock taken leaves nothing", async () => {
    const set = inlineRevisionSet(tableHistory(1));
    const { script } = await renderScript(set, { kind: "upgrade", target: "heads" }, [], { ...options(), lockTimeoutMs: 300, generatedAt: new Date(), range: "heads" });
    const order = ["BEGIN;", "SELECT pg_advisory_xact_lock(", "SELECT pg_advisory_xact_lock(hashtextextended('lambic-tables:'", 'CREATE TABLE IF NOT EXISTS "lambic_version"', "-- Running upgrade"].map((text) => script.indexOf(text));
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    const db = await database();
    const holder = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await holder`SELECT pg_advisory_lock(hashtextextended('lambic:' || coalesce(current_schema(), '') || '.lambic_version', 0))`;
      const file = join(workDir, `${randomUUID()}.sql`);
      writeFileSync(file, script);
      const applied = psql ? Promise.resolve().then(() => applyWithPsql(psql, db.url, file)) : applyStatementByStatement(db.url, file);
      await expect(applied).rejects.toThrow(/lock timeout/);
      expect((await holder`SELECT to_regclass('lambic_version') AS versions, to_regclass('lambic_history') AS history`)[0]).toEqual({ versions: null, history: null });
    } finally {
      await holder.end();
    }
  });

  it("waits for the run lock outside a transaction, as the run does: a CREATE INDEX CONCURRENTLY of the session holding it does not wait for the script", async () => {
    const db = await database();
    const set = inlineRevisionSet(tableHistory(1));
    const { script } = await renderScript(set, { kind: "upgrade", target: "heads" }, [], { ...options(), lockTimeoutMs: 20_000, generatedAt: new Date(), range: "heads" });
    const file = join(workDir, `${randomUUID()}.sql`);
    writeFileSync(file, script);
    const holder = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await holder`CREATE TABLE busy (id int)`;
      await holder`SELECT pg_advisory_lock(hashtextextended('lambic:' || coalesce(current_schema(), '') || '.lambic_version', 0))`;
      const applied = psql
        ? new Promise<void>((resolve, reject) => {
            const child = spawn(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.url, "-f", file], { stdio: "ignore" });
            child.on("error", reject);
            child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`))));
          })
        : applyStatementByStatement(db.url, file);
      await new Promise((resolve) => setTimeout(resolve, 500)); // the script is waiting now
      const started = performance.now();
      // It waits for every transaction holding a snapshot older than its own: a wait in a statement would be one, until the script's lock_timeout.
      await holder`CREATE INDEX CONCURRENTLY busy_id ON busy (id)`;
      expect(performance.now() - started).toBeLessThan(5_000);
      await holder`SELECT pg_advisory_unlock_all()`;
      await applied;
      expect(await versionRows(db)).toEqual(["r0001"]);
    } finally {
      await holder.end();
    }
  });

  it("refuses a revision that reads data while rendering offline, naming it", async () => {
    const set = inlineRevisionSet([{ id: "q0000001", revises: null, upgrade: async (_op, ctx) => void (await ctx.query("SELECT 1")) }]);
    const error = await renderScript(set, { kind: "upgrade", target: "head" }, [], { ...options(), generatedAt: new Date(), range: "head" }).catch((e) => e);
    expect(error).toBeInstanceOf(LambicError);
    expect(error.code).toBe("OFFLINE_QUERY");
    expect(error.message).toMatch(/^Revision q0000001 \(upgrade\) reads data with ctx\.query \(SELECT 1\), which cannot run while rendering offline SQL/);
  });

  it("refuses to render a downgrade through a revision without a downgrade, naming it, as the run refuses it", async () => {
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 0 ? { downgrade: null } : {})));
    const error = await renderScript(set, { kind: "downgrade", target: "base" }, ["r0003"], { ...options(), generatedAt: new Date(), range: "r0003:base" }).catch((e) => e);
    expect(error).toBeInstanceOf(LambicError);
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain('would undo revision r0001, which has no downgrade (inline/r0001.ts); nothing was run. Add a downgrade function (one that does nothing when there is nothing to undo), or downgrade to r0001');
    expect(error.message).toContain('"lambic stamp base" (the {"command": "stamp", "target": "base"} event).');
  });

  it("plans the same steps online and offline for a partial range", async () => {
    const set = generatedSet();
    const db = await database();
    await online(db, set, { kind: "upgrade", target: "r0010" });
    const script = await offline(db, set, { kind: "upgrade", target: "heads" }, ["r0010"], "r0010:heads");
    const ran = [...script.matchAll(/^-- Running upgrade .* -> (\w+)$/gm)].map((m) => m[1]);
    expect(ran).toEqual(planUpgrade(set.map, ["r0010"], "heads").map((s) => s.revision));
    expect(await versionRows(db)).toEqual(["v0000004"]);
  });
});
