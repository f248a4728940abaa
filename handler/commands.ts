/**
 * Runs one validated event: load the bundle, connect when the command needs the database, call
 * the engine, shape the result. No planning here; that is src/revision and src/runner.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import type { OpenedBundle } from "../src/bundle/import-bundle.ts";
import { reportKey, sqlKey, type BundleLocation } from "../src/bundle/s3-bundles.ts";
import type { Connection } from "../src/db/connection.ts";
import { checkEnvNumbers, envNumber } from "../src/env-number.ts";
import { LambicError, withoutFullStop } from "../src/errors.ts";
import { parseRange, planHistory, rangeMentionsCurrent, resolveRangeStart } from "../src/revision/plan.ts";
import type { MigrationCommand, RunOptions, StepResult } from "../src/runner/run.ts";
import type { TenantProgress } from "../src/runner/tenants.ts";
import { bundleLocation, loadBundle, writeReport, writeScript, type BundleLoad } from "./bundle-source.ts";
import type { LambicEvent } from "./event.ts";
import { responseLimitFromEnv, type ReportStore, type TenantResult } from "./tenant-report.ts";

/** What the handler reports besides the result: for metrics and logs. */
export interface RunReport {
  from?: readonly string[];
  to?: readonly string[];
  revisionsApplied: number;
  lockWaitMs?: number;
  bundleSha256?: string;
  bundleFrom?: BundleLoad["from"];
  s3Requests: number;
  roundTrips?: number;
  /** Tenant databases: how many tenants succeeded and failed. */
  tenants?: { succeeded: number; failed: number };
}

export interface Step {
  readonly revision: string;
  readonly direction: "up" | "down" | "stamp";
  readonly ms: number;
}

export interface Deps {
  readonly env: Record<string, string | undefined>;
  readonly context: Context;
  /** `tenant` is set when the step ran in a tenant's schema. */
  readonly onStep: (step: StepResult, tenant?: string) => void;
  /** Called as each tenant finishes (tenant databases and fanout). */
  readonly onTenant?: (result: TenantResult, progress: Pick<TenantProgress, "done" | "failed" | "remaining">) => void;
  /** A structured log line (the handler's Powertools logger). */
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
  /** Filled in as the run goes, so a failure still reports what is known. */
  readonly report: RunReport;
  /**
   * The largest answer of a tenant run or fan-out, in bytes of JSON; a larger report goes to S3.
   * Default: LAMBIC_RESPONSE_LIMIT_BYTES, else 5 MB (Lambda refuses more than 6 MB).
   */
  readonly responseLimitBytes?: number;
}

/** Failures while applying a plan: the ones that get an offline SQL fallback. */
const RUN_FAILURES = new Set<string>(["STATEMENT_FAILED", "STATEMENT_TIMEOUT", "LOCK_TIMEOUT", "REVISION_FAILED", "CONNECTION_FAILED"]);


