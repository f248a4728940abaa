// CREATE INDEX and DROP INDEX.
import { checkOptions, closedKeyword, columnList, optionsOf, type SchemaOption } from "./clauses.ts";
import { at, invalidOperation, isPlainObject, show, type Where } from "./invalid.ts";
import { checkRawSql, doBlock, qualifiedName, quoteIdentifier, quoteLiteral } from "./quote.ts";

/**
 * One index key: a column name, or a column or an expression (SQL, as is) with an order,
 * NULLS placement and operator class: `{ expression: "lower(email)" }`,
 * `{ column: "name", opclass: "gin_trgm_ops" }`.
 */
export type IndexKey =
  | string
  | (IndexKeyOptions & { readonly column: string; readonly expression?: never })
  | (IndexKeyOptions & { readonly expression: string; readonly column?: never });

/** Keywords are matched without regard to case and written in capitals. */
export interface IndexKeyOptions {
  readonly order?: "ASC" | "DESC" | "asc" | "desc";
  readonly nulls?: "FIRST" | "LAST" | "first" | "last";
  readonly opclass?: string;
  /** The operator class's schema, when it is not on search_path (an extension installed elsewhere). */
  readonly opclassSchema?: string;
}

export interface CreateIndexOptions extends SchemaOption {
  readonly unique?: boolean;
  /** Partial index predicate (SQL, as is). */
  readonly where?: string;
  /** Access method: btree (default), hash, gist, spgist, gin, brin, or one an extension adds. */
  readonly method?: string;
  /** Builds without blocking writes; needs a revision with `transactional: false` (a transactional one is refused). */
  readonly concurrently?: boolean;
  readonly ifNotExists?: boolean;
  /** Covering columns, stored in the index but not part of its key. */
  readonly include?: readonly string[];
  /** With `unique`: `NULLS NOT DISTINCT` (PostgreSQL 15+), rows whose keys are NULL count as equal. */
  readonly nullsNotDistinct?: boolean;
}

export interface DropIndexOptions extends SchemaOption {
  /** Drops without blocking; needs a revision with `transactional: false`, and refuses cascade. */
  readonly concurrently?: boolean;
  readonly ifExists?: boolean;
  readonly cascade?: boolean;
}

// Method names go in bare (a quoted `USING "gin"` is valid but reads oddly), so only plain ones.
const METHOD_NAME = /^[a-z_][a-z0-9_]*$/;

/** ` USING gist`, or "" without a method: an index's, or an exclusion constraint's. */
export function usingMethod(method: string | undefined, where: Where): string {
  if (method === undefined) return "";
  if (!METHOD_NAME.test(method)) {
    throw invalidOperation(where, `is ${show(method)}; an access method is a lowercase name such as "btree", "gin", "gist", "brin".`, { value: method });
  }
  return ` USING ${method}`;
}

/** The index is created in the table's schema (PostgreSQL allows no other), so `schema` qualifies the table. */
export function createIndex(name: string, table: string, columns: readonly IndexKey[], options?: CreateIndexOptions): string[] {
  const op = "createIndex";
  const checked = checkOptions(optionsOf(op), options, {
    schema: "string",
    unique: "boolean",
    where: "string",
    method: "string",
    concurrently: "boolean",
    ifNotExists: "boolean",
    include: "any",
    nullsNotDistinct: "boolean",
  });
  if (checked.nullsNotDistinct === true && checked.unique !== true) {
    throw invalidOperation(optionsOf(op), "sets nullsNotDistinct without unique: NULLS NOT DISTINCT applies to a unique index only. Add unique: true, or drop nullsNotDistinct.");
  }
  const index = quoteIdentifier(name, { op, argument: "name" });
  const target = qualifiedName(checked.schema, table, { op, argument: "table" });
  if (!Array.isArray(columns)) {
    throw invalidOperation({ op, argument: "columns" }, `must be an array of index keys, got ${show(columns)}.`);
  }
  if (columns.length === 0) throw invalidOperation({ op, argument: "columns" }, "is empty; give at least one column or expression.");
  const keys = columns.map((key, position) => indexKey(key, at({ op, argument: "columns" }, position)));
  const method = usingMethod(checked.method, { op, argument: "options.method" });
  const include = checked.include === undefined ? "" : ` INCLUDE ${columnList(checked.include, { op, argument: "options.include" })}`;
  const where = checked.where === undefined ? "" : ` WHERE ${checkRawSql(checked.where, { op, argument: "options.where" })}`;
  const create =
    `CREATE ${checked.unique === true ? "UNIQUE " : ""}INDEX ${checked.concurrently === true ? "CONCURRENTLY " : ""}` +
    `${checked.ifNotExists === true ? "IF NOT EXISTS " : ""}${index} ON ${target}${method} (${keys.join(", ")})${include}` +
    `${checked.nullsNotDistinct === true ? " NULLS NOT DISTINCT" : ""}${where}`;
  if (checked.concurrently === true && checked.ifNotExists === true) return [create, refuseInvalidIndex(checked.schema, name)];
  return [create];
}

