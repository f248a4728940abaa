import { toDatabaseFailure, type Connection } from "../db/connection.ts";
import { LambicError } from "../errors.ts";
import { psqlScriptText } from "../operations/sql-statements.ts";
import type { RevisionDirection } from "../revision/types.ts";

/**
 * Where the runner's statements go. The runner is written once over a plan; an online sink
 * sends its statements to a connection (pipelined: queued, then sent together), an offline sink
 * appends them to a script. So the script does what the online run does by construction.
 */
export interface StatementOrigin {
  readonly revision?: string;
  readonly direction?: RevisionDirection | "stamp";
  /** "lock": the run lock; "tables": the lock taken to create lambic's tables (createTablesLockStatement). */
  readonly purpose: "control" | "revision" | "version" | "history" | "lock" | "tables" | "read";
  /** The statements an offline step's script was made of (see joinStatements), each checked as psql reads it. */
  readonly parts?: readonly string[];
  /** Set on a step's statements: the step's number in the run. */
  readonly step?: number;
}

/** A statement with its terminator; a last line holding "--" may be a comment, so `;` goes below it. */
export function terminate(text: string): string {
  // Scanned from the end by hand: it runs for every step, and trimming and a regex would copy and
  // scan whole scripts.
  let end = text.length;
  while (end > 0 && isSpaceOrSemicolon(text.charCodeAt(end - 1))) end--;
  // A carriage return ends a `--` comment too (for psql and the server alike).
  const lineStart = Math.max(text.lastIndexOf("\n", end - 1), text.lastIndexOf("\r", end - 1)) + 1;
  const comment = text.indexOf("--", lineStart);
  if (comment !== -1 && comment + 2 <= end) return `${text.slice(0, end)}\n;`;
  if (end === text.length - 1 && text.charCodeAt(end) === 59) return text; // already ends with one ";"
  return `${end === text.length ? text : text.slice(0, end)};`;
}

/**
 * ";" or white space as PostgreSQL and psql read it: ASCII only. A no-break or ideographic space
 * (U+00A0, U+3000), which String.prototype.trimEnd would remove, is part of a name to them
 * (`AS a\u00a0`), and the run sends an op.execute text with it.
 */
function isSpaceOrSemicolon(code: number): boolean {
  return code === 59 || code === 32 || (code >= 9 && code <= 13);
}

/** Statements as one script (sent as one message over the simple protocol). */
export function joinStatements(parts: readonly string[]): string {
  return parts.length === 1 ? parts[0]! : parts.map(terminate).join("\n");
}

/** A queued statement's result, filled in when it has been sent (online only). */
export interface StatementResult {
  rows?: Record<string, unknown>[];
  /** performance.now() when the reply arrived: the statement had run by then. */
  receivedAt?: number;
  /** Called when the rows arrive (online), before the flush that sent the statement returns. */
  onRows?: (rows: Record<string, unknown>[]) => void;
}

export interface Sink {
  readonly online: boolean;
  comment(text: string): void;
  /** Queues a statement; online it is sent at the next flush. */
  statement(text: string, origin: StatementOrigin): StatementResult;
  /** Sends what is queued. */
  flush(): Promise<void>;
  /** Runs a read for a data migration. Offline this is OFFLINE_QUERY. */
  query<Row>(text: string, params: readonly unknown[], origin: StatementOrigin): Promise<Row[]>;
}

export interface QueuedStatement {
  readonly text: string;
  /** A read's parameters (ctx.query); rendered statements have none. */
  readonly params?: readonly unknown[];
  readonly origin: StatementOrigin;
  readonly result: StatementResult;
}

/**
 * What a failed statement was: the queued statement (undefined when the failure came before
 * any), and the failure's position within its text (PostgreSQL counts from the message's start).
 */
export type FailureHandler = (error: unknown, statement: QueuedStatement | undefined, position: number | undefined) => never;

/**
 * Step statements queued before they are sent together. Each statement is a message of its own
 * (the server sends a message's replies when the message is done), so each step is reported
 * when it has run and a failure names its statement; queuing only spares the driver a call
 * per statement.
 */
const STEPS_PER_SEND = 32;

