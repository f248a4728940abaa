/**
 * The `op` object revisions call. Each method renders PostgreSQL statements and hands them, one
 * at a time and without a trailing semicolon, to the `emit` given to createOperations; where
 * they go (a connection, a script) is the runner's business. Every method checks all of its
 * arguments before emitting anything, so a refused call (INVALID_OPERATION) emits nothing.
 *
 * Conventions:
 * - Names are identifiers, always double-quoted (so case is kept: `"Users"` ≠ `users`), never
 *   split on dots: `"a.b"` is one name. The schema is always an option, `{ schema: "billing" }`;
 *   without it the name is unqualified and PostgreSQL resolves it through search_path.
 *   Referenced objects take their own schema option (`refSchema`, `references.schema`).
 * - Strings typed as SQL (a column type, a CHECK condition, an index WHERE, `{ raw }` defaults,
 *   `execute`) are the revision author's own SQL, written as is, like Alembic's `sa.text()`.
 *   Everything else is quoted or escaped.
 */
import type { SchemaOption } from "./clauses.ts";
import type { ColumnSpec } from "./column.ts";
import * as columns from "./columns.ts";
import * as constraints from "./constraints.ts";
import * as enums from "./enums.ts";
import * as indexes from "./indexes.ts";
import * as insert from "./bulk-insert.ts";
import { checkRawSql, qualifiedName } from "./quote.ts";
import { checkOptions, optionsOf } from "./clauses.ts";
import { renderValue, type SqlValue } from "./literal.ts";
import * as schemas from "./schemas.ts";
import * as tables from "./tables.ts";
import { copyRefusal, findClientCopy, findMetaCommand, findStringsSetting, metaCommandRefusal, stringsSettingRefusal } from "./sql-statements.ts";
import { invalidOperation } from "./invalid.ts";

export { quoteIdentifier, quoteLiteral, qualifiedName } from "./quote.ts";
export type { SchemaOption, ReferentialAction, ForeignKeyActions, Deferrable } from "./clauses.ts";
export type { ColumnSpec, ColumnDefinition, ColumnReference } from "./column.ts";
export type { SqlValue, RawSql, DefaultValue } from "./literal.ts";
export type { ColumnMap, CreateTableOptions, DropTableOptions, KeyConstraint, UniqueConstraint, CheckConstraint, TableForeignKey } from "./tables.ts";
export type { AddColumnOptions, DropColumnOptions, AlterColumnOptions } from "./columns.ts";
export type { IndexKey, IndexKeyOptions, CreateIndexOptions, DropIndexOptions } from "./indexes.ts";
export type {
  ForeignKeyOptions,
  UniqueConstraintOptions,
  CheckConstraintOptions,
  ExcludeElement,
  ExcludeConstraintOptions,
  DropConstraintOptions,
} from "./constraints.ts";
export type { CreateSchemaOptions, CreateExtensionOptions, DropOptions } from "./schemas.ts";
export type { DropEnumOptions, AddEnumValueOptions } from "./enums.ts";
export type { Row, BulkInsertOptions } from "./bulk-insert.ts";

export interface Operations {
  /**
   * `CREATE TABLE`, then `COMMENT ON` for the table and its columns.
   * `columns`: `{ id: "bigserial primary key", email: { type: "text", nullable: false, unique: true } }`.
   */
  createTable(name: string, columns: tables.ColumnMap, options?: tables.CreateTableOptions): void;
  dropTable(name: string, options?: tables.DropTableOptions): void;
  /** `ALTER TABLE from RENAME TO to`; the table stays in `options.schema`. */
  renameTable(from: string, to: string, options?: SchemaOption): void;
  /** `COMMENT ON TABLE … IS '…'`: sets or replaces the table's comment. */
  createTableComment(table: string, comment: string, options?: SchemaOption): void;
  /** `COMMENT ON TABLE … IS NULL`: removes the table's comment. */
  dropTableComment(table: string, options?: SchemaOption): void;

  addColumn(table: string, column: string, spec: ColumnSpec, options?: columns.AddColumnOptions): void;
  dropColumn(table: string, column: string, options?: columns.DropColumnOptions): void;
  /**
   * One `ALTER TABLE` with every change (type with USING, nullability, default), then
   * `RENAME COLUMN` and `COMMENT ON` on their own. `default: null` drops the default.
   */
  alterColumn(table: string, column: string, changes: columns.AlterColumnOptions): void;

  /**
   * `concurrently` needs a revision with `transactional: false` (a transactional one is refused
   * before it runs, online and offline); with `ifNotExists` too, a check follows that fails if the
   * index is INVALID, as a failed concurrent build leaves it.
   */
  createIndex(name: string, table: string, columns: readonly indexes.IndexKey[], options?: indexes.CreateIndexOptions): void;
  dropIndex(name: string, options?: indexes.DropIndexOptions): void;

