import { describe, expect, it } from "vitest";
import { emitted, HOSTILE_NAMES, refusal } from "./emitted.ts";

describe("createIndex", () => {
  it("creates an index on columns", () => {
    expect(emitted((op) => op.createIndex("customer_email_idx", "customer", ["email"]))).toEqual([
      'CREATE INDEX "customer_email_idx" ON "customer" ("email")',
    ]);
  });

  it("renders every option: unique, concurrently, if not exists, schema, method, include, where", () => {
    expect(
      emitted((op) =>
        op.createIndex("live_email", "customer", ["tenant_id", "email"], {
          unique: true,
          concurrently: true,
          ifNotExists: true,
          schema: "app",
          method: "btree",
          include: ["name"],
          where: "deleted_at IS NULL",
        }),
      ),
    ).toEqual([
      'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "live_email" ON "app"."customer" USING btree ("tenant_id", "email") INCLUDE ("name") WHERE deleted_at IS NULL',
      expect.stringMatching(/^DO \$lambic\$ BEGIN IF EXISTS .*to_regclass\('"app"\."live_email"'\) AND NOT indisvalid\)/),
    ]);
  });

  it("checks after CREATE INDEX CONCURRENTLY IF NOT EXISTS that the index is valid, as a failed build leaves an INVALID one that IF NOT EXISTS would skip", () => {
    const [, check] = emitted((op) => op.createIndex("email", "customer", ["email"], { unique: true, concurrently: true, ifNotExists: true }));
    expect(check).toBe(
      `DO $lambic$ BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_index WHERE indexrelid = pg_catalog.to_regclass('"email"') AND NOT indisvalid) THEN ` +
        `RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', MESSAGE = 'index "email" exists but is INVALID: an earlier CREATE INDEX CONCURRENTLY of it failed, and IF NOT EXISTS skips an index that exists, so it would stay unusable. ` +
        `Drop it (DROP INDEX CONCURRENTLY "email"), fix what made the build fail, then run again.'; END IF; END $lambic$`,
    );
    // Without IF NOT EXISTS a rerun fails on the index that is there; without CONCURRENTLY none is left behind.
    expect(emitted((op) => op.createIndex("email", "customer", ["email"], { concurrently: true }))).toHaveLength(1);
    expect(emitted((op) => op.createIndex("email", "customer", ["email"], { ifNotExists: true }))).toHaveLength(1);
    // A name holding the dollar-quote tag gets another tag.
    expect(emitted((op) => op.createIndex("x$lambic$", "t", ["a"], { concurrently: true, ifNotExists: true }))[1]).toMatch(/^DO \$lambic1\$ .* \$lambic1\$$/);
  });

  it("renders expression keys in parentheses, with order, NULLS and an operator class", () => {
    expect(
      emitted((op) =>
        op.createIndex(
          "search",
          "doc",
          [{ expression: "lower(title)" }, { column: "created", order: "DESC", nulls: "LAST" }, { column: "body", opclass: "gin_trgm_ops" }],
          { method: "gin" },
        ),
      ),
    ).toEqual(['CREATE INDEX "search" ON "doc" USING gin ((lower(title)), "created" DESC NULLS LAST, "body" "gin_trgm_ops")']);
  });

  it("accepts order and NULLS keywords in lowercase", () => {
    expect(emitted((op) => op.createIndex("i", "t", [{ column: "a", order: "desc", nulls: "first" }]))).toEqual([
      'CREATE INDEX "i" ON "t" ("a" DESC NULLS FIRST)',
    ]);
  });

  it.each(HOSTILE_NAMES)("quotes index, table and column names with %s", (_label, name, quoted) => {
    expect(emitted((op) => op.createIndex(name, name, [name], { include: [name] }))).toEqual([
      `CREATE INDEX ${quoted} ON ${quoted} (${quoted}) INCLUDE (${quoted})`,
    ]);
  });

  it("rejects an access method that is not a plain lowercase name", () => {
    expect(refusal((op) => op.createIndex("i", "t", ["a"], { method: "btree (a); DROP TABLE t; --" })).message).toMatch(
      /^op\.createIndex\(\): options\.method is "btree \(a\); DROP TABLE t; --"; an access method is a lowercase name/,
    );
  });

  it("rejects an empty key list", () => {
    expect(refusal((op) => op.createIndex("i", "t", [])).message).toBe(
      "op.createIndex(): columns is empty; give at least one column or expression.",
    );
  });

  it("rejects an unknown order keyword and a key with both column and expression", () => {
    expect(refusal((op) => op.createIndex("i", "t", [{ column: "a", order: "down" as "ASC" }])).message).toBe(
      'op.createIndex(): columns[0].order is "down"; use one of "ASC", "DESC".',
    );
    expect(refusal((op) => op.createIndex("i", "t", [{ column: "a", expression: "b" } as never])).message).toBe(
      "op.createIndex(): columns[0] must have exactly one of column and expression.",
    );
  });

  it("rejects a NUL in a key column, naming its position", () => {
    expect(refusal((op) => op.createIndex("i", "t", ["a", "b\0"])).message).toMatch(/^op\.createIndex\(\): columns\[1\] "b\\u0000" contains a NUL/);
  });
});

describe("dropIndex", () => {
  it("drops an index", () => {
    expect(emitted((op) => op.dropIndex("customer_email_idx"))).toEqual(['DROP INDEX "customer_email_idx"']);
  });

  it("qualifies the index with its schema and renders IF EXISTS and CASCADE", () => {
    expect(emitted((op) => op.dropIndex("i", { schema: "app", ifExists: true, cascade: true }))).toEqual([
      'DROP INDEX IF EXISTS "app"."i" CASCADE',
    ]);
  });

  it("drops concurrently", () => {
    expect(emitted((op) => op.dropIndex("i", { concurrently: true, ifExists: true }))).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "i"']);
  });

  it("refuses concurrently with cascade, which PostgreSQL does not support", () => {
    expect(refusal((op) => op.dropIndex("i", { concurrently: true, cascade: true })).message).toMatch(
      /^op\.dropIndex\(\): options sets both concurrently and cascade/,
    );
  });
});

describe("an index key's operator class in another schema", () => {
  it("is qualified with opclassSchema (an extension installed outside search_path)", () => {
    expect(emitted((op) => op.createIndex("t_name_trgm", "t", [{ column: "name", opclass: "gin_trgm_ops", opclassSchema: "extensions" }], { method: "gin" }))).toEqual([
      'CREATE INDEX "t_name_trgm" ON "t" USING gin ("name" "extensions"."gin_trgm_ops")',
    ]);
  });

  it("refuses opclassSchema without opclass", () => {
    expect(refusal((op) => op.createIndex("i", "t", [{ column: "name", opclassSchema: "extensions" }])).message).toContain("is given without opclass");
  });
});

describe("createIndex with nullsNotDistinct", () => {
  it("renders NULLS NOT DISTINCT after INCLUDE and before WHERE", () => {
    expect(emitted((op) => op.createIndex("u", "t", ["a"], { unique: true, nullsNotDistinct: true, include: ["b"], where: "c" }))).toEqual([
      'CREATE UNIQUE INDEX "u" ON "t" ("a") INCLUDE ("b") NULLS NOT DISTINCT WHERE c',
    ]);
  });

  it("refuses nullsNotDistinct on an index that is not unique", () => {
    expect(refusal((op) => op.createIndex("u", "t", ["a"], { nullsNotDistinct: true })).message).toBe(
      "op.createIndex(): options sets nullsNotDistinct without unique: NULLS NOT DISTINCT applies to a unique index only. Add unique: true, or drop nullsNotDistinct.",
    );
  });
});
