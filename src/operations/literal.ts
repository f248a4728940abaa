import { invalidOperation, isPlainObject, show, type Where } from "./invalid.ts";
import { checkRawSql, quoteLiteral } from "./quote.ts";
import { closestMatch } from "../suggest.ts";

/**
 * A value that `bulkInsert` and column defaults render as a SQL literal:
 * - `null` → `NULL`; booleans → `true` / `false`;
 * - finite numbers and bigints → numerals (`42`, `-1.5`, `1e+21`, `9007199254740993`);
 *   `NaN`, `Infinity`, `-Infinity` → the untyped strings `'NaN'`, `'Infinity'`, `'-Infinity'`,
 *   which PostgreSQL converts to the target column's type (real, double precision, numeric) and
 *   rejects with its own error for an integer column; `-0` → `'-0'`, which a float column keeps
 *   as -0 and an integer or numeric column reads as 0;
 * - strings → `'...'` (see quoteLiteral), untyped, so they convert to the column's type;
 * - `Date` → its ISO 8601 form in UTC, untyped (`'2024-01-02T03:04:05.678Z'`), which fits
 *   timestamptz, timestamp (as UTC wall-clock time) and date columns; years before 1 AD as
 *   PostgreSQL writes them (`'0044-03-15T00:00:00.000Z BC'`), years after 9999 without
 *   JavaScript's `+0` prefix (`'10000-01-01T00:00:00.000Z'`), neither of which it reads;
 * - `Uint8Array` (and Buffer) → `'\x0102'::bytea` (hex format);
 * - arrays and plain objects → JSON text, untyped (`'[1,2]'`), so the column's type reads it: a
 *   json column keeps it as written (key order, as JSON.stringify gives it), a jsonb column
 *   parses it (a `::jsonb` cast would make a json column store jsonb's reordered form). Arrays
 *   are JSON, not PostgreSQL arrays: for an array column pass the array literal as a string
 *   (`"{1,2,3}"`). Nested values follow JSON.stringify (a nested Date becomes its ISO string, a
 *   nested NaN becomes null).
 * Anything else (undefined, functions, symbols, Map, class instances) is refused.
 */
export type SqlValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | readonly unknown[]
  | { readonly [key: string]: unknown };

/** SQL text written as is, like Alembic's `sa.text()`: `{ raw: "now()" }`. */
export interface RawSql {
  readonly raw: string;
}

/** A column default: a value rendered as a literal, or `{ raw }` SQL (an object with only `raw`). */
export type DefaultValue = SqlValue | RawSql;

export function isRawSql(value: unknown): value is RawSql {
  return isPlainObject(value) && Object.keys(value).length === 1 && typeof value.raw === "string";
}

/**
 * `type`, when the op knows the column's type: an object default is a JSON value, so on a column
 * that is not json/jsonb it is a mistyped `{ raw }` rather than what was meant.
 */
export function renderDefault(value: DefaultValue, where: Where, type?: string): string {
  if (isRawSql(value)) return checkRawSql(value.raw, { op: where.op, argument: `${where.argument}.raw` });
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    // "Raw", "rwa", "raww": a typo of raw (a transposition is two edits, too far for closestMatch).
    const key = keys.length === 1 ? keys[0]!.toLowerCase() : "";
    const rawLike = key !== "" && ([...key].sort().join("") === "arw" || closestMatch(key, ["raw"]) !== undefined);
    if (keys.includes("raw") || rawLike) {
      throw invalidOperation(where, `is an object with the keys ${keys.map((k) => show(k)).join(", ")}: SQL text is written { raw: "now()" }, with "raw" alone; any other object is a JSON value.`, { keys });
    }
    if (type !== undefined && !JSON_TYPE.test(type)) {
      throw invalidOperation(where, `is an object, which is a JSON value, and the column's type is ${show(type)}: give a value of that type, or SQL text as { raw: "..." }.`, { type });
    }
  }
  // An array is JSON too; for an array column, PostgreSQL would refuse the JSON text only when the DDL runs.
  if (Array.isArray(value) && type !== undefined && !JSON_TYPE.test(type)) {
    throw invalidOperation(
      where,
      `is an array, which is a JSON value, and the column's type is ${show(type)}: for a PostgreSQL array give its literal as a string ("{a,b}"), or SQL text as { raw: "ARRAY[...]" }.`,
      { type },
    );
  }
  if (typeof value === "string") refuseSqlLookingDefault(value, where, type);
  return renderValue(value, where);
}

const JSON_TYPE = /\bjsonb?\b/i;