/**
 * A CREATE INDEX CONCURRENTLY that fails (a duplicate for a unique index, a deadlock, a cancel)
 * leaves its index behind, INVALID: unused by queries and, for a unique one, not checked against
 * the rows already there. IF NOT EXISTS then skips it, so the rerun the failure invites would
 * succeed and record the revision as applied. This statement fails instead, saying what to do.
 */
function refuseInvalidIndex(schema: string | undefined, name: string): string {
  const qualified = qualifiedName(schema, name, { op: "createIndex", argument: "name" });
  const message =
    `index ${qualified} exists but is INVALID: an earlier CREATE INDEX CONCURRENTLY of it failed, and IF NOT EXISTS skips an index that exists, so it would stay unusable. ` +
    `Drop it (DROP INDEX CONCURRENTLY ${qualified}), fix what made the build fail, then run again.`;
  const body =
    `BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_index WHERE indexrelid = pg_catalog.to_regclass(${quoteLiteral(qualified)}) AND NOT indisvalid) THEN ` +
    `RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', MESSAGE = ${quoteLiteral(message)}; END IF; END`;
  return doBlock(body);
}

export function dropIndex(name: string, options?: DropIndexOptions): string[] {
  const op = "dropIndex";
  const checked = checkOptions(optionsOf(op), options, {
    schema: "string",
    concurrently: "boolean",
    ifExists: "boolean",
    cascade: "boolean",
  });
  if (checked.concurrently === true && checked.cascade === true) {
    throw invalidOperation(
      optionsOf(op),
      "sets both concurrently and cascade; PostgreSQL's DROP INDEX CONCURRENTLY does not support CASCADE. " +
        "Drop the dependent objects first, or drop without concurrently.",
    );
  }
  return [
    `DROP INDEX ${checked.concurrently === true ? "CONCURRENTLY " : ""}${checked.ifExists === true ? "IF EXISTS " : ""}` +
      `${qualifiedName(checked.schema, name, { op, argument: "name" })}${checked.cascade === true ? " CASCADE" : ""}`,
  ];
}

/** An index key's SQL: a quoted column, or an expression in parentheses, with its opclass, order and NULLS placement. */
export function indexKey(key: IndexKey, where: Where): string {
  if (typeof key === "string") return quoteIdentifier(key, where);
  if (!isPlainObject(key)) throw invalidOperation(where, `must be a column name or a key object, got ${show(key)}.`);
  const spec = checkOptions(where, key as Exclude<IndexKey, string>, {
    column: "string",
    expression: "string",
    order: "string",
    nulls: "string",
    opclass: "string",
    opclassSchema: "string",
  });
  if ((spec.column === undefined) === (spec.expression === undefined)) {
    throw invalidOperation(where, "must have exactly one of column and expression.");
  }
  // An expression needs its own parentheses unless it is a plain function call; always adding them is valid.
  let sql =
    spec.column !== undefined
      ? quoteIdentifier(spec.column, at(where, "column"))
      : `(${checkRawSql(spec.expression as string, at(where, "expression"))})`;
  if (spec.opclassSchema !== undefined && spec.opclass === undefined) throw invalidOperation(at(where, "opclassSchema"), "is given without opclass; name the operator class too.");
  if (spec.opclass !== undefined) sql += ` ${qualifiedName(spec.opclassSchema, spec.opclass, { op: where.op, argument: `${where.argument}.opclass`, schemaArgument: `${where.argument}.opclassSchema` })}`;
  if (spec.order !== undefined) sql += ` ${closedKeyword(spec.order, ["ASC", "DESC"], at(where, "order"))}`;
  if (spec.nulls !== undefined) sql += ` NULLS ${closedKeyword(spec.nulls, ["FIRST", "LAST"], at(where, "nulls"))}`;
  return sql;
}
