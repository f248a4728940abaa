import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { openRevisionSet } from "../src/bundle/open-revisions.ts";
import { loadConfig, projectDirOf, resolveDatabase, type DatabaseConfig } from "../src/config.ts";
import { LambicError } from "../src/errors.ts";
import { effectiveHeads, listBranchPoints, missingRangeTarget, parseRange, planHistory, rangeMentionsCurrent, resolveRangeStart } from "../src/revision/plan.ts";
import { isNode, type RevisionNode } from "../src/revision/revision-map.ts";
import type { RevisionSet } from "../src/revision/revision-set.ts";
import { checkNewRevision, dependenciesOfNewRevision, NO_REVISIONS_YET, parentsOfMerge, parentsOfNewRevision } from "../src/revision/new-revision.ts";
import { generateRevisionId, renderTsRevision, revisionFileName } from "../src/revision/revision-template.ts";
import { renderSqlRevision, sqlHeaderMessage } from "../src/revision/sql-revision.ts";
import { BRANCH_LABEL_PATTERN, listedTwice, RESERVED_TARGETS } from "../src/revision/validate-revision.ts";
import type { RevisionMeta } from "../src/revision/types.ts";
import type { Connection } from "../src/db/connection.ts";
import type { MigrationCommand, RunResult } from "../src/runner/run.ts";
import { checkCommandOptions, parseCliArgs, requirePositional, USAGE, type CliArgs } from "./args.ts";
import { branchEntry, currentLine, headLine, historyLine, progressMessage, revisionEntry } from "./format.ts";
import type { Io, Output } from "./io.ts";
import { coalescedLines } from "./progress.ts";
import { VERSION } from "./version.ts";



