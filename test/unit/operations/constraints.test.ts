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
