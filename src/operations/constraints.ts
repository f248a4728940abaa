// ALTER TABLE ... ADD CONSTRAINT / DROP CONSTRAINT, and the constraint clauses createTable shares.
import {
  checkOptions,
  columnList,
  deferrability,
  optionsOf,
  referentialActions,
  type Deferrable,
  type ForeignKeyActions,
  type SchemaOption,
} from "./clauses.ts";
import { indexKey, usingMethod, type IndexKey, type IndexKeyOptions } from "./indexes.ts";
import { at, invalidOperation, isPlainObject, show, type Where } from "./invalid.ts";
import { checkRawSql, qualifiedName, quoteIdentifier } from "./quote.ts";

export interface ForeignKeyOptions extends SchemaOption, ForeignKeyActions, Deferrable {
  /** Schema of the referenced table; absent: unqualified (search_path), not `schema`. */
  readonly refSchema?: string;
  /** `NOT VALID`: skip checking existing rows now (run `VALIDATE CONSTRAINT` later). */
  readonly notValid?: boolean;
}

export interface UniqueConstraintOptions extends SchemaOption, Deferrable {
  /** `NULLS NOT DISTINCT` (PostgreSQL 15+): rows whose columns are NULL count as equal, so one such row at most. */
  readonly nullsNotDistinct?: boolean;
}

export interface CheckConstraintOptions extends SchemaOption {
  /** `NOT VALID`: skip checking existing rows now (run `VALIDATE CONSTRAINT` later). */
  readonly notValid?: boolean;
}

/**
 * One element of an exclusion constraint: a column (or an expression, SQL as is) and the operator
 * two rows' values must not both satisfy. `["room", "="]`, or
 * `{ expression: "tsrange(starts, ends)", operator: "&&" }` with an index key's opclass, order, nulls.
 */
export type ExcludeElement =
  | readonly [column: string, operator: string]
  | (IndexKeyOptions & { readonly column: string; readonly expression?: never; readonly operator: string })
  | (IndexKeyOptions & { readonly expression: string; readonly column?: never; readonly operator: string });

export interface ExcludeConstraintOptions extends SchemaOption, Deferrable {
  /** The index access method: "gist" for ranges and geometry (with the btree_gist extension for "=" on scalars); PostgreSQL's default is btree. */
  readonly using?: string;
  /** Only rows where this holds (SQL, as is) are constrained. */
  readonly where?: string;
}

export interface DropConstraintOptions extends SchemaOption {
  readonly ifExists?: boolean;
  readonly cascade?: boolean;
}

/** `FOREIGN KEY ("a") REFERENCES "t" ("id") ON DELETE CASCADE DEFERRABLE` */
export function foreignKeyClause(
  columns: readonly string[],
  refTable: string,
  refColumns: readonly string[],
  options: Omit<ForeignKeyOptions, "schema" | "notValid">,
  where: { readonly op: string; readonly columns: string; readonly refTable: string; readonly refColumns: string; readonly options: string },
): string {
  const local = columnList(columns, { op: where.op, argument: where.columns });
  const target = qualifiedName(options.refSchema, refTable, {
    op: where.op,
    argument: where.refTable,
    schemaArgument: `${where.options}.refSchema`,
  });
  const remote = columnList(refColumns, { op: where.op, argument: where.refColumns });
  if (columns.length !== refColumns.length) {
    throw invalidOperation(
      { op: where.op, argument: where.refColumns },
      `has ${refColumns.length} column(s) but ${where.columns} has ${columns.length}; a foreign key pairs them one to one.`,
    );
  }
  const optionsWhere = { op: where.op, argument: where.options };
  return `FOREIGN KEY ${local} REFERENCES ${target} ${remote}${referentialActions(options, optionsWhere)}${deferrability(options, optionsWhere)}`;
}

export function createPrimaryKey(name: string, table: string, columns: readonly string[], options?: SchemaOption): string[] {
  const op = "createPrimaryKey";
  const { schema } = checkOptions(optionsOf(op), options, { schema: "string" });
  return [
    `${alterTable(op, schema, table)} ADD CONSTRAINT ${quoteIdentifier(name, { op, argument: "name" })} ` +
      `PRIMARY KEY ${columnList(columns, { op, argument: "columns" })}`,
  ];
}

export function createForeignKey(
  name: string,
  table: string,
  columns: readonly string[],
  refTable: string,
  refColumns: readonly string[],
  options?: ForeignKeyOptions,
): string[] {
  const op = "createForeignKey";
  const checked = checkOptions(optionsOf(op), options, {
    schema: "string",
    refSchema: "string",
    onDelete: "string",
    onUpdate: "string",
    match: "string",
    deferrable: "boolean",
    initiallyDeferred: "boolean",
    notValid: "boolean",
  });
  const clause = foreignKeyClause(columns, refTable, refColumns, checked, {
    op,
    columns: "columns",
    refTable: "refTable",
    refColumns: "refColumns",
    options: "options",
  });
  return [
    `${alterTable(op, checked.schema, table)} ADD CONSTRAINT ${quoteIdentifier(name, { op, argument: "name" })} ${clause}` +
      (checked.notValid === true ? " NOT VALID" : ""),
  ];
}

