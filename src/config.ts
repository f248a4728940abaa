import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { checkObject, checkString, MAX_TIMEOUT_MS } from "./check-arguments.ts";
import { LambicError } from "./errors.ts";
import { closestMatch } from "./suggest.ts";
import { tenantNameProblem } from "./tenant-name.ts";
import { splitStatements } from "./operations/sql-statements.ts";
import { HISTORY_TABLE } from "./runner/version-table.ts";

export const CONFIG_FILE_NAME = "lambic.config.json";

/** Schemas migrated one by one, each with its own version table: a list, or a query returning them. */
export type TenantsConfig = readonly string[] | { readonly query: string };

export interface DatabaseConfig {
  readonly name: string;
  /**
   * Undefined when no URL is set: the CLI then runs against the embedded PostgreSQL. Empty when
   * one is set to "" (DATABASE_URL="", a `${VAR}` url whose variable is empty): the CLI refuses it.
   */
  readonly url: string | undefined;
  /** Absolute path of the revisions folder. */
  readonly revisions: string;
  readonly versionTable: string;
  /** Undefined: the connection's search_path (normally `public`). */
  readonly schema: string | undefined;
  /** Undefined: chosen from the URL by the driver layer. */
  readonly driver: "postgres" | "neon" | undefined;
  readonly lockTimeoutMs: number;
  /** 0 means no statement timeout. */
  readonly statementTimeoutMs: number;
  readonly tenants: TenantsConfig | undefined;
  /** The config file that configures it; undefined for the default database without one. */
  readonly configFile?: string;
  /** The variable of a `"url": "${VAR}"` that is not set (why `url` is undefined). */
  readonly urlVariable?: string;
}

/**
 * The project folder a database belongs to: its config file's, else the working directory. Its
 * .lambic/ holds the embedded PostgreSQL and the revision cache, and its dist/bundles/ what
 * publish builds, so `--config ../lambic.config.json` from a subfolder uses the project's own.
 */
export function projectDirOf(database: DatabaseConfig, cwd: string): string {
  return database.configFile ? dirname(database.configFile) : cwd;
}

export interface LambicConfig {
  /** The config file read, or undefined when none exists and the defaults apply. */
  readonly file: string | undefined;
  readonly databases: Readonly<Record<string, DatabaseConfig>>;
  /** Undefined when several databases are configured and none is the default: `--name` is required. */
  readonly defaultDatabase: string | undefined;
}

const TOP_LEVEL_KEYS = ["$schema", "databases", "defaultDatabase"] as const;
const DATABASE_KEYS = [
  "url",
  "revisions",
  "versionTable",
  "schema",
  "driver",
  "lockTimeoutMs",
  "statementTimeoutMs",
  "tenants",
] as const;
const DRIVERS = ["postgres", "neon"] as const;

const DEFAULTS = { versionTable: "lambic_version", lockTimeoutMs: 10_000, statementTimeoutMs: 0 } as const;

// Unquoted PostgreSQL identifiers (63 bytes max): the runner quotes them, but a name needing
// quotes in psql is a trap for whoever reads the offline script.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const DATABASE_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * Reads `lambic.config.json` (or `configFile`), interpolates `${VAR}` / `${VAR:-default}` from
 * `env`, validates it and applies the defaults. Without a config file there is one database,
 * `main`, with its revisions in `revisions/main` and its URL from DATABASE_URL.
 */