interface Context {
  args: CliArgs;
  io: Io;
  database: DatabaseConfig;
  /** Human progress goes to stderr with --json, so stdout holds exactly one JSON document. */
  progress: (line: string) => void;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let json = argv.includes("--json");
  const progress = coalescedLines((text) => (json ? io.stderr(text) : io.stdout(text)));
  try {
    const args = parseArgsOrVersion(argv);
    json = args.options.json ?? false;
    // As alembic --version: the version, whatever else is given.
    if (args.options.version) {
      io.stdout(json ? `${JSON.stringify({ version: VERSION })}\n` : `lambic ${VERSION}\n`);
      return 0;
    }
    if (args.command === undefined && !args.options.help) {
      // The usage goes to stderr: with --json, stdout holds only the error document.
      io.stderr(`${USAGE}\n`);
      throw new LambicError("USAGE", 'No command given. Run "lambic --help" for the commands.', {});
    }
    if (args.options.help || args.command === "help") {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    checkCommandOptions(args);
    const config = loadConfig({ configFile: args.options.config, cwd: io.cwd, env: io.env });
    const database = resolveDatabase(config, args.options.name);
    const context: Context = { args, io, database, progress: progress.line };
    // Tenant options on a database without tenants would run on its one schema instead.
    const tenantOptions = (["tenant", "all-tenants", "concurrency"] as const).filter((name) => args.options[name] !== undefined);
    if (database.tenants === undefined && args.command !== "invoke" && tenantOptions.length > 0) throw noTenants(context, tenantOptions[0]!);
    const output = await runCommand(context);
    progress.flush();
    if (json) io.stdout(`${JSON.stringify(output.json)}\n`);
    else if (output.text) io.stdout(output.text.endsWith("\n") ? output.text : `${output.text}\n`);
    return output.exitCode ?? 0;
  } catch (error) {
    progress.flush();
    const coded = error instanceof LambicError ? error : internalError(error);
    try {
      if (json) io.stdout(`${JSON.stringify({ error: coded.toJSON() })}\n`);
    } catch {
      // stdout is gone (a closed pipe): stderr still tells.
    }
    io.stderr(`lambic: ${coded.code}: ${coded.message}\n`);
    if (coded.code === "INTERNAL_ERROR" && coded.details.stack) io.stderr(`${String(coded.details.stack)}\n`);
    return coded.code === "USAGE" ? 2 : coded.code === "INTERRUPTED" ? (coded.details.signal === "SIGTERM" ? 143 : 130) : 1;
  }
}

/**
 * parseCliArgs; but where it refuses an option (`--frobnicate`, `-x nokey`) and `--version` is
 * given, just `--version` (and `--json`): argparse prints Alembic's version as soon as it reads the
 * option, whatever else the command line holds.
 */
function parseArgsOrVersion(argv: readonly string[]): CliArgs {
  try {
    return parseCliArgs(argv);
  } catch (error) {
    const end = argv.includes("--") ? argv.indexOf("--") : argv.length;
    const options = argv.slice(0, end);
    if (!options.includes("--version")) throw error;
    return parseCliArgs(options.includes("--json") ? ["--version", "--json"] : ["--version"]);
  }
}

/** An error lambic did not foresee (none of its coded ones): a bug, reported with its stack. */
function internalError(error: unknown): LambicError {
  const message = error instanceof Error ? error.message : String(error);
  return new LambicError(
    "INTERNAL_ERROR",
    `Unexpected failure: ${message}. This is a lambic bug, not a problem with your revisions: please report it with the command you ran, the stack below and the versions (lambic ${VERSION}, Node ${process.version}).`,
    { stack: error instanceof Error ? error.stack : undefined, version: VERSION, node: process.version },
    { cause: error },
  );
}

/** An online command's target: a range (A:B) only means something to an offline script. */
function onlineTarget(args: CliArgs, what: string): string {
  const target = requirePositional(args, what);
  rangeRefusal(args, target);
  return target;
}

function rangeRefusal(args: CliArgs, target: string): void {
  if (!target.includes(":")) return;
  throw new LambicError(
    "USAGE",
    `"${target}" is a range, which renders an offline script: add --sql (lambic ${args.command} ${target} --sql). Online, lambic ${args.command} starts from the database's version rows: give the target alone (${target.slice(target.lastIndexOf(":") + 1) || "head"}).`,
    { target },
  );
}

async function runCommand(context: Context): Promise<Output> {
  const { args } = context;
  switch (args.command) {
    case "heads":
      return heads(context, await openSet(context));
    case "bases": {
      const set = await openSet(context);
      return { json: { bases: [...set.map.bases] }, text: set.map.bases.map((id) => headLine(set.map.node(id))).join("\n") };
    }
    case "branches": {
      const set = await openSet(context);
      const points = listBranchPoints(set.map);
      const entry = (n: RevisionNode) => branchEntry(n, n.nextrev.map((c) => set.map.node(c)), set.revisions.get(n.id)?.source.file, context.args.options.verbose ?? false);
      return { json: { branchpoints: points.map((n) => n.id) }, text: points.map(entry).join("\n") };
    }
    case "history":
      return history(context, await openSet(context));
    case "show":
      return show(context, await openSet(context));
    case "revision":
      // The first revision of a project (or of a database just added to the config) makes its folder.
      whileWritingRevision(context, context.database.revisions, () => mkdirSync(context.database.revisions, { recursive: true }));
      return writeRevision(context, await openSet(context));
    case "merge":
      return writeRevision(context, await openSet(context));
    case "upgrade":
    case "downgrade":
      if (args.options.sql) return offlineScript(context, await openSet(context));
      return migrate(context, args.command === "upgrade" ? { kind: "upgrade", target: onlineTarget(args, "a target (e.g. head)") } : { kind: "downgrade", target: onlineTarget(args, "a target (e.g. -1)") });
    case "stamp":
      if (args.positionals.length === 0) throw new LambicError("USAGE", "lambic stamp needs one or more targets (e.g. head).", {});
      if (args.options.sql) return offlineScript(context, await openSet(context));
      for (const target of args.positionals) rangeRefusal(args, target);
      return migrate(context, { kind: "stamp", targets: args.positionals, purge: args.options.purge });
    case "current":
      return current(context, await openSet(context));
    case "check":
      return check(context, await openSet(context));
    case "repair":
      return repair(context, await openSet(context));
    case "embedded":
      return embedded(context);
    case "publish": {
      const { publish } = await import("./aws.ts");
      return publish(context.database, args, context.io);
    }
    case "invoke": {
      const { invoke } = await import("./aws.ts");
      return invoke(context.database, args, context.io);
    }
    default:
      throw new LambicError("USAGE", `Unknown command "${args.command}". Run "lambic --help" for the commands.`, { command: args.command });
  }
}

/** `embedded [status]` says where the project's embedded PostgreSQL is; `embedded stop` stops it (its data stays). */
async function embedded(context: Context): Promise<Output> {
  const [action = "status", ...rest] = context.args.positionals;
  if ((action !== "status" && action !== "stop") || rest.length > 0) {
    throw new LambicError("USAGE", `lambic embedded takes "status" or "stop", got: ${context.args.positionals.join(" ")}.`, { action });
  }
  const { embeddedStatus, stopEmbedded } = await import("../src/db/embedded.ts");
  const status = await embeddedStatus(embeddedProjectDir(context));
  if (action === "stop") {
    const stopped = status.running && (await stopEmbedded(embeddedProjectDir(context)));
    return {
      json: { stopped, dataDir: status.dataDir ?? null },
      text: stopped ? `Stopped the embedded PostgreSQL (its data stays in ${status.dataDir}; the next database command starts it again).` : "The embedded PostgreSQL is not running.",
    };
  }
  const text = !status.exists
    ? "This project has no embedded PostgreSQL yet: a database command without a database URL creates and starts one."
    : status.running
      ? `The embedded PostgreSQL is running${status.port === undefined ? "" : ` on port ${status.port}`} (data: ${status.dataDir}).${status.usable ? ` Connect with: ${status.psql}` : ""}`
      : `The embedded PostgreSQL is stopped (data: ${status.dataDir}); the next database command without a database URL starts it.`;
  const unusable = status.exists && !status.usable ? ` But ${join(embeddedProjectDir(context), ".lambic", "embedded.json")}, which holds its password, is missing or not valid: database commands cannot connect to it, and their error says what to do.` : "";
  return { json: { exists: status.exists, running: status.running, port: status.port ?? null, dataDir: status.dataDir ?? null }, text: `${text}${unusable}` };
}

async function openSet(context: Context): Promise<RevisionSet> {
  return openRevisionSet(context.database, embeddedProjectDir(context));
}

function heads(context: Context, set: RevisionSet): Output {
  const ids = context.args.options["resolve-dependencies"] ? set.map.realHeads : set.map.heads;
  return { json: { heads: [...ids] }, text: ids.map((id) => headText(context, set, id)).join("\n") };
}

/** A head as `heads` prints it: one line, or with --verbose the full entry. */
function headText(context: Context, set: RevisionSet, id: string): string {
  return context.args.options.verbose ? verboseEntry(set, id) : headLine(set.map.node(id));
}

/** `--verbose`: Alembic's full entry for a revision (as `history --verbose` and `show` print it). */
function verboseEntry(set: RevisionSet, id: string): string {
  return revisionEntry(set.map.node(id), set.revisions.get(id)?.source.file);
}

/** --tenant, --all-tenants or --concurrency on a database without tenants. */
function noTenants(context: Context, option: string): LambicError {
  return new LambicError("USAGE", `--${option} selects tenants, and database "${context.database.name}" has none (set "tenants" in lambic.config.json, or choose the database with --name).`, { option });
}

function describeRevision(set: RevisionSet, node: RevisionNode) {
  return { id: node.id, revises: [...node.versionedDown], dependsOn: [...node.declaredDependencies], branchLabels: [...node.branchLabels], message: node.meta.message ?? "", file: set.revisions.get(node.id)?.source.file };
}

async function history(context: Context, set: RevisionSet): Promise<Output> {
  const { "rev-range": range, verbose, "indicate-current": indicate } = context.args.options;
  const mentionsCurrent = rangeMentionsCurrent(range);
  const versions = mentionsCurrent || indicate ? await currentVersions(context, set, mentionsCurrent ? `"current" in a history range` : "history --indicate-current") : [];
  const nodes = planHistory(set.map, range, versions);
  // -i marks the revisions of the version rows, as Alembic's `history -i` does (not those implied by dependencies).
  const current = (n: RevisionNode) => indicate === true && versions.includes(n.id);
  return {
    json: { revisions: nodes.map((n) => (indicate ? { ...describeRevision(set, n), current: current(n) } : describeRevision(set, n))) },
    text: nodes.map((n) => (verbose ? revisionEntry(n, set.revisions.get(n.id)?.source.file, current(n)) : historyLine(n, current(n)))).join("\n"),
  };
}

/** The database's version rows (one database; a tenant database has one set per tenant). `what` names the use, for the refusal. */
async function currentVersions(context: Context, set: RevisionSet, what: string): Promise<readonly string[]> {
  if (context.database.tenants !== undefined) {
    throw new LambicError("USAGE", `${what} reads one version table, and database "${context.database.name}" has one per tenant: name the revisions instead (lambic current --all-tenants lists them).`, { range: context.args.options["rev-range"] });
  }
  const runner = await import("../src/runner/run.ts");
  const connection = await connect(context);
  try {
    return (await runner.readCurrent(connection, set, context.database)).versions;
  } finally {
    await connection.close();
  }
}

async function show(context: Context, set: RevisionSet): Promise<Output> {
  const target = requirePositional(context.args, "a revision");
  if (target.includes(":")) {
    throw new LambicError("USAGE", `lambic show takes one revision, and "${target}" is a range: lambic history -r ${target} --verbose lists its revisions in full.`, { target });
  }
  if (target === "current") {
    // As `alembic show current`: the revisions of the database's version rows (none at base).
    const versions = await currentVersions(context, set, `"show current"`);
    const nodes = versions.map((id) => set.map.node(id));
    return { json: { revisions: nodes.map((n) => describeRevision(set, n)) }, text: nodes.map((n) => revisionEntry(n, set.revisions.get(n.id)?.source.file)).join("\n") || "(no versions: the database is at base)" };
  }
  const nodes = set.map.getRevisions(target).filter(isNode);
  if (nodes.length === 0) throw new LambicError("REVISION_NOT_FOUND", `"${target}" names no revision${set.map.revisions.length === 0 ? `: ${NO_REVISIONS_YET}` : " (it is the base)."}`, { target });
  return { json: { revisions: nodes.map((n) => describeRevision(set, n)) }, text: nodes.map((n) => revisionEntry(n, set.revisions.get(n.id)?.source.file)).join("\n") };
}

/** `revision` and `merge`: a new revision file from the template, as `alembic revision` does. */
function writeRevision(context: Context, set: RevisionSet): Output {
  const { options } = context.args;
  const message = options.message;
  if (message === undefined) throw new LambicError("USAGE", `lambic ${context.args.command} needs a message: -m "what it does" (it names the file and shows in history).`, { option: "message" });
  if (message.trim() === "") throw new LambicError("USAGE", `-m ${JSON.stringify(message)} is empty: give lambic ${context.args.command} a message that says what the revision does (it names the file and shows in history).`, { option: "message", value: message });
  let revises: string[];
  if (context.args.command === "merge") {
    if (context.args.positionals.length === 0) throw new LambicError("USAGE", `lambic merge needs the revisions to merge (e.g. "heads").`, {});
    revises = parentsOfMerge(set.map, context.args.positionals);
  } else {
    revises = parentsOfNewRevision(set.map, options.head, options.splice ?? false);
  }
  const id = options["rev-id"] ?? generateRevisionId();
  if (set.map.has(id)) throw new LambicError("DUPLICATE_REVISION", `Revision id ${id} already exists. Choose another --rev-id or leave it out.`, { revision: id });
  const dependsOn = dependenciesOfNewRevision(set.map, options["depends-on"] ?? []);
  // What loading would refuse in the file is refused before it is written: a file that does not
  // load stops every command.
  for (const label of options["branch-label"] ?? []) {
    if (!BRANCH_LABEL_PATTERN.test(label)) {
      throw new LambicError("USAGE", `--branch-label ${JSON.stringify(label)} is not a valid branch label: use letters, digits, _, . and - (not first). Nothing was written.`, { option: "branch-label", value: label });
    }
    if (RESERVED_TARGETS.has(label)) {
      throw new LambicError("USAGE", `--branch-label ${JSON.stringify(label)} is reserved (a target symbol): choose another label. Nothing was written.`, { option: "branch-label", value: label });
    }
  }
  const labelTwice = listedTwice(options["branch-label"] ?? []);
  if (labelTwice !== undefined) throw new LambicError("USAGE", `--branch-label ${JSON.stringify(labelTwice)} is given twice; give each once. Nothing was written.`, { option: "branch-label", value: labelTwice });
  const extension = options.sql ? "sql" : "ts";
  // What the file holds, and so what loads back and what this command reports.
  const storedMessage = extension === "sql" ? sqlHeaderMessage(message) : message;
  if (storedMessage !== message) context.io.stderr(`note: a .sql revision keeps its message on one header line, so it is written as ${JSON.stringify(storedMessage)} (a TypeScript revision keeps it as given).\n`);
  const meta: RevisionMeta = {
    id,
    revises: revises.length === 0 ? null : revises.length === 1 ? revises[0]! : revises,
    dependsOn,
    branchLabels: options["branch-label"] ?? [],
    message: storedMessage,
    transactional: true,
  };
  const file = join(context.database.revisions, revisionFileName(new Date(), id, message, extension));
  checkNewRevision(set.map, meta, { revIdGiven: options["rev-id"] !== undefined }); // before anything is written
  whileWritingRevision(context, file, () => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, extension === "sql" ? renderSqlRevision(meta, "-- your SQL here\n", "-- your SQL here\n") : renderTsRevision(meta), { flag: "wx" });
  });
  const shown = relative(context.io.cwd, file);
  // The shape of a `history` entry: `revises` is always a list ([] for a base).
  return { json: { revision: { id, revises, dependsOn, branchLabels: meta.branchLabels, message: storedMessage, transactional: true, file: shown } }, text: `Generating ${shown} ... done` };
}

