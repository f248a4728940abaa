import { describe, expect, it } from "vitest";
import { ScriptSink, terminate } from "../../../src/runner/sink.ts";

describe("terminate", () => {
  it("adds one semicolon to a statement without one", () => {
    expect(terminate("SELECT 1")).toBe("SELECT 1;");
  });

  it("keeps a statement that already ends with one semicolon as it is", () => {
    const text = "SELECT 1;";
    expect(terminate(text)).toBe(text);
  });

  it("drops trailing whitespace and extra semicolons", () => {
    expect(terminate("SELECT 1;;  \n\t")).toBe("SELECT 1;");
  });

  it("keeps a trailing no-break or ideographic space, which PostgreSQL and psql read as part of a name, as the run sends it", () => {
    expect(terminate("CREATE VIEW v AS SELECT 1 AS a\u00a0")).toBe("CREATE VIEW v AS SELECT 1 AS a\u00a0;");
    expect(terminate("SELECT 1 AS b\u3000 \n")).toBe("SELECT 1 AS b\u3000;");
  });

  it("puts the semicolon below a last line holding a comment", () => {
    expect(terminate("SELECT 1 -- why")).toBe("SELECT 1 -- why\n;");
    expect(terminate("SELECT 1\n-- why;\n")).toBe("SELECT 1\n-- why\n;");
  });

  it("takes a carriage return for a line's end, as psql does: a comment before it is on an earlier line", () => {
    expect(terminate("SELECT 1 -- why\rFROM t")).toBe("SELECT 1 -- why\rFROM t;");
    expect(terminate("SELECT 1\r-- why")).toBe("SELECT 1\r-- why\n;");
  });

  it("ignores a comment on an earlier line", () => {
    expect(terminate("-- why\nSELECT 1")).toBe("-- why\nSELECT 1;");
  });
});

describe("ScriptSink", () => {
  it("sends with \\g a statement whose ; psql would not take for its end (a function named begin), so that psql reads no later statement into it", () => {
    const sink = new ScriptSink();
    const create = "CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$";
    sink.statement(create, { purpose: "revision", revision: "a1", parts: [create, "SELECT 2 -- after"] });
    sink.statement("SELECT 3", { purpose: "version" });
    expect(sink.toString()).toBe(`${create}\n\\g\nSELECT 2 -- after\n;\n\nSELECT 3;\n`);
  });
});
