import { invalidOperation, show, type Where } from "./invalid.ts";

/** NAMEDATALEN - 1: PostgreSQL truncates longer names with only a NOTICE, so we refuse them. */
const MAX_IDENTIFIER_BYTES = 63;

// With the `u` flag a surrogate pair is one code point, so this matches unpaired halves only.
const UNPAIRED_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Quotes a name as a PostgreSQL identifier: always in double quotes, embedded `"` doubled.
 * Always quoting keeps case and makes reserved words safe (`"user"`, `"order"`), at the price of
 * case-sensitivity: `createTable("Users")` makes `"Users"`, which a bare `Users` will not find.
 *
 * Refuses (INVALID_OPERATION) an empty name, a NUL character, an unpaired surrogate, and a name
 * longer than 63 bytes of UTF-8, which PostgreSQL would silently truncate.
 * `where` names the op and argument in the error message.
 */
export function quoteIdentifier(name: string, where: Where = { op: "quoteIdentifier", argument: "name" }): string {
  checkText(name, where, "an identifier");
  if (name.length === 0) {
    throw invalidOperation(where, "is empty; PostgreSQL has no zero-length identifiers. Give a name.", { value: name });
  }
  const bytes = utf8Length(name);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw invalidOperation(
      where,
      `${show(name)} is ${bytes} bytes in UTF-8; PostgreSQL would truncate it to ${MAX_IDENTIFIER_BYTES} bytes, ` +
        `so the object would silently get another name. Use a name of at most ${MAX_IDENTIFIER_BYTES} bytes.`,
      { value: name, bytes, maxBytes: MAX_IDENTIFIER_BYTES },
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a string as a PostgreSQL string constant: `'...'` with `'` doubled.
 *
 * Backslashes are kept as they are: they are ordinary characters under
 * `standard_conforming_strings = on`, PostgreSQL's default since 9.1, which this (like
 * SQLAlchemy's offline rendering) assumes; a server configured with it off must not run these
 * statements. `$$` and `--` inside the quotes are inert text. Unicode passes through unchanged.
 * Refuses a NUL character (PostgreSQL text cannot hold one) and an unpaired surrogate.
 */
export function quoteLiteral(value: string, where: Where = { op: "quoteLiteral", argument: "value" }): string {
  checkText(value, where, "text (use bytea, a Uint8Array, for binary data)");
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A string constant read the same whatever `standard_conforming_strings` is: quoteLiteral's
 * form, or `E'...'` with backslashes doubled when the value holds one (as libpq's
 * PQescapeLiteral writes it). For what lambic sends outside the transactions that set
 * standard_conforming_strings on: the session lock and its release after COMMIT or ROLLBACK,
 * the reads of `current` and `check`. There, on a server configured with it off, `\'` in a
 * plain literal would end the string early and run the rest as SQL.
 */
export function quoteLiteralAnyStrings(value: string, where: Where = { op: "quoteLiteral", argument: "value" }): string {
  const quoted = quoteLiteral(value, where);
  return value.includes("\\") ? `E${quoted.replaceAll("\\", "\\\\")}` : quoted;
}

/** Where a qualified name's two parts come from, for error messages. */
export interface QualifiedWhere extends Where {
  /** The argument that gave the schema; `options.schema` unless told. */
  readonly schemaArgument?: string;
}

/** `"schema"."name"`, or `"name"` when schema is undefined (resolved through search_path). */
export function qualifiedName(
  schema: string | undefined,
  name: string,
  where: QualifiedWhere = { op: "qualifiedName", argument: "name", schemaArgument: "schema" },
): string {
  const quoted = quoteIdentifier(name, where);
  if (schema === undefined) return quoted;
  return `${quoteIdentifier(schema, { op: where.op, argument: where.schemaArgument ?? "options.schema" })}.${quoted}`;
}

/**
 * Checks a fragment of the user's own SQL (a column type, a CHECK condition, an index WHERE):
 * it is written into the statement as is, like Alembic's `sa.text()`, so it must at least be
 * non-blank text that PostgreSQL can receive.
 */
export function checkRawSql(sql: string, where: Where): string {
  checkText(sql, where, "a statement");
  if (sql.trim().length === 0) {
    throw invalidOperation(where, "is empty; give the SQL text.", { value: sql });
  }
  return sql;
}

function checkText(value: unknown, where: Where, what: string): asserts value is string {
  if (typeof value !== "string") {
    throw invalidOperation(where, `must be a string, got ${show(value)}.`, { value });
  }
  if (value.includes("\0")) {
    throw invalidOperation(
      where,
      `${show(value)} contains a NUL character (\\0); PostgreSQL cannot store NUL in ${what}. Remove it.`,
      { value },
    );
  }
  const surrogate = UNPAIRED_SURROGATE.exec(value);
  if (surrogate) {
    const code = surrogate[0].charCodeAt(0).toString(16).toUpperCase();
    throw invalidOperation(
      where,
      `${show(value)} contains an unpaired UTF-16 surrogate (U+${code}), which has no UTF-8 form: ` +
        "it would reach PostgreSQL as U+FFFD. Fix the string's encoding.",
      { value },
    );
  }
}

export function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/**
 * An anonymous code block: `body` in a dollar quote whose tag (`$lambic$`, else `$lambic1$`, …)
 * the body holds nowhere, so no name or message inside it can end the quote.
 */
export function doBlock(body: string, separator = " "): string {
  let tag = "$lambic$";
  for (let n = 1; body.includes(tag.slice(0, -1)); n++) tag = `$lambic${n}$`;
  return `DO ${tag}${separator}${body}${separator}${tag}`;
}