/**
 * Runs a write of the revisions folder or of a new revision file. The file system's refusal (the
 * folder is a file, read-only, not ours; the disk is full) is the set-up's problem, not a lambic
 * bug: it is reported with the path and the reason.
 */
function whileWritingRevision(context: Context, path: string, write: () => void): void {
  try {
    write();
  } catch (error) {
    const { code, message, syscall } = error as NodeJS.ErrnoException;
    const folder = context.database.revisions;
    const where = context.database.configFile ? `"revisions" in ${context.database.configFile}` : `"revisions" in a lambic.config.json`;
    // mkdir says EEXIST for a file where the folder should be, ENOTDIR for a file above it.
    const text =
      code === "ENOTDIR" || (code === "EEXIST" && syscall === "mkdir")
        ? `Cannot write the new revision: the revisions folder ${folder} (or a folder above it) is a file. Move the file away, or point ${where} elsewhere. Nothing was written.`
        : `Cannot write ${path}: ${message}. The revisions folder must be a folder you can write to: fix its permissions or the file system, or point ${where} elsewhere.`;
    throw new LambicError("CONFIG_INVALID", text, { path, dir: folder, errno: code }, { cause: error });
  }
}

async function offlineScript(context: Context, set: RevisionSet): Promise<Output> {
  const { args } = context;
  const { command, start, range } = args.command === "stamp" ? offlineStamp(args, set) : offlineMigration(args, set);
  const [{ renderScript }, { offlineTenant }] = await Promise.all([import("../src/runner/run.ts"), import("../src/runner/tenants.ts")]);
  const tenant = offlineTenant(context.database.tenants, args.options.tenant, context.database.name);
  const options = tenant === undefined ? scriptOptions(context, range) : { ...scriptOptions(context, range), schema: tenant, searchPath: tenant };
  const { script, steps } = await renderScript(set, command, start, options);
  if (args.options.output) {
    try {
      writeFileSync(args.options.output, script);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      throw new LambicError("USAGE", `Cannot write the script to --output ${args.options.output}: ${code === "EISDIR" ? "it is a directory" : message}. Give a file path in a folder that exists and is writable.`, { output: args.options.output, errno: code });
    }
    context.io.stderr(`Wrote ${steps.length} step(s) to ${args.options.output}\n`);
    return { json: { file: args.options.output, steps: steps.length } };
  }
  if (args.options.json) return { json: { script } };
  context.io.stdout(script);
  return { json: null };
}

