import { describe, expect, it } from "vitest";
import { parameterText } from "../../../src/db/parameters.ts";
import { parseDateTime } from "../../../src/db/timestamps.ts";

describe("parseDateTime", () => {
  it("reads a timestamptz whose offset has seconds (a zone's local mean time, before 1883)", () => {
    expect((parseDateTime("1799-12-31 19:03:58-04:56:02") as Date).toISOString()).toBe("1800-01-01T00:00:00.000Z");
  });

  it("keeps a year below 100 (Date.UTC would take it for 19xx)", () => {
    expect((parseDateTime("0099-06-01") as Date).toISOString()).toBe("0099-06-01T00:00:00.000Z");
  });

  it("reads what a Date parameter is written as back to the same Date, BC and years past 9999 included", () => {
    for (const iso of ["2024-01-02T03:04:05.006Z", "0099-06-01T00:00:00.000Z", "-000043-03-15T12:00:00.000Z", "+012345-12-31T23:59:59.999Z"]) {
      const date = new Date(iso);
      const written = parameterText(date)!.replace("T", " ").replace(".000+", "+");
      expect((parseDateTime(written) as Date).toISOString()).toBe(iso);
    }
  });
});
