import { parameterCountRefusal, parameterRefusal } from "../db/parameters.ts";
import { LambicError } from "../errors.ts";
import { createOperations, quoteIdentifier } from "../operations/index.ts";
import { show } from "../operations/invalid.ts";
import { quoteLiteral } from "../operations/quote.ts";
import { clientCopy, copyRefusal, findOutsideTransactionOnly, findStringsSetting, findTransactionControl, outsideTransactionRefusal, splitStatements, stringsSettingRefusal, transactionControlRefusal } from "../operations/sql-statements.ts";
import { stepLine, VersionRows, type PlanStep, type VersionRowChange } from "../revision/plan.ts";
import { revisionOf, type RevisionSet } from "../revision/revision-set.ts";
import type { LoadedRevision, RevisionContext, RevisionDirection } from "../revision/types.ts";
import { joinStatements, ReadNotRun, statementLine, type Sink, type StatementOrigin, type StatementResult } from "./sink.ts";
import {
  CLOCK_STATEMENT,
  historyInsertStatement,
  PendingVersionRows,
  versionChangeStatements,
  type HistoryRun,
  type HistoryStep,
  type VersionTableNames,
} from "./version-table.ts";

/** What every transaction of a run is given (SET LOCAL), and a non-transactional revision's statements (SET). */
export interface RunSettings {
  readonly lockTimeoutMs: number;
  /** 0: no statement timeout of lambic's (the server's or the role's applies). */
  readonly statementTimeoutMs: number;
  /** Set as search_path, so unqualified names land there (a tenant's schema). */
  readonly searchPath?: string;
  /**
   * The time the run has left (in the Lambda, the invocation's remaining time less its margin).
   * statement_timeout bounds each statement, not the run: a run that commits more than once
   * cuts each transaction's timeouts (and a non-transactional revision's) to the time left when
   * it begins, so that a later revision cannot run past the deadline on the run's first budget.
   */
  readonly remainingMs?: () => number;
}

function millis(value: number): string {
  return quoteLiteral(`${Math.max(0, Math.floor(value))}ms`);
}

/** The server's TCP keepalive for the run's connection (seconds; ignored over a Unix socket). */
export const SERVER_KEEPALIVE = [
  ["tcp_keepalives_idle", 60],
  ["tcp_keepalives_interval", 10],
  ["tcp_keepalives_count", 6],
] as const;

/** The run's settings, for a transaction (SET LOCAL: they end with it) or for the session. */
function settingStatements(settings: RunSettings, scope: "transaction" | "session"): string[] {
  const set = scope === "transaction" ? "SET LOCAL" : "SET";
  const { lockTimeoutMs, statementTimeoutMs } = timeoutsNow(settings);
  const statements = [`${set} lock_timeout = ${millis(lockTimeoutMs)}`];
  // Literals are rendered without E'': a backslash is only inert with standard strings on.
  statements.push(`${set} standard_conforming_strings = on`);
  // A client that vanishes without closing its connection (a frozen or powered-off host, a
  // dropped network path) would leave the run's transaction open, holding its locks, until the
  // server's TCP gives up: two hours by default. Probed after a minute of silence, it is dropped
  // (and rolled back) within two. A live client answers probes even while it computes.
  for (const [name, seconds] of SERVER_KEEPALIVE) statements.push(`${set} ${name} = ${seconds}`);
  if (settings.searchPath !== undefined) statements.push(`${set} search_path TO ${quoteIdentifier(settings.searchPath, { op: "tenant", argument: "schema" })}`);
  if (statementTimeoutMs > 0) statements.push(`${set} statement_timeout = ${millis(statementTimeoutMs)}`);
  return statements;
}

/** The run's timeouts cut to the time it has left now, if it has a deadline (0 stays "no limit" for lock_timeout: statement_timeout bounds the wait). */
export function timeoutsNow(settings: RunSettings): { lockTimeoutMs: number; statementTimeoutMs: number } {
  const left = settings.remainingMs?.();
  if (left === undefined) return settings;
  // At least 1 ms: 0 would lift the limit.
  const cut = Math.max(1, Math.floor(left));
  return {
    lockTimeoutMs: settings.lockTimeoutMs > 0 ? Math.min(settings.lockTimeoutMs, cut) : 0,
    statementTimeoutMs: settings.statementTimeoutMs > 0 ? Math.min(settings.statementTimeoutMs, cut) : cut,
  };
}

