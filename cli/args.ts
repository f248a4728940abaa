import { parseArgs } from "node:util";
import { LambicError, withoutFullStop } from "../src/errors.ts";
import { closestMatch } from "../src/suggest.ts";
import { type CommandName, isCommandName } from "./command-names.ts";

export const USAGE = `Usage: lambic [--config FILE] [--name DB] [--json] [-x key=value]... COMMAND [options]
       lambic --version | --help

Graph (no database needed):
  heads [--resolve-dependencies] [--verbose]   the head revisions
  bases                              the base revisions
  branches [--verbose]               the branch points
  history [-r A:B] [--verbose] [-i]  revisions, newest first (-i marks the current ones)
  show REV                           one revision in detail (show current: the database's)
  revision -m MSG [--head H] [--splice] [--branch-label L] [--depends-on D]... [--rev-id ID] [--sql]
  merge -m MSG [--branch-label L] [--rev-id ID] [--sql] HEAD...
                                     a revision that merges these heads ("heads": all of them)

Database (DATABASE_URL or lambic.config.json; else the embedded PostgreSQL under .lambic/):
  current [--verbose]                the version rows and effective heads
  upgrade TARGET [--sql [--output FILE]] [--dry-run] [--per-revision] [--allow-changed]
                                     (with --sql TARGET may be a range A:B, and defaults to head)
  downgrade TARGET [--sql [--output FILE]] [--dry-run] [--per-revision] [--allow-changed]
  stamp [--purge] TARGET... [--sql [--output FILE]] [--dry-run]
                                     set the version rows without running revisions
  check                              exit 0 at the heads, 1 with pending or changed revisions
  repair                             accept edits to applied revisions (record their checksums now)
  embedded [status|stop]             where the embedded PostgreSQL is; stop it (its data stays)
  Tenant databases: every tenant schema by default; --tenant T (repeatable) selects some,
  --concurrency N (default 4) sets how many run at once; current --all-tenants reports each one;
  check exits 1 when any tenant is behind; --sql renders one tenant's script (--tenant T).

AWS:
  publish --bucket B [--prefix P]    upload the built bundle of the database to S3
  invoke --function F COMMAND [TARGET] [--bundle SHA256] [--tenant T]...   run a command in the deployed Lambda
  invoke --fanout --function F upgrade|downgrade|stamp TARGET [--batch-size N] [--concurrency N]
                                     the Lambda migrates every tenant, one invocation of itself per batch

Targets: head, heads, base, <id or a unique prefix of it>, <label>, <label>@head, <label>@base,
+N, -N, <id>+N, <label>@+N, <label>@-N; --sql ranges A:B (downgrade --sql needs one).`;

const OPTIONS = {
  config: { type: "string" },
  name: { type: "string" },
  json: { type: "boolean" },
  x: { type: "string", short: "x", multiple: true },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  "resolve-dependencies": { type: "boolean" },
  "rev-range": { type: "string", short: "r" },
  verbose: { type: "boolean", short: "v" },
  "indicate-current": { type: "boolean", short: "i" },
  message: { type: "string", short: "m" },
  head: { type: "string" },
  splice: { type: "boolean" },
  "branch-label": { type: "string", multiple: true },
  "depends-on": { type: "string", multiple: true },
  "rev-id": { type: "string" },
  sql: { type: "boolean" },
  output: { type: "string", short: "o" },
  purge: { type: "boolean" },
  "dry-run": { type: "boolean" },
  "per-revision": { type: "boolean" },
  "allow-changed": { type: "boolean" },
  bucket: { type: "string" },
  prefix: { type: "string" },
  function: { type: "string" },
  bundle: { type: "string" },
  region: { type: "string" },
  endpoint: { type: "string" },
  tenant: { type: "string", multiple: true },
  "all-tenants": { type: "boolean" },
  concurrency: { type: "string" },
  fanout: { type: "boolean" },
  "batch-size": { type: "string" },
} as const;

const RELATIVE = /^-\d+$/;
const HIDDEN = "\u0000";

/** Options that take a value, by how they are written: `--rev-range` and `-r`. */
const VALUE_FLAGS = new Set(
  Object.entries(OPTIONS).flatMap(([name, option]) => (option.type === "string" ? [`--${name}`, ...("short" in option ? [`-${option.short}`] : [])] : [])),
);
/** A short option written with "=" before its value: "-r=base:head". */
const SHORT_EQUALS = /^(-[A-Za-z])=(.*)$/s;
/** A value like "-3:" or "-1" (a relative target), which the option parser takes for an option. */
const DASH_DIGIT = /^-\d/;

