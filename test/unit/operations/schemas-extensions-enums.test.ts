import { describe, expect, it } from "vitest";
import { emitted, HOSTILE_NAMES, refusal } from "./emitted.ts";

describe("createSchema / dropSchema", () => {
  it("creates a schema, with IF NOT EXISTS", () => {
    expect(emitted((op) => op.createSchema("billing"))).toEqual(['CREATE SCHEMA "billing"']);
    expect(emitted((op) => op.createSchema("billing", { ifNotExists: true }))).toEqual(['CREATE SCHEMA IF NOT EXISTS "billing"']);
  });

  it("drops a schema, with IF EXISTS and CASCADE", () => {
    expect(emitted((op) => op.dropSchema("billing"))).toEqual(['DROP SCHEMA "billing"']);
    expect(emitted((op) => op.dropSchema("billing", { ifExists: true, cascade: true }))).toEqual(['DROP SCHEMA IF EXISTS "billing" CASCADE']);
  });

  it.each(HOSTILE_NAMES)("quotes a schema named with %s", (_label, name, quoted) => {
    expect(emitted((op) => op.createSchema(name))).toEqual([`CREATE SCHEMA ${quoted}`]);
  });

  it("refuses a schema option on dropSchema, which has none", () => {
    expect(refusal((op) => op.dropSchema("s", { schema: "x" } as never)).message).toBe(
      'op.dropSchema(): options has an unknown key "schema". Known keys: ifExists, cascade.',
    );
  });
});

describe("createExtension / dropExtension", () => {
  it("creates an extension, quoting a name that needs it", () => {
    expect(emitted((op) => op.createExtension("uuid-ossp"))).toEqual(['CREATE EXTENSION "uuid-ossp"']);
  });

  it("renders IF NOT EXISTS, SCHEMA, VERSION as a literal, and CASCADE", () => {
    expect(emitted((op) => op.createExtension("pg_trgm", { ifNotExists: true, schema: "ext", version: "1.6", cascade: true }))).toEqual([
      "CREATE EXTENSION IF NOT EXISTS \"pg_trgm\" SCHEMA \"ext\" VERSION '1.6' CASCADE",
    ]);
  });

  it("escapes a hostile version string", () => {
    expect(emitted((op) => op.createExtension("x", { version: "1'; DROP SCHEMA public; --" }))).toEqual([
      "CREATE EXTENSION \"x\" VERSION '1''; DROP SCHEMA public; --'",
    ]);
  });

  it("refuses an empty version, which PostgreSQL refuses too", () => {
    expect(refusal((op) => op.createExtension("pg_trgm", { version: "" })).message).toBe(
      'op.createExtension(): options.version is empty; give a version the extension has (such as "1.6"), or leave version out for its default.',
    );
  });

  it("drops an extension, with IF EXISTS and CASCADE", () => {
    expect(emitted((op) => op.dropExtension("pg_trgm", { ifExists: true, cascade: true }))).toEqual(['DROP EXTENSION IF EXISTS "pg_trgm" CASCADE']);
  });

  it("refuses a NUL in the version, naming options.version", () => {
    expect(refusal((op) => op.createExtension("x", { version: "1\0" })).message).toMatch(/^op\.createExtension\(\): options\.version "1\\u0000" contains a NUL/);
  });
});

describe("createEnum / dropEnum / addEnumValue", () => {
  it("creates an enum with its labels as literals", () => {
    expect(emitted((op) => op.createEnum("mood", ["sad", "ok", "happy"]))).toEqual(["CREATE TYPE \"mood\" AS ENUM ('sad', 'ok', 'happy')"]);
  });

  it("creates an enum in a schema with hostile labels escaped", () => {
    expect(emitted((op) => op.createEnum("mood", ["it's", "back\\slash", "$$", "ünïcödé 🦆", ""], { schema: "app" }))).toEqual([
      "CREATE TYPE \"app\".\"mood\" AS ENUM ('it''s', 'back\\slash', '$$', 'ünïcödé 🦆', '')",
    ]);
  });

  it("creates an enum with no labels", () => {
    expect(emitted((op) => op.createEnum("nothing", []))).toEqual(['CREATE TYPE "nothing" AS ENUM ()']);
  });

  it("refuses a duplicate label, naming its position", () => {
    expect(refusal((op) => op.createEnum("mood", ["a", "b", "a"])).message).toBe(
      'op.createEnum(): values[2] repeats the label "a"; enum labels must be unique. Remove the duplicate.',
    );
  });

  it("refuses a label over 63 bytes and a label with NUL", () => {
    expect(refusal((op) => op.createEnum("mood", ["ü".repeat(32)])).message).toMatch(
      /^op\.createEnum\(\): values\[0\] "ü+" is 64 bytes in UTF-8; PostgreSQL refuses enum labels over 63 bytes/,
    );
    expect(refusal((op) => op.createEnum("mood", ["a\0"])).message).toMatch(/^op\.createEnum\(\): values\[0\] "a\\u0000" contains a NUL/);
  });

  it("drops an enum type, with IF EXISTS, CASCADE and a schema", () => {
    expect(emitted((op) => op.dropEnum("mood"))).toEqual(['DROP TYPE "mood"']);
    expect(emitted((op) => op.dropEnum("mood", { ifExists: true, cascade: true, schema: "app" }))).toEqual([
      'DROP TYPE IF EXISTS "app"."mood" CASCADE',
    ]);
  });

  it("adds a value at the end, before or after another, with IF NOT EXISTS", () => {
    expect(emitted((op) => op.addEnumValue("mood", "meh"))).toEqual(["ALTER TYPE \"mood\" ADD VALUE 'meh'"]);
    expect(emitted((op) => op.addEnumValue("mood", "meh", { before: "ok", schema: "app" }))).toEqual([
      "ALTER TYPE \"app\".\"mood\" ADD VALUE 'meh' BEFORE 'ok'",
    ]);
    expect(emitted((op) => op.addEnumValue("mood", "it's", { after: "ok", ifNotExists: true }))).toEqual([
      "ALTER TYPE \"mood\" ADD VALUE IF NOT EXISTS 'it''s' AFTER 'ok'",
    ]);
  });

  it("refuses both before and after", () => {
    expect(refusal((op) => op.addEnumValue("mood", "meh", { before: "a", after: "b" })).message).toBe(
      "op.addEnumValue(): options sets both before and after; give one place for the new label.",
    );
  });
});

describe("execute", () => {
  it("emits the SQL text as is, even with several statements", () => {
    const sql = "UPDATE t SET a = 1;\nUPDATE t SET b = '$$';";
    expect(emitted((op) => op.execute(sql))).toEqual([sql]);
  });

  it("refuses empty SQL and SQL holding NUL", () => {
    expect(refusal((op) => op.execute("  ")).message).toBe("op.execute(): sql is empty; give the SQL text.");
    expect(refusal((op) => op.execute("SELECT '\0'")).message).toMatch(/^op\.execute\(\): sql "SELECT '\\u0000'" contains a NUL/);
  });
});
