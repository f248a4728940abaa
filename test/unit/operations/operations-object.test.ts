import { describe, expect, it } from "vitest";
import { createOperations } from "../../../src/operations/index.ts";

function recording() {
  const statements: string[] = [];
  return { statements, op: createOperations((statement) => statements.push(statement)) };
}

describe("the op object", () => {
  it("works with its methods destructured, as in `async upgrade({ execute, createTable })`", () => {
    const { statements, op } = recording();
    const { execute, dropTable } = op;
    execute("SELECT 1");
    dropTable("old");
    expect(statements).toEqual(["SELECT 1", 'DROP TABLE "old"']);
  });

  it("refuses an execute of COPY … FROM STDIN, which would wait for rows nothing sends", () => {
    const { op, statements } = recording();
    expect(() => op.execute("CREATE TABLE t (id int);\nCOPY t (id) FROM stdin")).toThrow(
      expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("op.execute(): sql is COPY … FROM STDIN, whose rows psql sends after it and lambic cannot") }),
    );
    expect(statements).toEqual([]);
    op.execute("COPY t FROM '/srv/data.csv'");
    expect(statements).toEqual(["COPY t FROM '/srv/data.csv'"]);
  });

  it("refuses any op whose SQL fragment (a type, a condition, a default) puts a backslash outside quotes, a psql meta-command offline", () => {
    const { op, statements } = recording();
    expect(() => op.createCheckConstraint("c", "t", "n > 0 \\! touch /tmp/x")).toThrow(
      expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining('op.createCheckConstraint(): a SQL fragment (a type, a condition, a default, an expression) is refused: "\\! touch /tmp/x)" is a psql meta-command') }),
    );
    expect(() => op.addColumn("t", "c", { type: "text \\gexec" })).toThrow(expect.objectContaining({ code: "INVALID_OPERATION" }));
    expect(statements).toEqual([]);
    op.createCheckConstraint("c", "t", "note <> '\\'");
    expect(statements).toEqual([`ALTER TABLE "t" ADD CONSTRAINT "c" CHECK (note <> '\\')`]);
  });

  it("refuses an execute that turns standard_conforming_strings off, by which lambic and psql split SQL and write literals", () => {
    const { op, statements } = recording();
    expect(() => op.execute("SET standard_conforming_strings = off;\nCOMMENT ON TABLE t IS 'a\\'; DROP TABLE x; --'")).toThrow(
      expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining('op.execute(): sql "SET standard_conforming_strings = off" changes standard_conforming_strings, which lambic keeps on for the whole run') }),
    );
    expect(() => op.execute("RESET ALL")).toThrow(expect.objectContaining({ code: "INVALID_OPERATION" }));
    op.execute("SET standard_conforming_strings = on");
    expect(statements).toEqual(["SET standard_conforming_strings = on"]);
  });

  it("refuses an execute holding a psql meta-command, which an offline script would hand to psql", () => {
    const { op, statements } = recording();
    expect(() => op.execute("SELECT 1;\n\\! rm -rf /tmp/x")).toThrow(
      expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining('op.execute(): sql "\\! rm -rf /tmp/x" is a psql meta-command') }),
    );
    expect(statements).toEqual([]);
  });

  it("gives the same function each time a method is read", () => {
    const { op } = recording();
    expect(op.execute).toBe(op.execute);
  });

  it("lists every operation as a key", () => {
    const { op } = recording();
    const keys: string[] = [];
    for (const key in op) keys.push(key);
    expect(keys).toContain("createTable");
    expect(keys).toContain("execute");
    expect(keys).toContain("bulkInsert");
  });

  it("keeps two op objects apart", () => {
    const first = recording();
    const second = recording();
    first.op.execute("SELECT 1");
    second.op.execute("SELECT 2");
    expect(first.statements).toEqual(["SELECT 1"]);
    expect(second.statements).toEqual(["SELECT 2"]);
  });

  it("refuses an argument past the op's last, such as { schema } after alterColumn's changes, instead of dropping it", () => {
    const { op, statements } = recording();
    const alterColumn = op.alterColumn as (...args: unknown[]) => void;
    expect(() => alterColumn("orders", "status", { nullable: false }, { schema: "billing" })).toThrow(
      expect.objectContaining({ code: "INVALID_OPERATION", message: "op.alterColumn(): argument 4 is one more than it takes (3); an option such as { schema } goes in its options object." }),
    );
    expect(statements).toEqual([]);
  });

  it("emits nothing from a refused call", () => {
    const { statements, op } = recording();
    expect(() => op.createTable("t", { "bad\0name": "text" })).toThrow();
    expect(statements).toEqual([]);
  });
});