export interface CliArgs {
  readonly command: string | undefined;
  readonly positionals: readonly string[];
  readonly options: {
    config?: string;
    name?: string;
    json?: boolean;
    x?: string[];
    help?: boolean;
    version?: boolean;
    "resolve-dependencies"?: boolean;
    "rev-range"?: string;
    verbose?: boolean;
    "indicate-current"?: boolean;
    message?: string;
    head?: string;
    splice?: boolean;
    "branch-label"?: string[];
    "depends-on"?: string[];
    "rev-id"?: string;
    sql?: boolean;
    output?: string;
    purge?: boolean;
    "dry-run"?: boolean;
    "per-revision"?: boolean;
    "allow-changed"?: boolean;
    bucket?: string;
    prefix?: string;
    function?: string;
    bundle?: string;
    region?: string;
    endpoint?: string;
    tenant?: string[];
    "all-tenants"?: boolean;
    concurrency?: string;
    fanout?: boolean;
    "batch-size"?: string;
  };
  readonly x: Readonly<Record<string, string>>;
}

export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    const args: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      let arg = argv[i]!;
      // "-r=-3:" is "-r -3:", as Python's argparse (so Alembic) reads it; Node's parser would take "=-3:".
      const shortWithEquals = SHORT_EQUALS.exec(arg);
      if (shortWithEquals && VALUE_FLAGS.has(shortWithEquals[1]!)) arg = `${shortWithEquals[1]}${shortWithEquals[2]}`;
      const next = argv[i + 1];
      if (VALUE_FLAGS.has(arg) && next !== undefined && DASH_DIGIT.test(next)) {
        // "-r -3:" is "-r" with the value "-3:", as "-r-3:" and "--rev-range=-3:" are.
        args.push(arg.startsWith("--") ? `${arg}=${next}` : `${arg}${next}`);
        i++;
      } else {
        // "-1" and "-2" are relative targets, not options: hide them from the option parser.
        args.push(RELATIVE.test(arg) ? `${HIDDEN}${arg}` : arg);
      }
    }
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    parsed.positionals = parsed.positionals.map((p) => (p.startsWith(HIDDEN) ? p.slice(HIDDEN.length) : p));
  } catch (error) {
    const unknown = (error as NodeJS.ErrnoException).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'([^']+)'/.exec((error as Error).message)?.[1] : undefined;
    if (unknown !== undefined) {
      // Node's own words suggest "--" for a positional starting with "-", which is never meant here.
      const close = unknown.startsWith("--") ? closestMatch(unknown.slice(2), Object.keys(OPTIONS)) : undefined;
      throw new LambicError("USAGE", `Unknown option ${unknown}${close ? ` (did you mean --${close}?)` : ""}. Run "lambic --help" for the commands and options.`, { option: unknown });
    }
    throw new LambicError("USAGE", `${withoutFullStop((error as Error).message)}. Run "lambic --help" for the commands and options.`, {});
  }
  // No prototype: "-x __proto__=v" is a key like another (assigning it to {} would drop it).
  const x = Object.create(null) as Record<string, string>;
  for (const pair of parsed.values.x ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new LambicError("USAGE", `-x takes key=value, got "${pair}".`, { value: pair });
    x[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const [command, ...positionals] = parsed.positionals;
  return { command, positionals, options: parsed.values as CliArgs["options"], x };
}

/** Options whose empty value is refused later, in words of their own (-x: "key=value"; --prefix "" is the bucket's root). */
const OWN_EMPTY_CHECK: ReadonlySet<string> = new Set(["x", "message", "output", "prefix"]);

/** What an option's value is, for the message refusing an empty one. */
const OPTION_VALUES: Readonly<Partial<Record<string, string>>> = {
  config: "a config file",
  name: "a database name from the config",
  "rev-range": "a range such as base:head",
  head: "a revision",
  "branch-label": "a label",
  "depends-on": "a revision or label",
  "rev-id": "an id",
  bucket: "a bucket name",
  function: "a function name or ARN",
  bundle: "a bundle's SHA-256",
  region: "a region",
  endpoint: "a URL",
  tenant: "a tenant schema",
  concurrency: "a number",
  "batch-size": "a number",
};

/** The global options, which every command takes. */
const GLOBAL_OPTIONS: ReadonlySet<string> = new Set(["config", "name", "json", "x", "help", "version"]);
const TENANTS = ["tenant", "concurrency"] as const;

/** What each command takes besides the global options: another is refused, not ignored. */
const COMMAND_OPTIONS: Readonly<Record<CommandName, readonly (keyof typeof OPTIONS)[]>> = {
  heads: ["resolve-dependencies", "verbose"],
  bases: [],
  branches: ["verbose"],
  history: ["rev-range", "verbose", "indicate-current"],
  show: [],
  revision: ["message", "head", "splice", "branch-label", "depends-on", "rev-id", "sql"],
  merge: ["message", "branch-label", "rev-id", "sql"],
  current: ["all-tenants", "verbose", ...TENANTS],
  upgrade: ["sql", "output", "dry-run", "per-revision", "allow-changed", ...TENANTS],
  downgrade: ["sql", "output", "dry-run", "per-revision", "allow-changed", ...TENANTS],
  stamp: ["sql", "output", "purge", "dry-run", ...TENANTS],
  check: [...TENANTS],
  repair: [...TENANTS],
  embedded: [],
  publish: ["bucket", "prefix", "region", "endpoint"],
  invoke: ["function", "bundle", "region", "endpoint", "fanout", "batch-size", "dry-run", "allow-changed", "per-revision", "purge", "rev-range", "output", ...TENANTS],
};

/** How many arguments each command takes after its name (invoke and publish check their own). */
const COMMAND_ARGUMENTS: Readonly<Partial<Record<CommandName, { max: number; what: string }>>> = {
  heads: { max: 0, what: "no arguments" },
  bases: { max: 0, what: "no arguments" },
  branches: { max: 0, what: "no arguments" },
  history: { max: 0, what: "no arguments (a range goes with -r A:B)" },
  show: { max: 1, what: "one revision" },
  revision: { max: 0, what: "no arguments (the message goes with -m)" },
  current: { max: 0, what: "no arguments" },
  upgrade: { max: 1, what: "one target" },
  downgrade: { max: 1, what: "one target" },
  check: { max: 0, what: "no arguments" },
  repair: { max: 0, what: "no arguments" },
  embedded: { max: 1, what: `"status" or "stop"` },
};

/**
 * Refuses an option the command does not take (e.g. `stamp --sql` was once run online, and
 * `heads --dry-run` would look like it meant something), arguments beyond what it takes (they
 * were silently dropped: `upgrade head extra` ran `upgrade head`), and combinations that
 * contradict.
 */
export function checkCommandOptions(args: CliArgs): void {
  // Looked up by name only: an unknown command ("hasOwnProperty" too) is reported as such.
  if (!isCommandName(args.command)) return;
  const allowed = COMMAND_OPTIONS[args.command];
  const takes = COMMAND_ARGUMENTS[args.command];
  // An empty value (an unset shell variable: --name "$DB") would reach the library as an argument error in its own terms.
  for (const [name, value] of Object.entries(args.options)) {
    if (OWN_EMPTY_CHECK.has(name)) continue;
    if (value === "" || (Array.isArray(value) && value.includes(""))) {
      throw new LambicError("USAGE", `--${name} was given an empty value: give it ${OPTION_VALUES[name] ?? "a value"} (an unset shell variable?). Run "lambic --help".`, { option: name });
    }
  }
  if (args.positionals.includes("")) {
    throw new LambicError("USAGE", `lambic ${args.command} was given an empty argument (an unset shell variable?): give ${takes?.what ?? "non-empty arguments"}. Run "lambic --help".`, { command: args.command });
  }
  if (takes && args.positionals.length > takes.max) {
    throw new LambicError("USAGE", `lambic ${args.command} takes ${takes.what}, got: ${args.positionals.join(" ")}. Run "lambic --help".`, { command: args.command, arguments: [...args.positionals] });
  }
  const given = Object.keys(args.options).filter((name) => args.options[name as keyof CliArgs["options"]] !== undefined);
  for (const name of given) {
    if (GLOBAL_OPTIONS.has(name) || (allowed as readonly string[]).includes(name)) continue;
    const takes = allowed.length > 0 ? `it takes ${allowed.map((o) => `--${o}`).join(", ")}` : "it takes no options of its own";
    throw new LambicError("USAGE", `--${name} does not apply to lambic ${args.command} (${takes}). Run "lambic --help".`, { option: name, command: args.command });
  }
  if (args.command === "invoke") return; // its own checks (eventFromArgs)
  if (args.options.output === "") throw new LambicError("USAGE", "--output needs a file name (--output FILE).", { option: "output" });
  if (args.options.output !== undefined && !args.options.sql) {
    throw new LambicError("USAGE", `--output writes the offline script: it goes with --sql (lambic ${args.command} --sql --output FILE).`, { option: "output" });
  }
  if (args.options.sql && args.options.purge) {
    // As Alembic: the script cannot know which rows a purge would delete.
    throw new LambicError("USAGE", "--purge deletes whatever rows the version table holds, which a script rendered without the database cannot know: stamp --purge online, or stamp FROM:TO --sql.", { option: "purge" });
  }
  if (args.options.sql && args.options.concurrency !== undefined) {
    throw new LambicError("USAGE", "--concurrency sets how many tenants run at once online; an offline script is one tenant's (--tenant T): leave --concurrency out.", { option: "concurrency" });
  }
  if (args.options.sql && args.options["dry-run"]) {
    throw new LambicError("USAGE", "--sql renders the script without a database and --dry-run renders it from the database's current version: use one of them.", { option: "dry-run" });
  }
}

export function requirePositional(args: CliArgs, what: string): string {
  const value = args.positionals[0];
  if (value === undefined) throw new LambicError("USAGE", `lambic ${args.command} needs ${what}. Run "lambic --help".`, {});
  return value;
}
