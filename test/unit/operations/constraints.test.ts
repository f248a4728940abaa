import { describe, expect, it } from "vitest";
import { emitted, HOSTILE_NAMES, refusal } from "./emitted.ts";

describe("createPrimaryKey", () => {
  it("adds a named primary key", () => {
    expect(emitted((op) => op.createPrimaryKey("t_pk", "t", ["a", "b"], { schema: "s" }))).toEqual([
      'ALTER TABLE "s"."t" ADD CONSTRAINT "t_pk" PRIMARY KEY ("a", "b")',
    ]);
  });

  it("rejects an empty column list", () => {
    expect(refusal((op) => op.createPrimaryKey("t_pk", "t", [])).message).toBe(
      "op.createPrimaryKey(): columns is empty; give at least one column.",
    );
  });
});

describe("createForeignKey", () => {
  it("adds a foreign key", () => {
    expect(emitted((op) => op.createForeignKey("order_customer_fk", "order", ["customer_id"], "customer", ["id"]))).toEqual([
      'ALTER TABLE "order" ADD CONSTRAINT "order_customer_fk" FOREIGN KEY ("customer_id") REFERENCES "customer" ("id")',
    ]);
  });

  it("renders actions, deferrability, NOT VALID and both schemas", () => {
    expect(
      emitted((op) =>
        op.createForeignKey("fk", "line", ["order_id", "n"], "order", ["id", "n"], {
          schema: "sales",
          refSchema: "core",
          onDelete: "CASCADE",
          onUpdate: "SET DEFAULT",
          deferrable: true,
          notValid: true,
        }),
      ),
    ).toEqual([
      'ALTER TABLE "sales"."line" ADD CONSTRAINT "fk" FOREIGN KEY ("order_id", "n") REFERENCES "core"."order" ("id", "n") ' +
        "ON DELETE CASCADE ON UPDATE SET DEFAULT DEFERRABLE NOT VALID",
    ]);
  });

  it("renders INITIALLY DEFERRED and NOT DEFERRABLE", () => {
    expect(emitted((op) => op.createForeignKey("fk", "a", ["x"], "b", ["y"], { initiallyDeferred: true }))).toEqual([
      'ALTER TABLE "a" ADD CONSTRAINT "fk" FOREIGN KEY ("x") REFERENCES "b" ("y") DEFERRABLE INITIALLY DEFERRED',
    ]);
    expect(emitted((op) => op.createForeignKey("fk", "a", ["x"], "b", ["y"], { deferrable: false }))).toEqual([
      'ALTER TABLE "a" ADD CONSTRAINT "fk" FOREIGN KEY ("x") REFERENCES "b" ("y") NOT DEFERRABLE',
    ]);
  });

  it("refuses initiallyDeferred with deferrable false", () => {
    expect(refusal((op) => op.createForeignKey("fk", "a", ["x"], "b", ["y"], { deferrable: false, initiallyDeferred: true })).message).toMatch(
      /^op\.createForeignKey\(\): options\.initiallyDeferred is true while deferrable is false/,
    );
  });

  it("refuses column lists of different lengths", () => {
    expect(refusal((op) => op.createForeignKey("fk", "a", ["x", "y"], "b", ["z"])).message).toBe(
      "op.createForeignKey(): refColumns has 1 column(s) but columns has 2; a foreign key pairs them one to one.",
    );
  });

  it("accepts an action in lowercase and writes it in capitals", () => {
    expect(emitted((op) => op.createForeignKey("fk", "a", ["x"], "b", ["y"], { onDelete: "set null", onUpdate: "cascade" }))).toEqual([
      'ALTER TABLE "a" ADD CONSTRAINT "fk" FOREIGN KEY ("x") REFERENCES "b" ("y") ON DELETE SET NULL ON UPDATE CASCADE',
    ]);
  });

  it("refuses an action outside the closed list, such as injected text", () => {
    expect(
      refusal((op) => op.createForeignKey("fk", "a", ["x"], "b", ["y"], { onDelete: "CASCADE DEFERRABLE" as "CASCADE" })).message,
    ).toBe(
      'op.createForeignKey(): options.onDelete is "CASCADE DEFERRABLE"; use one of "NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT".',
    );
  });

  it("refuses a NUL in the referenced schema, naming options.refSchema", () => {
    expect(refusal((op) => op.createForeignKey("fk", "a", ["x"], "b", ["y"], { refSchema: "\0" })).message).toMatch(
      /^op\.createForeignKey\(\): options\.refSchema "\\u0000" contains a NUL/,
    );
  });
});

