import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readText } from "../../src/read-text.ts";
import { tempDir } from "../support/temp-dir.ts";

describe("readText", () => {
  const dir = tempDir("lambic-read-text-");
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, "utf8");
    return path;
  };

  it("reads an ASCII file as it is", () => {
    expect(readText(file("ascii.js", 'const a = "\\u2014";\n'))).toBe('const a = "\\u2014";\n');
  });

  it("reads UTF-8 beyond ASCII as UTF-8, astral characters included", () => {
    const text = "/* symbol → ids — done 🐘 */\nconst é = 1;\n";
    expect(readText(file("utf8.js", text))).toBe(text);
  });

  it("reads an empty file as an empty string", () => {
    expect(readText(file("empty.js", ""))).toBe("");
  });
});
