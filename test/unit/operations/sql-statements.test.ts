import { describe, expect, it } from "vitest";
import { clientCopy, findMetaCommand, findOutsideTransactionOnly, findStringsSetting, findTransactionControl, psqlScriptText, splitStatements } from "../../../src/operations/sql-statements.ts";

describe("splitting SQL into statements as psql does", () => {
  it("splits at each semicolon and drops the semicolons", () => {
    expect(splitStatements("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n")).toEqual(["CREATE TABLE a (id int)", "CREATE TABLE b (id int)"]);
  });

  it("keeps a last statement without a semicolon", () => {
    expect(splitStatements("SELECT 1;\nSELECT 2")).toEqual(["SELECT 1", "SELECT 2"]);
  });

  it("gives nothing for empty text, white space or comments only", () => {
    expect(splitStatements("")).toEqual([]);
    expect(splitStatements("  \n\t")).toEqual([]);
    expect(splitStatements("-- nothing to do\n/* really */\n;;\n")).toEqual([]);
  });

  it("keeps the comments before a statement, and those inside it, with it", () => {
    expect(splitStatements("-- the table\n/* a note */\nCREATE TABLE a (\n  id int -- the key; not an end\n);")).toEqual(["-- the table\n/* a note */\nCREATE TABLE a (\n  id int -- the key; not an end\n)"]);
    expect(splitStatements("SELECT 1; -- then two\nSELECT 2;\n-- the end\n")).toEqual(["SELECT 1", "-- then two\nSELECT 2"]);
  });

  it("does not split inside quoted strings, with doubled quotes", () => {
    expect(splitStatements("INSERT INTO t VALUES ('a;b', 'it''s; fine');SELECT 2")).toEqual(["INSERT INTO t VALUES ('a;b', 'it''s; fine')", "SELECT 2"]);
  });

  it("reads backslashes as escapes only in E'' strings", () => {
    expect(splitStatements("SELECT E'a\\';b';SELECT 'c\\';SELECT 3")).toEqual(["SELECT E'a\\';b'", "SELECT 'c\\'", "SELECT 3"]);
  });

  it("does not split inside quoted identifiers or U& strings", () => {
    expect(splitStatements('CREATE TABLE "a;b" ("x"";y" int);SELECT U&\'d;\\0061\';SELECT 3')).toEqual(['CREATE TABLE "a;b" ("x"";y" int)', "SELECT U&'d;\\0061'", "SELECT 3"]);
  });

  it("does not split inside dollar quotes, tagged or not", () => {
    const fn = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; RETURN 1; END $$";
    const tagged = "DO $body$ BEGIN RAISE NOTICE '$$;'; END $body$";
    expect(splitStatements(`${fn};\n${tagged};\nSELECT 3;`)).toEqual([fn, tagged, "SELECT 3"]);
  });

  it("takes $1 and an identifier holding $ for what they are, not dollar quotes", () => {
    expect(splitStatements("PREPARE p (int) AS SELECT $1;SELECT a$b$ FROM t;SELECT 3")).toEqual(["PREPARE p (int) AS SELECT $1", "SELECT a$b$ FROM t", "SELECT 3"]);
  });

  it("does not split inside nested block comments", () => {
    expect(splitStatements("SELECT /* a /* b; */ c; */ 1;SELECT 2")).toEqual(["SELECT /* a /* b; */ c; */ 1", "SELECT 2"]);
  });

  it("does not split inside parentheses, as in a rule's action list", () => {
    const rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (1); INSERT INTO log VALUES (2))";
    expect(splitStatements(`${rule};SELECT 2`)).toEqual([rule, "SELECT 2"]);
  });

  it("keeps a BEGIN ATOMIC body, CASE … END inside it included, in its CREATE FUNCTION or PROCEDURE", () => {
    const fn = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; END";
    const proc = "create procedure p() begin atomic insert into t values (1); end";
    expect(splitStatements(`${fn};\n${proc};\nSELECT 3;`)).toEqual([fn, proc, "SELECT 3"]);
  });

  it("splits transaction blocks and other statements that merely say BEGIN or END", () => {
    expect(splitStatements("BEGIN; SELECT 1; END; CREATE TABLE begin_end (id int);")).toEqual(["BEGIN", "SELECT 1", "END", "CREATE TABLE begin_end (id int)"]);
  });

  it("keeps text that never closes its quote or comment as one last statement, for the server to report", () => {
    expect(splitStatements("SELECT 1; SELECT 'open;")).toEqual(["SELECT 1", "SELECT 'open;"]);
    expect(splitStatements("SELECT 1; /* open\nCREATE TABLE b ();")).toEqual(["SELECT 1", "/* open\nCREATE TABLE b ();"]);
  });

  it("splits concurrent index builds into one statement each", () => {
    expect(splitStatements("CREATE INDEX CONCURRENTLY a_idx ON t (a);\r\nCREATE INDEX CONCURRENTLY b_idx ON t (b);\r\n")).toEqual([
      "CREATE INDEX CONCURRENTLY a_idx ON t (a)",
      "CREATE INDEX CONCURRENTLY b_idx ON t (b)",
    ]);
  });
});