function offlineMigration(args: CliArgs, set: RevisionSet): { command: MigrationCommand; start: string[]; range: string } {
  const kind = args.command as "upgrade" | "downgrade";
  // `npm run migrate:sql` is `upgrade --sql`: head unless given a target or range.
  const range = kind === "upgrade" ? (args.positionals[0] ?? "head") : requirePositional(args, "a range (e.g. head:base)");
  const { from, to } = parseRange(range, kind);
  return { command: { kind, target: to }, start: resolveRangeStart(set.map, from), range };
}

/**
 * `stamp --sql`, as Alembic renders it: from base, or from the one starting revision that
 * `from:to` targets name.
 */
function offlineStamp(args: CliArgs, set: RevisionSet): { command: MigrationCommand; start: string[]; range: string } {
  const starts = new Set<string>();
  const targets = args.positionals.map((target) => {
    const colon = target.indexOf(":");
    if (colon === -1) return target;
    if (colon === target.length - 1) throw missingRangeTarget(target, "head");
    starts.add(target.slice(0, colon));
    return target.slice(colon + 1);
  });
  if (starts.size > 1) throw new LambicError("USAGE", `stamp --sql starts from one revision at a time; got ${[...starts].join(", ")}.`, { starts: [...starts] });
  const [from = null] = starts;
  return { command: { kind: "stamp", targets, purge: args.options.purge }, start: resolveRangeStart(set.map, from || null), range: args.positionals.join(" ") };
}

function actor(env: Record<string, string | undefined>): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return env.USER ?? "unknown";
  }
}