export function loadConfig(options: { configFile?: string; cwd: string; env: Record<string, string | undefined> }): LambicConfig {
  checkObject("loadConfig", "options", options);
  checkString("loadConfig", "options.cwd", options.cwd);
  checkObject("loadConfig", "options.env", options.env);
  checkString("loadConfig", "options.configFile", options.configFile, true);
  const file = resolve(options.cwd, options.configFile ?? CONFIG_FILE_NAME);
  if (!existsSync(file)) {
    if (options.configFile !== undefined) {
      throw new LambicError("CONFIG_INVALID", `Config file ${file} does not exist. Check --config, or leave it out to use ${CONFIG_FILE_NAME} in the current folder.`, { file });
    }
    return {
      file: undefined,
      defaultDatabase: "main",
      databases: {
        main: {
          name: "main",
          // Set but empty stays "": the CLI refuses it rather than fall back to the embedded server.
          url: options.env["DATABASE_URL"],
          revisions: resolve(options.cwd, "revisions/main"),
          versionTable: DEFAULTS.versionTable,
          schema: undefined,
          driver: undefined,
          lockTimeoutMs: DEFAULTS.lockTimeoutMs,
          statementTimeoutMs: DEFAULTS.statementTimeoutMs,
          tenants: undefined,
        },
      },
    };
  }
  return parseConfig(readConfigFile(file), file, options.env);
}

/** The config file's text; a folder or an unreadable file is the user's to fix (CONFIG_INVALID), not a lambic bug. */
function readConfigFile(file: string): string {
  try {
    // A byte-order mark (Windows Notepad's UTF-8) is not JSON, but is no part of the text either.
    return readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === "EISDIR" ? "is a folder, not a config file" : `cannot be read (${code ?? (error as Error).message})`;
    throw new LambicError("CONFIG_INVALID", `Config file ${file} ${problem}. Give --config the file itself (such as ${CONFIG_FILE_NAME}), or fix what is at that path.`, { file }, { cause: error });
  }
}

/** The database named by `--name`, or the default one. */
export function resolveDatabase(config: LambicConfig, name?: string): DatabaseConfig {
  checkObject("resolveDatabase", "config", config);
  checkObject("resolveDatabase", "config.databases", config.databases);
  checkString("resolveDatabase", "name", name, true);
  const names = Object.keys(config.databases);
  // Run from a subfolder, or with the file misnamed, the defaults apply: say there was no file.
  const where = config.file ?? `the default configuration (no ${CONFIG_FILE_NAME} was found in the current folder, nor given with --config)`;
  if (name === undefined) {
    if (config.defaultDatabase === undefined) {
      throw new LambicError(
        "CONFIG_INVALID",
        `${where} configures several databases (${names.join(", ")}) and no defaultDatabase. Pass --name DB or set "defaultDatabase".`,
        { file: config.file, names },
      );
    }
    name = config.defaultDatabase;
  }
  const database = Object.hasOwn(config.databases, name) ? config.databases[name] : undefined;
  if (!database) {
    const close = closestMatch(name, names);
    throw new LambicError(
      "CONFIG_INVALID",
      `No database named "${name}" in ${where}.${close ? ` Did you mean "${close}"?` : ""} Configured: ${names.join(", ")}.`,
      { file: config.file, name, names },
    );
  }
  return database;
}