describe("a COPY that exchanges rows with the client", () => {
  it("is told apart: FROM STDIN and TO STDOUT, after comments, in any case", () => {
    expect(clientCopy("COPY t (id) FROM stdin")).toBe("FROM STDIN");
    expect(clientCopy("-- load\n/* rows */ copy t to STDOUT with (format csv)")).toBe("TO STDOUT");
    expect(clientCopy("COPY t FROM '/var/lib/data.csv'")).toBeUndefined();
    expect(clientCopy("SELECT 'COPY t FROM stdin'")).toBeUndefined();
    expect(clientCopy("INSERT INTO copy_log VALUES ('from stdin')")).toBeUndefined();
  });
});

describe("a psql meta-command", () => {
  it("is found at a backslash outside quotes, with the rest of its line", () => {
    const sql = "CREATE TABLE t (id int);\n\\set n 5\nINSERT INTO t VALUES (:n);";
    expect(findMetaCommand(sql)).toEqual({ offset: sql.indexOf("\\"), command: "\\set n 5" });
  });

  it("is not found in strings, E'' escapes, quoted identifiers, dollar quotes or comments", () => {
    expect(findMetaCommand("SELECT 'a\\b', E'c\\'d', \"e\\f\", $$\\i x$$, $t$\\g$t$ -- \\q\n/* \\! ls */")).toBeUndefined();
  });
});

describe("a statement that opens or ends a transaction block", () => {
  it("is found with the command and where it starts: BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION", () => {
    const sql = "CREATE TABLE t (id int);\n-- done\ncommit work;";
    expect(findTransactionControl(sql)).toEqual({ statement: "-- done\ncommit work", command: "COMMIT", offset: sql.indexOf("commit") });
    for (const [statement, command] of [["BEGIN", "BEGIN"], ["start  transaction isolation level serializable", "START TRANSACTION"], ["END", "END"], ["ROLLBACK", "ROLLBACK"], ["abort", "ABORT"], ["PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION"]]) {
      expect(findTransactionControl(`SELECT 1; ${statement}`)?.command).toBe(command);
    }
  });

  it("is not found in a savepoint rollback, COMMIT PREPARED, a BEGIN ATOMIC body, a CASE … END or a string", () => {
    expect(findTransactionControl("SAVEPOINT a; ROLLBACK TO SAVEPOINT a; ROLLBACK WORK TO a; COMMIT PREPARED 'x'")).toBeUndefined();
    expect(findTransactionControl("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELECT CASE WHEN true THEN 1 END, 'commit'; SELECT end_date FROM t")).toBeUndefined();
  });
});

describe("a -- comment", () => {
  it("ends at a carriage return as at a line feed, as the server and psql read it", () => {
    expect(splitStatements("CREATE TABLE a (id int); -- make b\rCREATE TABLE b (id int);")).toEqual(["CREATE TABLE a (id int)", "-- make b\rCREATE TABLE b (id int)"]);
    expect(findMetaCommand("SELECT 1 -- note\r\\! ls")?.command).toBe("\\! ls");
    expect(psqlScriptText("SELECT 1 -- note\rFROM t WHERE a[1:PORT] > 0").text).toBe("SELECT 1 -- note\rFROM t WHERE a[1: PORT] > 0");
    expect(findTransactionControl("-- note\rCOMMIT")?.command).toBe("COMMIT");
  });
});

describe("a statement as an offline script holds it for psql", () => {
  it("gets a space after each colon psql would read as a variable (:name, :'name', :\"name\", :{?name}), which the server reads alike", () => {
    expect(psqlScriptText("SELECT a[1:PORT], a[:n], :'USER', :\"DBNAME\", :{?x} FROM t").text).toBe("SELECT a[1: PORT], a[: n], : 'USER', : \"DBNAME\", : {?x} FROM t");
    expect(psqlScriptText("SELECT a[1:2], a[:é]").text).toBe("SELECT a[1: 2], a[: é]");
  });

  it("keeps :: casts, := and every colon inside strings, quoted identifiers, dollar quotes and comments", () => {
    const sql = "SELECT x::int, f(a := 1), ':PORT', E'\\':USER', U&':HOST', \":n\", $$:n$$, $f$:n$f$ -- :n\n/* :n /* :n */ */ FROM t";
    expect(psqlScriptText(sql)).toEqual({ text: sql });
  });

  it("reports a backslash outside quotes, a psql meta-command, with the rest of its line", () => {
    expect(psqlScriptText("SELECT 1 \\! touch x\nSELECT 2")).toEqual({ text: "SELECT 1 \\! touch x\nSELECT 2", backslash: "\\! touch x" });
    expect(psqlScriptText("SELECT 'a\\b', $$\\i x$$")).toEqual({ text: "SELECT 'a\\b', $$\\i x$$" });
  });

  it("reports a statement left inside a quote, a block comment or a dollar quote, into which psql would read the script's next lines", () => {
    expect(psqlScriptText("SELECT 'abc").unterminated).toBe("a quoted string");
    expect(psqlScriptText("SELECT E'abc\\'").unterminated).toBe("a quoted string");
    expect(psqlScriptText('SELECT "abc').unterminated).toBe("a quoted identifier");
    expect(psqlScriptText("SELECT 1 /* a /* b */").unterminated).toBe("a /* comment");
    expect(psqlScriptText("SELECT $x$ abc $$").unterminated).toBe("a $x$ dollar quote");
    expect(psqlScriptText("SELECT 1 -- to the end").unterminated).toBeUndefined();
  });

  it("reports a statement whose last ; psql does not take for its end, as the server does: a function named begin (read as a BEGIN ATOMIC body), an open parenthesis", () => {
    expect(psqlScriptText("CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$").readsOn).toBe("a BEGIN … END body");
    expect(psqlScriptText("CREATE OR REPLACE FUNCTION public.begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;").readsOn).toBe("a BEGIN … END body");
    expect(psqlScriptText("SELECT (1").readsOn).toBe("parentheses");
    // Statements psql ends where the server does.
    for (const sql of [
      "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 END; SELECT x; END",
      "SELECT 1; BEGIN",
      "CREATE TABLE begin (id int)",
      'CREATE FUNCTION "begin"() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
      "SELECT (1)) FROM t",
    ]) {
      expect(psqlScriptText(sql).readsOn, sql).toBeUndefined();
    }
  });
});

