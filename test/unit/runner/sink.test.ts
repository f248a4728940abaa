import { describe, expect, it } from "vitest";
import { terminate } from "../../../src/runner/sink.ts";

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
    expect(terminate("SELECT 1\u3000")).toBe("SELECT 1;");
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