export async function runEvent(event: LambicEvent, invocation: Deps): Promise<Record<string, unknown>> {
  // Every numeric setting, whether or not this command reads it: a typo fails the first invocation.
  checkEnvNumbers(invocation.env);
  // A batch of a fan-out answers by its coordinator's deadline: every budget below counts to it.
  const deps = event.deadline === undefined ? invocation : { ...invocation, context: contextUntil(invocation.context, event.deadline) };
  if (event.deadline !== undefined) {
    const leftMs = event.deadline - Date.now();
    const marginMs = deadlineMarginMs(invocation.env);
    if (leftMs - marginMs < 100) {
      throw new LambicError(
        "STATEMENT_TIMEOUT",
        `The event's "deadline" (${new Date(event.deadline).toISOString()}) leaves ${Math.max(0, Math.round(leftMs))} ms, and ${marginMs} ms are kept back to roll back and report: nothing was started. A fan-out sets "deadline" on its batches, so this batch started too late for its coordinator's report; in an event of your own, leave "deadline" out or set it later.`,
        { deadline: event.deadline, remainingMs: Math.round(leftMs), marginMs },
      );
    }
  }
  const { env, report } = deps;
  const location = bundleLocation(env, event.database);
  const load = await loadBundle(env, location, event.bundleSha256);
  const { bundle } = load;
  report.bundleSha256 = bundle.sha256;
  report.bundleFrom = load.from;
  report.s3Requests += load.s3Requests;
  const base = { ok: true, command: event.command, database: event.database, bundleSha256: bundle.sha256 };

  if (event.command === "fanout" || event.command === "tenants") {
    // Refused before connecting: the bundle says whether the database has tenants.
    if (bundle.settings.tenants === undefined) throw (await import("./tenants.ts")).noTenants(bundle, event.command);
    const { runFanout, listEventTenants } = await import("./fanout.ts");
    const connect = () => openDatabase(bundle, deps);
    return event.command === "fanout"
      ? runFanout(event, bundle, { ...deps, connect, location, reportStore: reportStore(location, `fanout-${event.operation}`, deps) }, base)
      : listEventTenants(event, bundle, deps, connect, base);
  }
  if (event.command !== "sql" && (event.tenants !== undefined || (bundle.settings.tenants !== undefined && ["upgrade", "downgrade", "stamp", "current", "check", "repair"].includes(event.command)))) {
    const { runTenants } = await import("./tenants.ts");
    const store = reportStore(location, event.command, deps);
    return runTenants(event, bundle, { ...deps, connect: () => openDatabase(bundle, deps), runOptions: () => runOptions(event, bundle, deps), reportStore: store }, base);
  }

  switch (event.command) {
    case "heads":
      return { ...base, heads: [...bundle.set.map.heads] };
    case "history": {
      // "current" in the range stands for the database's version rows, as in Alembic.
      if (bundle.settings.tenants !== undefined && rangeMentionsCurrent(event.range)) {
        throw new LambicError("INVALID_EVENT", `Invalid event: "range" names current, but database "${event.database}" has one version table per tenant. Name the revisions instead ({"command": "current"} lists each tenant's).`, { field: "range", value: event.range });
      }
      const current = rangeMentionsCurrent(event.range)
        ? await withConnection(bundle, deps, async (connection) => (await (await import("../src/runner/run.ts")).readCurrent(connection, bundle.set, tableOptions(bundle))).versions)
        : [];
      const nodes = planHistory(bundle.set.map, event.range, current);
      return {
        ...base,
        revisions: nodes.map((node) => ({ id: node.id, revises: [...node.versionedDown], dependsOn: [...node.declaredDependencies], branchLabels: [...node.branchLabels], message: node.meta.message ?? "" })),
      };
    }
    case "sql":
      return { ...base, ...(await offlineScript(event, bundle, location, deps)) };
    case "current":
      return withConnection(bundle, deps, async (connection) => {
        const { readCurrent } = await import("../src/runner/run.ts");
        const state = await readCurrent(connection, bundle.set, tableOptions(bundle));
        return { ...base, versions: state.versions, heads: state.heads };
      });
    case "check":
      return withConnection(bundle, deps, async (connection) => {
        const { checkDatabase } = await import("../src/runner/run.ts");
        const result = await checkDatabase(connection, bundle.set, tableOptions(bundle));
        return { ...base, ...result };
      });
    case "repair":
      return withConnection(bundle, deps, async (connection) => {
        const { repairChecksums } = await import("../src/runner/run.ts");
        const result = await repairChecksums(connection, bundle.set, runOptions(event, bundle, deps));
        return { ...base, ...result };
      });
    case "upgrade":
    case "downgrade":
    case "stamp":
      return withConnection(bundle, deps, (connection) => migrate(event, bundle, location, connection, deps, base));
    default:
      throw new LambicError("INTERNAL_ERROR", `Command "${event.command}" reached the single-database path. This is a lambic bug.`, { command: event.command });
  }
}

