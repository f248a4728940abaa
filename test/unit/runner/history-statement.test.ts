import { describe, expect, it } from "vitest";
import { historyInsertStatement, versionTableNames } from "../../../src/runner/version-table.ts";

const names = versionTableNames({ versionTable: "lambic_version" });
const run = { runId: "run-1", actor: "ci", bundleSha256: null, sourceChecksum: "sha256:0" };

describe("the history statement", () => {
  it("writes each step's values as array elements, double-quoted, with quotes and backslashes escaped and NULL as NULL", () => {
    const sql = historyInsertStatement(names, run, [
      { revision: 'a"b\\c', direction: "up", checksum: null, startedAt: 1.5, finishedAt: 2.25 },
      { revision: "r2", direction: "down", checksum: "sha256:ab", startedAt: undefined, finishedAt: undefined },
    ]);
    expect(sql).toContain(`unnest('{"a\\"b\\\\c","r2"}'::text[],`);
    expect(sql).toContain(`'{"up","down"}'::text[]`);
    expect(sql).toContain(`'{NULL,"sha256:ab"}'::text[]`);
    expect(sql).toContain(`'{1.5,NULL}'::float8[]`);
    expect(sql).toContain(`'{2.25,NULL}'::float8[]`);
  });

  it("doubles a single quote inside the array literal, which is itself a string literal", () => {
    const sql = historyInsertStatement(names, run, [{ revision: "it's", direction: "up", checksum: null }]);
    expect(sql).toContain(`unnest('{"it''s"}'::text[],`);
  });
});