/** BEGIN and the run's settings: every transaction of a run, online and offline, starts so. */
export function openTransaction(sink: Sink, settings: RunSettings, origin: StatementOrigin = { purpose: "control" }): void {
  sink.statement("BEGIN", origin);
  for (const statement of settingStatements(settings, "transaction")) sink.statement(statement, origin);
}

export interface EmitOptions extends RunSettings {
  readonly names: VersionTableNames;
  /** Told each step as its statements complete online (the transaction may still roll back). */
  readonly onStepDone?: (step: EmittedStep) => void;
  readonly runId: string;
  readonly actor: string;
  readonly x: Readonly<Record<string, string>>;
  /** Commit after each revision (Alembic's transaction_per_migration). */
  readonly perRevision: boolean;
  /** Online: kept up to date with what the run has made durable, for the words of a failure. */
  readonly progress?: RunProgress;
  /** Online: once aborted, no further step is emitted (see RunOptions.signal). */
  readonly signal?: AbortSignal;
}

/** What a run has made durable so far (a plan that commits more than once). */
export interface RunProgress {
  /** The version rows as this run last committed them; undefined while it has committed nothing. */
  committed?: readonly string[];
  /** The version rows the run started from, once read: where a rollback leaves it while it has committed nothing. */
  started?: readonly string[];
  /** A non-transactional revision that has run statements since that commit: they stay whatever follows. */
  outsideTransaction?: string;
  /**
   * The version rows a COMMIT sent and not yet answered would make durable: should the
   * connection be lost now, the server may have committed or not.
   */
  committing?: readonly string[];
  /** An interrupt closes the connection (Neon's driver has no cancel request) instead of cancelling the statement. */
  interruptCloses?: boolean;
  /**
   * The last ctx.query that failed in the open transaction. A revision may catch the error and
   * go on; the transaction is aborted all the same, and the next statement's "current transaction
   * is aborted" (25P02) is reported as this failure.
   */
  failedRead?: LambicError;
}

/**
 * Sends a COMMIT of `versions`, with what `andThen` queues after it in the same round trip, and
 * waits for them; the run's progress says so meanwhile.
 */
async function commit(sink: Sink, versions: readonly string[], progress: RunProgress | undefined, origin: StatementOrigin, andThen?: () => void): Promise<void> {
  sink.statement("COMMIT", origin);
  if (progress) progress.committing = [...versions];
  andThen?.();
  await sink.flush();
  if (progress) Object.assign(progress, { committed: [...versions], outsideTransaction: undefined, committing: undefined, failedRead: undefined });
}

/**
 * The run was interrupted (Ctrl-C): what that leaves, in words. `waitingForLock`: before it had the
 * run lock, so nothing had started. `atCommit`: the server answered the cancel of a COMMIT (still
 * running deferred constraints or constraint triggers), so that transaction was rolled back.
 */
export function interruptedError(progress: RunProgress | undefined, revision?: string, waitingForLock = false, atCommit = false): LambicError {
  if (waitingForLock) {
    return new LambicError("INTERRUPTED", `Interrupted while waiting for the run lock (another run holds it); nothing had started. ${failureOutcome(progress)}`, { revision, committed: progress?.committed });
  }
  if (atCommit) {
    return new LambicError(
      "INTERRUPTED",
      `Interrupted during COMMIT, while it ran the transaction's deferred constraints or constraint triggers; the COMMIT was cancelled. ${failureOutcome(progress && { ...progress, committing: undefined })}`,
      { revision, committed: progress?.committed },
    );
  }
  const stopped = progress?.interruptCloses
    ? "the connection was closed (Neon's driver cannot cancel a statement): the server rolls back when it notices, at the latest when the running statement ends, and until then holds the run lock, so a new run waits for it."
    : "the running statement was cancelled.";
  return new LambicError("INTERRUPTED", `Interrupted${revision ? ` while running revision ${revision}` : ""}; ${stopped} ${failureOutcome(progress)}`, { revision, committed: progress?.committed });
}