function scriptOptions(context: Context, range: string) {
  const { database, args } = context;
  return {
    versionTable: database.versionTable,
    schema: database.schema,
    lockTimeoutMs: database.lockTimeoutMs,
    statementTimeoutMs: database.statementTimeoutMs,
    x: args.x,
    actor: actor(context.io.env),
    runId: randomUUID(),
    perRevision: args.options["per-revision"],
    generatedAt: new Date(),
    range,
  };
}

/** The project folder (see projectDirOf): its .lambic/ holds the embedded PostgreSQL and the revision cache. */
function embeddedProjectDir(context: Context): string {
  return projectDirOf(context.database, context.io.cwd);
}

/** The configured database URL, or the embedded PostgreSQL's (saying so). */
async function databaseUrl(context: Context): Promise<string> {
  if (context.database.url) return context.database.url;
  if (context.database.url === "") {
    // A missing CI secret reads as "": a run that "succeeds" on a throwaway embedded server would leave the real database behind.
    throw new LambicError(
      "CONFIG_INVALID",
      `The database URL is set but empty (DATABASE_URL, or the "url" of database "${context.database.name}" in lambic.config.json: a secret that is missing?), so there is no database to run on. Set it to the database's URL, or unset it to use the embedded PostgreSQL.`,
      { database: context.database.name },
    );
  }
  const { ensureEmbeddedPostgres } = await import("../src/db/embedded.ts");
  const embedded = await ensureEmbeddedPostgres(embeddedProjectDir(context));
  const driverNote = context.database.driver === "neon" ? ` It is reached with the postgres driver: "driver": "neon" applies to a configured URL (Neon's driver speaks WebSocket, the embedded server TCP only).` : "";
  const file = context.database.configFile;
  const why = file === undefined
    ? "No database URL is set (DATABASE_URL, and there is no lambic.config.json)"
    : context.database.urlVariable !== undefined
      ? `Database "${context.database.name}" has no URL (its "url" in ${file} is \${${context.database.urlVariable}}, which is not set)`
      : `Database "${context.database.name}" has no URL (${file} gives it no "url")`;
  // Without a config file DATABASE_URL is the URL; with one, only a "url" naming it reads it, and
  // a user who set it for this run expects it used: say it is not, before the run "succeeds" here.
  const unread = file !== undefined && context.io.env["DATABASE_URL"] ? ` DATABASE_URL is set but not read: a config file's database takes it only through "url": "\${DATABASE_URL}".` : "";
  context.io.stderr(`${why}, so using the embedded PostgreSQL ${embedded.started ? "just started" : "already running"} on port ${embedded.port} (data: ${embedded.dataDir}).${unread} Connect with: ${embedded.psql}${driverNote}${embedded.notice === undefined ? "" : ` ${embedded.notice}`}\n`);
  return embedded.url;
}

/**
 * Opens the configured database, or the embedded one. A signal meanwhile quits at once (see
 * quitOnSignalWhile), except for a tenant worker's connection: the run's own handler has it then.
 */
async function connect(context: Context, url?: string, { duringRun = false } = {}) {
  const opening = (async () => {
    const { openConnection } = await import("../src/db/connection.ts");
    // The configured driver is for the configured URL; the embedded server takes TCP (postgres.js).
    const driver = context.database.url ? context.database.driver : "postgres";
    return openConnection(url ?? (await databaseUrl(context)), { driver, applicationName: "lambic", statementTimeoutMs: context.database.statementTimeoutMs });
  })();
  return duringRun ? opening : quitOnSignalWhile(context, "connecting to the database", opening);
}

function concurrency(context: Context): number {
  const raw = context.args.options.concurrency ?? "4";
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 64) throw new LambicError("USAGE", `--concurrency takes a whole number from 1 to 64, got "${raw}".`, { value: raw });
  return value;
}

/**
 * Runs `work` once per selected tenant schema (each with its own version table, lock and
 * connection), showing progress, and reports every tenant: `describe` gives its JSON entry and
 * `line` its line of text (after "tenant: "). Exit 1 when any tenant failed.
 */
async function perTenant<T>(context: Context, work: (connection: Connection, tenant: string) => Promise<T>, describe: (tenant: string, result: T) => Record<string, unknown>, line: (result: T) => string): Promise<Output> {
  const tenants = await import("../src/runner/tenants.ts");
  const url = await databaseUrl(context);
  const admin = await connect(context, url);
  let selected: string[];
  try {
    selected = tenants.selectTenants(await tenants.listTenants(admin, context.database.tenants!), context.args.options.tenant);
  } finally {
    await admin.close();
  }
  let lastPrint = 0;
  const outcomes = await tenants.forEachTenant(selected, {
    concurrency: concurrency(context),
    connect: () => connect(context, url, { duringRun: true }),
    onProgress: (p) => {
      if (!p.last.ok) context.io.stderr(`tenant ${p.last.tenant} failed: ${p.last.error.code}: ${p.last.error.message}\n`);
      const now = performance.now();
      if (p.remaining === 0 || now - lastPrint > 1000) {
        lastPrint = now;
        context.io.stderr(`tenants: ${p.done} done, ${p.failed} failed, ${p.remaining} remaining, ${p.perSecond.toFixed(1)}/s\n`);
      }
    },
  }, work);
  const report = outcomes.map((o) => (o.ok ? { tenant: o.tenant, ok: true, ...describe(o.tenant, o.result) } : { tenant: o.tenant, ok: false, error: o.error.toJSON() }));
  const failed = outcomes.filter((o) => !o.ok).length;
  const lines = outcomes.map((o) => (o.ok ? `${o.tenant}: ${line(o.result)}` : `${o.tenant}: FAILED ${o.error.code}: ${o.error.message}`));
  if (selected.length === 0) {
    lines.push(
      Array.isArray(context.database.tenants)
        ? `No tenants: database "${context.database.name}" lists none ("tenants": [] in ${basename(context.database.configFile ?? "lambic.config.json")}), so nothing was run.`
        : `No tenants: the tenants query of database "${context.database.name}" returned no schema, so nothing was run.`,
    );
  }
  return { json: { tenants: report, ok: outcomes.length - failed, failed }, text: `${lines.join("\n")}\n${outcomes.length - failed} tenant(s) ok, ${failed} failed.`, exitCode: failed > 0 ? 1 : 0 };
}

