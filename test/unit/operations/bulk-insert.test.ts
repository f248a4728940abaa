import { describe, expect, it } from "vitest";
import { emitted, HOSTILE_NAMES, refusal } from "./emitted.ts";

describe("bulkInsert", () => {
  it("renders one multi-row INSERT", () => {
    expect(emitted((op) => op.bulkInsert("color", [{ id: 1, name: "red" }, { id: 2, name: "green" }]))).toEqual([
      "INSERT INTO \"color\" (\"id\", \"name\") VALUES\n    (1, 'red'),\n    (2, 'green')",
    ]);
  });

  it("takes the union of keys in first-seen order and fills missing keys with DEFAULT", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ b: 1 }, { a: 2, b: 3 }, { c: 4 }], { schema: "s" }))).toEqual([
      'INSERT INTO "s"."t" ("b", "a", "c") VALUES\n    (1, DEFAULT, DEFAULT),\n    (3, 2, DEFAULT),\n    (DEFAULT, DEFAULT, 4)',
    ]);
  });

  it("treats an undefined value as a missing key", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ a: 1, b: undefined }, { a: 2 }]))).toEqual(['INSERT INTO "t" ("a") VALUES\n    (1),\n    (2)']);
  });

  it("renders null, booleans, numbers and bigints", () => {
    expect(
      emitted((op) => op.bulkInsert("t", [{ a: null, b: true, c: false, d: -1.5, e: 1e21, f: 5e-7, g: 9007199254740993n, h: 0 }])),
    ).toEqual(['INSERT INTO "t" ("a", "b", "c", "d", "e", "f", "g", "h") VALUES\n    (NULL, true, false, -1.5, 1e+21, 5e-7, 9007199254740993, 0)']);
  });

  it("writes OVERRIDING SYSTEM VALUE when told, for a GENERATED ALWAYS identity column, and refuses a non-boolean", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ id: 1, name: "a" }], { overridingSystemValue: true }))).toEqual([
      'INSERT INTO "t" ("id", "name") OVERRIDING SYSTEM VALUE VALUES\n    (1, \'a\')',
    ]);
    expect(emitted((op) => op.bulkInsert("t", [{}], { overridingSystemValue: true }))).toEqual(['INSERT INTO "t" OVERRIDING SYSTEM VALUE DEFAULT VALUES']);
    expect(refusal((op) => op.bulkInsert("t", [{ id: 1 }], { overridingSystemValue: "yes" as never })).message).toBe(
      'op.bulkInsert(): options.overridingSystemValue must be a boolean, got "yes".',
    );
  });

  it("renders -0 as the string '-0', which a float column keeps as -0 (the numeral -0 is the integer 0), as ctx.query sends it", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ f: -0 }]))).toEqual(["INSERT INTO \"t\" (\"f\") VALUES\n    ('-0')"]);
  });

  it("renders NaN and the infinities as untyped strings PostgreSQL converts to the column's float type", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ a: NaN, b: Infinity, c: -Infinity }]))).toEqual([
      "INSERT INTO \"t\" (\"a\", \"b\", \"c\") VALUES\n    ('NaN', 'Infinity', '-Infinity')",
    ]);
  });

  it("renders hostile strings as escaped literals", () => {
    expect(
      emitted((op) => op.bulkInsert("t", [{ s: "it's" }, { s: "'); DROP TABLE t; --" }, { s: "C:\\dir\\" }, { s: "$$ $tag$" }, { s: "ünïcödé 🦆" }, { s: "a\nb" }])),
    ).toEqual([
      'INSERT INTO "t" ("s") VALUES\n' +
        "    ('it''s'),\n" +
        "    ('''); DROP TABLE t; --'),\n" +
        "    ('C:\\dir\\'),\n" +
        "    ('$$ $tag$'),\n" +
        "    ('ünïcödé 🦆'),\n" +
        "    ('a\nb')",
    ]);
  });

  it("renders a Date as its UTC ISO 8601 string", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) }]))).toEqual([
      "INSERT INTO \"t\" (\"at\") VALUES\n    ('2024-01-02T03:04:05.678Z')",
    ]);
  });

  it("renders a Date before 1 AD with BC and one after 9999 without JavaScript's +0 prefix, as PostgreSQL reads them", () => {
    const dates = [new Date(Date.UTC(-43, 2, 15)), new Date(Date.UTC(0, 11, 31, 23, 59, 59, 999)), new Date(Date.UTC(10000, 0, 1, 12))];
    dates[1]!.setUTCFullYear(0); // Date.UTC reads years 0–99 as 1900–1999
    expect(emitted((op) => op.bulkInsert("t", dates.map((at) => ({ at }))))).toEqual([
      "INSERT INTO \"t\" (\"at\") VALUES\n    ('0044-03-15T00:00:00.000Z BC'),\n    ('0001-12-31T23:59:59.999Z BC'),\n    ('10000-01-01T12:00:00.000Z')",
    ]);
  });

  it("renders a Uint8Array as hex bytea, including an empty one", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ b: new Uint8Array([0, 1, 0xab, 0xff]) }, { b: new Uint8Array() }]))).toEqual([
      "INSERT INTO \"t\" (\"b\") VALUES\n    ('\\x0001abff'::bytea),\n    ('\\x'::bytea)",
    ]);
  });

  it("renders plain objects and arrays as untyped JSON text, escaping quotes inside", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ j: { name: "O'Brien", tags: ["a", 1, null], nested: { ok: true } } }, { j: [1, "two"] }]))).toEqual([
      'INSERT INTO "t" ("j") VALUES\n' +
        "    ('{\"name\":\"O''Brien\",\"tags\":[\"a\",1,null],\"nested\":{\"ok\":true}}'),\n" +
        "    ('[1,\"two\"]')",
    ]);
  });

  it("renders an object with a raw key as JSON data, never as SQL", () => {
    expect(emitted((op) => op.bulkInsert("t", [{ j: { raw: "now()" } }]))).toEqual([
      "INSERT INTO \"t\" (\"j\") VALUES\n    ('{\"raw\":\"now()\"}')",
    ]);
  });

  it.each(HOSTILE_NAMES)("quotes table and column names with %s", (_label, name, quoted) => {
    expect(emitted((op) => op.bulkInsert(name, [{ [name]: 1 }], { schema: name }))).toEqual([
      `INSERT INTO ${quoted}.${quoted} (${quoted}) VALUES\n    (1)`,
    ]);
  });

  it("emits nothing for no rows", () => {
    expect(emitted((op) => op.bulkInsert("t", []))).toEqual([]);
  });

  it("inserts DEFAULT VALUES once per row when no row has a key", () => {
    expect(emitted((op) => op.bulkInsert("t", [{}, {}]))).toEqual(['INSERT INTO "t" DEFAULT VALUES', 'INSERT INTO "t" DEFAULT VALUES']);
  });

  it("refuses NUL in a string value, naming the row and column", () => {
    expect(refusal((op) => op.bulkInsert("t", [{ a: "ok" }, { a: "x\0y" }])).message).toBe(
      'op.bulkInsert(): rows[1].a "x\\u0000y" contains a NUL character (\\0); PostgreSQL cannot store NUL in text (use bytea, a Uint8Array, for binary data). Remove it.',
    );
  });

  it("refuses NUL inside a JSON value", () => {
    expect(refusal((op) => op.bulkInsert("t", [{ j: { k: "\0" } }])).message).toMatch(/^op\.bulkInsert\(\): rows\[0\]\.j holds "\\u0000"/);
  });

  it("refuses values with no literal form: a function, a symbol, a Map, an invalid Date, a bigint inside JSON", () => {
    expect(refusal((op) => op.bulkInsert("t", [{ a: () => 1 }])).message).toMatch(/^op\.bulkInsert\(\): rows\[0\]\.a is a function, which has no SQL literal form/);
    expect(refusal((op) => op.bulkInsert("t", [{ a: Symbol("s") }])).message).toMatch(/is a symbol/);
    expect(refusal((op) => op.bulkInsert("t", [{ a: new Map() }])).message).toMatch(/is a Map/);
    expect(refusal((op) => op.bulkInsert("t", [{ a: new ArrayBuffer(2) }])).message).toMatch(/is an ArrayBuffer/);
    expect(refusal((op) => op.bulkInsert("t", [{ a: new Date(NaN) }])).message).toMatch(/is an invalid Date/);
    expect(refusal((op) => op.bulkInsert("t", [{ a: { n: 1n } }])).message).toMatch(/cannot be rendered as JSON/);
  });

  it("refuses a row that is not a plain object", () => {
    expect(refusal((op) => op.bulkInsert("t", [[1, 2] as never])).message).toBe(
      "op.bulkInsert(): rows[0] must be a plain object of column → value, got an array.",
    );
  });

  it("refuses a NUL in a column name before emitting anything", () => {
    expect(refusal((op) => op.bulkInsert("t", [{ a: 1 }, { "b\0": 2 }])).message).toMatch(/^op\.bulkInsert\(\): rows\[1\]\["b\\u0000"\] "b\\u0000" contains a NUL/);
  });
});