/** What a failure leaves in the database, in words (the sentence after the failure's own). */
export function failureOutcome(progress: RunProgress | undefined): string {
  const versions = (rows: readonly string[] | undefined) => (rows?.length ? rows.join(", ") : "base");
  if (progress?.committing !== undefined) {
    return (
      `COMMIT had been sent when the connection was lost, so whether it took effect is unknown: the version table says either ${versions(progress.committing)} (committed) ` +
      `or ${versions(progress.committed ?? progress.started)} (rolled back); "lambic current" tells which.`
    );
  }
  if (progress?.outsideTransaction !== undefined) {
    return (
      `Revision ${progress.outsideTransaction} runs outside a transaction, so what it did before the failure stays, but its version row was not written: ` +
      `the version table says ${versions(progress.committed)}. Undo what it left, or make its statements idempotent (IF NOT EXISTS), so that running it again succeeds.`
    );
  }
  if (progress?.committed !== undefined) {
    return `This transaction was rolled back; the revisions committed before it stay, so the database is at ${versions(progress.committed)}.`;
  }
  return "The run was rolled back: the database is as it was before.";
}

/**
 * One emitted step. Online, `started` is the reply that came before its first statement (the
 * previous step's last, or the clock read where its transaction began) and `finished` its own
 * last statement's; both arrived once `done`.
 */
export interface EmittedStep {
  readonly step: PlanStep;
  readonly message: string | undefined;
  readonly entry: HistoryStep;
  readonly started: StatementResult;
  readonly finished: StatementResult;
  readonly done: boolean;
  /** When the step began and ended, in the server's epoch milliseconds (online, once done). */
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
}

/** Whether a plan needs a lock that outlives a transaction (a session-level advisory lock). */
export function needsSessionLock(set: RevisionSet, steps: readonly PlanStep[], perRevision: boolean): boolean {
  if (perRevision && steps.length > 1) return true;
  return steps.some((s) => s.kind === "revision" && set.revisions.get(s.revision)?.transactional === false);
}

/**
 * Emits a plan into a sink, inside an open transaction: for each step its statements (online each
 * a message of its own; offline one script with the step's version-row changes), and, before each
 * commit, the version rows (offline each step writes its own) and one history statement for the
 * steps of that transaction, with their times (see EmittedStep). A non-transactional
 * revision commits what came before, runs statement by statement outside a transaction, and
 * reopens the transaction for its version row, which commits before the next step. The caller opens the outer transaction, calls
 * `closeSegment` and commits.
 */
