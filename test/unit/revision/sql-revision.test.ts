import { describe, expect, it } from "vitest";
import { LambicError } from "../../../src/errors.ts";
import { parseSqlRevision, renderSqlRevision, SQL_REVISION_FIELDS, sqlHeaderMessage } from "../../../src/revision/sql-revision.ts";
import type { RevisionContext } from "../../../src/revision/types.ts";

const FILE = "revisions/main/2024_05_01_1200_3ab8b2dfb055_add_invoice.sql";

function recordingOp() {
  const executed: string[] = [];
  const op = { execute: (sql: string) => void executed.push(sql) } as never;
  return { op, executed };
}

const ctx = {} as RevisionContext;

function sql(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parseError(text: string): LambicError {
  try {
    parseSqlRevision(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(LambicError);
    return error as LambicError;
  }
  throw new Error("expected parseSqlRevision to throw");
}

const FULL = sql(
  "-- revision: 3ab8b2dfb055",
  "-- revises: 1975ea83b712",
  "-- depends-on: core, 27c6a30d7c24",
  "-- branch-labels: billing",
  "-- message: add invoice table",
  "-- transactional: false",
  "-- +up",
  "CREATE TABLE invoice (id bigint PRIMARY KEY);",
  "-- +down",
  "DROP TABLE invoice;",
);

describe("parseSqlRevision", () => {
  it("reads every header field", () => {
    const revision = parseSqlRevision(FULL, FILE);
    expect(revision).toMatchObject({
      id: "3ab8b2dfb055",
      revises: "1975ea83b712",
      dependsOn: ["core", "27c6a30d7c24"],
      branchLabels: ["billing"],
      message: "add invoice table",
      transactional: false,
    });
  });

  it("makes a revision without revises a base", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- +up", "SELECT 1;"), FILE);
    expect(revision.revises).toBeNull();
    expect(revision).toMatchObject({ dependsOn: [], branchLabels: [], message: "", transactional: true });
  });

  it("makes a comma-separated revises a merge point", () => {
    const revision = parseSqlRevision(sql("-- revision: m1", "-- revises: a1, b2", "-- +up"), FILE);
    expect(revision.revises).toEqual(["a1", "b2"]);
  });

  it("upgrades by executing the up section's statement", async () => {
    const { op, executed } = recordingOp();
    await parseSqlRevision(FULL, FILE).upgrade(op, ctx);
    expect(executed).toEqual(["CREATE TABLE invoice (id bigint PRIMARY KEY)"]);
  });

  it("downgrades by executing the down section's statement", async () => {
    const { op, executed } = recordingOp();
    await parseSqlRevision(FULL, FILE).downgrade!(op, ctx);
    expect(executed).toEqual(["DROP TABLE invoice"]);
  });

  it("executes a multi-statement section one statement at a time, as psql -f would, comments kept", async () => {
    const { op, executed } = recordingOp();
    await parseSqlRevision(sql("-- revision: a1", "-- +up", "", "-- note: first", "CREATE TABLE a ();", "CREATE TABLE b ();", ""), FILE).upgrade(op, ctx);
    expect(executed).toEqual(["-- note: first\nCREATE TABLE a ()", "CREATE TABLE b ()"]);
  });

  it("refuses a COPY … FROM STDIN with its inline rows, naming its line", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "CREATE TABLE t (id int);", "", "COPY t (id) FROM stdin;", "1", "2", "\\."));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`${FILE}:5: the statement is COPY … FROM STDIN, whose rows psql sends after it and lambic cannot: insert the rows with INSERT … VALUES (op.bulkInsert in a TypeScript revision), or COPY from a file the server can read.`);
  });

  it("refuses a revision id longer than the 32 characters version_num holds, naming its line", () => {
    const id = "a".repeat(33);
    const error = parseError(sql("-- message: long", `-- revision: ${id}`, "-- +up", "SELECT 1;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`${FILE}:2: revision: "${id}" is 33 characters; the version table's version_num column (varchar(32), as in Alembic) holds at most 32. Choose another id.`);
  });

  it("refuses a revision id that is a target symbol, naming its line", () => {
    const error = parseError(sql("-- message: m", "-- revision: heads", "-- +up", "SELECT 1;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`${FILE}:2: revision: "heads" is reserved (it is a target symbol). Choose another id.`);
  });

  it("refuses a branch label that is a target symbol, naming its line", () => {
    const error = parseError(sql("-- revision: a1", "-- branch-labels: billing, head", "-- +up", "SELECT 1;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`${FILE}:2: branch-labels: "head" is reserved: it is a target symbol, so "head" would never name the branch. Choose another label.`);
  });

  it("refuses a psql meta-command in a section, naming its line", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "CREATE TABLE t (id int);", "-- +down", "\\i drop_t.sql"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(
      `${FILE}:5: "\\i drop_t.sql" is a psql meta-command (a backslash outside quotes), which lambic cannot run: it sends SQL to the server itself, without psql, and an offline script would hand it to psql. Write it as SQL (an \\i file's statements in the revision, a \\set value as a literal).`,
    );
    expect(error.details).toMatchObject({ file: FILE, line: 5, command: "\\i drop_t.sql" });
  });

  it("refuses a COMMIT in a transactional revision's section, naming its line", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "BEGIN;", "CREATE TABLE t (id int);", "COMMIT;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:3: the statement BEGIN controls a transaction, which is lambic's to do`);
    expect(error.details).toMatchObject({ file: FILE, line: 3, statement: "BEGIN" });
  });

  it("accepts BEGIN and COMMIT in a revision with transactional: false", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- transactional: false", "-- +up", "BEGIN;", "CREATE TABLE t (id int);", "COMMIT;"), FILE);
    expect(revision.transactional).toBe(false);
  });

  it("has no downgrade without a -- +down section", () => {
    expect(parseSqlRevision(sql("-- revision: a1", "-- +up", "SELECT 1;"), FILE).downgrade).toBeUndefined();
  });

  it("makes an empty -- +down section a downgrade that executes nothing", async () => {
    const { op, executed } = recordingOp();
    const revision = parseSqlRevision(sql("-- revision: a1", "-- +up", "SELECT 1;", "-- +down", ""), FILE);
    await revision.downgrade!(op, ctx);
    expect(executed).toEqual([]);
  });

  it("executes nothing for an empty up section", async () => {
    const { op, executed } = recordingOp();
    await parseSqlRevision(sql("-- revision: a1", "-- +up", "-- +down", "SELECT 1;"), FILE).upgrade(op, ctx);
    expect(executed).toEqual([]);
  });

  it("accepts blank lines and plain comments in the header", () => {
    const revision = parseSqlRevision(sql("-- Invoices for billing", "", "--", "-- revision: a1", "", "-- message: hi", "-- +up"), FILE);
    expect(revision).toMatchObject({ id: "a1", message: "hi" });
  });

  it("accepts CRLF line endings and a byte-order mark", () => {
    const revision = parseSqlRevision("\uFEFF-- revision: a1\r\n-- revises: b2\r\n-- +up\r\nSELECT 1;\r\n", FILE);
    expect(revision).toMatchObject({ id: "a1", revises: "b2" });
  });

  it("reads header field names written in another case, with underscores or in camelCase", () => {
    const revision = parseSqlRevision(
      sql("-- Revision: a1", "-- REVISES: b2", "-- depends_on: core", "-- branchLabels: billing", "-- Message: hi", "-- Transactional: false", "-- +up"),
      FILE,
    );
    expect(revision).toMatchObject({ id: "a1", revises: "b2", dependsOn: ["core"], branchLabels: ["billing"], message: "hi", transactional: false });
  });

  it("reads a field name written as words, like -- Depends on: or -- Branch labels:, as that field", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- Revises: b2", "-- Depends on: core", "-- branch  labels: billing", "-- +up"), FILE);
    expect(revision).toMatchObject({ id: "a1", revises: "b2", dependsOn: ["core"], branchLabels: ["billing"] });
  });

  it("keeps a comment of several words that is near no field name, like -- Create Date:, a plain comment in the header", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- Create Date: 2024-05-01", "-- see also: the ticket", "-- +up"), FILE);
    expect(revision.id).toBe("a1");
  });

  it("reads a header field whose value holds a U+2028 line separator, rather than taking the line for a comment", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- revises: b2 \u2028", "-- message: one\u2028two", "-- +up"), FILE);
    expect(revision).toMatchObject({ id: "a1", revises: "b2", message: "one\u2028two" });
  });

  it("keeps a capitalized comment that is no field name, like -- Note:, a plain comment in the header", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- Note: see the ticket", "-- TODO: index later", "-- +up"), FILE);
    expect(revision.id).toBe("a1");
  });

  it("reads section markers in another case or with a space after the +", async () => {
    const { op, executed } = recordingOp();
    const revision = parseSqlRevision(sql("-- revision: a1", "-- + up", "SELECT 1;", "-- +DOWN", "SELECT 2;"), FILE);
    await revision.upgrade(op, ctx);
    await revision.downgrade!(op, ctx);
    expect(executed).toEqual(["SELECT 1", "SELECT 2"]);
  });

  it("accepts markers and fields without a space after the dashes", () => {
    const revision = parseSqlRevision(sql("--revision: a1", "--+up", "SELECT 1;", "--+down"), FILE);
    expect(revision.id).toBe("a1");
    expect(revision.downgrade).toBeDefined();
  });
});

