import { LambicError } from "../errors.ts";

/** Which op, and which of its arguments, a value came from: every error points at the call. */
export interface Where {
  readonly op: string;
  readonly argument: string;
}

/** Builds `op.createTable(): columns.email <problem>`, with the op and argument as details too. */
export function invalidOperation(where: Where, problem: string, details: Record<string, unknown> = {}): LambicError {
  return new LambicError("INVALID_OPERATION", `op.${where.op}(): ${where.argument} ${problem}`, {
    op: where.op,
    argument: where.argument,
    ...details,
  });
}

/** Names a nested argument: `at(where, "columns", "email")` → `columns.email` / `columns["a b"]`. */
export function at(where: Where, key: string | number): Where {
  // A long key is cut here: the message shows the full value beside it anyway.
  const label = typeof key === "string" && key.length > 32 ? `${key.slice(0, 29)}…` : key;
  const suffix =
    typeof label === "number" ? `[${label}]` : /^[A-Za-z_$][\w$]*$/.test(label) ? `.${label}` : `[${JSON.stringify(label)}]`;
  return { op: where.op, argument: `${where.argument}${suffix}` };
}

/**
 * A value as a message shows it. Strings go through JSON.stringify so that NUL, quotes and
 * control characters are visible (`"a\u0000b"`), and long ones are cut so a message stays a line.
 */
export function show(value: unknown): string {
  if (typeof value === "string") {
    const text = JSON.stringify(value);
    return text.length > 90 ? `${text.slice(0, 80)}…" (${value.length} characters)` : text;
  }
  if (typeof value === "bigint") return `${value}n`;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name !== "string" || name === "" || name === "Object") return "an object";
    return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
  }
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  return String(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
