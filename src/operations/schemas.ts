// CREATE / DROP SCHEMA and EXTENSION.
import { checkOptions, optionsOf } from "./clauses.ts";
import { qualifiedName, quoteIdentifier, quoteLiteral } from "./quote.ts";
import { invalidOperation } from "./invalid.ts";

export interface CreateSchemaOptions {
  readonly ifNotExists?: boolean;
}

export interface DropOptions {
  readonly ifExists?: boolean;
  readonly cascade?: boolean;
}

export interface CreateExtensionOptions {
  readonly ifNotExists?: boolean;
  /** Schema to install the extension's objects in. */
  readonly schema?: string;
  readonly version?: string;
  /** Also installs the extensions it requires. */
  readonly cascade?: boolean;
}

export function createSchema(name: string, options?: CreateSchemaOptions): string[] {
  const op = "createSchema";
  const checked = checkOptions(optionsOf(op), options, { ifNotExists: "boolean" });
  return [`CREATE SCHEMA ${checked.ifNotExists === true ? "IF NOT EXISTS " : ""}${quoteIdentifier(name, { op, argument: "name" })}`];
}

export function dropSchema(name: string, options?: DropOptions): string[] {
  return [drop("dropSchema", "SCHEMA", name, options)];
}

/** The extension name is quoted like any identifier (`"uuid-ossp"` needs it anyway). */
export function createExtension(name: string, options?: CreateExtensionOptions): string[] {
  const op = "createExtension";
  const checked = checkOptions(optionsOf(op), options, {
    ifNotExists: "boolean",
    schema: "string",
    version: "string",
    cascade: "boolean",
  });
  const schema = checked.schema === undefined ? "" : ` SCHEMA ${quoteIdentifier(checked.schema, { op, argument: "options.schema" })}`;
  // PostgreSQL refuses an empty version name ("Version names must not be empty"): refused before the run.
  if (checked.version === "") throw invalidOperation({ op, argument: "options.version" }, 'is empty; give a version the extension has (such as "1.6"), or leave version out for its default.');
  const version =
    checked.version === undefined ? "" : ` VERSION ${quoteLiteral(checked.version, { op, argument: "options.version" })}`;
  return [
    `CREATE EXTENSION ${checked.ifNotExists === true ? "IF NOT EXISTS " : ""}${quoteIdentifier(name, { op, argument: "name" })}` +
      `${schema}${version}${checked.cascade === true ? " CASCADE" : ""}`,
  ];
}

export function dropExtension(name: string, options?: DropOptions): string[] {
  return [drop("dropExtension", "EXTENSION", name, options)];
}

const DROP_OPTIONS = { ifExists: "boolean", cascade: "boolean" } as const;

/** `DROP <kind> [IF EXISTS] name [CASCADE]`, for objects that take no other option but a schema. */
export function drop(
  op: string,
  kind: string,
  name: string,
  options: (DropOptions & { readonly schema?: string }) | undefined,
  known: Record<string, "boolean" | "string"> = DROP_OPTIONS,
): string {
  const checked = checkOptions(optionsOf(op), options, known);
  return (
    `DROP ${kind} ${checked.ifExists === true ? "IF EXISTS " : ""}${qualifiedName(checked.schema, name, { op, argument: "name" })}` +
    (checked.cascade === true ? " CASCADE" : "")
  );
}
