// CREATE TABLE, DROP TABLE, ALTER TABLE ... RENAME TO, and COMMENT ON for tables and columns.
import {
  checkOptions,
  columnList,
  constraintName,
  optionsOf,
  type Deferrable,
  type ForeignKeyActions,
  type SchemaOption,
} from "./clauses.ts";
import { renderColumn, type ColumnSpec } from "./column.ts";
import { foreignKeyClause } from "./constraints.ts";
import { at, invalidOperation, isPlainObject, show, type Where } from "./invalid.ts";
import { checkRawSql, qualifiedName, quoteIdentifier, quoteLiteral } from "./quote.ts";

/** A PRIMARY KEY or UNIQUE table constraint: its columns, or its name and columns. */
export type KeyConstraint = readonly string[] | { readonly name?: string; readonly columns: readonly string[] };

/** A UNIQUE table constraint: as KeyConstraint, or with `nullsNotDistinct` (PostgreSQL 15+: one NULL at most, not any number). */
export type UniqueConstraint = KeyConstraint | { readonly name?: string; readonly columns: readonly string[]; readonly nullsNotDistinct?: boolean };

/** A CHECK table constraint: the condition as SQL (written as is), or its name and condition. */
export type CheckConstraint = string | { readonly name?: string; readonly condition: string };

export interface TableForeignKey extends ForeignKeyActions, Deferrable {
  readonly name?: string;
  readonly columns: readonly string[];
  readonly refTable: string;
  readonly refColumns: readonly string[];
  /** Schema of the referenced table; absent: unqualified (search_path). */
  readonly refSchema?: string;
}

export interface CreateTableOptions extends SchemaOption {
  readonly ifNotExists?: boolean;
  readonly primaryKey?: KeyConstraint;
  /** One entry per UNIQUE constraint: `unique: [["tenant_id", "email"]]`. */
  readonly unique?: readonly UniqueConstraint[];
  readonly checks?: readonly CheckConstraint[];
  readonly foreignKeys?: readonly TableForeignKey[];
  /** `COMMENT ON TABLE`, emitted after the CREATE TABLE. */
  readonly comment?: string;
  /**
   * `PARTITION BY …` (SQL, as is, as Alembic's `postgresql_partition_by`): `"RANGE (created_at)"`,
   * `"LIST (region)"`, `"HASH (id)"`. Partitions are tables of their own:
   * `execute('CREATE TABLE "events_2026" PARTITION OF "events" FOR VALUES FROM (…) TO (…)')`.
   */
  readonly partitionBy?: string;
}

export interface DropTableOptions extends SchemaOption {
  readonly ifExists?: boolean;
  readonly cascade?: boolean;
}

/** Columns in the object's key order (JavaScript puts integer-like keys such as "2024" first). */
export type ColumnMap = Readonly<Record<string, ColumnSpec>>;

export function createTable(name: string, columns: ColumnMap, options?: CreateTableOptions): string[] {
  const op = "createTable";
  const checked = checkOptions(optionsOf(op), options, {
    schema: "string",
    ifNotExists: "boolean",
    primaryKey: "any",
    unique: "any",
    checks: "any",
    foreignKeys: "any",
    comment: "string",
    partitionBy: "string",
  });
  const table = qualifiedName(checked.schema, name, { op, argument: "name" });
  if (!isPlainObject(columns)) {
    throw invalidOperation({ op, argument: "columns" }, `must be an object of column name → spec, got ${show(columns)}.`);
  }
  const keyColumns = columnsMarkedKey(columns, checked.primaryKey, op);
  const comments: string[] = [];
  const elements: string[] = [];
  for (const [column, spec] of Object.entries(columns)) {
    const rendered = renderColumn(column, spec, at({ op, argument: "columns" }, column), undefined, keyColumns.length > 1);
    elements.push(rendered.definition);
    if (rendered.comment !== undefined) comments.push(commentOnColumn(op, table, column, rendered.comment));
  }
  // PostgreSQL takes one PRIMARY KEY per table: columns each marked primaryKey make one key of them all, as SQLAlchemy's primary_key=True does.
  if (keyColumns.length > 1) elements.push(`PRIMARY KEY ${columnList(keyColumns, { op, argument: "columns" })}`);
  elements.push(...tableConstraints(checked, optionsOf(op)));
  refuseNullableKey(checked.primaryKey, columns, op);
  const body = elements.length === 0 ? "()" : `(\n${elements.map((element) => `    ${element}`).join(",\n")}\n)`;
  if (checked.ifNotExists === true && (checked.comment !== undefined || comments.length > 0)) {
    // COMMENT ON has no IF: it would run on a table that was there already, and fail on a column that table lacks.
    throw invalidOperation(
      optionsOf(op),
      "sets ifNotExists with comments (options.comment or a column's comment), but the COMMENT statements would run whether or not the table was created: " +
        "on a table that was there already they would replace its comments, or fail on a column it lacks. Drop ifNotExists, or the comments (set them in a revision of their own).",
    );
  }
  const partition = checked.partitionBy === undefined ? "" : ` PARTITION BY ${checkRawSql(checked.partitionBy, { op, argument: "options.partitionBy" })}`;
  const create = `CREATE TABLE ${checked.ifNotExists === true ? "IF NOT EXISTS " : ""}${table} ${body}${partition}`;
  const tableComment =
    checked.comment === undefined ? [] : [`COMMENT ON TABLE ${table} IS ${quoteLiteral(checked.comment, { op, argument: "options.comment" })}`];
  return [create, ...tableComment, ...comments];
}

