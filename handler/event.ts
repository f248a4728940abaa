/**
 * The Lambda event, checked before anything connects or downloads. Pure: no I/O, no SDK.
 *
 *   { "command": "upgrade", "target": "head", "database": "main",
 *     "bundle": { "sha256": "…" }, "x": { "data": "true" }, "dryRun": false }
 *
 * Every field is checked for presence, type and use: a field the command does not take is an
 * error rather than silently ignored (a `target` on `current` is a mistake worth hearing about).
 *
 * Tenant databases: `"tenants": ["acme", "globex"]` on upgrade/downgrade/stamp/current runs
 * those tenant schemas (default: all of them); `fanout` lists the tenants and invokes this
 * function per batch; `tenants` lists them (and their batches, for a Step Functions Map).
 *
 *   { "command": "fanout", "operation": "upgrade", "target": "head", "batchSize": 25, "concurrency": 4 }
 */
import { LambicError } from "../src/errors.ts";
import { closestMatch } from "../src/suggest.ts";
import { tenantNameProblem } from "../src/tenant-name.ts";

export const COMMANDS = ["upgrade", "downgrade", "stamp", "current", "heads", "history", "check", "repair", "sql", "fanout", "tenants"] as const;
export type CommandName = (typeof COMMANDS)[number];

const COMMON_FIELDS = ["command", "database", "bundle"] as const;
/** The fields each command takes besides command, database and bundle. */
const COMMAND_FIELDS: Readonly<Record<CommandName, readonly string[]>> = {
  upgrade: ["target", "x", "dryRun", "allowChanged", "perRevision", "tenants", "deadline"],
  downgrade: ["target", "x", "dryRun", "allowChanged", "perRevision", "tenants", "deadline"],
  stamp: ["target", "purge", "dryRun", "tenants", "deadline"],
  current: ["tenants"],
  heads: [],
  history: ["range"],
  check: ["tenants"],
  repair: ["tenants"],
  sql: ["target", "direction", "x", "tenants"],
  fanout: ["operation", "target", "x", "allowChanged", "perRevision", "purge", "tenants", "batchSize", "concurrency"],
  tenants: ["batchSize"],
};
const ALL_FIELDS = [...new Set([...COMMON_FIELDS, ...Object.values(COMMAND_FIELDS).flat()])];
const REQUIRED_TARGET: readonly CommandName[] = ["upgrade", "downgrade", "stamp", "fanout"];
export const FANOUT_OPERATIONS = ["upgrade", "downgrade", "stamp"] as const;
export type FanoutOperation = (typeof FANOUT_OPERATIONS)[number];
/** Tenants per invocation: one batch must fit in one invocation's time and one response. */
export const MAX_EVENT_TENANTS = 1000;
export const DEFAULT_BATCH_SIZE = 25;
export const DEFAULT_FANOUT_CONCURRENCY = 4;
/** Concurrent batch invocations: each holds a database connection per tenant worker. */
const MAX_FANOUT_CONCURRENCY = 100;

const SHA256 = /^[0-9a-f]{64}$/;
/** Targets and ranges are symbols (ids, labels, +N/-N, A:B): no spaces, bounded length. */
const SYMBOL = /^\S{1,200}$/;

export interface LambicEvent {
  readonly command: CommandName;
  readonly database: string;
  /** Undefined: follow `<prefix>/<db>/current.json`. */
  readonly bundleSha256: string | undefined;
  /** upgrade/downgrade: one target; stamp: one or more; sql: a target or range (default "head"). */
  readonly targets: readonly string[];
  readonly x: Readonly<Record<string, string>>;
  readonly dryRun: boolean;
  readonly allowChanged: boolean;
  /** upgrade/downgrade: commit after each revision (the CLI's --per-revision, Alembic's transaction_per_migration). */
  readonly perRevision: boolean;
  readonly purge: boolean;
  /** history only. */
  readonly range: string | undefined;
  /** sql only. */
  readonly direction: "upgrade" | "downgrade";
  /** Tenant schemas to run (validated names); undefined: every tenant of a tenant database. */
  readonly tenants: readonly string[] | undefined;
  /** fanout only: the command each batch runs. */
  readonly operation: FanoutOperation | undefined;
  /** fanout and tenants: tenants per batch invocation. */
  readonly batchSize: number;
  /** fanout only: batch invocations at once. */
  readonly concurrency: number;
  /**
   * Epoch milliseconds by which the invocation must have answered, when sooner than its own end:
   * a fan-out's coordinator sets it on each batch, so that the batch answers in time for the report.
   */
  readonly deadline: number | undefined;
}

