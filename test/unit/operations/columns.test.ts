import { describe, expect, it } from "vitest";
import { emitted, HOSTILE_NAMES, refusal } from "./emitted.ts";

describe("addColumn", () => {
  it("adds a column from raw SQL", () => {
    expect(emitted((op) => op.addColumn("customer", "age", "integer"))).toEqual(['ALTER TABLE "customer" ADD COLUMN "age" integer']);
  });

  it("adds a structured column with IF NOT EXISTS in a schema, then its comment", () => {
    expect(
      emitted((op) =>
        op.addColumn(
          "customer",
          "status",
          { type: "text", nullable: false, default: "active", comment: "lifecycle" },
          { schema: "app", ifNotExists: true },
        ),
      ),
    ).toEqual([
      "ALTER TABLE \"app\".\"customer\" ADD COLUMN IF NOT EXISTS \"status\" text DEFAULT 'active' NOT NULL",
      "COMMENT ON COLUMN \"app\".\"customer\".\"status\" IS 'lifecycle'",
    ]);
  });

  it("adds a foreign key column", () => {
    expect(
      emitted((op) => op.addColumn("order", "customer_id", { type: "bigint", references: { table: "customer", column: "id", onDelete: "RESTRICT" } })),
    ).toEqual(['ALTER TABLE "order" ADD COLUMN "customer_id" bigint REFERENCES "customer" ("id") ON DELETE RESTRICT']);
  });

  it.each(HOSTILE_NAMES)("quotes a column named with %s", (_label, name, quoted) => {
    expect(emitted((op) => op.addColumn(name, name, "text"))).toEqual([`ALTER TABLE ${quoted} ADD COLUMN ${quoted} text`]);
  });

  it("rejects a NUL in the column name, naming addColumn and column", () => {
    expect(refusal((op) => op.addColumn("t", "c\0", "text")).message).toBe(
      'op.addColumn(): column "c\\u0000" contains a NUL character (\\0); PostgreSQL cannot store NUL in an identifier. Remove it.',
    );
  });

  it("rejects a blank type", () => {
    expect(refusal((op) => op.addColumn("t", "c", "  ")).message).toBe("op.addColumn(): spec is empty; give the SQL text.");
  });
});

describe("dropColumn", () => {
  it("drops a column", () => {
    expect(emitted((op) => op.dropColumn("customer", "age"))).toEqual(['ALTER TABLE "customer" DROP COLUMN "age"']);
  });

  it("drops with IF EXISTS and CASCADE in a schema", () => {
    expect(emitted((op) => op.dropColumn("customer", "age", { ifExists: true, cascade: true, schema: "app" }))).toEqual([
      'ALTER TABLE "app"."customer" DROP COLUMN IF EXISTS "age" CASCADE',
    ]);
  });

  it("quotes a column name holding a statement", () => {
    expect(emitted((op) => op.dropColumn("t", '"; DROP TABLE t; --'))).toEqual(['ALTER TABLE "t" DROP COLUMN """; DROP TABLE t; --"']);
  });
});

