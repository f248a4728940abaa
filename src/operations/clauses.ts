// Pieces several op families share: option checking, column lists, referential actions.
import { at, invalidOperation, isPlainObject, show, type Where } from "./invalid.ts";
import { quoteIdentifier } from "./quote.ts";

/** Every op takes its schema here; names are never split on dots (`"a.b"` is one name). */
export interface SchemaOption {
  /** The schema the object lives in; absent: unqualified, found through search_path. */
  readonly schema?: string;
}

type OptionKind = "boolean" | "string" | "any";

/**
 * Checks an options object against the keys an op knows: a typo (`cascde: true`) in a plain-JS
 * revision would otherwise be ignored and the statement would silently do less.
 */
export function checkOptions<T extends object>(
  where: Where,
  options: T | undefined,
  known: Record<string, OptionKind>,
): Partial<T> {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw invalidOperation(where, `must be a plain object, got ${show(options)}.`);
  for (const [key, value] of Object.entries(options)) {
    // Own keys only: "constructor" or "toString" must not find Object.prototype's.
    const kind = Object.hasOwn(known, key) ? known[key] : undefined;
    if (kind === undefined) {
      throw invalidOperation(where, `has an unknown key ${show(key)}. Known keys: ${Object.keys(known).join(", ")}.`, { key });
    }
    if (value !== undefined && kind !== "any" && typeof value !== kind) {
      throw invalidOperation(at(where, key), `must be a ${kind}, got ${show(value)}.`, { value });
    }
  }
  return options;
}

/** The usual place of an op's options, for checkOptions. */
export function optionsOf(op: string): Where {
  return { op, argument: "options" };
}

/** `("a", "b")`; refuses an empty list, which PostgreSQL has no syntax for. */
export function columnList(columns: readonly string[], where: Where): string {
  if (!Array.isArray(columns)) throw invalidOperation(where, `must be an array of column names, got ${show(columns)}.`);
  if (columns.length === 0) throw invalidOperation(where, "is empty; give at least one column.");
  return `(${columns.map((column, index) => quoteIdentifier(column, at(where, index))).join(", ")})`;
}

export const REFERENTIAL_ACTIONS = ["NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"] as const;
/** SQL keywords are case-insensitive, so `"cascade"` is accepted too; it is written in capitals. */
export type ReferentialAction = (typeof REFERENTIAL_ACTIONS)[number] | Lowercase<(typeof REFERENTIAL_ACTIONS)[number]>;

/** The foreign key behaviour shared by a column's `references`, `foreignKeys` and `createForeignKey`. */
export interface ForeignKeyActions {
  readonly onDelete?: ReferentialAction;
  readonly onUpdate?: ReferentialAction;
  /** `MATCH FULL`: a multi-column key with some columns NULL is refused (SIMPLE, the default, skips the check). */
  readonly match?: "FULL" | "SIMPLE" | "full" | "simple";
}

export interface Deferrable {
  /** `DEFERRABLE`: the check may wait until commit (`SET CONSTRAINTS ... DEFERRED`). */
  readonly deferrable?: boolean;
  /** `DEFERRABLE INITIALLY DEFERRED`: checked at commit unless told otherwise. */
  readonly initiallyDeferred?: boolean;
}

/** ` MATCH FULL ON DELETE CASCADE ON UPDATE NO ACTION`, or "" — keywords come from a closed list, never from input. */
export function referentialActions(actions: ForeignKeyActions, where: Where): string {
  // PARTIAL is in the standard's grammar, but PostgreSQL refuses it: not offered.
  let sql = actions.match === undefined ? "" : ` MATCH ${closedKeyword(actions.match, ["FULL", "SIMPLE"], at(where, "match"))}`;
  for (const [key, keyword] of [["onDelete", "ON DELETE"], ["onUpdate", "ON UPDATE"]] as const) {
    const action = actions[key];
    if (action === undefined) continue;
    sql += ` ${keyword} ${closedKeyword(action, REFERENTIAL_ACTIONS, at(where, key))}`;
  }
  return sql;
}

/** ` DEFERRABLE`, ` DEFERRABLE INITIALLY DEFERRED`, ` NOT DEFERRABLE`, or "". */
export function deferrability(options: Deferrable, where: Where): string {
  if (options.initiallyDeferred === true) {
    if (options.deferrable === false) {
      throw invalidOperation(
        at(where, "initiallyDeferred"),
        "is true while deferrable is false; PostgreSQL cannot defer a NOT DEFERRABLE constraint. Drop one of them.",
      );
    }
    return " DEFERRABLE INITIALLY DEFERRED";
  }
  if (options.deferrable === true) return " DEFERRABLE";
  if (options.deferrable === false) return " NOT DEFERRABLE";
  return "";
}

/** `CONSTRAINT "name" ` when a name is given; otherwise PostgreSQL picks one. */
export function constraintName(name: string | undefined, where: Where): string {
  return name === undefined ? "" : `CONSTRAINT ${quoteIdentifier(name, where)} `;
}

/**
 * A keyword from a closed list, matched without regard to case and written in capitals: it goes
 * into the statement as is, so nothing outside the list may pass.
 */
export function closedKeyword<K extends string>(value: unknown, allowed: readonly K[], where: Where): K {
  const upper = typeof value === "string" ? value.toUpperCase() : undefined;
  const match = allowed.find((keyword) => keyword === upper);
  if (match === undefined) {
    throw invalidOperation(where, `is ${show(value)}; use one of ${allowed.map((keyword) => `"${keyword}"`).join(", ")}.`, {
      value,
    });
  }
  return match;
}