export function dropTable(name: string, options?: DropTableOptions): string[] {
  const op = "dropTable";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", ifExists: "boolean", cascade: "boolean" });
  return [
    `DROP TABLE ${checked.ifExists === true ? "IF EXISTS " : ""}${qualifiedName(checked.schema, name, { op, argument: "name" })}` +
      (checked.cascade === true ? " CASCADE" : ""),
  ];
}

/** The table stays in its schema: PostgreSQL's RENAME TO takes an unqualified name. */
export function renameTable(from: string, to: string, options?: SchemaOption): string[] {
  const op = "renameTable";
  const { schema } = checkOptions(optionsOf(op), options, { schema: "string" });
  return [
    `ALTER TABLE ${qualifiedName(schema, from, { op, argument: "from" })} RENAME TO ${quoteIdentifier(to, { op, argument: "to" })}`,
  ];
}

/** `COMMENT ON TABLE … IS '…'` (Alembic's `create_table_comment`): sets or replaces the table's comment. */
export function createTableComment(table: string, comment: string, options?: SchemaOption): string[] {
  const op = "createTableComment";
  const { schema } = checkOptions(optionsOf(op), options, { schema: "string" });
  const target = qualifiedName(schema, table, { op, argument: "table" });
  if (typeof comment !== "string") {
    throw invalidOperation({ op, argument: "comment" }, `must be a string, got ${show(comment)}; to remove a comment, use dropTableComment.`, { value: comment });
  }
  return [`COMMENT ON TABLE ${target} IS ${quoteLiteral(comment, { op, argument: "comment" })}`];
}

/** `COMMENT ON TABLE … IS NULL` (Alembic's `drop_table_comment`): removes the table's comment, if any. */
export function dropTableComment(table: string, options?: SchemaOption): string[] {
  const op = "dropTableComment";
  const { schema } = checkOptions(optionsOf(op), options, { schema: "string" });
  return [`COMMENT ON TABLE ${qualifiedName(schema, table, { op, argument: "table" })} IS NULL`];
}

/** `COMMENT ON COLUMN "schema"."table"."column" IS '...'`; `table` is already qualified and quoted. */
export function commentOnColumn(op: string, table: string, column: string, comment: string | null): string {
  const text = comment === null ? "NULL" : quoteLiteral(comment, { op, argument: `comment of column ${show(column)}` });
  return `COMMENT ON COLUMN ${table}.${quoteIdentifier(column, { op, argument: "column" })} IS ${text}`;
}