describe("a statement that may turn standard_conforming_strings off", () => {
  it("is found: SET (SESSION, LOCAL) to anything but on, RESET, RESET ALL, set_config", () => {
    expect(findStringsSetting("CREATE TABLE t (id int);\n-- old dump\nSET standard_conforming_strings = off;")).toBe("-- old dump\nSET standard_conforming_strings = off");
    for (const statement of ["set local standard_conforming_strings to false", "SET SESSION standard_conforming_strings = 'off'", "RESET standard_conforming_strings", "RESET ALL", "SELECT set_config('standard_conforming_strings', 'off', false)"]) {
      expect(findStringsSetting(`SELECT 1; ${statement}`)).toBe(statement);
    }
  });

  it("is not found in SET … = on (pg_dump writes it), a string, a comment, or RESET of another setting", () => {
    expect(findStringsSetting("SET standard_conforming_strings = on; SET LOCAL standard_conforming_strings TO 'on'; RESET search_path; SELECT 'RESET ALL' -- standard_conforming_strings = off")).toBeUndefined();
  });
});

describe("finding statements PostgreSQL refuses inside a transaction block", () => {
  it("names CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, VACUUM, CREATE DATABASE and the like, in any case and after comments", () => {
    const cases: [string, string][] = [
      ['CREATE INDEX CONCURRENTLY "i" ON "t" ("a")', "CREATE INDEX CONCURRENTLY"],
      ["create unique index concurrently if not exists i on t (a)", "CREATE INDEX CONCURRENTLY"],
      ['-- the index\nDROP INDEX CONCURRENTLY IF EXISTS "s"."i"', "DROP INDEX CONCURRENTLY"],
      ["REINDEX TABLE CONCURRENTLY t", "REINDEX CONCURRENTLY"],
      ["REINDEX (VERBOSE, CONCURRENTLY) INDEX i", "REINDEX CONCURRENTLY"],
      ["REINDEX DATABASE app", "REINDEX DATABASE"],
      ["ALTER TABLE m DETACH PARTITION m_2024 CONCURRENTLY", "DETACH PARTITION CONCURRENTLY"],
      ['ALTER TABLE "m" DETACH PARTITION "s"."m 2024" CONCURRENTLY', "DETACH PARTITION CONCURRENTLY"],
      ["/* weekly */ VACUUM (ANALYZE) t", "VACUUM"],
      ["CREATE DATABASE other", "CREATE DATABASE"],
      ["DROP DATABASE IF EXISTS other", "DROP DATABASE"],
      ["ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"],
      ["DISCARD ALL", "DISCARD ALL"],
    ];
    for (const [sql, command] of cases) expect(findOutsideTransactionOnly(`SELECT 1;\n${sql};`)).toEqual({ statement: sql, command });
  });

  it("leaves statements that run in a transaction, and the words inside strings, comments, names and bodies", () => {
    for (const sql of [
      'CREATE INDEX "concurrently" ON t (a)',
      "CREATE INDEX i ON t (a) WHERE note <> 'concurrently'",
      "REINDEX TABLE t",
      "ALTER TABLE m DETACH PARTITION m_2024",
      "ALTER TABLE m DETACH PARTITION m_2024 FINALIZE",
      "ANALYZE t",
      "ALTER DATABASE app SET work_mem = '64MB'",
      "DISCARD TEMP",
      "-- VACUUM t\nSELECT 1",
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT 'VACUUM' $$",
      "COMMENT ON TABLE t IS 'CREATE DATABASE x'",
    ]) {
      expect(findOutsideTransactionOnly(sql), sql).toBeUndefined();
    }
  });
});