describe("parseSqlRevision errors", () => {
  it("rejects an unknown header field, with its line, the valid fields and a suggestion", () => {
    const error = parseError(sql("-- revision: a1", "-- revison: b2", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain('"revison"');
    expect(error.message).toContain('Did you mean "revision"?');
    expect(error.message).toContain(SQL_REVISION_FIELDS.join(", "));
    expect(error.details).toMatchObject({ file: FILE, line: 2 });
  });

  it("rejects a near miss of a field name in another case, as written, with a suggestion", () => {
    const error = parseError(sql("-- revision: a1", "-- Revison: b2", "-- +up"));
    expect(error.message).toContain(`${FILE}:2: unknown header field "Revison". Did you mean "revision"?`);
  });

  it("rejects a near miss of a field name written as words, which would drop the field, with a suggestion", () => {
    const error = parseError(sql("-- revision: a1", "-- Branch label: billing", "-- +up"));
    expect(error.message).toContain(`${FILE}:2: unknown header field "Branch label". Did you mean "branch-labels"?`);
  });

  it("rejects a lowercase field name with underscores that is no field, like Alembic's down_revision", () => {
    const error = parseError(sql("-- revision: a1", "-- down_revision: b2", "-- +up"));
    expect(error.message).toContain(`${FILE}:2: unknown header field "down_revision".`);
  });

  it("rejects the same field written twice in two spellings, naming both lines", () => {
    const error = parseError(sql("-- revision: a1", "-- revises: b2", "-- Revises: c3", "-- +up"));
    expect(error.message).toContain(`${FILE}:3: duplicate header field "revises" (first on line 2, "Revises" is the same field)`);
  });

  it("rejects a duplicate header field, naming both lines", () => {
    const error = parseError(sql("-- revision: a1", "-- message: one", "-- message: two", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:3:`);
    expect(error.message).toContain("first on line 2");
  });

  it("rejects a file without -- revision:", () => {
    const error = parseError(sql("-- message: hi", "-- +up", "SELECT 1;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:1:`);
    expect(error.message).toContain("-- revision:");
  });

  it("rejects a revision id with characters outside letters, digits and _", () => {
    const error = parseError(sql("-- revision: ab-12", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:1:`);
    expect(error.message).toContain('"ab-12"');
    expect(error.details).toMatchObject({ value: "ab-12" });
  });

  it("rejects an invalid id in revises", () => {
    const error = parseError(sql("-- revision: a1", "-- revises: b2, c@3", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain('"c@3"');
  });

  it("rejects an empty entry in a list", () => {
    const error = parseError(sql("-- revision: a1", "-- depends-on: core,", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain("empty entry");
  });

  it("rejects a parent listed twice in revises, naming its line", () => {
    const error = parseError(sql("-- revision: a1", "-- revises: b2, b2", "-- +up"));
    expect(error.message).toBe(`${FILE}:2: revises: "b2" is listed twice; list each once.`);
  });

  it("rejects an empty revises, pointing at leaving the line out for a base", () => {
    const error = parseError(sql("-- revision: a1", "-- revises:", "-- +up"));
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain("leave the line out for a base");
  });

  it("rejects a transactional value other than true or false", () => {
    const error = parseError(sql("-- revision: a1", "-- transactional: no", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain('"no"');
  });

  it("rejects a file without -- +up, at its last line", () => {
    const error = parseError(sql("-- revision: a1", "-- message: hi"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:3:`);
    expect(error.message).toContain("-- +up");
  });

  it("rejects -- +up after -- +down", () => {
    const error = parseError(sql("-- revision: a1", "-- +down", "DROP TABLE a;", "-- +up", "CREATE TABLE a ();"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain('"-- +down" comes before any "-- +up"');
  });

  it("rejects a second -- +up after the down section", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "SELECT 1;", "-- +down", "SELECT 2;", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:6:`);
  });

  it("rejects a second -- +down", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "-- +down", "-- +down"));
    expect(error.message).toContain(`${FILE}:4:`);
    expect(error.message).toContain("first is on line 3");
  });

  it("rejects a header field after -- +up started", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "SELECT 1;", "-- revises: b2"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:4:`);
    expect(error.message).toContain("move it above");
  });

  it("rejects SQL before -- +up", () => {
    const error = parseError(sql("-- revision: a1", "CREATE TABLE a ();", "-- +up"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:2:`);
    expect(error.message).toContain("SQL before");
  });

  it("rejects a section marker with more on its line, which would leave the down SQL in the up section", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "CREATE TABLE t (id int);", "-- +down: drop it", "DROP TABLE t;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:4: "-- +down: drop it" looks like a section marker with more on its line`);
  });

  it("rejects a section marker with another dash, another + or no +, which as a comment would leave the down SQL in the up section", () => {
    for (const marker of ["--- +down", "-- ++down", "-- down", "-- Down:"]) {
      const error = parseError(sql("-- revision: a1", "-- +up", "CREATE TABLE t (id int);", marker, "DROP TABLE t;"));
      expect(error.code).toBe("REVISION_FILE_INVALID");
      expect(error.message).toContain(`${FILE}:4: "${marker}" looks like a section marker`);
      expect(error.message).toContain('write "-- +up" or "-- +down"');
    }
  });

  it("keeps a comment that only starts with up or down, like -- Down the road:, part of the SQL", () => {
    const revision = parseSqlRevision(sql("-- revision: a1", "-- +up", "-- up to 3 rows", "SELECT 1;", "-- downgrade is lossy", "-- +down"), FILE);
    expect(revision.downgrade).toBeDefined();
  });

  it("rejects a -- +down inside a dollar-quoted body, which would cut the function in two, naming the marker's line", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "CREATE FUNCTION f() RETURNS int AS $body$", "-- +down", "SELECT 1 $body$ LANGUAGE sql;"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:4: "-- +down" is inside a $body$ dollar quote that the up section opens`);
    expect(error.details).toMatchObject({ file: FILE, line: 4 });
  });

  it("keeps lines inside a dollar-quoted body or a /* comment that look like a header field or a mistyped marker as part of the SQL", () => {
    const body = ["-- message: greets", "-- revises: nothing", "-- down", "-- +down: not here"];
    const revision = parseSqlRevision(
      sql("-- revision: a1", "-- +up", "CREATE FUNCTION f() RETURNS int AS $body$", ...body, "SELECT 1 $body$ LANGUAGE sql;", "/*", ...body, "*/", "-- +down", "DROP FUNCTION f();"),
      FILE,
    );
    expect(revision.message).toBe("");
    expect(revision.revises).toBeNull();
    expect(revision.downgrade).toBeDefined();
    // Outside the body the same lines are still refused.
    expect(parseError(sql("-- revision: a1", "-- +up", "SELECT 1;", "-- message: greets")).message).toContain(`${FILE}:4: header field "message" after "-- +up"`);
  });

  it("rejects a -- +down after an up section that leaves a quoted string or a comment open", () => {
    expect(parseError(sql("-- revision: a1", "-- +up", "INSERT INTO t VALUES ('a", "-- +down", "');")).message).toContain(`${FILE}:4: "-- +down" is inside a quoted string`);
    expect(parseError(sql("-- revision: a1", "-- +up", "SELECT 1; /* note", "-- +down", "*/")).message).toContain(`${FILE}:4: "-- +down" is inside a /* comment`);
  });

  it("rejects an unknown section marker", () => {
    const error = parseError(sql("-- revision: a1", "-- +up", "SELECT 1;", "-- +downgrade"));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${FILE}:4:`);
    expect(error.message).toContain('"-- +up" and "-- +down"');
  });
});

describe("renderSqlRevision", () => {
  it("renders every field in header order", () => {
    const text = renderSqlRevision(
      { id: "3ab8b2dfb055", revises: "1975ea83b712", dependsOn: ["core"], branchLabels: ["billing"], message: "add invoice", transactional: false },
      "CREATE TABLE invoice ();",
      "DROP TABLE invoice;",
    );
    expect(text).toBe(
      sql(
        "-- revision: 3ab8b2dfb055",
        "-- revises: 1975ea83b712",
        "-- depends-on: core",
        "-- branch-labels: billing",
        "-- message: add invoice",
        "-- transactional: false",
        "-- +up",
        "CREATE TABLE invoice ();",
        "-- +down",
        "DROP TABLE invoice;",
      ),
    );
  });

  it("leaves out revises for a base and the optional fields when empty", () => {
    const text = renderSqlRevision({ id: "a1", revises: null, message: "first" }, "", "");
    expect(text).toBe(sql("-- revision: a1", "-- message: first", "-- +up", "", "-- +down", ""));
  });

  it("leaves out the -- +down section when downSql is undefined", () => {
    expect(renderSqlRevision({ id: "a1", revises: null }, "SELECT 1;")).not.toContain("-- +down");
  });

  it("keeps a multi-line message on its header line", () => {
    const text = renderSqlRevision({ id: "a1", revises: null, message: "two\nlines" }, "");
    expect(parseSqlRevision(text, FILE).message).toBe("two lines");
  });

  it("writes a message that loads back as sqlHeaderMessage says, so lambic revision --sql can report what the file holds", () => {
    for (const message of ["  padded\t", "a\r\n\r\nb", "\n-- +down\nDROP TABLE x;", "it's \"quoted\" -- ok: yes", "ça 🎉", "u\u2028v\u2029w\rx", "tab\tand  two\u00a0spaces"]) {
      const text = renderSqlRevision({ id: "a1", revises: null, message }, "");
      expect(parseSqlRevision(text, FILE).message).toBe(sqlHeaderMessage(message));
    }
    expect(sqlHeaderMessage("  two\n\nlines\t")).toBe("two lines");
    expect(sqlHeaderMessage("tab\tand  two\u00a0spaces")).toBe("tab\tand  two\u00a0spaces");
  });

  it("round-trips through parseSqlRevision", async () => {
    const meta = { id: "m1", revises: ["a1", "b2"], dependsOn: ["core"], branchLabels: [], message: "merge", transactional: true };
    const revision = parseSqlRevision(renderSqlRevision(meta, "SELECT 1;", "SELECT 2;"), FILE);
    expect(revision).toMatchObject(meta);
    const { op, executed } = recordingOp();
    await revision.upgrade(op, ctx);
    await revision.downgrade!(op, ctx);
    expect(executed).toEqual(["SELECT 1", "SELECT 2"]);
  });
});