export async function emitPlan(sink: Sink, set: RevisionSet, steps: readonly PlanStep[], startRows: readonly string[], options: EmitOptions): Promise<{ emitted: EmittedStep[]; rows: readonly string[]; closeSegment: () => Promise<void> }> {
  const rows = new VersionRows(set.map, startRows);
  // ctx.x without a prototype: a key not given reads undefined ("constructor" too), and "__proto__" is a key like another.
  const x: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, options.x);
  const revisionOptions = { x, progress: options.progress };
  const emitted: EmittedStep[] = [];
  let segment: EmittedStep[] = [];
  const historyRun: HistoryRun = { runId: options.runId, actor: options.actor, bundleSha256: set.bundleSha256 ?? null, sourceChecksum: set.sourceChecksum };
  // Online, the server's clock where each segment starts (the first step's start): each step's
  // times are that clock plus how long after its reply the step's replies came. Offline the
  // history rows carry the time the script ran, and the script reads no clock.
  let segmentClock: StatementResult = {};
  const readClock = (origin: StatementOrigin): StatementResult => {
    if (sink.online) segmentClock = sink.statement(CLOCK_STATEMENT, origin);
    return segmentClock;
  };
  let previousEnd: StatementResult = steps.length > 0 ? readClock({ purpose: "control" }) : {};
  // Online, the version rows are written once per transaction (PendingVersionRows).
  const pending = sink.online ? new PendingVersionRows(startRows) : undefined;
  /** Written version rows whose delete is still to be checked: [result, rows it must find]. */
  let deleteChecks: [StatementResult, number][] = [];
  const writePendingRows = () => {
    if (!pending?.pending) return;
    const { statements, expectedDeletes } = pending.take(options.names);
    statements.forEach((text, i) => {
      const result = sink.statement(text, { purpose: "version" });
      if (i === 0 && expectedDeletes > 0) deleteChecks.push([result, expectedDeletes]);
    });
  };
  // An op call or read a revision makes after its function settled (a timer or a promise it did
  // not await): recorded, and the run fails at its next step or commit instead of dropping it.
  const late: LateCalls = {};
  const assertNoLateCalls = () => {
    if (late.call) throw lateCallError(late.call, sink.online, options.progress);
  };
  // Steps are told as their replies arrive, in order.
  const onStepDone = options.onStepDone;
  const unreported: EmittedStep[] = [];
  let reported = 0;
  const report = () => {
    while (reported < unreported.length && unreported[reported]!.done) onStepDone!(unreported[reported++]!);
  };
  /** Writes the version rows and the history rows of the steps since the last commit (once their replies are in). */
  const closeSegment = async () => {
    assertNoLateCalls();
    if (segment.length === 0) return;
    writePendingRows();
    await sink.flush();
    assertNoLateCalls();
    for (const [result, expected] of deleteChecks) {
      const removed = Number(result.rows?.[0]?.removed);
      if (removed !== expected) {
        throw new LambicError(
          "UNKNOWN_VERSION",
          `The version table ${options.names.versionTable} no longer holds the rows the plan started from (found ${removed} of ${expected} to replace): a revision of this run (or a session that ignores lambic's lock) changed it. ${failureOutcome(options.progress)} Check "lambic current", and leave the version table to lambic.`,
          { expected, removed },
        );
      }
    }
    deleteChecks = [];
    const entries = segment.map((e): HistoryStep => ({
      revision: e.entry.revision,
      direction: e.entry.direction,
      checksum: e.entry.checksum,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
    }));
    sink.statement(historyInsertStatement(options.names, historyRun, entries), { purpose: "history" });
    segment = [];
  };

  // An index loop: `entries()` made an iterator result and a pair per step.
  for (let index = 0; index < steps.length; index++) {
    if (options.signal?.aborted) {
      await sink.flush(); // what was sent answers first (its failure, or nothing)
      throw interruptedError(options.progress);
    }
    assertNoLateCalls();
    const step = steps[index]!;
    const revision = step.kind === "revision" ? revisionOf(set, step.revision) : undefined;
    const direction = step.kind === "revision" ? step.direction : "stamp";
    const origin = (purpose: StatementOrigin["purpose"], parts?: readonly string[]): StatementOrigin => ({ purpose, revision: revision?.id, direction, parts });
    const transactional = revision?.transactional !== false;
    let started = previousEnd;

    if (!transactional) {
      await closeSegment();
      assertNoLateCalls();
      // The COMMIT ends the revisions before this one: a deferred constraint failing there is theirs.
      await commit(sink, rows.versions, options.progress, { purpose: "control" }, () => {
        // Outside a transaction SET LOCAL has ended: the session gets the run's settings (its
        // timeouts too) for the revision's statements.
        for (const statement of settingStatements(options, "session")) sink.statement(statement, origin("control"));
        started = readClock(origin("control"));
      });
    }
    if (!sink.online) sink.comment(`Running ${stepLine(step)}`);
    // From here a non-transactional revision's statements may run (a read sends those before it).
    if (!transactional && options.progress && revision) options.progress.outsideTransaction = revision.id;
    let statements: string[] = [];
    if (revision && step.kind === "revision") {
      try {
        statements = await collectStatements(sink, revision, step.direction, revisionOptions, writePendingRows, late);
      } catch (error) {
        if (!(error instanceof ReadNotRun)) throw error;
        // A dry run: a read sends what the revision queued before it, and stops it there.
        sink.comment(
          `revision ${revision.id} reads data here with ctx.query (${statementLine(error.sql)}); a dry run reads nothing, so what the revision does after the read, which depends on the data, is not shown`,
        );
      }
    }
    let ranOutside: StatementResult | undefined;
    if (!transactional) {
      // Outside a transaction a failing statement would not stop the next one: one at a time.
      for (const text of oneByOne(statements)) {
        ranOutside = sink.statement(text, origin("revision"));
        await sink.flush();
      }
      openTransaction(sink, options, origin("control"));
    }
    const changes = rows.apply(step);
    pending?.apply(changes);
    const emittedStep = emitStep(sink, step, index, revision, transactional ? statements : [], changes, options, { started, clock: segmentClock, ranOutside });
    previousEnd = emittedStep.finished;
    emitted.push(emittedStep);
    if (onStepDone) {
      unreported.push(emittedStep);
      emittedStep.finished.onRows = report;
      report(); // a step with nothing left to send may be done already
    }
    segment.push(emittedStep);
    // A non-transactional revision's work is durable once its statements have run: its version
    // and history rows commit at once, or a later failure would roll them back and leave the
    // database with its work but not its row (which a rerun would then run again).
    if ((options.perRevision || !transactional) && index < steps.length - 1) {
      await closeSegment();
      assertNoLateCalls();
      await commit(sink, rows.versions, options.progress, origin("control"));
      openTransaction(sink, options, origin("control"));
      previousEnd = readClock(origin("control"));
    }
  }
  return { emitted, rows: rows.versions, closeSegment };
}