/**
 * Where a tenant report too large for the response goes: `<prefix>/<db>/reports/`, next to the
 * SQL fallbacks. Made before the run, so a bad LAMBIC_RESPONSE_LIMIT_BYTES is refused before
 * any tenant is migrated.
 */
function reportStore(location: BundleLocation, command: string, deps: Deps): ReportStore {
  const limitBytes = deps.responseLimitBytes ?? responseLimitFromEnv(deps.env);
  const key = reportKey(location, command, deps.context.awsRequestId);
  return {
    limitBytes,
    bucket: location.bucket,
    key,
    write: async (json) => {
      deps.report.s3Requests++;
      // Written after the tenants ran, maybe close to the deadline: bounded by the time left too.
      await writeInTimeLeft(deps, location.bucket, key, (abortSignal) => writeReport(deps.env, location.bucket, key, json, abortSignal));
      deps.log?.("report", { bucket: location.bucket, key, bytes: json.byteLength, limitBytes });
    },
  };
}

function tableOptions(bundle: OpenedBundle) {
  return { versionTable: bundle.settings.versionTable, schema: bundle.settings.schema ?? undefined };
}

function migrationCommand(event: LambicEvent): MigrationCommand {
  if (event.command === "stamp") return { kind: "stamp", targets: event.targets, purge: event.purge };
  return { kind: event.command as "upgrade" | "downgrade", target: event.targets[0]! };
}

/** The Lambda context, its remaining time ending at `deadline` (epoch milliseconds) when that comes first. */
function contextUntil(context: Context, deadline: number): Context {
  const bounded = Object.create(context) as Context;
  bounded.getRemainingTimeInMillis = () => Math.min(context.getRemainingTimeInMillis(), deadline - Date.now());
  return bounded;
}

/** LAMBIC_DEADLINE_MARGIN_MS: the time kept back before the invocation's end to roll back and report. */
export function deadlineMarginMs(env: Record<string, string | undefined>): number {
  return envNumber(env, "LAMBIC_DEADLINE_MARGIN_MS");
}

/**
 * Kept back from an S3 write made after the run for the answer itself: the failed line, the EMF
 * line and the runtime's reply take a few ms; the rest is slack for a busy event loop.
 */
const ANSWER_RESERVE_MS = 500;

/**
 * An S3 write made after the run (the SQL fallback, a tenant report too large for the answer, the
 * `sql` command's script),
 * bounded by the invocation's time left less ANSWER_RESERVE_MS besides the request timeout: a
 * run that failed at its deadline has about the margin left, and a slow S3 would run the
 * invocation into Lambda's timeout, its coded error and failed line lost. With less time left
 * than the reserve the write is not started. The signal goes to the SDK, which cancels the
 * request and its retries (only the first import of its module, a local file, is outside it).
 * Out of time, this throws AWS_FAILED with `noTimeLeft` in its details.
 */
async function writeInTimeLeft(deps: Pick<Deps, "context">, bucket: string, key: string, write: (abortSignal: AbortSignal) => Promise<void>): Promise<void> {
  const remainingMs = Math.max(0, Math.floor(deps.context.getRemainingTimeInMillis()));
  const writeMs = remainingMs - ANSWER_RESERVE_MS;
  const noTimeLeft = (reason: string, cause?: unknown) =>
    new LambicError("AWS_FAILED", `No time was left to write s3://${bucket}/${key}: ${reason}.`, { bucket, key, remainingMs, reserveMs: ANSWER_RESERVE_MS, noTimeLeft: reason }, { cause });
  if (writeMs <= 0) throw noTimeLeft(`${remainingMs} ms of the invocation remained, less than the ${ANSWER_RESERVE_MS} ms kept back to answer, so the write was not started`);
  const signal = AbortSignal.timeout(writeMs);
  try {
    await write(signal);
  } catch (error) {
    if (!signal.aborted) throw error;
    throw noTimeLeft(`${remainingMs} ms of the invocation remained, and the write did not finish in the ${writeMs} ms of them not kept back to answer, so it was cancelled`, error);
  }
}

