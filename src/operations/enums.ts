// Enum types: CREATE TYPE ... AS ENUM, DROP TYPE, ALTER TYPE ... ADD VALUE.
import { checkOptions, optionsOf, type SchemaOption } from "./clauses.ts";
import { at, invalidOperation, show, type Where } from "./invalid.ts";
import { qualifiedName, quoteLiteral, utf8Length } from "./quote.ts";
import { drop, type DropOptions } from "./schemas.ts";

/** Like identifiers, enum labels are stored in a NAMEDATALEN buffer; longer ones are an error there too. */
const MAX_LABEL_BYTES = 63;

export interface DropEnumOptions extends DropOptions, SchemaOption {}

export interface AddEnumValueOptions extends SchemaOption {
  /** Place the new label before this existing one (default: at the end). */
  readonly before?: string;
  /** Place the new label after this existing one. */
  readonly after?: string;
  readonly ifNotExists?: boolean;
}

export function createEnum(name: string, values: readonly string[], options?: SchemaOption): string[] {
  const op = "createEnum";
  const { schema } = checkOptions(optionsOf(op), options, { schema: "string" });
  const type = qualifiedName(schema, name, { op, argument: "name" });
  if (!Array.isArray(values)) throw invalidOperation({ op, argument: "values" }, `must be an array of labels, got ${show(values)}.`);
  const seen = new Set<string>();
  const labels = values.map((value, index) => {
    const where = at({ op, argument: "values" }, index);
    const label = enumLabel(value, where);
    if (seen.has(value)) throw invalidOperation(where, `repeats the label ${show(value)}; enum labels must be unique. Remove the duplicate.`);
    seen.add(value);
    return label;
  });
  return [`CREATE TYPE ${type} AS ENUM (${labels.join(", ")})`];
}

export function dropEnum(name: string, options?: DropEnumOptions): string[] {
  return [drop("dropEnum", "TYPE", name, options, { ifExists: "boolean", cascade: "boolean", schema: "string" })];
}

/**
 * `ALTER TYPE ... ADD VALUE`. PostgreSQL 12+ runs it inside a transaction, but the new label
 * cannot be used until that transaction commits (55P04, "unsafe use of new value"), and a run is
 * one transaction, later revisions included: make this revision `transactional: false` (with
 * `ifNotExists`, as it cannot be rolled back), or run with `--per-revision`.
 */
export function addEnumValue(name: string, value: string, options?: AddEnumValueOptions): string[] {
  const op = "addEnumValue";
  const checked = checkOptions(optionsOf(op), options, { schema: "string", before: "string", after: "string", ifNotExists: "boolean" });
  const type = qualifiedName(checked.schema, name, { op, argument: "name" });
  const label = enumLabel(value, { op, argument: "value" });
  if (checked.before !== undefined && checked.after !== undefined) {
    throw invalidOperation(optionsOf(op), "sets both before and after; give one place for the new label.");
  }
  const place =
    checked.before !== undefined
      ? ` BEFORE ${enumLabel(checked.before, { op, argument: "options.before" })}`
      : checked.after !== undefined
        ? ` AFTER ${enumLabel(checked.after, { op, argument: "options.after" })}`
        : "";
  return [`ALTER TYPE ${type} ADD VALUE ${checked.ifNotExists === true ? "IF NOT EXISTS " : ""}${label}${place}`];
}

function enumLabel(value: string, where: Where): string {
  const quoted = quoteLiteral(value, where);
  const bytes = utf8Length(value);
  if (bytes > MAX_LABEL_BYTES) {
    throw invalidOperation(
      where,
      `${show(value)} is ${bytes} bytes in UTF-8; PostgreSQL refuses enum labels over ${MAX_LABEL_BYTES} bytes. Shorten it.`,
      { value, bytes, maxBytes: MAX_LABEL_BYTES },
    );
  }
  return quoted;
}