/**
 * A non-transactional revision's statements as psql runs them from the offline script: a text of
 * several statements (an op.execute) split where psql splits it. Sent as one message, it would run
 * as one implicit transaction: CREATE INDEX CONCURRENTLY refused, and a failure undoing the
 * statements before it, which psql would have committed one by one.
 */
function oneByOne(statements: readonly string[]): string[] {
  return statements.flatMap((text) => {
    const parts = splitStatements(text);
    return parts.length > 1 ? parts : [text];
  });
}

/** Sent for a step that has nothing else to send online: an empty reply marks its end. */
const STEP_DONE_STATEMENT = "SELECT WHERE false";

/** What emitPlan reports of a step it queued. */
class EmittedStepRecord implements EmittedStep {
  constructor(
    readonly step: PlanStep,
    readonly message: string | undefined,
    readonly entry: HistoryStep,
    readonly started: StatementResult,
    readonly finished: StatementResult,
    /** The clock read where the step's transaction began. */
    private readonly clock: StatementResult,
  ) {}

  get done(): boolean {
    return this.started.receivedAt !== undefined && this.finished.receivedAt !== undefined;
  }

  get startedAt(): number | undefined {
    return this.serverTime(this.started);
  }

  get finishedAt(): number | undefined {
    return this.serverTime(this.finished);
  }

  /** The clock's reading plus the time between its reply and this one (both crossed the same way). */
  private serverTime(result: StatementResult): number | undefined {
    const clock = this.clock.rows?.[0]?.at;
    if (typeof clock !== "number" || this.clock.receivedAt === undefined || result.receivedAt === undefined) return undefined;
    return clock + (result.receivedAt - this.clock.receivedAt);
  }
}

/**
 * Queues a step's script. Online: its statements, each a message of its own (so the step is
 * reported when its last one has run, and a failure names its statement); the version rows are
 * written later, once per transaction. Offline: its statements and its version-row statements.
 * Synchronous, and apart from the loop that awaits each revision, so that this per-step work
 * runs as ordinary optimized code.
 */
function emitStep(
  sink: Sink,
  step: PlanStep,
  index: number,
  revision: LoadedRevision | undefined,
  statements: readonly string[],
  changes: readonly VersionRowChange[],
  options: EmitOptions,
  replies: {
    /** The reply before the step's first statement. */
    readonly started: StatementResult;
    /** The clock read where the step's transaction began. */
    readonly clock: StatementResult;
    /** A non-transactional revision's last statement, already run (its statements run one at a time). */
    readonly ranOutside?: StatementResult;
  },
): EmittedStep {
  const { started, clock, ranOutside } = replies;
  const direction = step.kind === "revision" ? step.direction : "stamp";
  const origin: StatementOrigin = { purpose: revision ? "revision" : "version", revision: revision?.id, direction, step: index };
  let finished = ranOutside ?? started;
  if (sink.online && ranOutside === undefined) {
    for (const statement of statements) finished = sink.statement(statement, origin);
    // Nothing left to send (a stamp, an empty revision, one whose statements went before a
    // read): a reply after what the step did still says when it was done.
    if (statements.length === 0) finished = sink.statement(STEP_DONE_STATEMENT, origin);
  } else if (!sink.online) {
    const parts = statements.concat(versionChangeStatements(options.names, changes));
    if (parts.length > 0) sink.statement(joinStatements(parts), { ...origin, parts });
  }
  const entry: HistoryStep = {
    revision: revision?.id ?? step.to[0] ?? step.from[0] ?? null,
    direction,
    checksum: revision?.source.checksum ?? null,
  };
  return new EmittedStepRecord(step, revision?.message, entry, started, finished, clock);
}