/**
 * Loads the revisions while connecting. The two overlap when the load waits: compiling changed
 * TypeScript revisions (esbuild) lets the connection's round trips go on meanwhile. A warm load
 * from the cache is synchronous and runs first, and the connection starts after it: starting it
 * first and yielding during the load gained nothing, locally or over a 10 ms round trip (the
 * handshake needs this thread for each of its round trips, and is mostly its CPU). A load failure
 * is still the one reported, and closes the connection. Only with a configured URL: the embedded
 * server is started for valid revisions only.
 */
async function openSetAndConnect(context: Context): Promise<{ set: RevisionSet; connection: Connection }> {
  if (!context.database.url) {
    const set = await openSet(context);
    return { set, connection: await connect(context) };
  }
  const connecting = connect(context);
  connecting.catch(() => undefined); // reported after the load
  let set: RevisionSet;
  try {
    set = await openSet(context);
  } catch (error) {
    await connecting.then((connection) => connection.close(), () => undefined);
    throw error;
  }
  return { set, connection: await connecting };
}

async function migrate(context: Context, command: MigrationCommand): Promise<Output> {
  const { args, database } = context;
  if (database.tenants !== undefined && args.options["dry-run"]) {
    throw new LambicError("USAGE", `--dry-run is not available on tenant database "${database.name}" (each tenant has its own version rows): render a tenant's plan with lambic ${command.kind} --sql --tenant T, or check with lambic check --tenant T.`, { option: "dry-run" });
  }
  if (database.tenants !== undefined) {
    const set = await openSet(context);
    const runner = await import("../src/runner/run.ts");
    // Ctrl-C (or SIGTERM) cancels the tenants running and fails the ones not started yet, each INTERRUPTED.
    return whileInterruptible(context, async (signal, interruptedExit) => {
      const output = await perTenant(
        context,
        (connection, tenant) => runner.runMigration(connection, set, command, { ...scriptOptions(context, ""), runId: randomUUID(), schema: tenant, searchPath: tenant, allowChanged: args.options["allow-changed"], signal }),
        (_tenant, result) => ({ from: result.from, to: result.to, steps: result.steps.map(({ revision, direction, ms }) => ({ revision, direction, ms })), ...changedIds(result) }),
        (result) =>
          (command.kind === "stamp"
            ? `stamped ${result.to.join(", ") || "(no versions)"}`
            : result.steps.length === 0
              ? `nothing to do, at ${result.from.join(", ") || "base"}`
              : `${result.from.join(", ") || "base"} -> ${result.to.join(", ") || "base"}, ${result.steps.length} revision(s)`) +
          (result.changed.length > 0 ? `; changed since applied (--allow-changed): ${changedIds(result).changed!.join(", ")}` : ""),
      );
      return signal.aborted ? { ...output, exitCode: interruptedExit() } : output;
    });
  }
  const [{ set, connection }, runner] = await Promise.all([openSetAndConnect(context), import("../src/runner/run.ts")]);
  try {
    if (args.options["dry-run"]) {
      const range = command.kind === "stamp" ? command.targets.join(" ") : command.target;
      const plan = await runner.dryRunMigration(connection, set, command, { ...scriptOptions(context, range), allowChanged: args.options["allow-changed"] });
      for (const changed of plan.changed) context.io.stderr(`warning: applied revision ${changed.revision} changed since it ran (${changed.file})\n`);
      for (const read of plan.readsNotRun) context.io.stderr(`warning: revision ${read.revision} reads data with ctx.query (${read.statement}); a dry run reads nothing, so the script stops that revision at its read\n`);
      return {
        json: { dryRun: true, from: plan.from, to: plan.to, steps: runner.planSummary(plan.steps), sql: plan.script, ...(plan.changed.length > 0 ? { changed: plan.changed } : {}), ...(plan.readsNotRun.length > 0 ? { readsNotRun: plan.readsNotRun } : {}) },
        text: `-- dry run: nothing was changed\n${plan.script}`,
      };
    }
    const started = performance.now();
    const result: RunResult = await whileInterruptible(context, (signal) => runner.runMigration(connection, set, command, {
      ...scriptOptions(context, ""),
      signal,
      allowChanged: args.options["allow-changed"],
      onStep: (step) => {
        const message = step.message ? progressMessage(step.message) : "";
        context.progress(`  ${step.direction === "down" ? "downgrade" : step.direction === "stamp" ? "stamp" : "upgrade"} ${step.revision}${message ? ` (${message})` : ""} ${step.ms.toFixed(1)} ms`);
      },
    }));
    for (const changed of result.changed) context.io.stderr(`warning: applied revision ${changed.revision} changed since it ran (${changed.file})\n`);
    const ms = Math.round(performance.now() - started);
    if (command.kind === "stamp") {
      return { json: { versions: result.to }, text: `Stamped ${database.name}: ${result.to.join(", ") || "(no versions)"}` };
    }
    const summary = result.steps.length === 0 ? `Nothing to do: ${database.name} is at ${result.from.join(", ") || "base"}.` : `${command.kind === "upgrade" ? "Upgraded" : "Downgraded"} ${database.name}: ${result.from.join(", ") || "base"} -> ${result.to.join(", ") || "base"}, ${result.steps.length} revision(s) in ${ms} ms.`;
    // As the Lambda's result: the edited applied revisions --allow-changed ran past.
    const changed = result.changed.length > 0 ? { changed: result.changed } : {};
    return { json: { from: result.from, to: result.to, steps: result.steps.map(({ revision, direction, ms }) => ({ revision, direction, ms })), ...changed }, text: summary };
  } finally {
    await connection.close();
  }
}

