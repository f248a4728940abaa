import type { Connection } from "../db/connection.ts";
import { toDatabaseFailure, type DatabaseFailure } from "../db/connection.ts";
import { argumentError, checkCommand, checkConnection, checkRevisionSet, checkRunOptions, checkString, checkTableOptions } from "../check-arguments.ts";
import { LambicError, withoutFullStop } from "../errors.ts";
import { doBlock, quoteIdentifier, quoteLiteralAnyStrings } from "../operations/quote.ts";
import { effectiveHeads, planDowngrade, planStamp, planUpgrade, VersionRows, type PlanStep } from "../revision/plan.ts";
import { isNode, parseRelativeTarget } from "../revision/revision-map.ts";
import type { RevisionSet } from "../revision/revision-set.ts";
import { preloadCode, type RevisionDirection } from "../revision/types.ts";
import { emitPlan, failureOutcome, interruptedError, needsSessionLock, openTransaction, timeoutsNow, type EmittedStep, type RunProgress } from "./emit-plan.ts";
import { ConnectionSink, DryRunSink, ScriptSink, statementLine, type QueuedStatement, type ReadNotRunEntry, type Sink, type StatementResult } from "./sink.ts";
import {
  createSchemaStatements,
  createTablesLockStatement,
  createVersionTableStatements,
  historyInsertStatement,
  historyTableSql,
  runLockKeySql,
  selectAppliedChecksumsStatement,
  selectVersionsStatement,
  versionTableNames,
  type HistoryStep,
  versionTableSql,
  type VersionTableNames,
} from "./version-table.ts";

export type MigrationCommand =
  | { readonly kind: "upgrade"; readonly target: string }
  | { readonly kind: "downgrade"; readonly target: string }
  | { readonly kind: "stamp"; readonly targets: readonly string[]; readonly purge?: boolean };

export interface RunOptions {
  readonly versionTable: string;
  /** Schema of the version and history tables (default: the search_path's first schema). */
  readonly schema?: string;
  /** Set as search_path for the run, so unqualified names land there (a tenant's schema). Created if missing. */
  readonly searchPath?: string;
  readonly lockTimeoutMs: number;
  /** 0: no statement timeout. */
  readonly statementTimeoutMs: number;
  /** The time the run has left (the Lambda's): each transaction's timeouts are cut to it (RunSettings.remainingMs). */
  readonly remainingMs?: () => number;
  readonly x?: Readonly<Record<string, string>>;
  /** Who runs it: a Lambda request id, or the local user. */
  readonly actor: string;
  readonly runId: string;
  readonly perRevision?: boolean;
  /** Proceed although applied revisions changed since they ran. */
  readonly allowChanged?: boolean;
  /** Called once per step as it completes, in order (before the commit: a later failure rolls it back). */
  readonly onStep?: (step: StepResult) => void;
  /**
   * Aborted (e.g. on Ctrl-C): the running statement is cancelled, no further step is sent, and
   * the run ends in INTERRUPTED, rolled back. A COMMIT sent completes, unless the cancel meets
   * it running deferred constraints or constraint triggers: then it rolls back too.
   */
  readonly signal?: AbortSignal;
}

export interface StepResult {
  readonly revision: string;
  readonly direction: RevisionDirection | "stamp";
  readonly ms: number;
  readonly message?: string;
}

export interface RunResult {
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly steps: readonly StepResult[];
  readonly lockWaitMs: number;
  /** Revisions applied whose source changed since (only with allowChanged). */
  readonly changed: readonly ChangedRevision[];
}

export interface ChangedRevision {
  readonly revision: string;
  readonly appliedChecksum: string;
  readonly currentChecksum: string;
  readonly file: string;
}

function lockStatement(names: VersionTableNames, kind: "xact" | "session" | "unlock"): string {
  const fn = kind === "xact" ? "pg_advisory_xact_lock" : kind === "session" ? "pg_advisory_lock" : "pg_advisory_unlock";
  return `SELECT ${fn}(${runLockKeySql(names)})`;
}

function planFor(set: RevisionSet, rows: readonly string[], command: MigrationCommand): PlanStep[] {
  return fromVersionRows(rows, () => {
    switch (command.kind) {
      case "upgrade":
        return planUpgrade(set.map, rows, command.target);
      case "downgrade": {
        const steps = planDowngrade(set.map, rows, command.target);
        refuseIrreversible(set, steps, command.target);
        return steps;
      }
      case "stamp":
        return planStamp(set.map, command.purge ? [] : rows, command.targets);
    }
  });
}

/**
 * A downgrade through a revision without a downgrade (a module without the function, a .sql file
 * without a "-- +down" section) is refused before anything runs: met at its step, it would fail
 * after the steps above it had run, and those of a non-transactional revision, or of
 * --per-revision, stay. Alembic too builds every step of the plan, and fails, before running one.
 */
function refuseIrreversible(set: RevisionSet, steps: readonly PlanStep[], target: string): void {
  const missing: string[] = [];
  for (const step of steps) {
    if (step.kind === "revision" && step.direction === "down" && set.revisions.get(step.revision)?.downgrade === undefined) missing.push(step.revision);
  }
  if (missing.length === 0) return;
  const first = set.revisions.get(missing[0]!)!;
  // Steps to run first, unless it is the first step.
  const aboveFirst = !(steps[0]?.kind === "revision" && steps[0].revision === first.id);
  const files = missing.map((id) => set.revisions.get(id)!.source.file);
  const parents = first.revises === null ? [] : typeof first.revises === "string" ? [first.revises] : [...first.revises];
  const sql = files.filter((file) => file.endsWith(".sql")).length;
  const add =
    sql === files.length
      ? 'a "-- +down" section (an empty one when there is nothing to undo)'
      : sql === 0
        ? "a downgrade function (one that does nothing when there is nothing to undo)"
        : 'a downgrade (a "-- +down" section in a .sql revision, a downgrade function in a module; one that does nothing when there is nothing to undo)';
  throw new LambicError(
    "REVISION_FILE_INVALID",
    `The downgrade to ${target} would undo ${missing.length === 1 ? "revision" : "revisions"} ${missing.join(", ")}, which ${missing.length === 1 ? "has" : "have"} no downgrade (${files.join(", ")}); nothing was run. ` +
      `Add ${add}, or ${aboveFirst ? `downgrade to ${first.id}, ` : ""}undo what it did by hand and "lambic stamp ${parents.join(" ") || "base"}" (the {"command": "stamp", "target": ${JSON.stringify(parents.length > 1 ? parents : (parents[0] ?? "base"))}} event).`,
    { revision: first.id, revisions: missing, files, target },
  );
}

/**
 * Plans from version rows; rows of which one is an ancestor of another (a downgrade across a
 * depends_on can leave them, in Alembic too) are an overlap the user did not ask for, so the
 * error says which rows, and how to repair them.
 */