/** An SQL script written to S3 within the time left (see writeInTimeLeft). */
function writeScriptInTimeLeft(deps: Pick<Deps, "context" | "env">, bucket: string, key: string, script: string): Promise<void> {
  return writeInTimeLeft(deps, bucket, key, (abortSignal) => writeScript(deps.env, bucket, key, script, abortSignal));
}

/**
 * statement_timeout and lock_timeout bounded by the invocation's remaining time minus a margin,
 * so PostgreSQL cancels and rolls back before Lambda kills the process mid-transaction.
 */
export function runBudget(deps: Pick<Deps, "env" | "context">, bundle: OpenedBundle): { statementTimeoutMs: number; lockTimeoutMs: number; remainingMs: number; marginMs: number } {
  const remainingMs = deps.context.getRemainingTimeInMillis();
  const marginMs = deadlineMarginMs(deps.env);
  const budget = Math.floor(remainingMs - marginMs);
  if (budget < 100) {
    throw new LambicError(
      "STATEMENT_TIMEOUT",
      `Only ${Math.max(0, remainingMs)} ms of the invocation remain, and ${marginMs} ms are kept back to roll back and report; nothing was started. Raise the function's timeout (or lower LAMBIC_DEADLINE_MARGIN_MS).`,
      { remainingMs, marginMs },
    );
  }
  const configured = bundle.settings.statementTimeoutMs;
  return {
    statementTimeoutMs: configured > 0 ? Math.min(configured, budget) : budget,
    lockTimeoutMs: Math.min(bundle.settings.lockTimeoutMs, budget),
    remainingMs,
    marginMs,
  };
}

function runOptions(event: LambicEvent, bundle: OpenedBundle, deps: Deps): RunOptions {
  const budget = runBudget(deps, bundle);
  return {
    ...tableOptions(bundle),
    lockTimeoutMs: budget.lockTimeoutMs,
    statementTimeoutMs: budget.statementTimeoutMs,
    // A run that commits more than once cuts each transaction's timeouts to the time left then.
    remainingMs: () => deps.context.getRemainingTimeInMillis() - budget.marginMs,
    x: event.x,
    actor: `lambda:${deps.context.functionName}:${deps.context.awsRequestId}`,
    runId: randomUUID(),
    allowChanged: event.allowChanged,
    perRevision: event.perRevision,
    onStep: deps.onStep,
  };
}

/** A connection to the bundle's database, its connect timeout bounded by the time left. */
export async function openDatabase(bundle: OpenedBundle, deps: Pick<Deps, "env" | "context">): Promise<Connection> {
  const budget = runBudget(deps, bundle);
  const [{ resolveDatabaseUrl, forgetCachedUrls }, { openConnection }] = await Promise.all([import("../src/db/secrets.ts"), import("../src/db/connection.ts")]);
  const open = (url: string) =>
    openConnection(url, {
      driver: bundle.settings.driver ?? undefined,
      applicationName: "lambic-lambda",
      connectTimeoutSeconds: Math.max(1, Math.min(10, Math.floor(budget.statementTimeoutMs / 1000))),
      statementTimeoutMs: budget.statementTimeoutMs,
      // The server cancels at statement_timeout, so a reply still missing half-way through the
      // margin means a stalled network: report it before Lambda ends the invocation unreported.
      replyDeadline: Date.now() + budget.remainingMs - budget.marginMs / 2,
    });
  const { url, source } = await resolveDatabaseUrl(bundle.set.database, deps.env);
  try {
    return await open(url);
  } catch (error) {
    // A cached secret refused by the server: the password may have been rotated since it was
    // read. Read it again, once, rather than failing until the cache expires.
    const sqlstate = error instanceof LambicError ? error.details.sqlstate : undefined;
    if (source === "env" || (sqlstate !== "28P01" && sqlstate !== "28000")) throw error;
    forgetCachedUrls();
    const fresh = await resolveDatabaseUrl(bundle.set.database, deps.env);
    if (fresh.url === url) throw error;
    return open(fresh.url);
  }
}