  createPrimaryKey(name: string, table: string, columns: readonly string[], options?: SchemaOption): void;
  createForeignKey(
    name: string,
    table: string,
    columns: readonly string[],
    refTable: string,
    refColumns: readonly string[],
    options?: constraints.ForeignKeyOptions,
  ): void;
  createUniqueConstraint(name: string, table: string, columns: readonly string[], options?: constraints.UniqueConstraintOptions): void;
  /** `condition` is SQL, written as is inside `CHECK (...)`. */
  createCheckConstraint(name: string, table: string, condition: string, options?: constraints.CheckConstraintOptions): void;
  /**
   * `EXCLUDE [USING method] (element WITH operator, …) [WHERE (…)]`: no two rows have every
   * element's operator true between them. `elements`: `[["room", "="], { expression: "tsrange(starts, ends)", operator: "&&" }]`.
   */
  createExcludeConstraint(name: string, table: string, elements: readonly constraints.ExcludeElement[], options?: constraints.ExcludeConstraintOptions): void;
  dropConstraint(name: string, table: string, options?: constraints.DropConstraintOptions): void;

  createSchema(name: string, options?: schemas.CreateSchemaOptions): void;
  dropSchema(name: string, options?: schemas.DropOptions): void;
  createExtension(name: string, options?: schemas.CreateExtensionOptions): void;
  dropExtension(name: string, options?: schemas.DropOptions): void;

  createEnum(name: string, values: readonly string[], options?: SchemaOption): void;
  dropEnum(name: string, options?: enums.DropEnumOptions): void;
  /**
   * The new label cannot be used in the transaction that adds it (PostgreSQL's rule), and a run is
   * one transaction: add it in a `transactional: false` revision, or run with `--per-revision`.
   */
  addEnumValue(name: string, value: string, options?: enums.AddEnumValueOptions): void;

  /** Emits `sql` as is, as one emitted text (it may hold several statements). */
  execute(sql: string): void;
  /**
   * One multi-row `INSERT`, values rendered as literals (see SqlValue): the columns are the union
   * of the rows' keys in first-seen order, and a row without a key gets that column's DEFAULT.
   */
  bulkInsert(table: string, rows: readonly insert.Row[], options?: insert.BulkInsertOptions): void;

  /**
   * A value as a SQL literal for the SQL given to `execute` (Alembic's `op.inline_literal`),
   * rendered as `bulkInsert` renders it (see SqlValue), a negative number in parentheses (`(-5)`:
   * `x-${…}` must not read `x--5`, a comment): `op.execute(\`UPDATE "t" SET note =
   * ${op.inlineLiteral(note)}\`)` runs the same online and in an offline script, where
   * `ctx.query`'s parameters cannot go. Emits nothing.
   */
  inlineLiteral(value: SqlValue): string;
  /** A name as a quoted identifier, schema-qualified with `{ schema }`, for the SQL given to `execute`. Emits nothing. */
  quoteIdentifier(name: string, options?: SchemaOption): string;
}

/** The op methods that return SQL text instead of emitting statements. */
type TextHelper = "inlineLiteral" | "quoteIdentifier";

export function createOperations(emit: (statement: string) => void): Operations {
  return new EmittingOperations(emit) as unknown as Operations;
}

/** Each operation's renderer: arguments in, statements out. */
const RENDERERS: { readonly [Name in Exclude<keyof Operations, TextHelper>]: (...args: Parameters<Operations[Name]>) => string[] } = {
  createTable: tables.createTable,
  dropTable: tables.dropTable,
  renameTable: tables.renameTable,
  createTableComment: tables.createTableComment,
  dropTableComment: tables.dropTableComment,
  addColumn: columns.addColumn,
  dropColumn: columns.dropColumn,
  alterColumn: columns.alterColumn,
  createIndex: indexes.createIndex,
  dropIndex: indexes.dropIndex,
  createPrimaryKey: constraints.createPrimaryKey,
  createForeignKey: constraints.createForeignKey,
  createUniqueConstraint: constraints.createUniqueConstraint,
  createCheckConstraint: constraints.createCheckConstraint,
  createExcludeConstraint: constraints.createExcludeConstraint,
  dropConstraint: constraints.dropConstraint,
  createSchema: schemas.createSchema,
  dropSchema: schemas.dropSchema,
  createExtension: schemas.createExtension,
  dropExtension: schemas.dropExtension,
  createEnum: enums.createEnum,
  dropEnum: enums.dropEnum,
  addEnumValue: enums.addEnumValue,
  execute: (sql) => [checkExecutable(checkRawSql(sql, { op: "execute", argument: "sql" }))],
  bulkInsert: insert.bulkInsert,
};