function fromVersionRows<T>(rows: readonly string[], plan: () => T): T {
  try {
    return plan();
  } catch (error) {
    const details = error instanceof LambicError && error.code === "OVERLAPPING_VERSIONS" ? (error.details as { revision?: string; overlaps?: string[] }) : undefined;
    const involved = details ? [details.revision ?? "", ...(details.overlaps ?? [])] : [];
    if (!details || !involved.every((id) => rows.includes(id))) throw error;
    throw new LambicError(
      "OVERLAPPING_VERSIONS",
      `The version rows ${rows.join(", ")} overlap: ${details.revision} and ${details.overlaps!.join(", ")} are on one line of descent (one is an ancestor of the other), so no plan can start from them. ` +
        `Set the rows to what the database is at with "lambic stamp --purge <revision>..." (for instance the newer of them), then run again.`,
      { versions: [...rows], revision: details.revision, overlaps: details.overlaps },
      { cause: error },
    );
  }
}

function stepResult({ step, message, startedAt, finishedAt }: EmittedStep): StepResult {
  const ms = Number(finishedAt) - Number(startedAt);
  return {
    revision: step.kind === "revision" ? step.revision : (step.to[0] ?? step.from[0] ?? "base"),
    direction: step.kind === "revision" ? step.direction : "stamp",
    ms: Number.isFinite(ms) ? Math.round(Math.max(0, ms) * 1000) / 1000 : 0,
    message,
  };
}

/** Refuses version rows that no revision defines: the wrong database, or a deleted revision. */
function assertKnownVersions(set: RevisionSet, rows: readonly string[], table: string): void {
  const unknown = rows.filter((row) => !set.map.has(row));
  if (unknown.length > 0) {
    // No row known at all is most often another database's table (two named databases on one
    // server sharing the default lambic_version), whose rows a stamp --purge would destroy.
    const advice = unknown.length === rows.length
      ? `None of its rows is a revision of "${set.database}": if the table belongs to another database on this server (another named database in lambic.config.json, or an Alembic project), give "${set.database}" a "versionTable" (or "schema") of its own in lambic.config.json; otherwise check the database URL and the revisions folder. Only if these revisions were removed on purpose, "lambic stamp --purge <revision>" rewrites the table.`
      : `Is this the right database and revisions folder? If the revision was removed on purpose, "lambic stamp --purge <revision>" rewrites the table.`;
    throw new LambicError(
      "UNKNOWN_VERSION",
      `The version table ${table} holds ${unknown.join(", ")}, which no revision of database "${set.database}" defines. ${advice}`,
      { versions: [...rows], unknown },
    );
  }
}

/** The ids of the revisions the version rows say are applied (theirs and their ancestors). */
function appliedIds(set: RevisionSet, rows: readonly string[]): Set<string> {
  return new Set([...set.map.ancestors(set.map.getRevisions(rows).filter(isNode))].map((n) => n.id));
}

/** A history row holding the checksum a revision was applied (or repaired) with; the latest per revision is read. */
function recordsChecksum(entry: Record<string, unknown>): boolean {
  return (entry.direction === "up" || entry.direction === "repair") && entry.checksum !== null;
}

/** Applied revisions whose source changed since they ran, like Flyway's validate. */
function changedRevisions(set: RevisionSet, rows: readonly string[], history: readonly Record<string, unknown>[], applied = appliedIds(set, rows)): ChangedRevision[] {
  const changed: ChangedRevision[] = [];
  for (const entry of history) {
    const id = String(entry.revision);
    if (!recordsChecksum(entry) || !applied.has(id)) continue;
    const revision = set.revisions.get(id);
    if (revision && revision.source.checksum !== entry.checksum) {
      changed.push({ revision: id, appliedChecksum: String(entry.checksum), currentChecksum: revision.source.checksum, file: revision.source.file });
    }
  }
  return changed;
}

function checksumError(changed: readonly ChangedRevision[]): LambicError {
  return new LambicError(
    "CHECKSUM_MISMATCH",
    `${changed.length} applied revision(s) changed since they ran: ${changed.map((c) => `${c.revision} (${c.file})`).join(", ")}. Editing an applied revision does not change the database; put the change in a new revision and restore the file (or the project file it imports that changed: a TypeScript revision's checksum covers those too), or, if the edit changes nothing the database needs (a comment, formatting), accept it with "lambic repair" (the {"command": "repair"} event), or pass --allow-changed ("allowChanged": true in an event) to proceed this once.`,
    { changed },
  );
}

function sessionLockUnavailable(): LambicError {
  return new LambicError(
    "SESSION_LOCK_UNAVAILABLE",
    `This plan commits more than once (a non-transactional revision, or --per-revision), which needs a session-level lock, and the connection goes through a transaction pooler (a Neon "-pooler" host, or Supabase's pooler on port 6543), where session locks do not hold. Nothing was changed. Use the direct (non-pooled) endpoint for this run.`,
    { pooled: true },
  );
}

function lockWaitMs(lock: StatementResult | undefined): number | undefined {
  const waited = lock?.rows?.[0]?.lock_wait_ms;
  return waited === undefined || waited === null ? undefined : Number(waited);
}

/** Why the connection went, in the driver's words (passwords scrubbed by connectionLost). */
function lostReason(error: unknown): string {
  for (let cause = error; cause; cause = (cause as { cause?: unknown }).cause) {
    if (cause instanceof LambicError && typeof cause.details.reason === "string") return cause.details.reason;
  }
  return String((error as Error)?.message ?? error);
}