describe("createUniqueConstraint", () => {
  it("adds a unique constraint, optionally deferrable", () => {
    expect(emitted((op) => op.createUniqueConstraint("email_key", "customer", ["email"]))).toEqual([
      'ALTER TABLE "customer" ADD CONSTRAINT "email_key" UNIQUE ("email")',
    ]);
    expect(emitted((op) => op.createUniqueConstraint("pos_key", "item", ["list_id", "pos"], { deferrable: true, schema: "s" }))).toEqual([
      'ALTER TABLE "s"."item" ADD CONSTRAINT "pos_key" UNIQUE ("list_id", "pos") DEFERRABLE',
    ]);
  });
});

describe("createCheckConstraint", () => {
  it("adds a check with the condition as written", () => {
    expect(emitted((op) => op.createCheckConstraint("positive", "t", "amount > 0"))).toEqual([
      'ALTER TABLE "t" ADD CONSTRAINT "positive" CHECK (amount > 0)',
    ]);
  });

  it("adds a NOT VALID check", () => {
    expect(emitted((op) => op.createCheckConstraint("c", "t", "a <> ''", { notValid: true, schema: "s" }))).toEqual([
      "ALTER TABLE \"s\".\"t\" ADD CONSTRAINT \"c\" CHECK (a <> '') NOT VALID",
    ]);
  });

  it("refuses an empty condition", () => {
    expect(refusal((op) => op.createCheckConstraint("c", "t", "")).message).toBe(
      "op.createCheckConstraint(): condition is empty; give the SQL text.",
    );
  });
});

describe("dropConstraint", () => {
  it("drops a constraint", () => {
    expect(emitted((op) => op.dropConstraint("c", "t"))).toEqual(['ALTER TABLE "t" DROP CONSTRAINT "c"']);
  });

  it("drops with IF EXISTS and CASCADE in a schema", () => {
    expect(emitted((op) => op.dropConstraint("c", "t", { ifExists: true, cascade: true, schema: "s" }))).toEqual([
      'ALTER TABLE "s"."t" DROP CONSTRAINT IF EXISTS "c" CASCADE',
    ]);
  });

  it.each(HOSTILE_NAMES)("quotes constraint and table names with %s", (_label, name, quoted) => {
    expect(emitted((op) => op.dropConstraint(name, name))).toEqual([`ALTER TABLE ${quoted} DROP CONSTRAINT ${quoted}`]);
  });

  it("refuses a NUL in the constraint name, naming dropConstraint and name", () => {
    expect(refusal((op) => op.dropConstraint("c\0", "t")).message).toMatch(/^op\.dropConstraint\(\): name "c\\u0000" contains a NUL/);
  });
});