export interface EventDefaults {
  /** The databases this function serves (LAMBIC_DATABASES, or LAMBIC_DATABASE). */
  readonly databases: readonly string[];
  /** Used when the event names none. */
  readonly defaultDatabase: string;
}

/** The databases from the function's environment: LAMBIC_DATABASES="a,b" or LAMBIC_DATABASE="a" (default "main"). */
export function eventDefaultsFromEnv(env: Record<string, string | undefined>): EventDefaults {
  const single = env.LAMBIC_DATABASE?.trim() || undefined;
  const listed = (env.LAMBIC_DATABASES ?? "").split(",").map((name) => name.trim()).filter(Boolean);
  const databases = listed.length > 0 ? listed : [single ?? "main"];
  return { databases, defaultDatabase: single && databases.includes(single) ? single : databases[0]! };
}

export function parseEvent(raw: unknown, defaults: EventDefaults): LambicEvent {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalid("(event)", raw, `The event must be a JSON object like {"command": "upgrade", "target": "head"}, got ${describe(raw)}.`);
  }
  const event = raw as Record<string, unknown>;

  const command = event.command;
  if (command === undefined) throw invalid("command", command, `The event has no "command". Set it to one of ${COMMANDS.join(", ")}.`);
  if (typeof command !== "string" || !(COMMANDS as readonly string[]).includes(command)) {
    const close = typeof command === "string" ? closestMatch(command, COMMANDS) : undefined;
    throw invalid("command", command, `"command" is ${describe(command)}; expected one of ${COMMANDS.join(", ")}.${close ? ` Did you mean "${close}"?` : ""}`);
  }
  const name = command as CommandName;
  const allowed = [...COMMON_FIELDS, ...COMMAND_FIELDS[name]];
  for (const key of Object.keys(event)) {
    if (allowed.includes(key)) continue;
    if (ALL_FIELDS.includes(key)) {
      throw invalid(key, event[key], `"${key}" is not used by command "${name}", which takes: ${allowed.join(", ")}. Remove it.`);
    }
    const close = closestMatch(key, ALL_FIELDS);
    throw invalid(key, event[key], `Unknown field "${clip(key)}" in the event.${close ? ` Did you mean "${close}"?` : ""} Fields for "${name}": ${allowed.join(", ")}.`);
  }

  const database = event.database === undefined ? defaults.defaultDatabase : event.database;
  if (typeof database !== "string" || database === "") {
    throw invalid("database", database, `"database" is ${describe(database)}; expected the name of a database, one of ${defaults.databases.join(", ")}.`);
  }
  if (!defaults.databases.includes(database)) {
    const close = closestMatch(database, defaults.databases);
    throw invalid("database", database, `"database" is "${clip(database)}", which this function does not serve.${close ? ` Did you mean "${close}"?` : ""} It serves: ${defaults.databases.join(", ")} (LAMBIC_DATABASE / LAMBIC_DATABASES).`);
  }

  const operation = parseOperation(name, event.operation);
  if (operation !== undefined) {
    // A fanout's batches run its operation: a field that operation does not take is refused too.
    for (const key of ["x", "allowChanged", "perRevision", "purge"] as const) {
      if (event[key] !== undefined && !COMMAND_FIELDS[operation].includes(key)) {
        // Named: what a fanout event takes for this operation (not dryRun or deadline, which it refuses).
        const takes = COMMAND_FIELDS[operation].filter((f) => COMMAND_FIELDS.fanout.includes(f));
        throw invalid(key, event[key], `"${key}" is not used by fanout operation "${operation}", which takes: ${takes.join(", ")}. Remove it.`);
      }
    }
  }
  const targets = parseTargets(operation ?? name, event.target);
  const direction = parseDirection(event.direction);
  if (name === "sql") checkScriptRange(targets[0]!, direction, event.target === undefined);
  return {
    command: name,
    database,
    bundleSha256: parseBundle(event.bundle),
    targets,
    x: parseX(event.x),
    dryRun: parseBoolean(event, "dryRun"),
    allowChanged: parseBoolean(event, "allowChanged"),
    perRevision: parseBoolean(event, "perRevision"),
    purge: parseBoolean(event, "purge"),
    range: parseHistoryRange(event.range),
    direction,
    tenants: parseTenants(event.tenants, name === "fanout" ? undefined : MAX_EVENT_TENANTS),
    operation,
    batchSize: parseCount(event.batchSize, "batchSize", DEFAULT_BATCH_SIZE, MAX_EVENT_TENANTS),
    concurrency: parseCount(event.concurrency, "concurrency", DEFAULT_FANOUT_CONCURRENCY, MAX_FANOUT_CONCURRENCY),
    deadline: parseDeadline(event.deadline),
  };
}