export function createUniqueConstraint(
  name: string,
  table: string,
  columns: readonly string[],
  options?: UniqueConstraintOptions,
): string[] {
  const op = "createUniqueConstraint";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", deferrable: "boolean", initiallyDeferred: "boolean", nullsNotDistinct: "boolean" });
  return [
    `${alterTable(op, checked.schema, table)} ADD CONSTRAINT ${quoteIdentifier(name, { op, argument: "name" })} ` +
      `UNIQUE${checked.nullsNotDistinct === true ? " NULLS NOT DISTINCT" : ""} ${columnList(columns, { op, argument: "columns" })}${deferrability(checked, optionsOf(op))}`,
  ];
}

/** `condition` is the user's own SQL, written as is inside `CHECK (...)`. */
export function createCheckConstraint(name: string, table: string, condition: string, options?: CheckConstraintOptions): string[] {
  const op = "createCheckConstraint";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", notValid: "boolean" });
  return [
    `${alterTable(op, checked.schema, table)} ADD CONSTRAINT ${quoteIdentifier(name, { op, argument: "name" })} ` +
      `CHECK (${checkRawSql(condition, { op, argument: "condition" })})${checked.notValid === true ? " NOT VALID" : ""}`,
  ];
}

/**
 * `ALTER TABLE … ADD CONSTRAINT … EXCLUDE USING gist (room WITH =, during WITH &&)` (Alembic's
 * `create_exclude_constraint`): no two rows may have every element's operator true between them.
 */
export function createExcludeConstraint(name: string, table: string, elements: readonly ExcludeElement[], options?: ExcludeConstraintOptions): string[] {
  const op = "createExcludeConstraint";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", using: "string", where: "string", deferrable: "boolean", initiallyDeferred: "boolean" });
  const constraint = quoteIdentifier(name, { op, argument: "name" });
  const target = alterTable(op, checked.schema, table);
  if (!Array.isArray(elements)) throw invalidOperation({ op, argument: "elements" }, `must be an array of [column, operator] pairs or { column | expression, operator } objects, got ${show(elements)}.`);
  if (elements.length === 0) throw invalidOperation({ op, argument: "elements" }, 'is empty; give at least one element, such as ["room", "="].');
  const rendered = elements.map((element, position) => excludeElement(element, at({ op, argument: "elements" }, position)));
  const using = usingMethod(checked.using, { op, argument: "options.using" });
  const where = checked.where === undefined ? "" : ` WHERE (${checkRawSql(checked.where, { op, argument: "options.where" })})`;
  return [`${target} ADD CONSTRAINT ${constraint} EXCLUDE${using} (${rendered.join(", ")})${where}${deferrability(checked, optionsOf(op))}`];
}

/**
 * PostgreSQL's operator characters (+ - * / < > = ~ ! @ # % ^ & | ` ?), at most 63 of them, with
 * no `--` or `/*` (which would start a comment): an operator cannot be quoted, so only these pass.
 */
const OPERATOR = /^(?!.*(?:--|\/\*))[-+*\/<>=~!@#%^&|`?]{1,63}$/;

function excludeElement(element: ExcludeElement, where: Where): string {
  let key: IndexKey;
  let operator: unknown;
  if (Array.isArray(element)) {
    if (element.length !== 2) throw invalidOperation(where, `must be a [column, operator] pair, got ${element.length} item(s).`);
    [key, operator] = element as readonly [string, string];
    if (typeof key !== "string") throw invalidOperation(at(where, 0), `must be a column name, got ${show(key)}; for an expression, write { expression, operator }.`);
  } else if (isPlainObject(element)) {
    const { operator: given, ...rest } = element as Exclude<ExcludeElement, readonly unknown[]>;
    key = rest as IndexKey;
    operator = given;
  } else {
    throw invalidOperation(where, `must be a [column, operator] pair or a { column | expression, operator } object, got ${show(element)}.`);
  }
  // The key first: a misspelt key (`operater`) is named as such, not as a missing operator.
  const keySql = indexKey(key, where);
  const operatorWhere = Array.isArray(element) ? at(where, 1) : at(where, "operator");
  if (typeof operator !== "string" || !OPERATOR.test(operator)) {
    throw invalidOperation(operatorWhere, `is ${show(operator)}; an exclusion operator is written in operator characters, such as "=", "&&" or "<>".`, { value: operator });
  }
  return `${keySql} WITH ${operator}`;
}

export function dropConstraint(name: string, table: string, options?: DropConstraintOptions): string[] {
  const op = "dropConstraint";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", ifExists: "boolean", cascade: "boolean" });
  return [
    `${alterTable(op, checked.schema, table)} DROP CONSTRAINT ${checked.ifExists === true ? "IF EXISTS " : ""}` +
      `${quoteIdentifier(name, { op, argument: "name" })}${checked.cascade === true ? " CASCADE" : ""}`,
  ];
}

/** `ALTER TABLE "schema"."table"`, the table taken from the op's `table` argument. */
export function alterTable(op: string, schema: string | undefined, table: string): string {
  return `ALTER TABLE ${qualifiedName(schema, table, { op, argument: "table" })}`;
}