describe("createExcludeConstraint", () => {
  it("renders [column, operator] pairs and expression elements with the method, predicate and deferrability", () => {
    expect(
      emitted((op) =>
        op.createExcludeConstraint("no_double_booking", "booking", [["room", "="], { expression: "tsrange(starts, ends)", operator: "&&" }], {
          using: "gist",
          where: "NOT cancelled",
          deferrable: true,
          schema: "hotel",
        }),
      ),
    ).toEqual([
      'ALTER TABLE "hotel"."booking" ADD CONSTRAINT "no_double_booking" EXCLUDE USING gist ("room" WITH =, (tsrange(starts, ends)) WITH &&) WHERE (NOT cancelled) DEFERRABLE',
    ]);
  });

  it("takes an element's opclass, order and nulls as an index key does", () => {
    expect(emitted((op) => op.createExcludeConstraint("x", "t", [{ column: "code", operator: "=", opclass: "text_ops", order: "desc", nulls: "last" }]))).toEqual([
      'ALTER TABLE "t" ADD CONSTRAINT "x" EXCLUDE ("code" "text_ops" DESC NULLS LAST WITH =)',
    ]);
  });

  it.each(HOSTILE_NAMES)("quotes a name with %s", (_, name, quoted) => {
    expect(emitted((op) => op.createExcludeConstraint(name, name, [[name, "="]]))).toEqual([`ALTER TABLE ${quoted} ADD CONSTRAINT ${quoted} EXCLUDE (${quoted} WITH =)`]);
  });

  it("refuses an operator that is not operator characters, which cannot be quoted", () => {
    for (const operator of ["= 1); DROP TABLE t; --", "WITH", "", "&&--", "=/*", "=\\"]) {
      expect(refusal((op) => op.createExcludeConstraint("x", "t", [["room", operator]])).message).toBe(
        `op.createExcludeConstraint(): elements[0][1] is ${JSON.stringify(operator)}; an exclusion operator is written in operator characters, such as "=", "&&" or "<>".`,
      );
    }
    expect(refusal((op) => op.createExcludeConstraint("x", "t", [{ column: "room" } as never])).message).toContain("elements[0].operator is undefined");
  });

  it("names a misspelt key of an element rather than a missing operator", () => {
    expect(refusal((op) => op.createExcludeConstraint("x", "t", [{ column: "room", operater: "=" } as never])).message).toContain("operater");
  });

  it("refuses no elements, a pair of the wrong length, an element of another kind, and a method that is not a plain name", () => {
    expect(refusal((op) => op.createExcludeConstraint("x", "t", [])).message).toBe('op.createExcludeConstraint(): elements is empty; give at least one element, such as ["room", "="].');
    expect(refusal((op) => op.createExcludeConstraint("x", "t", [["room"] as never])).message).toBe("op.createExcludeConstraint(): elements[0] must be a [column, operator] pair, got 1 item(s).");
    expect(refusal((op) => op.createExcludeConstraint("x", "t", ["room" as never])).message).toContain("elements[0] must be a [column, operator] pair or a { column | expression, operator } object");
    expect(refusal((op) => op.createExcludeConstraint("x", "t", [["room", "="]], { using: "gist; DROP" })).message).toContain('options.using is "gist; DROP"');
  });

  it("refuses initiallyDeferred with deferrable false", () => {
    expect(refusal((op) => op.createExcludeConstraint("x", "t", [["room", "="]], { deferrable: false, initiallyDeferred: true })).message).toContain("initiallyDeferred is true while deferrable is false");
  });
});

describe("createUniqueConstraint with nullsNotDistinct", () => {
  it("renders UNIQUE NULLS NOT DISTINCT before the columns", () => {
    expect(emitted((op) => op.createUniqueConstraint("one_default", "address", ["customer_id", "is_default"], { nullsNotDistinct: true, deferrable: true }))).toEqual([
      'ALTER TABLE "address" ADD CONSTRAINT "one_default" UNIQUE NULLS NOT DISTINCT ("customer_id", "is_default") DEFERRABLE',
    ]);
  });
});

describe("foreign keys with match", () => {
  it("renders MATCH FULL before the referential actions, in createForeignKey, createTable's foreignKeys and a column's references", () => {
    expect(emitted((op) => op.createForeignKey("fk", "line", ["order_id", "shop_id"], "order", ["id", "shop_id"], { match: "full", onDelete: "cascade" }))).toEqual([
      'ALTER TABLE "line" ADD CONSTRAINT "fk" FOREIGN KEY ("order_id", "shop_id") REFERENCES "order" ("id", "shop_id") MATCH FULL ON DELETE CASCADE',
    ]);
    expect(emitted((op) => op.createTable("line", { a: "int", b: "int" }, { foreignKeys: [{ columns: ["a", "b"], refTable: "p", refColumns: ["a", "b"], match: "SIMPLE" }] }))[0]).toContain(
      'FOREIGN KEY ("a", "b") REFERENCES "p" ("a", "b") MATCH SIMPLE',
    );
    expect(emitted((op) => op.addColumn("line", "p_id", { type: "int", references: { table: "p", match: "FULL" } }))[0]).toContain('REFERENCES "p" MATCH FULL');
  });

  it("refuses MATCH PARTIAL, which PostgreSQL does not implement, and any other word", () => {
    expect(refusal((op) => op.createForeignKey("fk", "t", ["a"], "p", ["a"], { match: "partial" as never })).message).toBe(
      'op.createForeignKey(): options.match is "partial"; use one of "FULL", "SIMPLE".',
    );
  });
});
