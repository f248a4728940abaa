import { describe, expect, it } from "vitest";
import { progressMessage } from "../../../cli/format.ts";

describe("a revision's message on its progress line", () => {
  it("is a short plain message as written, less the spaces around it", () => {
    expect(progressMessage("  add invoice table ")).toBe("add invoice table");
  });

  it("is the first line of a message of several, marked as cut", () => {
    expect(progressMessage("add invoice table\n\nInvoices move out of orders.")).toBe("add invoice table…");
    expect(progressMessage("add invoice table\u2028more")).toBe("add invoice table…");
  });

  it("is cut at 100 code points, not in the middle of a character", () => {
    expect(progressMessage("x".repeat(101))).toBe(`${"x".repeat(100)}…`);
    expect(progressMessage("😀".repeat(100))).toBe("😀".repeat(100));
    expect(progressMessage("😀".repeat(101))).toBe(`${"😀".repeat(100)}…`);
  });

  it("writes control characters as escapes, and a tab as a space", () => {
    expect(progressMessage("\u001b[31mred\u001b[0m")).toBe("\\u001b[31mred\\u001b[0m");
    expect(progressMessage("a\tb")).toBe("a b");
  });
});