/**
 * Pipelines statements over one connection; a failure carries the statement's origin. Every
 * statement goes as a message of its own: PostgreSQL answers each message as soon as it has run
 * (a message of many statements is answered only when all have run), so each step is reported
 * live, and the message that failed is the statement that failed. Where the driver can send
 * while replies are awaited, each few steps go out at once, so the server runs the first steps
 * while the next revisions are still being rendered.
 */
export class ConnectionSink implements Sink {
  readonly online = true;
  private queue: QueuedStatement[] = [];
  private queuedSteps = 0;
  /** Sent, not yet flushed: each resolves with what reports its failure, if it failed. */
  private inFlight: Promise<(() => never) | undefined>[] = [];

  constructor(
    readonly connection: Connection,
    private readonly onFailure: FailureHandler,
  ) {}

  comment(): void {}

  statement(text: string, origin: StatementOrigin): StatementResult {
    // Every field from the start: one object shape for all results.
    const result: StatementResult = { rows: undefined, receivedAt: undefined, onRows: undefined };
    this.queue.push({ text, origin, result });
    if (origin.step !== undefined && this.connection.capabilities.overlappingPipelines && ++this.queuedSteps >= STEPS_PER_SEND) {
      this.inFlight.push(this.send());
    }
    return result;
  }

  async flush(): Promise<void> {
    this.inFlight.push(this.send());
    const sent = this.inFlight;
    this.inFlight = [];
    // The first failure in sending order is the cause; later ones only saw the aborted transaction.
    const failure = (await Promise.all(sent)).find((report) => report !== undefined);
    if (failure) failure();
  }

  /** Sends the queue; never rejects (a failure is reported when flushed). */
  private send(): Promise<(() => never) | undefined> {
    const batch = this.queue;
    this.queue = [];
    this.queuedSteps = 0;
    if (batch.length === 0) return Promise.resolve(undefined);
    return this.connection
      .pipeline(
        batch.map((queued) => (queued.params ? { text: queued.text, params: queued.params } : { text: queued.text })),
        (index, rows) => {
          const { result } = batch[index]!;
          result.rows = rows;
          result.receivedAt = performance.now();
          result.onRows?.(rows);
        },
      )
      .then(
        () => undefined,
        (error: unknown) => () => {
          // Without an index nothing was sent (the session was found lost): the batch stopped at its first.
          const index = (error as { index?: number }).index ?? 0;
          return this.onFailure(error, batch[index], failurePosition(error));
        },
      );
  }

  /**
   * Queued behind what was queued before it and sent with it, so that it sees exactly that: a
   * statement queued while it waits (a revision that does not await its read at once) goes after it.
   */
  async query<Row>(text: string, params: readonly unknown[], origin: StatementOrigin): Promise<Row[]> {
    const result: StatementResult = { rows: undefined, receivedAt: undefined, onRows: undefined };
    this.queue.push({ text, params: params.length > 0 ? params : undefined, origin, result });
    await this.flush();
    return (result.rows ?? []) as Row[];
  }
}

function failurePosition(error: unknown): number | undefined {
  return (toDatabaseFailure(error) ?? toDatabaseFailure((error as { cause?: unknown })?.cause))?.position;
}

/** A statement as a message shows it: on one line, its first 200 characters. */
export function statementLine(text: unknown): string {
  return String(text).replace(/\s+/g, " ").trim().slice(0, 200);
}