/** A tenant's edited applied revisions that --allow-changed ran past, by id (as its check lists them). */
function changedIds(result: RunResult): { changed?: string[] } {
  return result.changed.length > 0 ? { changed: result.changed.map((c) => c.revision) } : {};
}

/** The exit status of a run a signal interrupted: 128 + the signal's number, as a shell reports it. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type SignalName = keyof typeof SIGNAL_EXIT;

/** How a message names the signal received. */
function signalWords(name: SignalName): string {
  return name === "SIGINT" ? "Interrupted" : "Terminated (SIGTERM)";
}

/** Calls `onSignal` on Ctrl-C or SIGTERM (Node's default, exiting, set aside) until the returned function is called. */
function onSignals(onSignal: (name: SignalName) => void): () => void {
  const onInterrupt = () => onSignal("SIGINT");
  const onTerminate = () => onSignal("SIGTERM");
  process.on("SIGINT", onInterrupt);
  process.on("SIGTERM", onTerminate);
  return () => {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onTerminate);
  };
}

/**
 * How long a second signal waits for the run to end (the cancel of the first to take effect):
 * over a slow network the cancel request is a new connection, and quitting before it is through
 * would leave the server running the statement, holding the run lock, to its end.
 */
const QUIT_WAIT_MS = 5_000;

/** Reports `error` as main() would (with --json, as the one document on stdout) and exits with the signal's status, at once. */
function quitWith(context: Context, name: SignalName, error: LambicError): never {
  try {
    if (context.args.options.json) context.io.stdout(`${JSON.stringify({ error: error.toJSON() })}\n`);
  } catch {
    // stdout is gone (a closed pipe): stderr still tells.
  }
  context.io.stderr(`lambic: ${error.code}: ${error.message}\n`);
  process.exit(SIGNAL_EXIT[name]);
}

/**
 * Ctrl-C or SIGTERM while a command connects (the embedded server starting, a slow network, a
 * host that does not answer): nothing has reached the database, so it quits at once, saying so,
 * instead of Node's silent exit (no --json document) or a wait for the connect timeout.
 */
async function quitOnSignalWhile<T>(context: Context, what: string, work: Promise<T>): Promise<T> {
  const stop = onSignals((name) =>
    quitWith(context, name, new LambicError("INTERRUPTED", `${signalWords(name)} while ${what}: nothing had started, and nothing was sent to the database.`, { signal: name })),
  );
  try {
    return await work;
  } finally {
    stop();
  }
}

/**
 * Runs `work` with Ctrl-C or SIGTERM cancelling it: the first signal aborts the signal (the running
 * statement is cancelled and the run rolls back: INTERRUPTED, exit 130, or 143 after SIGTERM). A
 * second one waits at most QUIT_WAIT_MS for the run to end so, and then quits saying the statement
 * may still run; a third quits at once. SIGTERM is what `docker stop`, Kubernetes and a cancelled
 * CI job send: left to Node's default, the process would die with its statement still running on
 * the server, holding the run lock and the statement's table locks until that statement ends.
 * `work` gets the exit status to report when it ends early (0 while no signal came).
 */
async function whileInterruptible<T>(context: Context, work: (signal: AbortSignal, interruptedExit: () => number) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let received: SignalName | undefined;
  let quitting = false;
  let ended: () => void = () => undefined;
  const runEnded = new Promise<void>((resolve) => (ended = resolve));
  const quit = async (name: SignalName) => {
    context.io.stderr(`Waiting at most ${QUIT_WAIT_MS / 1000} s for the cancel to take effect (again to quit now).\n`);
    const timer = new Promise<false>((resolve) => setTimeout(resolve, QUIT_WAIT_MS, false).unref());
    // Ended: the run reports itself (INTERRUPTED, rolled back).
    if (await Promise.race([runEnded.then(() => true), timer])) return;
    quitWith(context, name, new LambicError(
      "INTERRUPTED",
      `Quit before the cancel took effect (the run had not ended ${QUIT_WAIT_MS / 1000} s after the second signal; the cancel request may not have reached the server): ` +
        "the running statement may run on to its end, holding the run lock and its table locks, so that a new run waits for it. Find its session in pg_stat_activity (application_name lambic) and end it with pg_cancel_backend(pid); the server then rolls back the run's open transaction, and lambic current tells where the database is.",
      { signal: name, quit: true },
    ));
  };
  const stop = onSignals((name) => {
    if (quitting) process.exit(SIGNAL_EXIT[name]);
    if (received !== undefined) {
      quitting = true;
      void quit(name);
      return;
    }
    received = name;
    context.io.stderr(`${signalWords(name)}: cancelling the running statement and rolling back (Ctrl-C or SIGTERM again to quit).\n`);
    controller.abort();
  });
  try {
    return await work(controller.signal, () => (received === undefined ? 0 : SIGNAL_EXIT[received]));
  } catch (error) {
    // main() maps INTERRUPTED to the exit status of the signal that caused it.
    if (received !== undefined && error instanceof LambicError && error.code === "INTERRUPTED") error.details.signal = received;
    throw error;
  } finally {
    ended();
    stop();
  }
}