async function withConnection<T>(bundle: OpenedBundle, deps: Deps, work: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await openDatabase(bundle, deps);
  try {
    return await work(connection);
  } finally {
    deps.report.roundTrips = connection.roundTrips;
    await connection.close().catch(() => undefined);
  }
}

function stepResults(steps: readonly StepResult[]): Step[] {
  return steps.map(({ revision, direction, ms }) => ({ revision, direction, ms }));
}

async function migrate(event: LambicEvent, bundle: OpenedBundle, location: BundleLocation, connection: Connection, deps: Deps, base: Record<string, unknown>): Promise<Record<string, unknown>> {
  const runner = await import("../src/runner/run.ts");
  const command = migrationCommand(event);
  const options = runOptions(event, bundle, deps);

  if (event.dryRun) {
    const plan = await runner.dryRunMigration(connection, bundle.set, command, { ...options, generatedAt: new Date(), range: event.targets.join(" ") });
    deps.report.from = plan.from;
    deps.report.to = plan.to;
    const answer = { ...base, dryRun: true, from: plan.from, to: plan.to, steps: runner.planSummary(plan.steps), sql: plan.script as string | null, ...(plan.changed.length > 0 ? { changed: plan.changed } : {}), ...(plan.readsNotRun.length > 0 ? { readsNotRun: plan.readsNotRun } : {}) };
    return dryRunAnswer(answer, location, deps);
  }

  try {
    const result = await runner.runMigration(connection, bundle.set, command, options);
    deps.report.from = result.from;
    deps.report.to = result.to;
    deps.report.lockWaitMs = result.lockWaitMs;
    deps.report.revisionsApplied = result.steps.filter((s) => s.direction !== "stamp").length;
    return {
      ...base,
      from: result.from,
      to: result.to,
      steps: stepResults(result.steps),
      lockWaitMs: result.lockWaitMs,
      ...(result.changed.length > 0 ? { changed: result.changed } : {}),
    };
  } catch (error) {
    // A plan that could not be made (a bad target, unknown versions) is not a run that failed:
    // there is nothing a DBA could apply instead.
    if (error instanceof LambicError && typeof error.details.lockWaitMs === "number") deps.report.lockWaitMs = error.details.lockWaitMs;
    if (!(error instanceof LambicError) || command.kind === "stamp" || !RUN_FAILURES.has(error.code)) throw error;
    throw await withFallback(error, command, bundle, location, connection, deps, options);
  }
}

/** Room left in the answer for what the handler adds to it (durationMs). */
const ANSWER_SLACK_BYTES = 64;

/**
 * A dry run's answer carries its script, which a data migration (bulkInsert, many statements)
 * can make larger than Lambda's 6 MB response: Lambda would drop the answer. Over the response
 * limit, the script goes to S3 beside the SQL fallbacks and the answer names it instead.
 */