/** Control characters and Unicode line separators, as `\n`, `\r`, `\u2028`: a comment's text on one line. */
function escapeLineBreaks(text: string): string {
  return text.replace(/[\x00-\x1f\x7f\x85\u2028\u2029]/g, (char) => {
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    if (char === "\t") return "\t";
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** A statement psql cannot be given as it is (see ScriptSink.statement). */
function psqlRefusal(statement: string, checked: { backslash?: string; unterminated?: string }, origin: StatementOrigin | undefined): LambicError {
  const where = origin?.revision ? `Revision ${origin.revision} (${origin.direction === "down" ? "downgrade" : origin.direction === "stamp" ? "stamp" : "upgrade"})` : "A statement of the script";
  const why =
    checked.backslash !== undefined
      ? `holds "${checked.backslash.slice(0, 60)}", a backslash outside quotes, which psql runs as a meta-command (\\! runs a shell command) while the server refuses it online as a syntax error`
      : `ends inside ${checked.unterminated}, which the server refuses online while psql would read the script's next statements (the version rows) into it`;
  return new LambicError(
    "INVALID_OPERATION",
    `${where}: the statement ${statementLine(statement).slice(0, 200)} ${why}, so the offline script would not do what the run does. Nothing was written. Fix the statement (close what it opens; a backslash belongs inside quotes) and render the script again.`,
    { revision: origin?.revision, direction: origin?.direction, statement: statement.slice(0, 200), ...(checked.backslash !== undefined ? { command: checked.backslash.slice(0, 200) } : { unterminated: checked.unterminated }) },
  );
}

/** Renders statements as a psql script. */
export class ScriptSink implements Sink {
  readonly online = false;
  private readonly lines: string[] = [];

  /**
   * A `--` comment ends at the line's end: psql would run the next line, a meta-command (`\!`)
   * included, so a line break in the text (a range typed on the command line, an event's
   * target) is written as an escape and the comment stays one line.
   */
  comment(text: string): void {
    this.lines.push(`-- ${escapeLineBreaks(text)}`);
  }

  raw(line: string): void {
    this.lines.push(line);
  }

  /**
   * Each statement (each part of a step's script) as psql must read it (see psqlScriptText): a
   * colon psql would read as a variable gets a space after it; a backslash or a statement left
   * open (a quote, a comment, a dollar quote) is refused, naming the revision and the statement;
   * one whose ";" psql would not take for its end (a function named begin) ends with \g.
   */
  statement(text: string, origin?: StatementOrigin): StatementResult {
    const parts = origin?.parts ?? [text];
    let changed = false;
    let readsOn = false;
    const safe = parts.map((part) => {
      const checked = psqlScriptText(part);
      if (checked.backslash !== undefined || checked.unterminated !== undefined) throw psqlRefusal(part, checked, origin);
      if (checked.text !== part) changed = true;
      if (checked.readsOn !== undefined) readsOn = true;
      return checked;
    });
    if (readsOn) {
      // psql would not end such a part at a ";" (see psqlScriptText): \g sends what it has read, and resets its count of parentheses and BEGIN bodies.
      this.lines.push(safe.map((checked) => (checked.readsOn === undefined ? terminate(checked.text) : `${checked.text}\n\\g`)).join("\n"), "");
    } else {
      this.lines.push(terminate(changed ? joinStatements(safe.map((checked) => checked.text)) : text), "");
    }
    return {};
  }

  async flush(): Promise<void> {}

  async query<Row>(text: string, _params: readonly unknown[], origin: StatementOrigin): Promise<Row[]> {
    const statement = statementLine(text);
    throw new LambicError(
      "OFFLINE_QUERY",
      `Revision ${origin.revision ?? "?"} (${origin.direction === "down" ? "downgrade" : "upgrade"}) reads data with ctx.query (${statement}), which cannot run while rendering offline SQL: there is no database to read. Run it online, or guard the read with "if (ctx.online)".`,
      { revision: origin.revision, direction: origin.direction, statement },
    );
  }

  toString(): string {
    return `${this.lines.join("\n").trimEnd()}\n`;
  }
}

/**
 * A revision's read in a dry run: there is a database, but the plan has not run on it, so the
 * read cannot see what the revisions before it would have done. The revision stops there and
 * the script says so, instead of the dry run refusing a plan the run would accept.
 */
export class ReadNotRun extends Error {
  override readonly name = "ReadNotRun";
  constructor(readonly sql: string) {
    super("a dry run does not run reads");
  }
}

/** A revision a dry run stopped at its read (its statement as messages show it). */
export interface ReadNotRunEntry {
  readonly revision: string;
  readonly statement: string;
}

/** The script of a dry run (--dry-run, "dryRun": true): as offline, but a read stops its revision (ReadNotRun). */
export class DryRunSink extends ScriptSink {
  /** The reads that stopped their revisions, in plan order: the script shows nothing after them. */
  readonly readsNotRun: ReadNotRunEntry[] = [];

  override async query<Row>(text: string, _params: readonly unknown[], origin: StatementOrigin): Promise<Row[]> {
    this.readsNotRun.push({ revision: origin.revision ?? "", statement: statementLine(text) });
    throw new ReadNotRun(String(text));
  }
}