/**
 * A transactional revision's statements may not open or end a transaction block (see
 * findTransactionControl), nor be one PostgreSQL refuses inside one (see
 * findOutsideTransactionOnly): refused here, online and offline alike, before anything is sent.
 */
function refuseTransactionControl(statements: readonly string[], revision: string): void {
  for (const text of statements) {
    const control = findTransactionControl(text);
    if (control) throw new LambicError("INVALID_OPERATION", `the statement ${transactionControlRefusal(control.command)}`, { statement: control.statement.slice(0, 200) });
    const outside = findOutsideTransactionOnly(text);
    if (outside) throw new LambicError("INVALID_OPERATION", outsideTransactionRefusal(outside.command, revision), { statement: outside.statement.slice(0, 200) });
  }
}

/**
 * What is wrong with ctx.query's SQL, if anything. A NUL ends the text the server reads (08P01
 * "invalid message format") and an unpaired surrogate reaches it as U+FFFD, as op.execute refuses
 * them; a value that is no string would fail inside the driver, read as a lost connection.
 */
function sqlRefusal(sql: unknown): string | undefined {
  if (typeof sql !== "string") {
    // ctx.query`SELECT ${id}` (postgres.js's form) passes the template's parts as the SQL.
    if (Array.isArray(sql) && Object.hasOwn(sql, "raw")) return "a tagged template (ctx.query`...`) instead of the SQL text: call it as ctx.query(sql, [a, b]), the values as $1 and $2";
    return `${show(sql)} as its SQL, which is no text: pass the statement as a string`;
  }
  const nul = sql.indexOf("\0");
  if (nul !== -1) return `SQL holding a NUL character (at index ${nul}), which PostgreSQL cannot receive: remove it (a value goes in a parameter, bytes as a Buffer)`;
  const surrogate = /[\ud800-\udfff]/u.exec(sql);
  if (surrogate) return `SQL holding an unpaired UTF-16 surrogate (at index ${surrogate.index}), which UTF-8 cannot encode (the server would read U+FFFD): fix the string`;
  return undefined;
}

/**
 * What is wrong with ctx.query's parameters, if anything. The drivers disagree on undefined
 * (postgres.js throws, node-postgres sends NULL) and neither can send a function or a symbol, so
 * these are refused before anything is sent, as bulkInsert refuses them; so are values that
 * would be stored otherwise than given (see parameterRefusal).
 */
function paramsRefusal(params: unknown): string | undefined {
  if (!Array.isArray(params)) return `parameters that are not an array (${typeof params}): pass them as a list, ctx.query(sql, [a, b]) for $1 and $2`;
  const tooMany = parameterCountRefusal(params.length);
  if (tooMany) return tooMany;
  for (let index = 0; index < params.length; index++) {
    const refusal = parameterRefusal(params[index], index);
    if (refusal) return refusal;
  }
  return undefined;
}

/**
 * The longest statement PostgreSQL reads: a message is at most 1 GB - 2 bytes (PQ_LARGE_MESSAGE_LIMIT),
 * its 4-byte length and the text's closing NUL included. A longer one makes the server drop the
 * connection ("invalid message length"), which would read as a lost connection worth a retry.
 */
const MAX_STATEMENT_BYTES = 1_073_741_817;

/** Why a statement is too long for PostgreSQL, or undefined (for a text over a third of the limit in length). */
function oversizedRefusal(statement: string): { message: string; details: Record<string, unknown> } | undefined {
  const bytes = Buffer.byteLength(statement);
  if (bytes <= MAX_STATEMENT_BYTES) return undefined;
  const start = statementLine(statement.slice(0, 400)).slice(0, 60);
  return {
    message: `the statement ${start}… is ${bytes} bytes long in UTF-8, more than the ${MAX_STATEMENT_BYTES} PostgreSQL takes in one message (1 GB): split it into several statements (bulkInsert: rows in batches; data too large for one: COPY it outside lambic).`,
    details: { statement: statement.slice(0, 200), bytes },
  };
}

function refuseOversized(statement: string): void {
  const oversized = oversizedRefusal(statement);
  if (oversized) throw new LambicError("INVALID_OPERATION", oversized.message, oversized.details);
}