/**
 * The sql command's target as the offline renderer reads it (src/revision/plan.ts parseRange):
 * a target, or one "from:to" with its end named; a downgrade script needs its start named too,
 * since offline there are no version rows to start from.
 */
function checkScriptRange(target: string, direction: "upgrade" | "downgrade", defaulted: boolean): void {
  const parts = target.split(":");
  if (parts.length > 2) {
    throw invalid("target", target, `"target" is "${target}"; expected a target or a range <from>:<to> with one ":", e.g. "base:head".`);
  }
  if (parts.length === 2 && parts[1] === "") {
    throw invalid("target", target, `"target" is the range "${target}", which names no revision after the ":", and a script runs to one: e.g. "${target}${direction === "upgrade" ? "head" : "base"}".`);
  }
  if (parts.length === 1 && direction === "downgrade") {
    throw invalid(
      "target",
      defaulted ? undefined : target,
      `${defaulted ? `"target" is missing (default "head")` : `"target" is "${target}"`}, and a downgrade script starts from revisions the event must name: give a range <from>:<to>, e.g. "head:base" (offline there are no version rows to start from).`,
    );
  }
}

/** history's range, as planHistory reads it: [start]:[end] with one ":". */
function parseHistoryRange(value: unknown): string | undefined {
  const range = parseSymbol(value, "range", `a range like "base:head" or "ae10:"`);
  if (range !== undefined && range.split(":").length !== 2) {
    throw invalid("range", range, `"range" is "${range}"; expected a range with one ":", like "base:head", "ae10:" or ":head".`);
  }
  return range;
}

function parseDeadline(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalid("deadline", value, `"deadline" is ${describe(value)}; expected a time in epoch milliseconds (a whole number, e.g. ${Date.now() + 60_000}), as a fan-out's coordinator sets it, or leave it out.`);
  }
  return value;
}

function parseOperation(command: CommandName, operation: unknown): FanoutOperation | undefined {
  if (command !== "fanout") return undefined;
  if (typeof operation !== "string" || !(FANOUT_OPERATIONS as readonly string[]).includes(operation)) {
    throw invalid("operation", operation, `"operation" is ${describe(operation)}; fanout runs one of ${FANOUT_OPERATIONS.join(", ")} on every tenant, e.g. {"command": "fanout", "operation": "upgrade", "target": "head"}.`);
  }
  return operation as FanoutOperation;
}

/**
 * Tenant names become schema names, lock keys and log fields: each is checked here, before
 * anything connects, and the runner quotes it anyway.
 */
function parseTenants(tenants: unknown, max: number | undefined): string[] | undefined {
  if (tenants === undefined) return undefined;
  if (!Array.isArray(tenants) || tenants.length === 0) {
    throw invalid("tenants", tenants, `"tenants" is ${describe(tenants)}; expected a non-empty list of tenant schema names like ["acme", "globex"], or leave it out to run every tenant.`);
  }
  // A fanout splits its tenants into batches of batchSize (each within the limit), so it takes
  // any number: the event's size (Lambda's 6 MB request) bounds it.
  if (max !== undefined && tenants.length > max) {
    throw invalid("tenants", `(${tenants.length} names)`, `"tenants" lists ${tenants.length} names; one invocation takes at most ${max}. Use {"command": "fanout"} to split them into batches.`);
  }
  const seen = new Set<string>();
  return tenants.map((tenant, i) => {
    const field = `tenants[${i}]`;
    // Said here rather than by validateTenantName, whose message quotes the whole value.
    const problem = tenantNameProblem(tenant);
    if (problem !== undefined) {
      throw invalid(field, tenant, `Tenant ${clip(JSON.stringify(tenant) ?? String(tenant), 80)} (from the event's "${field}") ${problem}. It was not used; fix the tenant list.`);
    }
    if (seen.has(tenant)) throw invalid(field, tenant, `"tenants" lists "${tenant}" twice; each tenant runs once.`);
    seen.add(tenant);
    return tenant as string;
  });
}

function parseCount(value: unknown, field: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalid(field, value, `"${field}" is ${describe(value)}; expected a whole number from 1 to ${max}.`);
  }
  return value;
}