/** Turns a driver failure into a coded error naming the revision and the statement. */
export function statementError(error: unknown, statement: QueuedStatement | undefined, position: number | undefined, names: VersionTableNames, options: { lockTimeoutMs: number; signal?: AbortSignal }, progress?: RunProgress): never {
  // A session found lost before the statement was sent (it went while the revision's own code
  // ran, between statements) is a lost connection there too, told with what it leaves.
  const lostBefore = error instanceof LambicError && error.code === "CONNECTION_FAILED" && typeof error.details.reason === "string";
  if (error instanceof LambicError && !lostBefore) throw error;
  const taken = statement?.origin.purpose === "lock" ? new RegExp(`${RUN_LOCK_TAKEN} (-?\\d+)`).exec(toDatabaseFailure((error as { cause?: unknown })?.cause ?? error)?.message ?? "") : null;
  if (taken) throw new RunLockTaken(taken[1]!);
  const failure = lostBefore ? undefined : toDatabaseFailure(error) ?? toDatabaseFailure((error as { cause?: unknown })?.cause);
  // A cancel we asked for (57014), or the connection Neon's cancel closes. A COMMIT the server
  // answered (cancelled in its deferred work) was rolled back; a lost one stays undecided.
  if (options.signal?.aborted) throw interruptedError(progress, statement?.origin.revision, false, failure !== undefined && statement?.text === "COMMIT");
  const origin = statement?.origin;
  const where = origin?.revision ? `revision ${origin.revision} (${origin.direction === "down" ? "downgrade" : origin.direction === "stamp" ? "stamp" : "upgrade"})` : "lambic's own bookkeeping";
  // Each statement online is a message of its own: PostgreSQL's position (in characters) is within it.
  const text = statement?.text ?? "";
  const details = {
    revision: origin?.revision,
    direction: origin?.direction,
    statement: text.slice(0, 200),
    sqlstate: failure?.sqlstate,
    position,
    detail: failure?.detail,
    hint: failure?.hint,
    // The version rows this run committed before failing (a plan that commits more than once).
    ...(progress?.committed !== undefined ? { committed: progress.committed } : {}),
  };
  // A server's error (even on COMMIT itself) rolls the transaction back; only a lost connection
  // leaves a COMMIT in flight undecided.
  const rolledBack = failureOutcome(failure && progress ? { ...progress, committing: undefined } : progress);
  if (!failure) {
    const at = text ? `, at: ${statementLine(text)}` : "";
    throw new LambicError(
      "CONNECTION_FAILED",
      `The database connection was lost while running ${where} (${lostReason(error)})${at}. ${rolledBack} Check the server, then run again. ` +
        `Should the server not have noticed the lost connection yet, its session still holds the run lock and the new run waits for it (LOCK_TIMEOUT): find it in pg_stat_activity (its application_name starts with lambic) and end it with pg_terminate_backend(pid).`,
      details,
      { cause: error },
    );
  }
  if ((failure.sqlstate === "55P03" || failure.sqlstate === "57014") && origin?.purpose === "tables") {
    // A first run over another version table in this schema is creating the shared history table.
    throw new LambicError(
      "LOCK_TIMEOUT",
      `Another migration run (a first run over another version table in this schema) is creating ${historyTableSql(names)}, which every version table of the schema shares; the wait for it ended (${failure.sqlstate === "55P03" ? `lock_timeout, ${options.lockTimeoutMs} ms` : "statement_timeout"}). ${rolledBack} Wait for that run to finish and try again, or raise lockTimeoutMs.`,
      { ...details, lockTimeoutMs: options.lockTimeoutMs },
      { cause: error },
    );
  }
  if (failure.sqlstate === "55P03") {
    const lock = origin?.purpose === "lock";
    throw new LambicError(
      "LOCK_TIMEOUT",
      lock
        ? `Another migration run holds the lock on ${versionTableSql(names)}; waited ${options.lockTimeoutMs} ms (lock_timeout). ${rolledBack} Wait for that run to finish and try again, or raise lockTimeoutMs.`
        : `${where} waited longer than lock_timeout (${options.lockTimeoutMs} ms) for a lock held by another session: ${failure.message}. ${rolledBack} Find the blocking session (pg_stat_activity), then run again, or raise lockTimeoutMs.`,
      { ...details, lockTimeoutMs: options.lockTimeoutMs },
      { cause: error },
    );
  }
  if (failure.sqlstate === "57014" && origin?.purpose === "lock") {
    // statement_timeout ended the wait for the run lock first (in the Lambda both are cut to
    // the invocation's time left): another run holds it.
    throw new LambicError(
      "LOCK_TIMEOUT",
      `Another migration run holds the lock on ${versionTableSql(names)}; the wait for it was cut by statement_timeout (${failure.message}). ${rolledBack} Wait for that run to finish and try again, or give this run more time.`,
      { ...details, lockTimeoutMs: options.lockTimeoutMs },
      { cause: error },
    );
  }
  if (failure.sqlstate === "57014") {
    throw new LambicError(
      "STATEMENT_TIMEOUT",
      `${where} was cancelled: ${failure.message} (statement_timeout) while running: ${text.slice(0, 200)}. ${rolledBack} Raise statementTimeoutMs (or the Lambda's timeout), or split the revision.`,
      details,
      { cause: error },
    );
  }
  if (failure.sqlstate === "25P02" && progress?.failedRead) {
    // A revision caught its ctx.query's failure and went on: that failure is the cause.
    const read = progress.failedRead;
    const reader = read.details.revision;
    throw new LambicError(
      read.code,
      `Revision ${reader} caught the failure of its ctx.query and went on, but a failed statement aborts the transaction, so nothing after it can run (the next statement, in ${where}, got "${failure.message}"). ` +
        `To read what may not exist, check first (to_regclass('name') IS NOT NULL), or wrap the read in SAVEPOINT and ROLLBACK TO SAVEPOINT (op.execute). The failure: ${read.message}`,
      { ...read.details, caught: true },
      { cause: read },
    );
  }
  // A serialization failure (under SERIALIZABLE or REPEATABLE READ) or a deadlock: PostgreSQL
  // cancelled this transaction for a concurrent one's sake, at any statement or at COMMIT.
  const conflict = CONFLICT_SQLSTATES[failure.sqlstate];
  const retry = conflict
    ? `The run conflicted with a concurrent transaction (${conflict}), and PostgreSQL cancelled the run's transaction so that the other could go on: run again (nothing needs fixing); should it recur, run when the application is quiet.`
    : undefined;
  if (text === "COMMIT" && !origin?.revision) {
    // Not lambic's bookkeeping: a deferred constraint or constraint trigger is checked at COMMIT.
    throw new LambicError(
      "STATEMENT_FAILED",
      `The COMMIT of the run's transaction failed: ${failure.message} [SQLSTATE ${failure.sqlstate}]${serverNotes(failure)}. ${rolledBack} ${retry ?? "A deferred constraint or constraint trigger is checked at COMMIT, not when its statement ran: fix the revision of this transaction that made or fired it, and run again (--per-revision names the revision)."}`,
      details,
      { cause: error },
    );
  }
  const at = position ? ` at character ${position}` : "";
  const next = retry
    ? retry
    : origin?.revision
    ? failure.sqlstate === "25001"
      ? progress?.outsideTransaction === origin.revision
        ? `Revision ${origin.revision} runs outside a transaction already, but PostgreSQL runs the statements of one message (a ctx.query of several) as one transaction, and a function or DO block as part of its statement's: give this statement a ctx.query (or op.execute) of its own, outside any function, then run again.`
        : `This statement cannot run inside a transaction: mark revision ${origin.revision} non-transactional (transactional: false; "-- transactional: false" in a .sql file) so it runs on its own, then run again.`
      : failure.sqlstate === "55P04"
        ? // A label from ALTER TYPE ... ADD VALUE is usable only once its transaction commits, and a run is one transaction: "a later revision" is not enough.
          "An enum label added by ALTER TYPE ... ADD VALUE (op.addEnumValue) cannot be used until the transaction that added it commits, and a run is one transaction, later revisions included: " +
          "make the revision that adds the label non-transactional (transactional: false; add it with ifNotExists so a rerun succeeds), or run with --per-revision when it is used in a later revision, then run again."
        : failure.sqlstate === "42804" && /\bALTER\s+COLUMN\b[\s\S]*\bTYPE\b/i.test(text) && !/\bDROP\s+DEFAULT\b/i.test(text)
          ? // PostgreSQL converts the column's default with its values, and says no hint when the default is what cannot be cast.
            "A type change converts the column's values (USING says how) and its default: when the default cannot be converted, drop or replace it in the same change " +
            "(op.alterColumn's default: the new default, or null to drop it; in SQL, ALTER COLUMN … DROP DEFAULT before TYPE, then SET DEFAULT), then run again."
          : "Fix the revision and run again."
    : failure.sqlstate === "42501"
      ? `The database user needs CREATE on the schema (the first time) and SELECT, INSERT, UPDATE and DELETE on ${versionTableSql(names)} and ${historyTableSql(names)}: grant them, or set "schema" or "versionTable" in lambic.config.json, then run again.`
      : failure.sqlstate === "3F000" && names.schema !== undefined
        ? `The schema ${quoteIdentifier(names.schema, { op: "config", argument: "schema" })} that holds the version table does not exist: create it, or fix "schema" in lambic.config.json, then run again.`
        : `Check ${versionTableSql(names)} and ${historyTableSql(names)} (lambic current), then run again.`;
  throw new LambicError(
    "STATEMENT_FAILED",
    `${where[0]!.toUpperCase()}${where.slice(1)} failed: ${failure.message} [SQLSTATE ${failure.sqlstate}]${at} in: ${text.slice(0, 200)}${serverNotes(failure)}. ${rolledBack} ${next}`,
    details,
    { cause: error },
  );
}