/** The first op call or read a revision made after its function had settled. */
interface LateCalls {
  call?: { readonly revision: LoadedRevision; readonly direction: RevisionDirection; readonly what: string };
}

function lateCallError({ revision, direction, what }: NonNullable<LateCalls["call"]>, online: boolean, progress: RunProgress | undefined): LambicError {
  const fn = direction === "up" ? "upgrade" : "downgrade";
  return new LambicError(
    "REVISION_FAILED",
    `Revision ${revision.id} (${fn}) called ${what} after its ${fn} function had finished (from a timer, or a promise it did not await), so the call cannot be part of its step. ${online ? failureOutcome(progress) : "Nothing was written."} Await every promise in the revision (${revision.source.file}) before it returns, then run again.`,
    { revision: revision.id, direction, file: revision.source.file, statement: what.slice(0, 200) },
  );
}

/**
 * Runs a revision's upgrade or downgrade against an `op` that records statements. A read
 * (`ctx.query`) first sends what was recorded so far, so it sees the revision's own changes.
 * Once the function has settled its op and ctx refuse: a call made later (from a timer, or a
 * promise the function did not await) would land in another revision's step or after the
 * commit, so it is recorded in `late` and fails the run.
 */
async function collectStatements(sink: Sink, revision: LoadedRevision, direction: RevisionDirection, { x, progress }: Pick<EmitOptions, "x" | "progress">, beforeRead: () => void, late: LateCalls): Promise<string[]> {
  let statements: string[] = [];
  let settled = false;
  const origin: StatementOrigin = { purpose: "revision", revision: revision.id, direction };
  const lateCall = (what: string): LambicError => {
    late.call ??= { revision, direction, what };
    return lateCallError(late.call, sink.online, progress);
  };
  // A dry run's read (ReadNotRun) stops the revision there, whatever it does with the error: what
  // it does next (a fallback in a catch, or a failure on the rows it did not get) is not what the run does.
  let notRun: ReadNotRun | undefined;
  const op = createOperations((statement) => {
    if (settled) lateCall(`op (${statementLine(statement)})`);
    else if (!notRun) {
      // Only a text of more than a third of the limit in UTF-16 units can be over it in UTF-8.
      if (statement.length > MAX_STATEMENT_BYTES / 3) refuseOversized(statement);
      statements.push(statement);
    }
  });
  const ctx: RevisionContext = {
    x,
    online: sink.online,
    revision: revision.id,
    direction,
    query: async <Row>(sql: string, params: readonly unknown[] = []) => {
      if (settled) {
        // Recorded, and the run fails at its next step or commit. Its caller was not awaited:
        // a rejection here would be unhandled and end the process before the run could fail.
        lateCall(`ctx.query(${typeof sql === "string" ? JSON.stringify(sql.slice(0, 200)) : show(sql)})`);
        return new Promise<never>(() => undefined);
      }
      if (notRun) throw notRun;
      const refusal = sqlRefusal(sql) ?? paramsRefusal(params);
      if (refusal) {
        throw new LambicError(
          "INVALID_OPERATION",
          `Revision ${revision.id} (${direction === "up" ? "upgrade" : "downgrade"}): ctx.query() was given ${refusal}${typeof sql === "string" ? `, for: ${sql.slice(0, 200)}` : ""}.${sink.online ? ` ${failureOutcome(progress)}` : ""}`,
          { revision: revision.id, direction, ...(typeof sql === "string" && { statement: sql.slice(0, 200) }) },
        );
      }
      if (typeof sql === "string" && sql.length > MAX_STATEMENT_BYTES / 3) {
        const oversized = oversizedRefusal(sql);
        if (oversized) throw new LambicError("INVALID_OPERATION", `Revision ${revision.id} (${direction === "up" ? "upgrade" : "downgrade"}): ctx.query(): ${oversized.message}${sink.online ? ` ${failureOutcome(progress)}` : ""}`, { revision: revision.id, direction, ...oversized.details });
      }
      const copy = typeof sql === "string" ? clientCopy(sql) : undefined;
      if (copy) throw new LambicError("INVALID_OPERATION", `ctx.query(): the statement ${copyRefusal(copy)}${sink.online ? ` ${failureOutcome(progress)}` : ""}`, { revision: revision.id, statement: sql.slice(0, 200) });
      const setting = typeof sql === "string" ? findStringsSetting(sql) : undefined;
      if (setting !== undefined) throw new LambicError("INVALID_OPERATION", `ctx.query(): the statement ${stringsSettingRefusal()}${sink.online ? ` ${failureOutcome(progress)}` : ""}`, { revision: revision.id, statement: setting.slice(0, 200) });
      const control = revision.transactional !== false && typeof sql === "string" ? findTransactionControl(sql) : undefined;
      if (control) throw new LambicError("INVALID_OPERATION", `ctx.query(): the statement ${transactionControlRefusal(control.command)}${sink.online ? ` ${failureOutcome(progress)}` : ""}`, { revision: revision.id, statement: control.statement.slice(0, 200) });
      if (revision.transactional !== false) refuseTransactionControl(statements, revision.id);
      // What the run wrote so far, the version rows included, is what the read sees.
      beforeRead();
      const queued = statements;
      statements = [];
      for (const text of revision.transactional === false ? oneByOne(queued) : queued) {
        sink.statement(text, origin);
        // Outside a transaction a failing statement would not stop the next one: one at a time.
        if (revision.transactional === false) await sink.flush();
      }
      try {
        return await sink.query<Row>(sql, params, origin);
      } catch (error) {
        if (error instanceof ReadNotRun) {
          notRun = error;
          // Queued while the read was pending: after the read, as the run sends them.
          statements = [];
        }
        // In a transaction the failure aborts it, whatever the revision does with the error.
        // Kept for the words of a later "current transaction is aborted" (25P02) should the revision catch it.
        if (progress && revision.transactional !== false && error instanceof LambicError && error.code !== "INTERRUPTED") progress.failedRead = error;
        throw error;
      }
    },
  };
  const fn = direction === "up" ? revision.upgrade : revision.downgrade;
  if (!fn) {
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Revision ${revision.id} has no downgrade, so it cannot be undone (${revision.source.file}). Add a downgrade (a "-- +down" section in SQL), or stamp past it.`,
      { revision: revision.id, file: revision.source.file },
    );
  }
  try {
    await fn(op, ctx);
    if (notRun) throw notRun;
    if (revision.transactional !== false) refuseTransactionControl(statements, revision.id);
  } catch (error) {
    settled = true;
    if (notRun) throw notRun;
    if (error instanceof LambicError) {
      if (error.details.revision !== undefined) throw error;
      // An op refused its arguments (a name too long, a NUL): say in which revision, and online
      // what the run leaves (a non-transactional revision before it may have run). A failure of
      // lambic's own statements under the revision's ctx.query (a lost connection) says it already.
      const outcome = sink.online ? failureOutcome(progress) : "";
      throw new LambicError(
        error.code,
        `Revision ${revision.id} (${direction === "up" ? "upgrade" : "downgrade"}, ${revision.source.file}): ${error.message}${outcome && !error.message.includes(outcome) ? ` ${outcome}` : ""}`,
        { ...error.details, revision: revision.id, direction, file: revision.source.file },
        { cause: error },
      );
    }
    throw new LambicError(
      "REVISION_FAILED",
      `Revision ${revision.id} (${direction === "up" ? "upgrade" : "downgrade"}) threw: ${thrownText(error)}. ${sink.online ? failureOutcome(progress) : "Nothing was written."} Fix the revision (${revision.source.file}) and run again.`,
      { revision: revision.id, direction, file: revision.source.file },
      { cause: error },
    );
  }
  settled = true;
  return statements;
}

/**
 * What a revision threw, for its REVISION_FAILED message: an Error's message, or a value that is
 * not one as JSON (String() of a plain object says only "[object Object]"). Never throws: a value
 * whose toString or toJSON throws, or a cycle, is named by its type.
 */
export function thrownText(error: unknown): string {
  try {
    if (typeof (error as Error | null)?.message === "string") return (error as Error).message;
    if (typeof error !== "object" || error === null) return String(error);
    const json = JSON.stringify(error);
    const text = json === undefined || json === "{}" ? String(error) : json;
    return `a value that is not an Error, ${text.length > 500 ? `${text.slice(0, 500)}…` : text}`;
  } catch {
    return `a value that is not an Error (${Object.prototype.toString.call(error)})`;
  }
}