describe("alterColumn", () => {
  it("changes the type with USING", () => {
    expect(emitted((op) => op.alterColumn("t", "n", { type: "bigint", using: "n::bigint" }))).toEqual([
      'ALTER TABLE "t" ALTER COLUMN "n" TYPE bigint USING n::bigint',
    ]);
  });

  it("sets and drops NOT NULL", () => {
    expect(emitted((op) => op.alterColumn("t", "n", { nullable: false }))).toEqual(['ALTER TABLE "t" ALTER COLUMN "n" SET NOT NULL']);
    expect(emitted((op) => op.alterColumn("t", "n", { nullable: true }))).toEqual(['ALTER TABLE "t" ALTER COLUMN "n" DROP NOT NULL']);
  });

  it("sets a literal default, a raw default, and drops the default with null", () => {
    expect(emitted((op) => op.alterColumn("t", "n", { default: "it's" }))).toEqual([
      "ALTER TABLE \"t\" ALTER COLUMN \"n\" SET DEFAULT 'it''s'",
    ]);
    expect(emitted((op) => op.alterColumn("t", "n", { default: { raw: "gen_random_uuid()" } }))).toEqual([
      'ALTER TABLE "t" ALTER COLUMN "n" SET DEFAULT gen_random_uuid()',
    ]);
    expect(emitted((op) => op.alterColumn("t", "n", { default: null }))).toEqual(['ALTER TABLE "t" ALTER COLUMN "n" DROP DEFAULT']);
  });

  it("refuses a default of 'now', 'today', 'tomorrow' or 'yesterday' when it is not told the column's type, which may be date/time", () => {
    expect(refusal((op) => op.alterColumn("t", "d", { default: "tomorrow" })).message).toBe(
      `op.alterColumn(): changes.default is the string "tomorrow", which, if the column is of a date/time type (alterColumn is not told its type), PostgreSQL converts once, when the statement runs: every row would get the migration's time. ` +
        `For the time of each insert write SQL, { raw: "now()" } (or { raw: "CURRENT_DATE" }); for the text itself, { raw: "'tomorrow'" }.`,
    );
    expect(emitted((op) => op.alterColumn("t", "d", { type: "text", default: "today" }))).toEqual([
      `ALTER TABLE "t" ALTER COLUMN "d" DROP DEFAULT, ALTER COLUMN "d" TYPE text, ALTER COLUMN "d" SET DEFAULT 'today'`,
    ]);
    expect(emitted((op) => op.alterColumn("t", "d", { default: { raw: "'today'" } }))).toEqual([`ALTER TABLE "t" ALTER COLUMN "d" SET DEFAULT 'today'`]);
  });

  it("names the value of a comment that is neither a string nor null", () => {
    expect(refusal((op) => op.alterColumn("t", "a", { comment: 5 as never })).message).toBe(
      "op.alterColumn(): changes.comment must be a string, or null to remove the comment, got 5.",
    );
  });

  it("puts every change in one ALTER TABLE, dropping the old default before the type changes", () => {
    expect(
      emitted((op) =>
        op.alterColumn("t", "created", { type: "timestamptz", using: "to_timestamp(created)", nullable: false, default: { raw: "now()" } }),
      ),
    ).toEqual([
      'ALTER TABLE "t" ALTER COLUMN "created" DROP DEFAULT, ALTER COLUMN "created" TYPE timestamptz USING to_timestamp(created), ' +
        'ALTER COLUMN "created" SET NOT NULL, ALTER COLUMN "created" SET DEFAULT now()',
    ]);
  });

  it("drops the default once when the type changes and default is null", () => {
    expect(emitted((op) => op.alterColumn("t", "c", { type: "text", default: null }))).toEqual([
      'ALTER TABLE "t" ALTER COLUMN "c" DROP DEFAULT, ALTER COLUMN "c" TYPE text',
    ]);
  });

  it("renames in its own statement after the other changes, and comments on the new name", () => {
    expect(emitted((op) => op.alterColumn("t", "old", { nullable: false, newName: "new", comment: "renamed", schema: "s" }))).toEqual([
      'ALTER TABLE "s"."t" ALTER COLUMN "old" SET NOT NULL',
      'ALTER TABLE "s"."t" RENAME COLUMN "old" TO "new"',
      "COMMENT ON COLUMN \"s\".\"t\".\"new\" IS 'renamed'",
    ]);
  });

  it("renames alone", () => {
    expect(emitted((op) => op.alterColumn("t", "a", { newName: "ünïcödé 🦆" }))).toEqual(['ALTER TABLE "t" RENAME COLUMN "a" TO "ünïcödé 🦆"']);
  });

  it("removes a comment with null", () => {
    expect(emitted((op) => op.alterColumn("t", "a", { comment: null }))).toEqual(['COMMENT ON COLUMN "t"."a" IS NULL']);
  });

  it("rejects a call that changes nothing", () => {
    expect(refusal((op) => op.alterColumn("t", "a", { schema: "s" })).message).toBe(
      "op.alterColumn(): changes names no change. Give at least one of type, nullable, default, comment, newName, identity.",
    );
  });

  it("rejects USING without a type", () => {
    expect(refusal((op) => op.alterColumn("t", "a", { using: "a::int" })).message).toMatch(
      /^op\.alterColumn\(\): changes\.using is given without changes\.type/,
    );
  });

  it("rejects a NUL in the new name before emitting anything", () => {
    expect(refusal((op) => op.alterColumn("t", "a", { nullable: false, newName: "b\0" })).message).toMatch(
      /^op\.alterColumn\(\): changes\.newName "b\\u0000" contains a NUL/,
    );
  });

  it("rejects a misspelt change", () => {
    expect(refusal((op) => op.alterColumn("t", "a", { nulable: true } as never)).message).toMatch(/changes has an unknown key "nulable"/);
  });
});

describe("alterColumn's identity", () => {
  it("turns a serial column into an identity column: its default dropped first, in the same ALTER TABLE", () => {
    expect(emitted((op) => op.alterColumn("orders", "id", { default: null, identity: "by default" }))).toEqual([
      'ALTER TABLE "orders" ALTER COLUMN "id" DROP DEFAULT, ALTER COLUMN "id" ADD GENERATED BY DEFAULT AS IDENTITY',
    ]);
  });

  it("makes the column NOT NULL before adding GENERATED ALWAYS, and drops an identity with null", () => {
    expect(emitted((op) => op.alterColumn("t", "id", { nullable: false, identity: "always" }))).toEqual([
      'ALTER TABLE "t" ALTER COLUMN "id" SET NOT NULL, ALTER COLUMN "id" ADD GENERATED ALWAYS AS IDENTITY',
    ]);
    expect(emitted((op) => op.alterColumn("t", "id", { identity: null, nullable: true }))).toEqual(['ALTER TABLE "t" ALTER COLUMN "id" DROP NOT NULL, ALTER COLUMN "id" DROP IDENTITY']);
  });

  it("refuses an identity with a default, with nullable: true, or of another kind", () => {
    expect(refusal((op) => op.alterColumn("t", "id", { identity: "always", default: 5 })).message).toBe(
      "op.alterColumn(): changes.identity is added with a default, but an identity column takes its values from its sequence. Drop the default (default: null), or leave identity out.",
    );
    expect(refusal((op) => op.alterColumn("t", "id", { identity: "always", nullable: true })).message).toContain("an identity column is NOT NULL");
    expect(refusal((op) => op.alterColumn("t", "id", { identity: "sometimes" as never })).message).toBe(
      'op.alterColumn(): changes.identity is "sometimes"; use "always" or "by default" to add an identity, or null to drop it.',
    );
  });
});