/**
 * PostgreSQL's DETAIL and HINT, as psql prints them after the message: the hint often is the fix
 * (`You might need to specify "USING a::integer".` for a type change without USING).
 */
function serverNotes(failure: DatabaseFailure): string {
  return `${failure.detail ? ` (${failure.detail})` : ""}${failure.hint ? ` (hint: ${withoutFullStop(failure.hint)})` : ""}`;
}

/** SQLSTATEs of a transaction PostgreSQL cancels because of a concurrent one: running again is the remedy. */
const CONFLICT_SQLSTATES: Readonly<Record<string, string>> = { "40001": "a serialization failure", "40P01": "a deadlock" };

/**
 * Runs an upgrade, downgrade or stamp on one connection: one transaction (unless a revision is
 * non-transactional, or perRevision), an advisory lock keyed on the version table, the version
 * and history tables, and every statement pipelined. Any failure rolls everything back.
 */
export async function runMigration(connection: Connection, set: RevisionSet, command: MigrationCommand, options: RunOptions): Promise<RunResult> {
  checkConnection("runMigration", connection);
  checkRevisionSet("runMigration", set);
  checkCommand("runMigration", command);
  checkRunOptions("runMigration", options);
  const names = versionTableNames(options);
  let sessionLock = false;
  const progress: RunProgress = { interruptCloses: !connection.capabilities.cancelRequests };
  const sink = new ConnectionSink(connection, (error, statement, position) => statementError(error, statement, position, names, options, progress));
  const signal = options.signal;
  const cancel = () => void connection.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  let lock: StatementResult | undefined;
  /** How long the run has waited for the run lock; `held`: at session level, by waitForRunLock, until the transaction holds it too. */
  let waitedFor: RunLockWait | undefined;
  try {
    if (signal?.aborted) throw interruptedError(progress);
    let purged: StatementResult | undefined;
    let versions: StatementResult;
    let history: StatementResult;
    for (;;) {
      openTransaction(sink, options);
      // The run lock is only tried here and, when another run holds it, waited for outside any
      // transaction (waitForRunLock): a session waiting in a statement holds a snapshot, and a
      // CREATE INDEX CONCURRENTLY of the run it waits for waits for every such snapshot: the two
      // would deadlock, and the index be left INVALID. Under a repeatable read or serializable
      // default that snapshot is also the transaction's, taken before the other run committed, so
      // it would not see what that run applied.
      // A lock taken fails the try, so that nothing after it in the pipeline runs (it would wait
      // for the lock on creating lambic's tables, which that run may hold).
      lock = queueRunLock(sink, names, waitedFor);
      queueTables(sink, names, options.searchPath);
      // The rows a purge deletes are where the run started: `from`, as a dry run reports it.
      purged = command.kind === "stamp" && command.purge ? sink.statement(`DELETE FROM ${versionTableSql(names)} RETURNING version_num`, { purpose: "version" }) : undefined;
      versions = sink.statement(selectVersionsStatement(names), { purpose: "read" });
      history = sink.statement(selectAppliedChecksumsStatement(names), { purpose: "read" });
      const prologue = sink.flush();
      if (command.kind !== "stamp") preloadWhileWaiting(set, prologue);
      try {
        await prologue;
      } catch (error) {
        if (!(error instanceof RunLockTaken)) throw error;
        await connection.query("ROLLBACK");
        waitedFor = await waitForRunLock(connection, error.key, lock, names, options, progress, waitedFor);
        continue;
      }
      if (waitedFor !== undefined) waitedFor = { ...waitedFor, ms: waitedFor.ms + (lockWaitMs(lock) ?? 0) };
      break;
    }

    const rows = purged ? [] : (versions.rows ?? []).map((r) => String(r.version_num));
    assertKnownVersions(set, rows, versionTableSql(names));
    progress.started = rows;
    const changed = command.kind === "stamp" ? [] : changedRevisions(set, rows, history.rows ?? []);
    if (changed.length > 0 && !options.allowChanged) throw checksumError(changed);

    const steps = planFor(set, rows, command);
    if (needsSessionLock(set, steps, options.perRevision ?? false)) {
      if (!connection.capabilities.sessionLocks) throw sessionLockUnavailable();
      sink.statement(lockStatement(names, "session"), { purpose: "lock" });
      sessionLock = true;
    }
    const onStep = options.onStep;
    const { emitted, rows: after, closeSegment } = await emitPlan(sink, set, steps, rows, {
      names,
      runId: options.runId,
      actor: options.actor,
      x: options.x ?? {},
      perRevision: options.perRevision ?? false,
      searchPath: options.searchPath,
      lockTimeoutMs: options.lockTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
      remainingMs: options.remainingMs,
      onStepDone: onStep ? (step) => onStep(stepResult(step)) : undefined,
      progress,
      signal,
    });
    await closeSegment();
    if (signal?.aborted) throw interruptedError(progress);
    sink.statement("COMMIT", { purpose: "control" });
    progress.committing = [...after];
    if (sessionLock) sink.statement(lockStatement(names, "unlock"), { purpose: "lock" });
    sink.statement(RESET_SESSION, { purpose: "control" });
    await sink.flush();
    sessionLock = false;
    const results = emitted.map(stepResult);
    const from = purged ? (purged.rows ?? []).map((r) => String(r.version_num)) : rows;
    return { from, to: after, steps: results, lockWaitMs: waitedFor?.ms ?? lockWaitMs(lock) ?? 0, changed };
  } catch (error) {
    // (Unlocking a lock not held only warns.)
    await rollbackQuietly(connection, sessionLock || waitedFor?.held ? lockStatement(names, "unlock") : undefined);
    if (error instanceof LambicError && progress.outsideTransaction !== undefined && error.details.revision === progress.outsideTransaction && (error.code === "INTERRUPTED" || CONCURRENT_INDEX.test(String(error.details.statement ?? "")))) {
      await sayInvalidIndexes(connection, error);
    }
    // A run that took the lock and then failed still says how long it waited (the LockWaitMs metric).
    const waited = waitedFor?.ms ?? lockWaitMs(lock);
    if (error instanceof LambicError && waited !== undefined && error.details.lockWaitMs === undefined) error.details.lockWaitMs = waited;
    // Where the database is, as data, whichever failure's words say it (a pipeline reads --json).
    if (error instanceof LambicError && progress.committed !== undefined) {
      error.details.committed ??= progress.committed;
      if (progress.outsideTransaction !== undefined) error.details.outsideTransaction ??= progress.outsideTransaction;
    }
    // Only a lost connection leaves a COMMIT sent undecided: a server's error at it rolled it back.
    const rerun = error instanceof LambicError && progress.started !== undefined ? rerunTarget(set, command, progress.started, progress.committed, error.code === "CONNECTION_FAILED" ? progress.committing : undefined) : undefined;
    if (rerun !== undefined && error instanceof LambicError && error.details.rerunTarget === undefined) {
      const target = (command as { target: string }).target;
      error.details.rerunTarget = rerun.target;
      error.message += ` "${target}" counts from the version rows a run starts at, and this run ${rerun.surely ? "moved them" : "may have moved them"}: to finish its plan, run again with the target ${rerun.target}, not "${target}".`;
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
}

/** A statement that builds or drops an index concurrently: should it fail, or be cancelled, its index stays, INVALID. */
const CONCURRENT_INDEX = /\b(?:RE)?INDEX\b[\s\S]*\bCONCURRENTLY\b/i;

/**
 * A failed or cancelled concurrent index build (or drop) leaves its index INVALID, which IF NOT
 * EXISTS then skips, so the advice to make the revision idempotent would not do: the error names
 * the database's INVALID indexes, and says to drop them. Unsaid when they cannot be read.
 */
async function sayInvalidIndexes(connection: Connection, error: LambicError): Promise<void> {
  let rows: { name: string }[];
  try {
    rows = await connection.query<{ name: string }>("SELECT indexrelid::regclass::text AS name FROM pg_index WHERE NOT indisvalid ORDER BY 1 LIMIT 11");
  } catch {
    return;
  }
  if (rows.length === 0) return;
  const names = rows.slice(0, 10).map((row) => row.name);
  const more = rows.length > 10 ? ", …" : "";
  error.details.invalidIndexes = names;
  error.message +=
    names.length === 1
      ? ` The failed build left index ${names[0]} behind, INVALID (unused, but kept up to date by every write), and IF NOT EXISTS would skip it: drop it with DROP INDEX CONCURRENTLY ${names[0]} before running again.`
      : ` A failed build leaves its index behind, INVALID (unused, but kept up to date by every write), and IF NOT EXISTS would skip it; the database has INVALID indexes ${names.join(", ")}${more}: drop the one this revision builds with DROP INDEX CONCURRENTLY before running again.`;
}

/**
 * The target that finishes a failed run's plan when the run's target counts from the version rows
 * (-2, +1, label@-1) and the run moved them (committed, or may have, part of its plan): run
 * again, the relative target would count from the new rows and go further. Undefined otherwise.
 */
function rerunTarget(set: RevisionSet, command: MigrationCommand, start: readonly string[], committed: readonly string[] | undefined, undecided: readonly string[] | undefined): { target: string; surely: boolean } | undefined {
  if (command.kind === "stamp") return undefined;
  const relative = parseRelativeTarget(command.target);
  if (relative === undefined || relative.symbol !== undefined) return undefined;
  const moved = (rows: readonly string[] | undefined) => rows !== undefined && (rows.length !== start.length || rows.some((row, i) => row !== start[i]));
  const surely = moved(committed);
  if (!surely && !moved(undecided)) return undefined;
  try {
    if (command.kind === "upgrade") {
      const [revision] = set.map.parseUpgradeTarget(start, command.target, true);
      return isNode(revision) ? { target: revision.id, surely } : undefined;
    }
    const { branchLabel, revision } = set.map.parseDowngradeTarget(start, command.target, true);
    const id = isNode(revision) ? revision.id : "base";
    // The bare id, unless the branch (the label given, or the row -N counted from) tells apart
    // the branches above it: the one whose plan from the same rows is the relative target's.
    const plan = (target: string) => {
      try {
        return planDowngrade(set.map, start, target).map((step) => step.revision).join();
      } catch {
        return undefined;
      }
    };
    const planned = plan(command.target);
    const target = [relative.label !== undefined ? `${relative.label}@${id}` : id, `${branchLabel}@${id}`].find((candidate) => planned !== undefined && plan(candidate) === planned);
    return target === undefined ? undefined : { target, surely };
  } catch {
    return undefined;
  }
}

/**
 * Reads the revisions' code while the server answers the prologue, unless the answer is in by
 * then. A folder's compiled revisions are otherwise read at the first step (≈ 10 ms at 1,000
 * revisions, the thread busy), after that answer; the plan is not known yet, so a run that turns
 * out to have nothing to do pays for it too, where the answer was not quicker. All of a folder's
 * modules are one bundle: the heads' reads cover the revisions below them.
 */
function preloadWhileWaiting(set: RevisionSet, replies: Promise<void>): void {
  let answered = false;
  const settle = () => {
    answered = true;
  };
  replies.then(settle, settle);
  // The second turn: postgres.js writes a short pipeline in the first one's check phase.
  setImmediate(() =>
    setImmediate(() => {
      if (answered) return;
      for (const head of set.map.heads) preloadCode(set.revisions.get(head));
    }),
  );
}

/** What the try of the run lock fails with when another run holds it (see runMigration). */
const RUN_LOCK_TAKEN = "lambic: the run lock is taken, key";

/**
 * Queues lambic's tables, each created if missing, under the lock on creating them; first, for a
 * tenant run, the tenant's schema (see createSchemaStatements).
 */
function queueTables(sink: Sink, names: VersionTableNames, tenantSchema?: string): void {
  if (tenantSchema !== undefined) {
    const schema = createSchemaStatements(tenantSchema, names);
    sink.statement(schema.lock, { purpose: "tables" });
    sink.statement(schema.create, { purpose: "control" });
  }
  sink.statement(createTablesLockStatement(names), { purpose: "tables" });
  for (const ddl of createVersionTableStatements(names)) sink.statement(ddl, { purpose: "control" });
}

/** The try of the run lock failed: another run holds it (its key, to wait for it). */
class RunLockTaken extends Error {
  constructor(readonly key: string) {
    super(`the run lock is taken (key ${key})`);
  }
}

/** A run's wait for the run lock so far; `held`: waitForRunLock holds it at session level. */
interface RunLockWait {
  readonly key: string;
  readonly ms: number;
  readonly held: boolean;
  /** performance.now() when the wait began: it is bounded from there. */
  readonly started: number;
}

/**
 * Queues the statement that takes the run lock for a transaction: only a try (see runMigration),
 * unless waitForRunLock has it at session level: then the lock for the transaction and the
 * release of the session's.
 */
function queueRunLock(sink: Sink, names: VersionTableNames, waitedFor: RunLockWait | undefined): StatementResult {
  const held = waitedFor?.held === true;
  const lock = sink.statement(
    held
      ? `SELECT extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000 AS lock_wait_ms FROM (${lockStatement(names, "xact")}) AS acquired`
      : `SELECT (CASE WHEN pg_try_advisory_xact_lock(key) THEN '0' ELSE '${RUN_LOCK_TAKEN} ' || key END)::int AS lock_wait_ms FROM (SELECT ${runLockKeySql(names)} AS key) AS run_lock`,
    { purpose: "lock" },
  );
  if (held) sink.statement(lockStatement(names, "unlock"), { purpose: "lock" });
  return lock;
}

/** How often a run waiting for the run lock tries it again. */
const RUN_LOCK_POLL_MS = 100;

/**
 * Waits for the run lock another run holds, outside any transaction: tries it at session level
 * every RUN_LOCK_POLL_MS, each try a statement that returns at once, so that no snapshot of this
 * session is open while it waits (see runMigration). Bounded as a wait in a statement would be,
 * by lock_timeout and statement_timeout (cut to the time the run has left), and ends in the same
 * errors. Returns the key, held at session level, and how long it waited. Through a transaction
 * pooler, where a session lock does not hold, it only waits RUN_LOCK_POLL_MS (not held): the
 * caller tries the lock again in a new transaction. `before`: the wait so far.
 */
async function waitForRunLock(connection: Connection, key: string, lock: StatementResult, names: VersionTableNames, options: Pick<RunOptions, "lockTimeoutMs" | "statementTimeoutMs" | "remainingMs" | "signal">, progress: RunProgress, before?: RunLockWait): Promise<RunLockWait> {
  const started = before?.started ?? performance.now();
  const { lockTimeoutMs, statementTimeoutMs } = timeoutsNow(options);
  const limits = [lockTimeoutMs, statementTimeoutMs].filter((ms) => ms > 0);
  const limit = limits.length > 0 ? Math.min(...limits) : Infinity;
  const sessionLocks = connection.capabilities.sessionLocks;
  const poll = `SELECT pg_try_advisory_lock(${key}) AS acquired`;
  const queued: QueuedStatement = { text: poll, origin: { purpose: "lock" }, result: lock };
  for (let tries = 0; ; tries++) {
    if (options.signal?.aborted) throw interruptedError(progress, undefined, true);
    if (!sessionLocks && tries > 0) return { key, ms: performance.now() - started, held: false, started };
    if (sessionLocks) {
      let row: { acquired: boolean } | undefined;
      try {
        [row] = await connection.query<{ acquired: boolean }>(poll);
      } catch (error) {
        // The interrupt cancelled the try (or, through Neon, closed the connection).
        if (options.signal?.aborted) throw interruptedError(progress, undefined, true);
        throw error;
      }
      if (row?.acquired) return { key, ms: performance.now() - started, held: true, started };
    }
    const left = limit - (performance.now() - started);
    if (left <= 0) {
      // The errors a wait in a statement would have met, in the same words.
      const byLockTimeout = limit === lockTimeoutMs;
      const failure = Object.assign(new Error(byLockTimeout ? "canceling statement due to lock timeout" : "canceling statement due to statement timeout"), { code: byLockTimeout ? "55P03" : "57014", severity: "ERROR" });
      statementError(failure, queued, undefined, names, options, progress);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(RUN_LOCK_POLL_MS, left)));
  }
}

/**
 * A revision's SET (not SET LOCAL) outlives its transaction, and a non-transactional revision's
 * statements run with the run's settings made for the session: a run ends them, so that the next
 * run on the connection (the next tenant on a worker's connection) starts from the connection's
 * own settings, not from what another tenant's revision set (a statement_timeout, a role).
 */
const RESET_SESSION = "RESET ALL";

async function rollbackQuietly(connection: Connection, unlock: string | undefined): Promise<void> {
  try {
    await connection.query("ROLLBACK");
  } catch {
    // The connection is gone or unusable; the server rolls back an unfinished transaction itself.
    return;
  }
  if (unlock) await connection.query(unlock).catch(() => undefined);
  await connection.query(RESET_SESSION).catch(() => undefined);
}

export interface CurrentState {
  readonly versions: readonly string[];
  readonly heads: readonly string[];
}

/** Reads the version rows without creating anything (`lambic current`). */
export async function readCurrent(connection: Connection, set: RevisionSet, options: Pick<RunOptions, "versionTable" | "schema">): Promise<CurrentState> {
  checkConnection("readCurrent", connection);
  checkRevisionSet("readCurrent", set);
  checkTableOptions("readCurrent", options);
  const names = versionTableNames(options);
  const rows = await readVersionRows(connection, names);
  assertKnownVersions(set, rows, versionTableSql(names));
  return { versions: rows, heads: effectiveHeads(set.map, rows) };
}

/** The version rows as they are ([] without a version table), known to the revisions or not. */
async function readVersionRows(connection: Connection, names: VersionTableNames): Promise<string[]> {
  const [exists] = await connection.query<{ exists: boolean }>(`SELECT to_regclass(${quoteLiteralAnyStrings(versionTableSql(names))}) IS NOT NULL AS exists`);
  if (!exists?.exists) return [];
  return (await connection.query<{ version_num: string }>(selectVersionsStatement(names))).map((r) => r.version_num);
}

export interface CheckResult {
  readonly versions: readonly string[];
  readonly heads: readonly string[];
  readonly pending: readonly string[];
  readonly changed: readonly ChangedRevision[];
  readonly upToDate: boolean;
}

/** Applied revisions whose source changed since, read without creating anything. */
async function readChanged(connection: Connection, set: RevisionSet, versions: readonly string[], options: Pick<RunOptions, "versionTable" | "schema">): Promise<ChangedRevision[]> {
  const names = versionTableNames(options);
  const [historyExists] = await connection.query<{ exists: boolean }>(`SELECT to_regclass(${quoteLiteralAnyStrings(historyTableSql(names))}) IS NOT NULL AS exists`);
  const history = historyExists?.exists ? await connection.query(selectAppliedChecksumsStatement(names)) : [];
  return changedRevisions(set, versions, history);
}

/** `lambic check`: what `upgrade heads` would run, and applied revisions whose source changed. */
export async function checkDatabase(connection: Connection, set: RevisionSet, options: Pick<RunOptions, "versionTable" | "schema">): Promise<CheckResult> {
  checkConnection("checkDatabase", connection);
  checkRevisionSet("checkDatabase", set);
  checkTableOptions("checkDatabase", options);
  const current = await readCurrent(connection, set, options);
  const pending = fromVersionRows(current.versions, () => planUpgrade(set.map, current.versions, "heads")).map((s) => s.revision);
  const changed = await readChanged(connection, set, current.versions, options);
  return { ...current, pending, changed, upToDate: pending.length === 0 && changed.length === 0 };
}

export type RepairOptions = Pick<RunOptions, "versionTable" | "schema" | "lockTimeoutMs" | "statementTimeoutMs" | "actor" | "runId">;

export interface RepairResult {
  readonly versions: readonly string[];
  /** Applied revisions whose source changed since they ran: their checksum now is recorded. */
  readonly repaired: readonly ChangedRevision[];
  /**
   * Applied revisions with no checksum on record (stamped, or applied before lambic_history
   * existed, e.g. by Alembic): theirs is recorded, so that a later edit is caught.
   */
  readonly recorded: readonly RecordedRevision[];
}

export interface RecordedRevision {
  readonly revision: string;
  readonly checksum: string;
  readonly file: string;
}

/** Applied revisions whose last record is not a run or repair with a checksum, in file order. */
function untrackedRevisions(set: RevisionSet, applied: ReadonlySet<string>, history: readonly Record<string, unknown>[]): RecordedRevision[] {
  const tracked = new Set(history.filter(recordsChecksum).map((e) => String(e.revision)));
  const untracked: RecordedRevision[] = [];
  for (const node of set.map.revisions) {
    const revision = set.revisions.get(node.id);
    if (applied.has(node.id) && !tracked.has(node.id) && revision) untracked.push({ revision: node.id, checksum: revision.source.checksum, file: revision.source.file });
  }
  return untracked;
}

/**
 * `lambic repair`, like Flyway's: accepts edits to applied revisions. Each applied revision whose
 * source changed since it ran gets a history row (direction "repair") holding its checksum now,
 * which check and upgrade compare with from then on; so does each applied revision with no
 * checksum on record (stamped, or applied by Alembic before lambic ran here), so that edits to it
 * are caught from then on. One transaction under the run lock, so it cannot interleave with a
 * migration; nothing but lambic_history changes, and a database without lambic's version table
 * is left as it is.
 */
export async function repairChecksums(connection: Connection, set: RevisionSet, options: RepairOptions): Promise<RepairResult> {
  checkConnection("repairChecksums", connection);
  checkRevisionSet("repairChecksums", set);
  checkRunOptions("repairChecksums", options);
  const names = versionTableNames(options);
  const sink = new ConnectionSink(connection, (error, statement, position) => statementError(error, statement, position, names, options));
  /** The wait for the run lock, held at session level by waitForRunLock (as in runMigration). */
  let waitedFor: RunLockWait | undefined;
  try {
    let tables: StatementResult;
    for (;;) {
      openTransaction(sink, options);
      const lock = queueRunLock(sink, names, waitedFor);
      tables = sink.statement(
        `SELECT to_regclass(${quoteLiteralAnyStrings(versionTableSql(names))}) IS NOT NULL AS versions, to_regclass(${quoteLiteralAnyStrings(historyTableSql(names))}) IS NOT NULL AS history`,
        { purpose: "read" },
      );
      try {
        await sink.flush();
        break;
      } catch (error) {
        if (!(error instanceof RunLockTaken)) throw error;
        await connection.query("ROLLBACK");
        waitedFor = await waitForRunLock(connection, error.key, lock, names, options, {}, waitedFor);
      }
    }
    const exists = tables.rows?.[0] ?? {};
    if (!exists.versions) {
      await rollbackQuietly(connection, undefined);
      return { versions: [], repaired: [], recorded: [] };
    }
    const versions = sink.statement(selectVersionsStatement(names), { purpose: "read" });
    const history = exists.history ? sink.statement(selectAppliedChecksumsStatement(names), { purpose: "read" }) : undefined;
    await sink.flush();
    const rows = (versions.rows ?? []).map((r) => String(r.version_num));
    assertKnownVersions(set, rows, versionTableSql(names));
    const applied = appliedIds(set, rows);
    const repaired = changedRevisions(set, rows, history?.rows ?? [], applied);
    const recorded = untrackedRevisions(set, applied, history?.rows ?? []);
    const entries = [
      ...repaired.map((c): HistoryStep => ({ revision: c.revision, direction: "repair", checksum: c.currentChecksum })),
      ...recorded.map((r): HistoryStep => ({ revision: r.revision, direction: "repair", checksum: r.checksum })),
    ];
    if (entries.length > 0) {
      // An adopted Alembic database has its version table but no history table yet.
      if (!exists.history) {
        queueTables(sink, names);
      }
      const run = { runId: options.runId, actor: options.actor, bundleSha256: set.bundleSha256 ?? null, sourceChecksum: set.sourceChecksum };
      sink.statement(historyInsertStatement(names, run, entries), { purpose: "history" });
    }
    sink.statement("COMMIT", { purpose: "control" });
    await sink.flush();
    return { versions: rows, repaired, recorded };
  } catch (error) {
    await rollbackQuietly(connection, waitedFor?.held ? lockStatement(names, "unlock") : undefined);
    throw error;
  }
}

/** A plan's steps as results show them: `{revision, direction}`, a stamp step as direction "stamp". */
export function planSummary(steps: readonly PlanStep[]): { revision: string; direction: RevisionDirection | "stamp" }[] {
  return steps.map((s) => (s.kind === "revision" ? { revision: s.revision, direction: s.direction } : { revision: s.to[0] ?? s.from[0] ?? "base", direction: "stamp" }));
}

export interface DryRun {
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly steps: readonly PlanStep[];
  readonly script: string;
  readonly changed: readonly ChangedRevision[];
  /** Revisions that read data (ctx.query): a dry run reads nothing, so the script stops each at its read. */
  readonly readsNotRun: readonly ReadNotRunEntry[];
}

/**
 * `--dry-run`: the plan and the script a run would send from the database's version rows,
 * changing nothing, and refused where the run would be (changed applied revisions, a session
 * lock through a pooler), so that a dry run that passes predicts a run that starts.
 */
export async function dryRunMigration(connection: Connection, set: RevisionSet, command: MigrationCommand, options: ScriptOptions & { readonly allowChanged?: boolean }): Promise<DryRun> {
  checkConnection("dryRunMigration", connection);
  checkRevisionSet("dryRunMigration", set);
  checkCommand("dryRunMigration", command);
  checkTableOptions("dryRunMigration", options);
  const names = versionTableNames(options);
  // stamp --purge deletes the rows unread, as the run does: it is how a row of a removed revision
  // (UNKNOWN_VERSION everywhere else) is replaced, so its dry run may not refuse that row either.
  const purge = command.kind === "stamp" && command.purge === true;
  const state = { versions: await readVersionRows(connection, names) };
  if (!purge) assertKnownVersions(set, state.versions, versionTableSql(names));
  if (names.schema !== undefined && state.versions.length === 0) {
    // No version table there: the run would create it, and fail (3F000) where the schema is missing.
    const [schema] = await connection.query<{ exists: boolean }>(`SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = ${quoteLiteralAnyStrings(names.schema)}) AS exists`);
    if (!schema?.exists) {
      const quoted = quoteIdentifier(names.schema, { op: "config", argument: "schema" });
      throw new LambicError(
        "STATEMENT_FAILED",
        `The run would fail creating ${versionTableSql(names)}: schema ${quoted} does not exist [SQLSTATE 3F000]. Nothing was changed (a dry run). The schema ${quoted} that holds the version table does not exist: create it, or fix "schema" in lambic.config.json, then run again.`,
        { sqlstate: "3F000", schema: names.schema },
      );
    }
  }
  const changed = command.kind === "stamp" ? [] : await readChanged(connection, set, state.versions, options);
  if (changed.length > 0 && !options.allowChanged) throw checksumError(changed);
  const sink = new DryRunSink();
  const { script, steps, to } = await renderScript(set, command, state.versions, options, sink);
  if (!connection.capabilities.sessionLocks && needsSessionLock(set, steps, options.perRevision ?? false)) throw sessionLockUnavailable();
  return { from: state.versions, to, steps, script, changed, readsNotRun: sink.readsNotRun };
}

export interface ScriptOptions extends Omit<RunOptions, "onStep" | "allowChanged"> {
  readonly generatedAt: Date;
  readonly range: string;
}

/**
 * The offline script of a plan: a header, the version-table DDL, then the same statements an
 * online run sends, for `psql -X -v ON_ERROR_STOP=1 -f`.
 */
export async function renderScript(set: RevisionSet, command: MigrationCommand, startRows: readonly string[], options: ScriptOptions, sink = new ScriptSink()): Promise<{ script: string; steps: readonly PlanStep[]; to: readonly string[] }> {
  checkRevisionSet("renderScript", set);
  checkCommand("renderScript", command);
  if (!Array.isArray(startRows) || !startRows.every((row) => typeof row === "string" && row !== "")) {
    throw argumentError("renderScript", "startRows", "a list of version rows (revision ids; [] for base)", startRows);
  }
  checkRunOptions("renderScript", options);
  if (!(options.generatedAt instanceof Date) || Number.isNaN(options.generatedAt.getTime())) throw argumentError("renderScript", "options.generatedAt", "a valid Date", options.generatedAt);
  checkString("renderScript", "options.range", options.range);
  const names = versionTableNames(options);
  const steps = planFor(set, startRows, command);
  // `stamp --purge` (a dry run; offline it is refused) starts from no rows, as the run does.
  const purge = command.kind === "stamp" && command.purge === true;
  const endRows = rowsAfter(set, steps, purge ? [] : startRows);
  sink.comment(`lambic offline SQL: ${command.kind} ${options.range} (database "${set.database}"${options.searchPath !== undefined ? `, tenant schema "${options.searchPath}"` : ""})`);
  sink.comment(`generated-at: ${options.generatedAt.toISOString()}`);
  sink.comment(`source checksum: ${set.sourceChecksum}`);
  if (set.bundleSha256) sink.comment(`bundle sha256: ${set.bundleSha256}`);
  sink.comment(`from: ${startRows.join(", ") || "base"}`);
  // The target resolved: "upgrade head" says which head the reviewer is about to apply.
  if (endRows !== undefined) sink.comment(`to: ${endRows.join(", ") || "base"}`);
  sink.comment("apply with: psql -X -v ON_ERROR_STOP=1 -f <this file>");
  sink.raw("");
  // psql's settings the script relies on, whatever psql was given (a forgotten -v ON_ERROR_STOP=1
  // would run on past a failure, and commit what follows a non-transactional revision) or its
  // ~/.psqlrc set (AUTOCOMMIT off would wrap a non-transactional revision in a transaction).
  sink.raw("\\set ON_ERROR_STOP on");
  sink.raw("\\set AUTOCOMMIT on");
  sink.raw("");
  // The script is UTF-8; psql would otherwise send it in its own client encoding (the locale's
  // on a terminal, PGCLIENTENCODING), converting every non-ASCII character wrongly. Online the
  // drivers always speak UTF-8.
  sink.statement("SET client_encoding = 'UTF8'", { purpose: "control" });
  // The run lock, waited for outside any transaction as the run waits for it (waitForRunLock):
  // a session waiting in a statement holds a snapshot, which a CREATE INDEX CONCURRENTLY of the
  // run holding the lock would wait for until this wait timed out (or forever). The wait only
  // sees it free: the transaction below takes it (a session lock taken here would be left behind
  // on a pooled server connection when psql goes through a transaction pooler).
  sink.comment("wait, outside a transaction (as the run waits), until the run lock is free");
  sink.statement(waitForRunLockStatement(names, options), { purpose: "lock" });
  const sessionLock = needsSessionLock(set, steps, options.perRevision ?? false);
  // As the run does: the run lock, then lambic's tables, under the lock on creating them (a first
  // run over another version table of the schema may be creating the history table) and within
  // the transaction, so that a failure leaves no half-made bookkeeping and the DDL waits no
  // longer than lock_timeout.
  openTransaction(sink, options);
  sink.statement(lockStatement(names, "xact"), { purpose: "lock" });
  queueTables(sink, names, options.searchPath);
  // Held past the transaction's commits (a non-transactional revision, --per-revision); this
  // session holds the key already, so it is granted at once.
  if (sessionLock) sink.statement(lockStatement(names, "session"), { purpose: "lock" });
  if (purge) sink.statement(`DELETE FROM ${versionTableSql(names)}`, { purpose: "version" });
  const { rows, closeSegment } = await emitPlan(sink, set, steps, purge ? [] : startRows, { names, runId: options.runId, actor: options.actor, x: options.x ?? {}, perRevision: options.perRevision ?? false, searchPath: options.searchPath, lockTimeoutMs: options.lockTimeoutMs, statementTimeoutMs: options.statementTimeoutMs });
  await closeSegment();
  sink.statement("COMMIT", { purpose: "control" });
  if (sessionLock) sink.statement(lockStatement(names, "unlock"), { purpose: "lock" });
  return { script: sink.toString(), steps, to: rows };
}

/**
 * The version rows a plan leaves, for the script's header; undefined when a step cannot move
 * the rows, which emitPlan then reports in its place.
 */
function rowsAfter(set: RevisionSet, steps: readonly PlanStep[], startRows: readonly string[]): readonly string[] | undefined {
  const rows = new VersionRows(set.map, startRows);
  try {
    for (const step of steps) rows.apply(step);
  } catch (error) {
    if (error instanceof LambicError) return undefined;
    throw error;
  }
  return rows.versions;
}

/**
 * The offline script's wait for the run lock: tries it every RUN_LOCK_POLL_MS in a DO block that
 * commits between tries (outside a transaction block, so each try and sleep is a short
 * transaction of its own and no snapshot stays open), bounded by lock_timeout and
 * statement_timeout as the run's wait is, and failing with the same SQLSTATE (55P03). A try that
 * succeeds takes the lock for the DO's own transaction only: the script's transaction takes it
 * next (should another run take it in between, that transaction waits for it in its statement).
 */
function waitForRunLockStatement(names: VersionTableNames, settings: Pick<RunOptions, "lockTimeoutMs" | "statementTimeoutMs">): string {
  const limits = [settings.lockTimeoutMs, settings.statementTimeoutMs].filter((ms) => ms > 0);
  const deadline =
    limits.length === 0
      ? ""
      : `\n    IF clock_timestamp() >= started + interval '${Math.floor(Math.min(...limits))} milliseconds' THEN\n` +
        `      RAISE EXCEPTION USING ERRCODE = 'lock_not_available', MESSAGE = 'canceling statement due to lock timeout', ` +
        `DETAIL = ${quoteLiteralAnyStrings(`another migration run holds the lock on ${versionTableSql(names)}`)};\n    END IF;`;
  const body =
    `DECLARE\n  started timestamptz := clock_timestamp();\nBEGIN\n  WHILE NOT pg_try_advisory_xact_lock(${runLockKeySql(names)}) LOOP${deadline}\n` +
    `    COMMIT;\n    PERFORM pg_sleep(${RUN_LOCK_POLL_MS / 1000});\n  END LOOP;\nEND`;
  return doBlock(body, "\n");
}
