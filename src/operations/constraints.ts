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
import { invalidOperation } from "./invalid.ts";
import { checkRawSql, qualifiedName, quoteIdentifier } from "./quote.ts";

export interface ForeignKeyOptions extends SchemaOption, ForeignKeyActions, Deferrable {
  /** Schema of the referenced table; absent: unqualified (search_path), not `schema`. */
  readonly refSchema?: string;
  /** `NOT VALID`: skip checking existing rows now (run `VALIDATE CONSTRAINT` later). */
  readonly notValid?: boolean;
}

export interface UniqueConstraintOptions extends SchemaOption, Deferrable {}

export interface CheckConstraintOptions extends SchemaOption {
  /** `NOT VALID`: skip checking existing rows now (run `VALIDATE CONSTRAINT` later). */
  readonly notValid?: boolean;
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
  const checked = checkOptions(optionsOf(op), options, { schema: "string", deferrable: "boolean", initiallyDeferred: "boolean" });
  return [
    `${alterTable(op, checked.schema, table)} ADD CONSTRAINT ${quoteIdentifier(name, { op, argument: "name" })} ` +
      `UNIQUE ${columnList(columns, { op, argument: "columns" })}${deferrability(checked, optionsOf(op))}`,
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
