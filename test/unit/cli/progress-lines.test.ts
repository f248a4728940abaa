import { describe, expect, it } from "vitest";
import { coalescedLines } from "../../../cli/progress.ts";

describe("progress lines", () => {
  it("writes the lines of one turn of the event loop in one write, in order", async () => {
    const writes: string[] = [];
    const progress = coalescedLines((text) => writes.push(text));
    for (let i = 1; i <= 120; i++) progress.line(`step ${i}`);
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual([Array.from({ length: 120 }, (_, i) => `step ${i + 1}\n`).join("")]);
  });

  it("writes the lines of a later turn in a write of their own", async () => {
    const writes: string[] = [];
    const progress = coalescedLines((text) => writes.push(text));
    progress.line("a");
    await new Promise((resolve) => setImmediate(resolve));
    progress.line("b");
    progress.line("c");
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["a\n", "b\nc\n"]);
  });

  it("writes what is pending at once on flush (before the command's own output), and nothing twice", async () => {
    const writes: string[] = [];
    const progress = coalescedLines((text) => writes.push(text));
    progress.line("a");
    progress.flush();
    expect(writes).toEqual(["a\n"]);
    await new Promise((resolve) => setImmediate(resolve));
    progress.flush();
    expect(writes).toEqual(["a\n"]);
  });
});