/** The text helpers, which use no `this` (so they work detached too), checking their arguments as the ops do. */
const TEXT_HELPERS: { readonly [Name in TextHelper]: Operations[Name] } = {
  inlineLiteral: (...args: unknown[]) => {
    if (args.length !== 1) throw invalidOperation({ op: "inlineLiteral", argument: "value" }, `takes one value, got ${args.length} arguments.`);
    const literal = renderValue(args[0], { op: "inlineLiteral", argument: "value" });
    // Here the author's SQL surrounds the literal: after a minus (`x-${…}`) a bare -5 would make
    // `x--5`, a comment to the line's end (a WHERE with it). In parentheses it stays one operand.
    return literal.startsWith("-") ? `(${literal})` : literal;
  },
  quoteIdentifier: (name: string, options?: SchemaOption, ...extra: unknown[]) => {
    if (extra.length > 0) throw invalidOperation({ op: "quoteIdentifier", argument: "argument 3" }, "is one more than it takes (2); the schema goes in its options object, { schema }.");
    const { schema } = checkOptions(optionsOf("quoteIdentifier"), options, { schema: "string" });
    return qualifiedName(schema, name, { op: "quoteIdentifier", argument: "name", schemaArgument: "options.schema" });
  },
};

/** Refuses a COPY that would wait for rows from the client (see clientCopy), and a psql meta-command (see findMetaCommand). */
function checkExecutable(sql: string): string {
  const found = findClientCopy(sql);
  if (found) throw invalidOperation({ op: "execute", argument: "sql" }, copyRefusal(found.copy), { statement: found.statement.slice(0, 200) });
  const meta = findMetaCommand(sql);
  if (meta) throw invalidOperation({ op: "execute", argument: "sql" }, metaCommandRefusal(meta.command), { command: meta.command.slice(0, 200) });
  const setting = findStringsSetting(sql);
  if (setting !== undefined) throw invalidOperation({ op: "execute", argument: "sql" }, `${statementStart(setting)} ${stringsSettingRefusal()}`, { statement: setting.slice(0, 200) });
  return sql;
}

/** A statement's start as a message quotes it: on one line, its first 60 characters. */
function statementStart(statement: string): string {
  return JSON.stringify(statement.replace(/\s+/g, " ").trim().slice(0, 60));
}

/** A rendered statement with a backslash outside quotes, comments and dollar quotes (see findMetaCommand). */
function refuseMetaCommand(op: string, statement: string): void {
  const meta = findMetaCommand(statement);
  if (meta) {
    throw invalidOperation({ op, argument: "a SQL fragment (a type, a condition, a default, an expression)" }, `is refused: ${metaCommandRefusal(meta.command)}`, {
      command: meta.command.slice(0, 200),
      statement: statement.slice(0, 200),
    });
  }
}

/**
 * The `op` a revision receives. Its methods work detached (`const { execute } = op`), so each is
 * a function bound to this object; they are made on first use, since a run makes one `op` per
 * revision and most revisions call one or two of them.
 */
class EmittingOperations {
  readonly #emit: (statement: string) => void;

  constructor(emit: (statement: string) => void) {
    this.#emit = emit;
  }

  static {
    for (const [name, render] of Object.entries(RENDERERS) as [string, (...args: unknown[]) => string[]][]) {
      Object.defineProperty(this.prototype, name, {
        enumerable: true,
        get(this: EmittingOperations) {
          // Render everything first, then emit: a refused call leaves nothing half-emitted.
          const operation = (...args: unknown[]): void => {
            // An argument past the last would be dropped, and with it an option such as
            // { schema } (alterColumn's goes in its changes): the op would act on another table.
            const extra = args.findIndex((arg, i) => i >= render.length && arg !== undefined);
            if (extra !== -1) {
              throw invalidOperation({ op: name, argument: `argument ${extra + 1}` }, `is one more than it takes (${render.length}); an option such as { schema } goes in its options object.`);
            }
            const statements = render(...args);
            // A fragment of the author's SQL (a type, a CHECK condition, a default) is written as
            // is: a backslash outside quotes in it would be a psql meta-command offline (execute's
            // text is checked whole, with its own words).
            if (name !== "execute") for (const statement of statements) refuseMetaCommand(name, statement);
            for (const statement of statements) this.#emit(statement);
          };
          Object.defineProperty(this, name, { value: operation, enumerable: true });
          return operation;
        },
      });
    }
    for (const [name, helper] of Object.entries(TEXT_HELPERS)) Object.defineProperty(this.prototype, name, { enumerable: true, value: helper });
  }
}
