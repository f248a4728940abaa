// ALTER TABLE ... ADD COLUMN / DROP COLUMN / ALTER COLUMN / RENAME COLUMN.
import { checkOptions, optionsOf, type SchemaOption } from "./clauses.ts";
import { renderColumn, type ColumnSpec } from "./column.ts";
import { alterTable } from "./constraints.ts";
import { invalidOperation, show } from "./invalid.ts";
import { renderDefault, type DefaultValue } from "./literal.ts";
import { checkRawSql, qualifiedName, quoteIdentifier } from "./quote.ts";
import { commentOnColumn } from "./tables.ts";

export interface AddColumnOptions extends SchemaOption {
  readonly ifNotExists?: boolean;
}

export interface DropColumnOptions extends SchemaOption {
  readonly ifExists?: boolean;
  readonly cascade?: boolean;
}

export interface AlterColumnOptions extends SchemaOption {
  /** New type as SQL, written as is: `"bigint"`, `"varchar(200)"`. */
  readonly type?: string;
  /** `USING` expression (SQL, as is) converting the old values; only with `type`. */
  readonly using?: string;
  /** `false` → SET NOT NULL, `true` → DROP NOT NULL. */
  readonly nullable?: boolean;
  /** A value or `{ raw }` → SET DEFAULT; `null` → DROP DEFAULT. */
  readonly default?: DefaultValue;
  /** `COMMENT ON COLUMN`; `null` removes the comment. */
  readonly comment?: string | null;
  /** RENAME COLUMN, emitted last as its own statement (PostgreSQL allows it alone only). */
  readonly newName?: string;
  /**
   * `"always"` or `"by default"` → ADD GENERATED … AS IDENTITY (the column must be, or be made,
   * NOT NULL, with no default: `default: null` drops a serial's); `null` → DROP IDENTITY. The new
   * sequence starts at 1 whatever the rows hold, and a serial's old sequence stays: drop it, then
   * `setval` the new one, as the README shows.
   */
  readonly identity?: "always" | "by default" | null;
}

export function addColumn(table: string, column: string, spec: ColumnSpec, options?: AddColumnOptions): string[] {
  const op = "addColumn";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", ifNotExists: "boolean" });
  const alter = alterTable(op, checked.schema, table);
  const rendered = renderColumn(column, spec, { op, argument: "spec" }, { op, argument: "column" });
  const statements = [`${alter} ADD COLUMN ${checked.ifNotExists === true ? "IF NOT EXISTS " : ""}${rendered.definition}`];
  if (rendered.comment !== undefined) {
    statements.push(commentOnColumn(op, qualifiedName(checked.schema, table, { op, argument: "table" }), column, rendered.comment));
  }
  return statements;
}

export function dropColumn(table: string, column: string, options?: DropColumnOptions): string[] {
  const op = "dropColumn";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", ifExists: "boolean", cascade: "boolean" });
  return [
    `${alterTable(op, checked.schema, table)} DROP COLUMN ${checked.ifExists === true ? "IF EXISTS " : ""}` +
      `${quoteIdentifier(column, { op, argument: "column" })}${checked.cascade === true ? " CASCADE" : ""}`,
  ];
}

/**
 * One ALTER TABLE carrying every change to the column (one table rewrite at most), then RENAME
 * COLUMN and COMMENT ON as their own statements. When the type and the default both change, the
 * old default is dropped before the type changes, as PostgreSQL's ALTER TABLE documentation
 * does: otherwise the old default would be converted to the new type, and may fail to.
 */
export function alterColumn(table: string, column: string, changes: AlterColumnOptions): string[] {
  const op = "alterColumn";
  const checked = checkOptions({ op, argument: "changes" }, changes, {
    schema: "string",
    type: "string",
    using: "string",
    nullable: "boolean",
    default: "any",
    comment: "any",
    newName: "string",
    identity: "any",
  });
  const alter = alterTable(op, checked.schema, table);
  const target = `ALTER COLUMN ${quoteIdentifier(column, { op, argument: "column" })}`;
  const actions: string[] = [];
  const hasDefault = checked.default !== undefined;
  if (checked.using !== undefined && checked.type === undefined) {
    throw invalidOperation({ op, argument: "changes.using" }, "is given without changes.type; USING only converts values to a new type. Add the type.");
  }
  if (checked.type !== undefined) {
    if (hasDefault) actions.push(`${target} DROP DEFAULT`);
    const using = checked.using === undefined ? "" : ` USING ${checkRawSql(checked.using, { op, argument: "changes.using" })}`;
    actions.push(`${target} TYPE ${checkRawSql(checked.type, { op, argument: "changes.type" })}${using}`);
  }
  if (checked.nullable !== undefined) actions.push(`${target} ${checked.nullable ? "DROP" : "SET"} NOT NULL`);
  if (checked.default === null) {
    if (checked.type === undefined) actions.push(`${target} DROP DEFAULT`);
  } else if (hasDefault) {
    actions.push(`${target} SET DEFAULT ${renderDefault(checked.default as DefaultValue, { op, argument: "changes.default" }, checked.type)}`);
  }
  if (checked.identity !== undefined) actions.push(`${target} ${identityAction(checked, op)}`);
  const statements = actions.length === 0 ? [] : [`${alter} ${actions.join(", ")}`];
  const finalName = checked.newName ?? column;
  if (checked.newName !== undefined) {
    statements.push(
      `${alter} RENAME COLUMN ${quoteIdentifier(column, { op, argument: "column" })} TO ${quoteIdentifier(checked.newName, { op, argument: "changes.newName" })}`,
    );
  }
  if (checked.comment !== undefined) {
    if (checked.comment !== null && typeof checked.comment !== "string") {
      throw invalidOperation({ op, argument: "changes.comment" }, `must be a string, or null to remove the comment, got ${show(checked.comment)}.`, { value: checked.comment });
    }
    statements.push(commentOnColumn(op, qualifiedName(checked.schema, table, { op, argument: "table" }), finalName, checked.comment));
  }
  if (statements.length === 0) {
    throw invalidOperation(
      { op, argument: "changes" },
      "names no change. Give at least one of type, nullable, default, comment, newName, identity.",
    );
  }
  return statements;
}

/** `ADD GENERATED ALWAYS AS IDENTITY`, `ADD GENERATED BY DEFAULT AS IDENTITY` or `DROP IDENTITY`, after the nullability and default changes it needs. */
function identityAction(changes: Partial<AlterColumnOptions>, op: string): string {
  const where = { op, argument: "changes.identity" };
  if (changes.identity === null) return "DROP IDENTITY";
  if (changes.identity !== "always" && changes.identity !== "by default") {
    throw invalidOperation(where, `is ${show(changes.identity)}; use "always" or "by default" to add an identity, or null to drop it.`, { value: changes.identity });
  }
  if (changes.nullable === true) {
    throw invalidOperation(where, "is added with nullable: true, but an identity column is NOT NULL. Leave nullable out (or false).");
  }
  if (changes.default !== undefined && changes.default !== null) {
    throw invalidOperation(where, "is added with a default, but an identity column takes its values from its sequence. Drop the default (default: null), or leave identity out.");
  }
  return `ADD GENERATED ${changes.identity === "always" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`;
}