async function current(context: Context, set: RevisionSet): Promise<Output> {
  const runner = await import("../src/runner/run.ts");
  if (context.database.tenants !== undefined) {
    return perTenant(
      context,
      (connection, tenant) => runner.readCurrent(connection, set, { versionTable: context.database.versionTable, schema: tenant }),
      (_tenant, state) => ({ versions: state.versions, heads: state.heads }),
      (state) => state.heads.map((id) => `${currentLine(set.map.node(id))}${state.versions.includes(id) ? "" : " (implied by dependencies)"}`).join(", ") || "(no versions: at base)",
    );
  }
  const connection = await connect(context);
  try {
    const state = await runner.readCurrent(connection, set, context.database);
    const line = (id: string) => {
      const note = state.versions.includes(id) ? "" : " (implied by dependencies)";
      return context.args.options.verbose ? revisionEntry(set.map.node(id), set.revisions.get(id)?.source.file, false, note) : `${currentLine(set.map.node(id))}${note}`;
    };
    const text = state.heads.map(line).join("\n");
    return { json: { versions: state.versions, heads: effectiveHeads(set.map, state.versions) }, text: text || "(no versions: the database is at base)" };
  } finally {
    await connection.close();
  }
}

/** `repair`: accepts edits to applied revisions by recording their checksums now (Flyway's repair). */
async function repair(context: Context, set: RevisionSet): Promise<Output> {
  const runner = await import("../src/runner/run.ts");
  const options = (schema: string | undefined) => ({ ...scriptOptions(context, ""), schema, runId: randomUUID() });
  if (context.database.tenants !== undefined) {
    return perTenant(
      context,
      (connection, tenant) => runner.repairChecksums(connection, set, options(tenant)),
      (_tenant, result) => ({ versions: result.versions, repaired: result.repaired.map((c) => c.revision), recorded: result.recorded.map((r) => r.revision) }),
      (result) => {
        const ids = [...result.repaired.map((c) => c.revision), ...result.recorded.map((r) => r.revision)];
        return ids.length === 0 ? "nothing to repair" : `recorded the checksum of ${ids.join(", ")}`;
      },
    );
  }
  const connection = await connect(context);
  try {
    const result = await runner.repairChecksums(connection, set, options(context.database.schema));
    const { repaired, recorded } = result;
    const text =
      repaired.length + recorded.length === 0
        ? `Nothing to repair: no applied revision of ${context.database.name} changed since it ran, and each has its checksum on record.`
        : [
            ...repaired.map((c) => `recorded the checksum of ${c.revision} (${c.file}): ${c.appliedChecksum.slice(0, 12)} -> ${c.currentChecksum.slice(0, 12)}`),
            ...recorded.map((r) => `recorded the checksum of ${r.revision} (${r.file}), which had none on record`),
            `Accepted ${repaired.length} edited revision(s) and recorded ${recorded.length} missing checksum(s); check and upgrade compare with these from now on.`,
          ].join("\n");
    return { json: result, text };
  } finally {
    await connection.close();
  }
}

async function check(context: Context, set: RevisionSet): Promise<Output> {
  const runner = await import("../src/runner/run.ts");
  if (context.database.tenants !== undefined) {
    const output = await perTenant(
      context,
      (connection, tenant) => runner.checkDatabase(connection, set, { versionTable: context.database.versionTable, schema: tenant }),
      // As the Lambda reports a tenant's check (handler/tenants.ts).
      (_tenant, result) => ({ versions: result.versions, heads: result.heads, upToDate: result.upToDate, pending: result.pending, changed: result.changed.map((c) => c.revision) }),
      (result) =>
        result.upToDate
          ? `up to date at ${result.heads.join(", ") || "base"}`
          : [
              ...(result.pending.length > 0 ? [`${result.pending.length} pending revision(s): ${result.pending.join(", ")}`] : []),
              ...result.changed.map((c) => `changed since applied: ${c.revision}`),
            ].join("; "),
    );
    // A tenant behind its heads fails the check as a tenant that could not be read does.
    const behind = (output.json as { tenants: { ok: boolean; upToDate?: boolean }[] }).tenants.filter((t) => t.ok && !t.upToDate).length;
    return { ...output, text: `${output.text}\n${behind} tenant(s) behind.`, exitCode: behind > 0 ? 1 : (output.exitCode ?? 0) };
  }
  const connection = await connect(context);
  try {
    const result = await runner.checkDatabase(connection, set, context.database);
    const lines = result.upToDate
      ? [`${context.database.name} is up to date at ${result.heads.join(", ") || "base"}.`]
      : [
          ...(result.pending.length > 0 ? [`${result.pending.length} pending revision(s): ${result.pending.join(", ")}`] : []),
          ...result.changed.map((c) => `changed since applied: ${c.revision} (${c.file})`),
          ...(result.changed.length > 0 ? ["An edited applied revision does not change the database: restore it (or the project file it imports that changed: a TypeScript revision's checksum covers those too), or accept an edit that changes nothing the database needs with lambic repair."] : []),
        ];
    return { json: result, text: lines.join("\n"), exitCode: result.upToDate ? 0 : 1 };
  } finally {
    await connection.close();
  }
}
