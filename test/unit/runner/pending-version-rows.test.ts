import { describe, expect, it } from "vitest";
import { PendingVersionRows, versionTableNames } from "../../../src/runner/version-table.ts";

const names = versionTableNames({ versionTable: "lambic_version" });
const DELETE = (...rows: string[]) => `WITH removed AS (DELETE FROM "lambic_version" WHERE version_num IN (${rows.map((r) => `'${r}'`).join(", ")}) RETURNING 1) SELECT count(*)::int AS removed FROM removed`;
const INSERT = (...rows: string[]) => `INSERT INTO "lambic_version" (version_num) VALUES ${rows.map((r) => `('${r}')`).join(", ")}`;

describe("PendingVersionRows", () => {
  it("writes nothing when no step changed a row", () => {
    const pending = new PendingVersionRows(["a"]);
    expect(pending.pending).toBe(false);
    expect(pending.take(names)).toEqual({ statements: [], expectedDeletes: 0 });
  });

  it("writes a chain of updates as one delete of the stored row and one insert of the last", () => {
    const pending = new PendingVersionRows(["a"]);
    pending.apply([{ op: "update", from: "a", to: "b" }]);
    pending.apply([{ op: "update", from: "b", to: "c" }]);
    expect(pending.take(names)).toEqual({ statements: [DELETE("a"), INSERT("c")], expectedDeletes: 1 });
  });

  it("does not write a row the transaction inserted and removed again", () => {
    const pending = new PendingVersionRows([]);
    pending.apply([{ op: "insert", version: "a" }]);
    pending.apply([{ op: "update", from: "a", to: "b" }]);
    pending.apply([{ op: "delete", version: "b" }]);
    expect(pending.pending).toBe(false);
    expect(pending.take(names).statements).toEqual([]);
  });

  it("leaves untouched rows in place and puts written rows after them, in the order of their last write", () => {
    const pending = new PendingVersionRows(["a", "b", "c"]);
    pending.apply([{ op: "update", from: "a", to: "a2" }]);
    pending.apply([{ op: "insert", version: "d" }]);
    pending.apply([{ op: "update", from: "a2", to: "a3" }]);
    expect(pending.take(names).statements).toEqual([DELETE("a"), INSERT("d", "a3")]);
  });

  it("moves a stored row written again to the end, as an update back to it would", () => {
    const pending = new PendingVersionRows(["a", "b"]);
    pending.apply([{ op: "update", from: "a", to: "x" }]);
    pending.apply([{ op: "update", from: "x", to: "a" }]);
    expect(pending.take(names)).toEqual({ statements: [DELETE("a"), INSERT("a")], expectedDeletes: 1 });
  });

  it("starts the next transaction from what it wrote", () => {
    const pending = new PendingVersionRows([]);
    pending.apply([{ op: "insert", version: "a" }]);
    expect(pending.take(names).statements).toEqual([INSERT("a")]);
    pending.apply([{ op: "update", from: "a", to: "b" }]);
    expect(pending.take(names).statements).toEqual([DELETE("a"), INSERT("b")]);
  });
});