/** Parses and validates the config text; exported for tests that need no file. */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined>): LambicConfig {
  const fail = (path: readonly (string | number)[], message: string, details: Record<string, unknown> = {}): never => {
    const line = locateKey(text, path);
    throw new LambicError("CONFIG_INVALID", `${file}${line ? `:${line}` : ""}: ${message}`, { file, line, path: formatPath(path), ...details });
  };

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message);
    const line = position ? text.slice(0, Number(position[1])).split("\n").length : undefined;
    throw new LambicError("CONFIG_INVALID", `${file}${line ? `:${line}` : ""}: not valid JSON (${(error as Error).message}). Fix the syntax; comments and trailing commas are not allowed.`, {
      file,
      line,
    });
  }
  if (!isPlainObject(raw)) fail([], `expected a JSON object like { "databases": { "main": { "url": "\${DATABASE_URL}" } } }.`);
  const root = raw as Record<string, unknown>;
  checkKeys(root, TOP_LEVEL_KEYS, [], fail);

  const rawDatabases = root["databases"];
  if (!isPlainObject(rawDatabases) || Object.keys(rawDatabases).length === 0) {
    fail(["databases"], `"databases" must be an object with at least one database, like { "main": { "url": "\${DATABASE_URL}" } }.`);
  }
  const baseDir = dirname(file);
  const databases: Record<string, DatabaseConfig> = {};
  for (const [name, value] of Object.entries(rawDatabases as Record<string, unknown>)) {
    const path = ["databases", name];
    if (!DATABASE_NAME.test(name)) fail(path, `database name "${name}" may hold letters, digits, _ and - only (it is a folder name and a --name value).`);
    if (!isPlainObject(value)) fail(path, `databases.${name} must be an object like { "url": "\${DATABASE_URL}" }.`);
    databases[name] = { ...parseDatabase(name, value as Record<string, unknown>, baseDir, env, fail), configFile: file };
  }

  const names = Object.keys(databases);
  let defaultDatabase = root["defaultDatabase"];
  if (defaultDatabase === undefined) {
    defaultDatabase = names.length === 1 ? names[0] : names.includes("main") ? "main" : undefined;
  } else if (typeof defaultDatabase !== "string" || !names.includes(defaultDatabase)) {
    const close = typeof defaultDatabase === "string" ? closestMatch(defaultDatabase, names) : undefined;
    fail(["defaultDatabase"], `defaultDatabase ${JSON.stringify(defaultDatabase)} is not one of the configured databases (${names.join(", ")}).${close ? ` Did you mean "${close}"?` : ""} Set it to one of them, or leave it out (then the only database, else "main", is the default).`);
  }
  return { file, databases, defaultDatabase: defaultDatabase as string | undefined };
}

type Fail = (path: readonly (string | number)[], message: string, details?: Record<string, unknown>) => never;