async function dryRunAnswer<T extends { sql: string | null; from: readonly string[]; to: readonly string[] }>(answer: T, location: BundleLocation, deps: Deps): Promise<T | (T & { script: { bucket: string; key: string; bytes: number } })> {
  const limitBytes = deps.responseLimitBytes ?? responseLimitFromEnv(deps.env);
  if (Buffer.byteLength(JSON.stringify(answer)) + ANSWER_SLACK_BYTES <= limitBytes) return answer;
  const script = answer.sql ?? "";
  const key = sqlKey(location, answer.from, answer.to, deps.context.awsRequestId);
  const bytes = Buffer.byteLength(script);
  deps.report.s3Requests++;
  try {
    await writeScriptInTimeLeft(deps, location.bucket, key, script);
  } catch (error) {
    if (!(error instanceof LambicError)) throw error;
    throw new LambicError(
      error.code,
      `${withoutFullStop(error.message)}. The dry run's script (${bytes} bytes) is over the function's answer limit (LAMBIC_RESPONSE_LIMIT_BYTES, ${limitBytes} bytes), so it is written to S3 instead of answered; nothing was changed. Invoke again once S3 takes the write, or make the dry run locally (lambic … --dry-run).`,
      { ...error.details, dryRun: true, bytes, limitBytes },
      { cause: error },
    );
  }
  deps.log?.("script", { bucket: location.bucket, key, bytes, limitBytes });
  return { ...answer, sql: null, script: { bucket: location.bucket, key, bytes } };
}

/**
 * The run failed and was rolled back: write the offline SQL of the plan it could not apply, from
 * the version rows the database is at now, so a DBA can review and apply it with psql. The
 * original error is what the caller sees, with the script's key (or why there is none) added.
 */
async function withFallback(
  error: LambicError,
  command: MigrationCommand,
  bundle: OpenedBundle,
  location: BundleLocation,
  connection: Connection,
  deps: Deps,
  options: RunOptions,
): Promise<LambicError> {
  const runner = await import("../src/runner/run.ts");
  // A relative target (-2) counts from the rows the failed run may have moved: the plan's own
  // target then, or the script would go further than the run was to.
  if (command.kind !== "stamp" && typeof error.details.rerunTarget === "string") command = { ...command, target: error.details.rerunTarget };
  let key: string;
  let why: string;
  // The version rows the plan starts from, once read.
  let from: readonly string[] | undefined;
  try {
    const state = await runner.readCurrent(connection, bundle.set, options);
    deps.report.from = state.versions;
    from = state.versions;
    // The configured timeouts, not what was left of this invocation: the script is for psql.
    const { script, to } = await runner.renderScript(bundle.set, command, state.versions, {
      ...options,
      lockTimeoutMs: bundle.settings.lockTimeoutMs,
      statementTimeoutMs: bundle.settings.statementTimeoutMs,
      remainingMs: undefined,
      generatedAt: new Date(),
      range: (command as { target: string }).target,
    });
    deps.report.to = to;
    key = sqlKey(location, state.versions, to, deps.context.awsRequestId);
    await writeScriptInTimeLeft(deps, location.bucket, key, script);
    deps.report.s3Requests++;
    return new LambicError(
      error.code,
      `${error.message} The offline SQL of the plan (${state.versions.join(", ") || "base"} -> ${to.join(", ") || "base"}) is at s3://${location.bucket}/${key} for review and psql -X -v ON_ERROR_STOP=1 -f.`,
      { ...error.details, sqlFallback: { bucket: location.bucket, key } },
      { cause: error.cause ?? error },
    );
  } catch (fallbackError) {
    if (fallbackError instanceof LambicError && fallbackError.code === error.code && error.code === "REVISION_FAILED") {
      why = "the revision throws when rendered offline too, so the plan has no SQL form.";
    } else if (fallbackError instanceof LambicError && fallbackError.code === "CONNECTION_FAILED") {
      why = `the version rows could not be read to know where the plan starts (${fallbackError.message}). ${renderAdvice(command)}`;
    } else if (fallbackError instanceof LambicError && typeof fallbackError.details.noTimeLeft === "string") {
      why = `no time was left to write it (${fallbackError.details.noTimeLeft}). ${renderAdvice(command, from)}`;
    } else {
      why = fallbackError instanceof LambicError ? `${fallbackError.code}: ${fallbackError.message}` : String((fallbackError as Error)?.message ?? fallbackError);
    }
  }
  return new LambicError(error.code, `${error.message} No offline SQL fallback was written: ${why}`, { ...error.details, sqlFallback: null, sqlFallbackError: why }, { cause: error.cause ?? error });
}