/**
 * A string default is a constant. Two kinds of string are SQL the author meant to run, and a
 * constant silently does something else:
 * - `'now'`, `'today'`, `'tomorrow'`, `'yesterday'` (and `'now()'`, which PostgreSQL reads the
 *   same) on a date/time column are converted once, when the DDL runs: every row would get the
 *   migration's time (PostgreSQL's documentation warns of it). Refused where the column's type is
 *   date/time, or unknown (alterColumn without a type);
 * - a bare SQL time keyword or a call with no arguments (`CURRENT_TIMESTAMP`, `gen_random_uuid()`),
 *   which a text column would store as that text (and another type refuse, or misread).
 * Either is written `{ raw: "now()" }`; the text itself, `{ raw: "'now'" }`.
 */
function refuseSqlLookingDefault(value: string, where: Where, type: string | undefined): void {
  const text = value.trim();
  const special = /^(?:now|today|tomorrow|yesterday)(?:\s*\(\s*\))?$/i.test(text);
  const dateTime = type === undefined || /\b(?:date|time|timestamp|timestamptz|timetz)\b/i.test(type);
  const sqlLike = /^(?:current_timestamp|current_date|current_time|localtimestamp|localtime)(?:\s*\(\s*\d*\s*\))?$|^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?\s*\(\s*\)$/i.test(text);
  if (!(special && dateTime) && !sqlLike) return;
  const onColumn = type === undefined ? "which, if the column is of a date/time type (alterColumn is not told its type), PostgreSQL" : `which on a ${show(type)} column PostgreSQL`;
  throw invalidOperation(
    where,
    special && dateTime
      ? `is the string ${show(value)}, ${onColumn} converts once, when the statement runs: every row would get the migration's time. ` +
          `For the time of each insert write SQL, { raw: "now()" } (or { raw: "CURRENT_DATE" }); for the text itself, { raw: ${show(`'${value.replaceAll("'", "''")}'`)} }.`
      : `is the string ${show(value)}, which looks like SQL, but a string default is a constant: that text, not the SQL's value. For the SQL, write { raw: ${show(value)} }; for the text itself, { raw: ${show(`'${value.replaceAll("'", "''")}'`)} }.`,
    { value },
  );
}

export function renderValue(value: unknown, where: Where): string {
  if (value === null) return "NULL";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "number":
      // String() never gives a form PostgreSQL misreads: "1e+21" and "5e-7" are valid numerals.
      // -0 is the string '-0' (String(-0) is "0", and the numeral -0 is the integer 0), as ctx.query sends it: a float column keeps its sign.
      if (Object.is(value, -0)) return "'-0'";
      return Number.isFinite(value) ? String(value) : `'${String(value)}'`;
    case "string":
      return quoteLiteral(value, where);
    case "object":
      break;
    default:
      throw unsupported(value, where);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw invalidOperation(where, "is an invalid Date (its time is NaN). Pass a valid Date or null.", { value: String(value) });
    }
    return quoteLiteral(isoDate(value), where);
  }
  if (value instanceof Uint8Array) return `'\\x${hex(value)}'::bytea`;
  if (Array.isArray(value) || isPlainObject(value)) return quoteLiteral(toJson(value, where), where);
  throw unsupported(value, where);
}

/**
 * toISOString, in the forms PostgreSQL reads for every year it stores: JavaScript writes year 0
 * (1 BC) and earlier as `-000043` (astronomical numbering) and years past 9999 as `+010000`.
 */
function isoDate(date: Date): string {
  const iso = date.toISOString();
  const year = date.getUTCFullYear();
  if (year >= 1 && year <= 9999) return iso;
  const rest = iso.slice(iso.indexOf("-", 1));
  return year > 9999 ? `${year}${rest}` : `${String(1 - year).padStart(4, "0")}${rest} BC`;
}

function toJson(value: object, where: Where): string {
  try {
    // jsonb rejects \u0000 and unpaired surrogate escapes (json would store them, but no column
    // type is known here): refused for both, naming the key, rather than failing mid-run.
    return JSON.stringify(value, (key, item: unknown) => {
      for (const text of [key, item]) {
        if (typeof text === "string" && /\0|[\uD800-\uDFFF]/u.test(text)) {
          throw invalidOperation(
            where,
            `holds ${show(text)}, which has a NUL character or an unpaired surrogate; a jsonb column cannot store it. Remove it (for a json column, insert the JSON text as a string).`,
          );
        }
      }
      return item;
    });
  } catch (error) {
    if (error instanceof TypeError) {
      throw invalidOperation(where, `cannot be rendered as JSON: ${error.message}. Convert it to plain JSON data first.`);
    }
    throw error;
  }
}

function unsupported(value: unknown, where: Where): Error {
  return invalidOperation(
    where,
    `is ${show(value)}, which has no SQL literal form. Use null, a boolean, a number, a bigint, a string, a Date, ` +
      "a Uint8Array, an array or a plain object.",
  );
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}
