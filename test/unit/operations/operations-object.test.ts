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

describe("op.inlineLiteral and op.quoteIdentifier, for the SQL given to execute", () => {
  it("renders a value as the literal bulkInsert writes for it", () => {
    const { op } = recording();
    expect(op.inlineLiteral("O'Brien \\ $$")).toBe("'O''Brien \\ $$'");
    expect(op.inlineLiteral(null)).toBe("NULL");
    expect(op.inlineLiteral(true)).toBe("true");
    expect(op.inlineLiteral(42)).toBe("42");
    expect(op.inlineLiteral(12345678901234567890n)).toBe("12345678901234567890");
    expect(op.inlineLiteral(new Date("2024-02-29T12:00:00Z"))).toBe("'2024-02-29T12:00:00.000Z'");
    expect(op.inlineLiteral(new Uint8Array([0, 255]))).toBe("'\\x00ff'::bytea");
    expect(op.inlineLiteral({ b: 1, a: "it's" })).toBe(`'{"b":1,"a":"it''s"}'`);
  });

  it("writes a negative number in parentheses, so that a minus before it cannot make a -- comment of it and the rest of the line", () => {
    const { op } = recording();
    expect(op.inlineLiteral(-5)).toBe("(-5)");
    expect(op.inlineLiteral(-1.5)).toBe("(-1.5)");
    expect(op.inlineLiteral(-1e21)).toBe("(-1e+21)");
    expect(op.inlineLiteral(-9007199254740993n)).toBe("(-9007199254740993)");
    expect(op.inlineLiteral(-0)).toBe("'-0'");
    expect(`x-${op.inlineLiteral(-5)}`).not.toContain("--");
  });

  it("emits nothing itself", () => {
    const { op, statements } = recording();
    op.inlineLiteral("x");
    op.quoteIdentifier("t");
    expect(statements).toEqual([]);
  });

  it("runs in execute's SQL as written, the same text online and offline", () => {
    const { op, statements } = recording();
    op.execute(`UPDATE ${op.quoteIdentifier("order", { schema: "billing" })} SET note = ${op.inlineLiteral("it's done")}`);
    expect(statements).toEqual([`UPDATE "billing"."order" SET note = 'it''s done'`]);
  });

  it("works destructured, as in `async upgrade({ execute, inlineLiteral })`", () => {
    const { op } = recording();
    const { inlineLiteral, quoteIdentifier } = op;
    expect(inlineLiteral("a")).toBe("'a'");
    expect(quoteIdentifier("a")).toBe('"a"');
  });

  it("refuses a value it cannot write as a literal, naming the op", () => {
    const { op } = recording();
    const inlineLiteral = op.inlineLiteral as (...args: unknown[]) => string;
    expect(() => inlineLiteral("a\0b")).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("op.inlineLiteral(): value") }));
    expect(() => inlineLiteral(undefined)).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("op.inlineLiteral(): value") }));
    expect(() => inlineLiteral(new Map())).toThrow(expect.objectContaining({ code: "INVALID_OPERATION" }));
    expect(() => inlineLiteral(new Date(Number.NaN))).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("invalid Date") }));
  });

  it("refuses inlineLiteral with no value or with more than one", () => {
    const { op } = recording();
    const inlineLiteral = op.inlineLiteral as (...args: unknown[]) => string;
    expect(() => inlineLiteral()).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: "op.inlineLiteral(): value takes one value, got 0 arguments." }));
    expect(() => inlineLiteral("a", "b")).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: "op.inlineLiteral(): value takes one value, got 2 arguments." }));
  });

  it("quotes a hostile identifier, doubling its quotes, and refuses a NUL in it", () => {
    const { op } = recording();
    expect(op.quoteIdentifier('we"ird name', { schema: "Ünïcode" })).toBe('"Ünïcode"."we""ird name"');
    expect(() => op.quoteIdentifier("a\0b")).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("op.quoteIdentifier(): name") }));
    expect(() => op.quoteIdentifier("t", { schema: "a\0b" })).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("op.quoteIdentifier(): options.schema") }));
  });

  it("refuses quoteIdentifier's schema passed as a second string, or an unknown option", () => {
    const { op } = recording();
    const quoteIdentifier = op.quoteIdentifier as (...args: unknown[]) => string;
    expect(() => quoteIdentifier("t", "billing")).toThrow(expect.objectContaining({ code: "INVALID_OPERATION" }));
    expect(() => quoteIdentifier("t", { schema: "billing" }, "x")).toThrow(expect.objectContaining({ code: "INVALID_OPERATION", message: expect.stringContaining("the schema goes in its options object") }));
    expect(() => quoteIdentifier("t", { shcema: "billing" })).toThrow(expect.objectContaining({ code: "INVALID_OPERATION" }));
  });
});
