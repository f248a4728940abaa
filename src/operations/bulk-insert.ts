// bulkInsert: one multi-row INSERT with every value rendered as a literal.
import { checkOptions, optionsOf, type SchemaOption } from "./clauses.ts";
import { at, invalidOperation, isPlainObject, show } from "./invalid.ts";
import { renderValue } from "./literal.ts";
import { qualifiedName, quoteIdentifier } from "./quote.ts";

/** A row: column name → value (see SqlValue). A missing or undefined value is the column's DEFAULT. */
export type Row = Readonly<Record<string, unknown>>;

export interface BulkInsertOptions extends SchemaOption {
  /**
   * `OVERRIDING SYSTEM VALUE`: the rows' values go into a `GENERATED ALWAYS` identity column,
   * which refuses them otherwise (428C9). Its sequence is not moved past them: set it after
   * (`SELECT setval(pg_get_serial_sequence('t', 'id'), max(id)) FROM t`).
   */
  readonly overridingSystemValue?: boolean;
}

/**
 * `INSERT INTO t ("a", "b") VALUES (...), (...)`: the columns are the union of the rows' keys in
 * first-seen order. Values are literals, never raw SQL, so rows may come from anywhere.
 * No rows: no statement. Rows with no keys at all: one `INSERT ... DEFAULT VALUES` each, as
 * PostgreSQL has no multi-row form of it.
 */
export function bulkInsert(table: string, rows: readonly Row[], options?: BulkInsertOptions): string[] {
  const op = "bulkInsert";
  const { schema, overridingSystemValue } = checkOptions(optionsOf(op), options, { schema: "string", overridingSystemValue: "boolean" });
  const target = qualifiedName(schema, table, { op, argument: "table" });
  const overriding = overridingSystemValue === true ? " OVERRIDING SYSTEM VALUE" : "";
  if (!Array.isArray(rows)) throw invalidOperation({ op, argument: "rows" }, `must be an array of row objects, got ${show(rows)}.`);
  const columns = new Map<string, string>();
  rows.forEach((row, index) => {
    const where = at({ op, argument: "rows" }, index);
    if (!isPlainObject(row)) throw invalidOperation(where, `must be a plain object of column → value, got ${show(row)}.`);
    for (const [column, value] of Object.entries(row)) {
      if (value !== undefined && !columns.has(column)) columns.set(column, quoteIdentifier(column, at(where, column)));
    }
  });
  if (columns.size === 0) return rows.map(() => `INSERT INTO ${target}${overriding} DEFAULT VALUES`);
  const tuples = rows.map((row, index) => {
    const where = at({ op, argument: "rows" }, index);
    const values = [...columns.keys()].map((column) => {
      const value = Object.hasOwn(row, column) ? row[column] : undefined;
      return value === undefined ? "DEFAULT" : renderValue(value, at(where, column));
    });
    return `    (${values.join(", ")})`;
  });
  return [`INSERT INTO ${target} (${[...columns.values()].join(", ")})${overriding} VALUES\n${tuples.join(",\n")}`];
}