function parseDatabase(name: string, value: Record<string, unknown>, baseDir: string, env: Record<string, string | undefined>, fail: Fail): DatabaseConfig {
  const at = (key: string) => ["databases", name, key];
  checkKeys(value, DATABASE_KEYS, ["databases", name], fail);

  const string = (key: string): string | undefined => {
    const raw = value[key];
    if (raw === undefined) return undefined;
    if (typeof raw !== "string") {
      // A url given as an object or a list ({ "password": ... }) may hold a password: name its kind only.
      const shown = key === "url" ? (raw === null ? "null" : Array.isArray(raw) ? "a list" : typeof raw === "object" ? "an object" : `a ${typeof raw}`) : JSON.stringify(raw);
      fail(at(key), `databases.${name}.${key} is ${shown}, expected a string${key === "url" ? ' such as "postgres://user:password@host:5432/database" or "${DATABASE_URL}"' : ""}.`);
    }
    return interpolate(raw as string, env, at(key), fail);
  };
  const milliseconds = (key: string, fallback: number): number => {
    const raw = value[key];
    if (raw === undefined) return fallback;
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0) {
      fail(at(key), `databases.${name}.${key} is ${JSON.stringify(raw)}, expected a whole number of milliseconds ≥ 0.`);
    }
    // PostgreSQL's timeouts are int4 milliseconds: a larger one fails every run's SET LOCAL.
    if ((raw as number) > MAX_TIMEOUT_MS) {
      fail(at(key), `databases.${name}.${key} is ${JSON.stringify(raw)}, more than PostgreSQL accepts (${MAX_TIMEOUT_MS} ms, about 24.8 days). Give at most ${MAX_TIMEOUT_MS}, or 0 for no limit of lambic's.`);
    }
    return raw as number;
  };
  const identifier = (key: string): string | undefined => {
    const result = string(key);
    if (result !== undefined && !IDENTIFIER.test(result)) {
      // The forms a psql user writes: schema.table, and "Quoted" names (lambic quotes every name itself).
      const qualified = key === "versionTable" ? /^([^.]+)\.([^.]+)$/.exec(result) : null;
      const unquoted = /^"[^"]+"$/.test(result) ? result.slice(1, -1) : undefined;
      const hint = qualified && IDENTIFIER.test(qualified[1]!) && IDENTIFIER.test(qualified[2]!)
        ? ` For the version table in schema "${qualified[1]}", write "schema": "${qualified[1]}" and "versionTable": "${qualified[2]}".`
        : unquoted !== undefined && IDENTIFIER.test(unquoted)
          ? ` Write it without the quotes ("${key}": "${unquoted}"): lambic quotes every name itself, so its case is kept.`
          : "";
      fail(at(key), `databases.${name}.${key} ${JSON.stringify(result)} is not a plain PostgreSQL identifier (letters, digits, _ and $, at most 63, not starting with a digit).${hint}`);
    }
    return result;
  };

  // An unset variable is an error everywhere except a `url` that is nothing but `${VAR}`: there
  // "no URL" is meaningful (the CLI falls back to the embedded PostgreSQL).
  const rawUrl = value["url"];
  const wholeVariable = typeof rawUrl === "string" ? /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(rawUrl) : null;
  // Unset is no URL; set but empty (a CI secret that is missing reads as "") stays "", which the
  // CLI refuses rather than "succeed" on a throwaway embedded server. `${VAR:-}` is no URL on purpose.
  const url = wholeVariable ? env[wholeVariable[1]!] : rawUrl === "" ? "" : string("url") || undefined;

  const driver = string("driver");
  if (driver !== undefined && !(DRIVERS as readonly string[]).includes(driver)) {
    fail(at("driver"), `databases.${name}.driver ${JSON.stringify(driver)} is not one of ${DRIVERS.join(", ")} (leave it out to choose from the URL).`);
  }

  const schema = identifier("schema");
  const tenants = parseTenants(name, value["tenants"], env, fail);
  // Each tenant's version table is in the tenant's own schema: a `schema` beside `tenants` would
  // be read and then used nowhere, and its reader would look for the version table there.
  if (schema !== undefined && tenants !== undefined) {
    fail(
      at("schema"),
      `databases.${name} sets both "schema" (${JSON.stringify(schema)}) and "tenants", but a tenant database keeps each tenant's version table in that tenant's schema, so "schema" would be ignored. Remove "schema" (or "tenants", to migrate the one schema ${JSON.stringify(schema)}).`,
      { schema },
    );
  }

  // An empty folder name would resolve to the project folder itself, and find no revisions there.
  const revisions = string("revisions");
  if (revisions === "") fail(at("revisions"), `databases.${name}.revisions is empty; give this database's revisions folder, such as "revisions/${name}" (the default, when "revisions" is left out).`);

  // The history table lambic keeps beside the version table: one table cannot be both.
  const versionTable = identifier("versionTable");
  if (versionTable === HISTORY_TABLE) {
    fail(at("versionTable"), `databases.${name}.versionTable is "${HISTORY_TABLE}", the name of the history table lambic keeps beside every version table; choose another name, such as "${name}_version" (or leave it out for "${DEFAULTS.versionTable}").`);
  }

  return {
    name,
    url,
    revisions: resolve(baseDir, revisions ?? `revisions/${name}`),
    versionTable: versionTable ?? DEFAULTS.versionTable,
    schema,
    driver: driver as DatabaseConfig["driver"],
    lockTimeoutMs: milliseconds("lockTimeoutMs", DEFAULTS.lockTimeoutMs),
    statementTimeoutMs: milliseconds("statementTimeoutMs", DEFAULTS.statementTimeoutMs),
    tenants,
    ...(wholeVariable && url === undefined ? { urlVariable: wholeVariable[1]! } : {}),
  };
}