function tableConstraints(options: CreateTableOptions, where: Where): string[] {
  const elements: string[] = [];
  if (options.primaryKey !== undefined) {
    elements.push(keyConstraint("PRIMARY KEY", options.primaryKey, at(where, "primaryKey")));
  }
  listOf(options.unique, at(where, "unique")).forEach((unique, index) => {
    elements.push(keyConstraint("UNIQUE", unique as UniqueConstraint, at(at(where, "unique"), index)));
  });
  listOf(options.checks, at(where, "checks")).forEach((check, index) => {
    const checkWhere = at(at(where, "checks"), index);
    // Checked like every options object: a typo (`nmae`) would drop the name silently.
    const { name, condition } = typeof check === "string" ? { name: undefined, condition: check } : checkOptions(checkWhere, check as Exclude<CheckConstraint, string>, { name: "string", condition: "string" });
    elements.push(`${constraintName(name, at(checkWhere, "name"))}CHECK (${checkRawSql(condition as string, at(checkWhere, "condition"))})`);
  });
  listOf(options.foreignKeys, at(where, "foreignKeys")).forEach((item, index) => {
    const fkWhere = at(at(where, "foreignKeys"), index);
    const fk = checkOptions(fkWhere, item as TableForeignKey, {
      name: "string",
      columns: "any",
      refTable: "string",
      refSchema: "string",
      refColumns: "any",
      onDelete: "string",
      onUpdate: "string",
      match: "string",
      deferrable: "boolean",
      initiallyDeferred: "boolean",
    });
    const clause = foreignKeyClause(fk.columns ?? [], fk.refTable as string, fk.refColumns ?? [], fk, {
      op: where.op,
      columns: `${fkWhere.argument}.columns`,
      refTable: `${fkWhere.argument}.refTable`,
      refColumns: `${fkWhere.argument}.refColumns`,
      options: fkWhere.argument,
    });
    elements.push(`${constraintName(fk.name, at(fkWhere, "name"))}${clause}`);
  });
  return elements;
}

/**
 * The columns whose definition says primaryKey: true, in column order. With options.primaryKey
 * too, the table would have two primary keys (PostgreSQL's 42P16): refused, naming both.
 */
function columnsMarkedKey(columns: ColumnMap, primaryKey: KeyConstraint | undefined, op: string): string[] {
  const marked = Object.entries(columns)
    .filter(([, spec]) => isPlainObject(spec) && spec.primaryKey === true)
    .map(([name]) => name);
  if (marked.length > 0 && primaryKey !== undefined) {
    throw invalidOperation(
      at(at({ op, argument: "columns" }, marked[0]!), "primaryKey"),
      "is true, and options.primaryKey gives the table's primary key too, but a table has one primary key (PostgreSQL refuses a second, 42P16). " +
        "Give it in one place: options.primaryKey, or primaryKey: true on each of its columns.",
    );
  }
  return marked;
}

/** A column the table's primary key names is NOT NULL, whatever its definition says: refused when it says nullable: true. */
function refuseNullableKey(primaryKey: KeyConstraint | undefined, columns: ColumnMap, op: string): void {
  if (primaryKey === undefined) return;
  const keyColumns = Array.isArray(primaryKey) ? primaryKey : (primaryKey as { columns: readonly string[] }).columns;
  for (const name of keyColumns) {
    const spec = Object.hasOwn(columns, name) ? columns[name] : undefined;
    if (typeof spec === "object" && spec !== null && spec.nullable === true) {
      throw invalidOperation(
        at(at({ op, argument: "columns" }, name), "nullable"),
        "is true, but options.primaryKey names the column, and PostgreSQL makes a primary key column NOT NULL: the column would not be nullable. Leave nullable out (or false).",
      );
    }
  }
}

function keyConstraint(keyword: "PRIMARY KEY" | "UNIQUE", spec: UniqueConstraint, where: Where): string {
  if (Array.isArray(spec)) return `${keyword} ${columnList(spec, where)}`;
  if (!isPlainObject(spec)) throw invalidOperation(where, `must be an array of column names (["a", "b"]) or { name, columns }, got ${show(spec)}.`);
  // A primary key's columns are NOT NULL: nullsNotDistinct is a UNIQUE constraint's only.
  const known: Record<string, "string" | "any" | "boolean"> = keyword === "UNIQUE" ? { name: "string", columns: "any", nullsNotDistinct: "boolean" } : { name: "string", columns: "any" };
  const { name, columns, nullsNotDistinct } = checkOptions(where, spec as Exclude<UniqueConstraint, readonly string[]> & { nullsNotDistinct?: boolean }, known);
  return `${constraintName(name, at(where, "name"))}${keyword}${nullsNotDistinct === true ? " NULLS NOT DISTINCT" : ""} ${columnList(columns ?? [], at(where, "columns"))}`;
}

function listOf(value: unknown, where: Where): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidOperation(where, `must be an array, got ${show(value)}.`);
  return value;
}
