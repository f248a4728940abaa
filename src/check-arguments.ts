import { LambicError } from "./errors.ts";
import { HISTORY_TABLE } from "./runner/version-table.ts";

/**
 * Checks of what a caller of the programmatic API passes. The CLI and the handler build these
 * values themselves; code importing lambic may not, and a missing option used to surface as a
 * TypeError, an op error naming no op the caller called, or SQL such as `lock_timeout = 'NaNms'`.
 */

/** The largest lock_timeout and statement_timeout PostgreSQL accepts (INT_MAX milliseconds). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number") return String(value);
  return typeof value;
}

export function argumentError(fn: string, argument: string, expected: string, value: unknown): LambicError {
  return new LambicError("USAGE", `${fn}(): ${argument} must be ${expected}, got ${describe(value)}.`, { function: fn, argument });
}

function checkRecord(fn: string, argument: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw argumentError(fn, argument, "an object", value);
}

/** Not an assertion: a typed parameter keeps its type. */
export function checkObject(fn: string, argument: string, value: unknown): void {
  checkRecord(fn, argument, value);
}

export function checkString(fn: string, argument: string, value: unknown, optional = false): void {
  if (optional && value === undefined) return;
  if (typeof value !== "string" || value === "") throw argumentError(fn, argument, optional ? "a non-empty string when given" : "a non-empty string", value);
}

export function checkTimeout(fn: string, argument: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMEOUT_MS) {
    throw argumentError(fn, argument, `a number of milliseconds from 0 (no limit) to ${MAX_TIMEOUT_MS}`, value);
  }
}

function checkOptionalType(fn: string, argument: string, value: unknown, type: "boolean" | "function"): void {
  if (value !== undefined && typeof value !== type) throw argumentError(fn, argument, `a ${type} when given`, value);
}

/** The version table's options (readCurrent, checkDatabase). */
export function checkTableOptions(fn: string, options: unknown): asserts options is Record<string, unknown> {
  checkRecord(fn, "options", options);
  checkString(fn, "options.versionTable", options.versionTable);
  if (options.versionTable === HISTORY_TABLE) throw argumentError(fn, "options.versionTable", `a name other than ${HISTORY_TABLE} (lambic's history table)`, options.versionTable);
  checkString(fn, "options.schema", options.schema, true);
}

/** What every writing run needs (runMigration, repairChecksums, renderScript). */
export function checkRunOptions(fn: string, options: unknown): void {
  checkTableOptions(fn, options);
  checkString(fn, "options.searchPath", options.searchPath, true);
  checkTimeout(fn, "options.lockTimeoutMs", options.lockTimeoutMs);
  checkTimeout(fn, "options.statementTimeoutMs", options.statementTimeoutMs);
  checkString(fn, "options.actor", options.actor);
  checkString(fn, "options.runId", options.runId);
  checkOptionalType(fn, "options.perRevision", options.perRevision, "boolean");
  checkOptionalType(fn, "options.allowChanged", options.allowChanged, "boolean");
  checkOptionalType(fn, "options.onStep", options.onStep, "function");
  checkOptionalType(fn, "options.remainingMs", options.remainingMs, "function");
  if (options.x !== undefined) {
    checkRecord(fn, "options.x", options.x);
    for (const [key, value] of Object.entries(options.x)) {
      if (typeof value !== "string") throw argumentError(fn, `options.x.${key}`, "a string", value);
    }
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw argumentError(fn, "options.signal", "an AbortSignal when given", options.signal);
}

const COMMAND_KINDS = ["upgrade", "downgrade", "stamp"];

/** `{ kind: "upgrade" | "downgrade", target }` or `{ kind: "stamp", targets, purge? }`. */
export function checkCommand(fn: string, command: unknown): void {
  checkRecord(fn, "command", command);
  if (!COMMAND_KINDS.includes(command.kind as string)) throw argumentError(fn, "command.kind", `one of ${COMMAND_KINDS.map((k) => `"${k}"`).join(", ")}`, command.kind);
  if (command.kind === "stamp") {
    const targets = command.targets;
    if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === "string" && t !== "")) {
      throw argumentError(fn, "command.targets", 'a non-empty list of targets (e.g. ["head"])', targets);
    }
    checkOptionalType(fn, "command.purge", command.purge, "boolean");
  } else {
    checkString(fn, "command.target", command.target);
  }
}

/** The revision set: what openRevisionSet or createRevisionSet returns. */
export function checkRevisionSet(fn: string, set: unknown): void {
  checkRecord(fn, "set", set);
  if (typeof set.map !== "object" || set.map === null || typeof set.revisions !== "object" || set.revisions === null) {
    throw argumentError(fn, "set", "a revision set (from openRevisionSet or createRevisionSet)", set);
  }
}

export function checkConnection(fn: string, connection: unknown): void {
  checkRecord(fn, "connection", connection);
  if (typeof connection.query !== "function") throw argumentError(fn, "connection", "a connection (from openConnection)", connection);
}