function parseTenants(name: string, raw: unknown, env: Record<string, string | undefined>, fail: Fail): TenantsConfig | undefined {
  const path = ["databases", name, "tenants"];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) {
    const schemas = raw.map((item, index) => {
      if (typeof item !== "string") fail([...path, index], `databases.${name}.tenants[${index}] is ${JSON.stringify(item)}, expected a schema name.`);
      const schema = interpolate(item as string, env, [...path, index], fail);
      const problem = tenantNameProblem(schema);
      if (problem !== undefined) fail([...path, index], `databases.${name}.tenants[${index}] ${JSON.stringify(schema)} ${problem}.`);
      return schema;
    });
    const duplicate = schemas.find((schema, index) => schemas.indexOf(schema) !== index);
    if (duplicate !== undefined) fail(path, `databases.${name}.tenants lists "${duplicate}" twice; each tenant schema is migrated once.`);
    return schemas;
  }
  if (isPlainObject(raw)) {
    checkKeys(raw, ["query"], path, fail);
    const query = raw["query"];
    if (typeof query !== "string" || query.trim() === "") {
      fail([...path, "query"], `databases.${name}.tenants.query must be a SQL query returning one schema name per row.`);
    }
    const text = interpolate(query as string, env, [...path, "query"], fail);
    // The driver answers a text of several statements with the last one's rows: the tenants of
    // the others would be skipped without a word.
    const statements = splitStatements(text).length;
    if (statements > 1) fail([...path, "query"], `databases.${name}.tenants.query holds ${statements} statements; give one query returning one schema name per row (a UNION joins several lists).`);
    return { query: text };
  }
  return fail(path, `databases.${name}.tenants must be a list of schema names or { "query": "SELECT ..." }.`);
}

/** `${VAR}` and `${VAR:-default}` (the default also applies when VAR is empty, as in sh). */
function interpolate(value: string, env: Record<string, string | undefined>, path: readonly (string | number)[], fail: Fail): string {
  return value.replace(/\$\{([^}]*)\}?/g, (match, body: string, offset: number) => {
    const parsed = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(body);
    if (!match.endsWith("}") || !parsed) {
      // A url's text around it may be a password: say where, not what.
      const what = path.at(-1) === "url" ? `the "\${" at character ${offset + 1}` : JSON.stringify(match);
      fail(path, `${formatPath(path)}: ${what} is not a valid interpolation; write \${VAR} or \${VAR:-default} (a literal "$" in a URL is %24).`);
    }
    const [, variable, fallback] = parsed!;
    // The match ends at the first "}": `${A:-${B}}` would take "${B" as A's default and leave a
    // "}" after it, so a set A got a stray "}" (a URL's database "db}") and an unset one "${B}".
    if (fallback?.includes("${")) {
      fail(path, `${formatPath(path)}: the default of \${${variable}:-...} holds another "\${"; a default is plain text, not interpolated again. Give the default written out, or set ${variable}.`, { variable });
    }
    const set = env[variable!];
    if (set !== undefined && set !== "") return set;
    if (fallback !== undefined) return fallback;
    if (set === "") return "";
    return fail(path, `${formatPath(path)} uses \${${variable}}, but ${variable} is not set. Set it, or write \${${variable}:-default}.`, { variable });
  });
}

function checkKeys(object: Record<string, unknown>, allowed: readonly string[], path: readonly (string | number)[], fail: Fail): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const close = closestMatch(key, allowed);
    fail([...path, key], `unknown key ${formatPath([...path, key])}.${close ? ` Did you mean "${close}"?` : ""} Valid keys${path.length ? ` in ${formatPath(path)}` : ""}: ${allowed.join(", ")}.`, {
      key,
    });
  }
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/**
 * The line of the last key of `path`, found by searching for each key in turn after the
 * previous one. JSON.parse keeps no positions; for a config file this is accurate enough to
 * point the reader at the right line.
 */
function locateKey(text: string, path: readonly (string | number)[]): number | undefined {
  let offset = 0;
  let found = -1;
  for (const part of path) {
    if (typeof part === "number") break;
    const index = text.indexOf(JSON.stringify(part), offset);
    if (index === -1) break;
    found = index;
    offset = index + 1;
  }
  return found === -1 ? undefined : text.slice(0, found).split("\n").length;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