/**
 * How to render the plan that got no fallback: a range from the rows the database is at (a bare
 * target would start an upgrade script at base, and a downgrade script needs its start named).
 * `from`: those rows when known and one range can start there (none or one).
 */
function renderAdvice(command: MigrationCommand, from?: readonly string[]): string {
  const target = (command as { target: string }).target;
  const start = from !== undefined && from.length <= 1 ? (from[0] ?? "base") : "<from>";
  const rows = start === "<from>" ? `, <from> being the version rows the database is at ({"command": "current"} lists them)` : "";
  return `Render it with \`lambic ${command.kind} ${start}:${target} --sql\`, or invoke {"command": "sql", "target": "${start}:${target}"${command.kind === "downgrade" ? ', "direction": "downgrade"' : ""}}${rows}.`;
}

async function offlineScript(event: LambicEvent, bundle: OpenedBundle, location: BundleLocation, deps: Deps): Promise<Record<string, unknown>> {
  const [{ renderScript, planSummary }, tenant] = await Promise.all([import("../src/runner/run.ts"), scriptTenant(event, bundle)]);
  const range = event.targets[0]!;
  const { from, to: target } = parseRange(range, event.direction);
  const start = resolveRangeStart(bundle.set.map, from);
  const { script, steps, to } = await renderScript(bundle.set, { kind: event.direction, target }, start, {
    ...tableOptions(bundle),
    ...(tenant !== undefined ? { schema: tenant, searchPath: tenant } : {}),
    lockTimeoutMs: bundle.settings.lockTimeoutMs,
    statementTimeoutMs: bundle.settings.statementTimeoutMs,
    x: event.x,
    actor: `lambda:${deps.context.functionName}:${deps.context.awsRequestId}`,
    runId: randomUUID(),
    generatedAt: new Date(),
    range,
  });
  const key = sqlKey(location, start, to, deps.context.awsRequestId);
  const bytes = Buffer.byteLength(script);
  // The script may take long to render: its write gets the time left, so that a slow S3 ends in
  // a coded error before the invocation's timeout, not in Lambda's "Task timed out".
  deps.report.s3Requests++;
  try {
    await writeScriptInTimeLeft(deps, location.bucket, key, script);
  } catch (error) {
    if (!(error instanceof LambicError && typeof error.details.noTimeLeft === "string")) throw error;
    throw new LambicError(
      "AWS_FAILED",
      `${withoutFullStop(error.message)}. The script (${steps.length} steps, ${bytes} bytes) was rendered but not stored. Raise the function's timeout and invoke again, or render it locally with \`lambic ${event.direction} ${range} --sql\`.`,
      error.details,
      { cause: error },
    );
  }
  deps.report.from = start;
  deps.report.to = to;
  return { range, direction: event.direction, ...(tenant !== undefined ? { tenant } : {}), from: start, to, steps: planSummary(steps), bucket: location.bucket, key, bytes };
}

/** On a tenant database a script is one tenant's (its search_path and version table): the event names exactly one. */
async function scriptTenant(event: LambicEvent, bundle: OpenedBundle): Promise<string | undefined> {
  const configured = bundle.settings.tenants;
  if (configured === undefined) {
    if (event.tenants === undefined) return undefined;
    throw (await import("./tenants.ts")).noTenants(bundle);
  }
  if (event.tenants?.length !== 1) {
    throw new LambicError(
      "INVALID_EVENT",
      `Invalid event: database "${event.database}" has tenants, each with its own schema and version table, so {"command": "sql"} renders one tenant's script: set "tenants": ["<tenant>"] (one name).`,
      { field: "tenants", value: event.tenants ?? null },
    );
  }
  const { namedTenant } = await import("../src/runner/tenants.ts");
  return namedTenant(configured, event.tenants[0]!, "the event");
}
