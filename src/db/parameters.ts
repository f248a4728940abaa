/**
 * The text a query parameter is sent as, the same through either driver, so that a value means
 * the same whichever driver the URL picks. Every parameter goes as text of no declared type and
 * the server reads it as the type the statement gives it (as psql's literals are read): left to
 * themselves, postgres.js would declare a type from the JavaScript value (a Date as timestamptz,
 * a bigint as int8 — also for an array of them —, an array as its first element's type) and then
 * write the value by the type the server asked for (any string for a boolean as false, a string
 * for a bytea as its UTF-8 bytes, an object for text as "[object Object]"), while node-postgres
 * writes a Date in the process's time zone.
 */
import { LambicError } from "../errors.ts";

/**
 * Why a parameter cannot be sent, or undefined: "undefined as parameter $1 (...)"-style words
 * naming the parameter and what to pass instead.
 */
export function parameterRefusal(value: unknown, index: number): string | undefined {
  const name = `parameter $${index + 1}`;
  if (value === undefined) return `undefined as ${name} (a property that is not there reads as undefined): pass null for SQL NULL`;
  if (typeof value === "function" || typeof value === "symbol") return `a ${typeof value} as ${name}, which cannot be sent: pass a value (null, a number, a bigint, a string, a boolean, a Date, bytes, an array or a JSON object)`;
  const problem = valueRefusal(value, new Set());
  return problem ? `${name}, ${problem}` : undefined;
}

function valueRefusal(value: unknown, seen: Set<unknown>): string | undefined {
  if (typeof value === "string") return stringRefusal(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "an invalid Date (its time is NaN), which is no timestamp: pass a valid Date, or null" : undefined;
  if (value === null || typeof value !== "object" || isBytes(value)) return undefined;
  if (value instanceof Map || value instanceof Set) return `a ${value instanceof Map ? "Map" : "Set"}, which JSON writes as {} (its entries lost): pass ${value instanceof Map ? "Object.fromEntries(map)" : "[...set]"}`;
  if (Array.isArray(value)) {
    if (seen.has(value)) return "an array that contains itself, which cannot be sent";
    seen.add(value);
    for (const item of value) {
      if (item === undefined || typeof item === "function" || typeof item === "symbol") return `an array holding ${item === undefined ? "undefined" : `a ${typeof item}`}, which cannot be sent: use null for a NULL element`;
      const refusal = valueRefusal(item, seen);
      if (refusal) return refusal;
    }
    return undefined;
  }
  try {
    JSON.stringify(value);
    return undefined;
  } catch (error) {
    return `an object that cannot be sent as JSON (${(error as Error).message.split("\n")[0]}): pass plain JSON data, or JSON.stringify it yourself`;
  }
}

function stringRefusal(text: string): string | undefined {
  const nul = text.indexOf("\0");
  if (nul !== -1) return `a string holding a NUL character (at index ${nul}), which PostgreSQL text cannot hold: remove it, or send bytes (a Buffer) to a bytea parameter`;
  const surrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(text);
  if (surrogate) return `a string holding an unpaired UTF-16 surrogate (at index ${surrogate.index}), which UTF-8 cannot encode (it would be stored as U+FFFD): fix the string`;
  return undefined;
}

/**
 * The most parameters one statement may have: postgres.js refuses 65,534 or more, and it does so
 * while it writes the statement, rejecting the statement before it in the pipeline instead of
 * this one, which then waits for a reply forever. (The protocol counts them in 16 bits: 65,535.)
 */
export const MAX_PARAMETERS = 65_533;

/** Why a statement cannot be sent with this many parameters, or undefined. */
export function parameterCountRefusal(count: number): string | undefined {
  if (count <= MAX_PARAMETERS) return undefined;
  return `${count} parameters, more than the ${MAX_PARAMETERS} a statement can take (postgres.js's limit; the protocol's is 65535): pass the values as one array parameter ($1::int[], unnest($1::int[])) or read in batches`;
}

/** Refuses (USAGE) any parameter that cannot be sent, before anything is sent. */
export function checkParameters(params: readonly unknown[] | undefined): void {
  if (!params) return;
  const tooMany = parameterCountRefusal(params.length);
  if (tooMany) throw new LambicError("USAGE", `A query was given ${tooMany}.`, { parameters: params.length });
  for (let index = 0; index < params.length; index++) {
    const refusal = parameterRefusal(params[index], index);
    if (refusal) throw new LambicError("USAGE", `A query was given ${refusal}.`, { parameter: index + 1 });
  }
}

/**
 * A parameter's text: a boolean as true/false, a number or a bigint as JavaScript writes it (NaN
 * and ±Infinity too; -0 as -0), a Date as its UTC time (BC and years past 9999 included), bytes
 * (a Buffer, any typed array or DataView, an ArrayBuffer) as bytea's hex form, an array as a PostgreSQL array and any other object as JSON.
 */
export function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return dateText(value);
  if (isBytes(value)) return `\\x${bytesOf(value).toString("hex")}`;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

/** A Buffer or any other view of bytes (Uint8Array, DataView, Int16Array…), or an ArrayBuffer. */
function isBytes(value: object): value is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

function bytesOf(value: ArrayBufferView | ArrayBuffer): Buffer {
  return ArrayBuffer.isView(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(value);
}

/** `{"a","b c",NULL,{"1","2"}}`: every element quoted, so no element text needs more than escaping. */
function arrayLiteral(values: readonly unknown[]): string {
  return `{${values
    .map((item) => {
      if (Array.isArray(item)) return arrayLiteral(item);
      const text = parameterText(item);
      return text === null ? "NULL" : `"${text.replace(/[\\"]/g, "\\$&")}"`;
    })
    .join(",")}}`;
}

/** `2024-01-02T03:04:05.006+00:00`, `0044-03-15T00:00:00.000+00:00 BC`, `10000-01-01T...`. */
function dateText(date: Date): string {
  const year = date.getUTCFullYear();
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const time = `${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}+00:00`;
  // JavaScript's year 0 is 1 BC (there is no year 0 in PostgreSQL).
  return year > 0 ? `${pad(year, 4)}-${time}` : `${pad(1 - year, 4)}-${time} BC`;
}