function parseBundle(bundle: unknown): string | undefined {
  if (bundle === undefined) return undefined;
  if (typeof bundle !== "object" || bundle === null || Array.isArray(bundle)) {
    throw invalid("bundle", bundle, `"bundle" is ${describe(bundle)}; expected {"sha256": "<64 hex digits>"} (what lambic publish prints), or leave it out to use the current bundle.`);
  }
  for (const key of Object.keys(bundle)) {
    if (key !== "sha256") throw invalid(`bundle.${key}`, (bundle as Record<string, unknown>)[key], `Unknown field "bundle.${clip(key)}"; "bundle" takes only "sha256".`);
  }
  const sha256 = (bundle as Record<string, unknown>).sha256;
  if (sha256 === undefined) throw invalid("bundle.sha256", sha256, `"bundle" has no "sha256". Give the bundle's sha256 (lambic publish prints it), or leave "bundle" out to use the current bundle.`);
  if (typeof sha256 !== "string" || !SHA256.test(sha256)) {
    throw invalid("bundle.sha256", sha256, `"bundle.sha256" is ${describe(sha256)}; expected 64 lowercase hex digits (lambic publish prints it).`);
  }
  return sha256;
}

function parseTargets(command: CommandName | FanoutOperation, target: unknown): string[] {
  if (target === undefined) {
    if (REQUIRED_TARGET.includes(command)) {
      const example = command === "downgrade" ? "-1" : "head";
      throw invalid("target", target, `Command "${command}" needs a "target", e.g. {"command": "${command}", "target": "${example}"}.`);
    }
    return command === "sql" ? ["head"] : [];
  }
  if (command === "stamp" && Array.isArray(target)) {
    if (target.length === 0) throw invalid("target", target, `"target" is an empty list; stamp needs one or more targets, e.g. "head" or ["ae10", "27c6"].`);
    return target.map((item, i) => onlineTarget(command, parseSymbol(item, `target[${i}]`, "a revision target such as \"head\"")!, `target[${i}]`));
  }
  const what = command === "sql" ? `a target or range such as "head" or "base:head"` : command === "stamp" ? `a target such as "head", or a list of them` : `a target such as "head", "-1" or a revision id`;
  const symbol = parseSymbol(target, "target", what)!;
  return [command === "sql" ? symbol : onlineTarget(command, symbol, "target")];
}

/** A range names where a script starts; online the start is the database's version rows. */
function onlineTarget(command: string, target: string, field: string): string {
  if (!target.includes(":")) return target;
  throw invalid(
    field,
    target,
    `"${field}" is the range "${target}", and ${command} starts where the database is (its version rows). Give one target, e.g. "${target.slice(target.lastIndexOf(":") + 1) || "head"}", or render the range as a script with {"command": "sql", "target": "${target}"}.`,
  );
}

function parseSymbol(value: unknown, field: string, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !SYMBOL.test(value)) {
    throw invalid(field, value, `"${field}" is ${describe(value)}; expected ${what} (no spaces, at most 200 characters).`);
  }
  return value;
}

function parseX(x: unknown): Record<string, string> {
  if (x === undefined) return {};
  if (typeof x !== "object" || x === null || Array.isArray(x)) {
    throw invalid("x", x, `"x" is ${describe(x)}; expected an object of strings like {"data": "true"} (what -x data=true gives on the command line).`);
  }
  // No prototype: "__proto__" is a key like another (assigning it to {} would drop it).
  const result = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(x)) {
    // As `-x =v` on the command line: a revision reads ctx.x by name, and "" names nothing.
    if (key === "") throw invalid("x", x, `"x" has an empty key (with the value ${JSON.stringify(clip(String(value)))}); give each user argument a name, like {"data": "true"}.`);
    if (typeof value !== "string") {
      const hint = value !== null && typeof value === "object" ? "a nested value is not one; pass it as a string of JSON" : `write ${JSON.stringify(String(value))}`;
      throw invalid(`x.${key}`, value, `"x.${clip(key)}" is ${describe(value)}; user arguments are strings, ${hint}.`);
    }
    result[key] = value;
  }
  return result;
}

function parseBoolean(event: Record<string, unknown>, field: string): boolean {
  const value = event[field];
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw invalid(field, value, `"${field}" is ${describe(value)}; expected true or false.`);
  return value;
}

function parseDirection(direction: unknown): "upgrade" | "downgrade" {
  if (direction === undefined) return "upgrade";
  if (direction !== "upgrade" && direction !== "downgrade") {
    throw invalid("direction", direction, `"direction" is ${describe(direction)}; expected "upgrade" or "downgrade".`);
  }
  return direction;
}

function invalid(field: string, value: unknown, message: string): LambicError {
  // Names from the event are clipped: a megabyte-long key would otherwise fill every log line.
  return new LambicError("INVALID_EVENT", `Invalid event: ${message}`, { field: clip(field), value: preview(value) });
}

function clip(text: string, length = 60): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

function preview(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text !== undefined && text.length > 200 ? `${text.slice(0, 200)}…` : value;
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) {
    const text = JSON.stringify(value);
    return `an array (${text.length > 200 ? `${text.slice(0, 200)}…` : text})`;
  }
  if (typeof value === "string") return value === "" ? "an empty string" : `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}
