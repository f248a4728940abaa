import { toDatabaseFailure, type Connection } from "../db/connection.ts";
import { LambicError } from "../errors.ts";
import type { RevisionDirection } from "../revision/types.ts";

/**
 * Where the runner's statements go. The runner is written once over a plan; an online sink
 * sends its statements to a connection (pipelined: queued, then sent together), an offline sink
 * appends them to a script. So the script does what the online run does by construction.
 */
export interface StatementOrigin {
  readonly revision?: string;
  readonly direction?: RevisionDirection | "stamp";
  readonly purpose: "control" | "revision" | "version" | "history" | "lock" | "read";
  /** The statements a joined script was made of (see joinStatements), to point at the failing one. */
  readonly parts?: readonly string[];
  /**
   * Set on a step's script, whose last statement returns one row with this number as
   * `lambic_step` (see stepMarkerStatement). Online, consecutive steps share a message; this
   * row tells which of them have run.
   */
  readonly step?: number;
}

/** A statement with its terminator; a last line holding "--" may be a comment, so `;` goes below it. */
export function terminate(text: string): string {
  // Scanned from the end by hand: it runs for every step, and trimming and a regex would copy and
  // scan whole scripts.
  let end = text.length;
  while (end > 0 && isSpaceOrSemicolon(text.charCodeAt(end - 1))) end--;
  const lineStart = text.lastIndexOf("\n", end - 1) + 1;
  const comment = text.indexOf("--", lineStart);
  if (comment !== -1 && comment + 2 <= end) return `${text.slice(0, end)}\n;`;
  if (end === text.length - 1 && text.charCodeAt(end) === 59) return text; // already ends with one ";"
  return `${end === text.length ? text : text.slice(0, end)};`;
}

/** ";" or what String.prototype.trimEnd removes. */
function isSpaceOrSemicolon(code: number): boolean {
  if (code === 59 || code === 32 || (code >= 9 && code <= 13)) return true;
  return code > 127 && /\s/.test(String.fromCharCode(code));
}

/** Statements as one script (sent as one message over the simple protocol). */
export function joinStatements(parts: readonly string[]): string {
  return parts.length === 1 ? parts[0]! : parts.map(terminate).join("\n");
}

/** Which of a joined script's parts holds a 1-based character position, and the position within it. */
export function locatePart(parts: readonly string[], position: number): { index: number; position: number } | undefined {
  let offset = 0;
  for (const [index, part] of parts.entries()) {
    const length = terminate(part).length + 1;
    if (position <= offset + length) return { index, position: position - offset };
    offset += length;
  }
  return undefined;
}

/** A queued statement's result, filled in when it has been sent (online only). */
export interface StatementResult {
  rows?: Record<string, unknown>[];
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
  readonly origin: StatementOrigin;
  readonly result: StatementResult;
}

/**
 * What a failed statement was: the queued statement (undefined when the failure came before
 * any), and the failure's position within its text (PostgreSQL counts from the message's start).
 */
export type FailureHandler = (error: unknown, statement: QueuedStatement | undefined, position: number | undefined) => never;

/**
 * Steps per message, and characters. Small steps share the server's and the driver's
 * per-message work; but PostgreSQL sends a message's replies only when it is done (or its 8 kB
 * output buffer fills), so a step is reported at the latest when its message ends: a message
 * stays short, for live progress when steps are slow.
 */
const MAX_STEPS_PER_MESSAGE = 32;
const MAX_MESSAGE_CHARS = 256 * 1024;

/** Statements sent as one simple-protocol message: one statement, or consecutive steps' scripts. */
class Message {
  readonly members: QueuedStatement[] = [];
  /** Where each member's text starts in the message (0-based). */
  readonly offsets: number[] = [];
  length = 0;
  /** Members whose step row has arrived. */
  reached = 0;
  /** Each member's text with its terminator, as the message joins them. */
  private readonly terminated: string[] = [];

  constructor(first: QueuedStatement) {
    this.add(first);
  }

  get steps(): boolean {
    return this.members[0]!.origin.step !== undefined;
  }

  accepts(next: QueuedStatement): boolean {
    return this.steps && next.origin.step !== undefined && this.members.length < MAX_STEPS_PER_MESSAGE && this.length + next.text.length < MAX_MESSAGE_CHARS;
  }

  add(statement: QueuedStatement): void {
    const text = terminate(statement.text);
    this.offsets.push(this.length);
    this.members.push(statement);
    this.terminated.push(text);
    this.length += text.length + 1;
  }

  text(): string {
    return this.members.length === 1 ? this.members[0]!.text : this.terminated.join("\n");
  }

  /** A step's row: that step (and every one before it in the message) has run. */
  onRow = (row: Record<string, unknown>): void => {
    const step = row.lambic_step;
    if (typeof step !== "number" || typeof row.at !== "number") return; // a revision's own rows
    const index = step - this.members[0]!.origin.step!;
    const member = this.members[index];
    // Steps finish in order: anything else is not one of ours.
    if (member?.origin.step !== step || index < this.reached) return;
    this.reached = index + 1;
    member.result.rows = [row];
    member.result.onRows?.(member.result.rows);
  };

  /** The member a failure belongs to, and the position within it. */
  locate(position: number | undefined): { statement: QueuedStatement; position: number | undefined } {
    if (this.members.length === 1) return { statement: this.members[0]!, position };
    if (position !== undefined) {
      for (let index = this.members.length - 1; index >= 0; index--) {
        if (position > this.offsets[index]!) return { statement: this.members[index]!, position: position - this.offsets[index]! };
      }
    }
    // No position (an error while executing): the step after the last one that finished.
    return { statement: this.members[Math.min(this.reached, this.members.length - 1)]!, position: undefined };
  }
}

function packMessages(batch: readonly QueuedStatement[]): Message[] {
  const messages: Message[] = [];
  let open: Message | undefined;
  for (const statement of batch) {
    if (open?.accepts(statement)) {
      open.add(statement);
    } else {
      open = new Message(statement);
      messages.push(open);
    }
  }
  return messages;
}

/**
 * Pipelines statements over one connection; a failure carries the statement's origin.
 * Consecutive steps go in one message (their scripts joined): in a transaction that is the same
 * as sending them one by one, and the server and the driver do their per-message work once.
 * Each step's last row, read as it arrives, still reports that step when it has run. Where the
 * driver can send while replies are awaited, each full message of steps goes out at once, so
 * the server runs the first steps while the next revisions are still being rendered.
 */
export class ConnectionSink implements Sink {
  readonly online = true;
  private queue: QueuedStatement[] = [];
  private queuedSteps = 0;
  private queuedChars = 0;
  /** Sent, not yet flushed: each resolves with what reports its failure, if it failed. */
  private inFlight: Promise<(() => never) | undefined>[] = [];

  constructor(
    readonly connection: Connection,
    private readonly onFailure: FailureHandler,
  ) {}

  comment(): void {}

  statement(text: string, origin: StatementOrigin): StatementResult {
    const result: StatementResult = {};
    this.queue.push({ text, origin, result });
    if (origin.step !== undefined && this.connection.capabilities.overlappingPipelines) {
      this.queuedSteps++;
      this.queuedChars += text.length;
      if (this.queuedSteps >= MAX_STEPS_PER_MESSAGE || this.queuedChars >= MAX_MESSAGE_CHARS) this.inFlight.push(this.send());
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
    this.queuedChars = 0;
    if (batch.length === 0) return Promise.resolve(undefined);
    const messages = packMessages(batch);
    return this.connection
      .pipeline(
        messages.map((message) => (message.steps ? { text: message.text(), onRow: message.onRow } : { text: message.text() })),
        (index, rows) => {
          const message = messages[index]!;
          if (message.steps) return;
          const { result } = message.members[0]!;
          result.rows = rows;
          result.onRows?.(rows);
        },
      )
      .then(
        () => undefined,
        (error: unknown) => () => {
          const index = (error as { index?: number }).index;
          const message = index === undefined ? undefined : messages[index];
          if (!message) return this.onFailure(error, undefined, undefined);
          const located = message.locate(failurePosition(error));
          return this.onFailure(error, located.statement, located.position);
        },
      );
  }

  async query<Row>(text: string, params: readonly unknown[], origin: StatementOrigin): Promise<Row[]> {
    await this.flush();
    try {
      return await this.connection.query<Row>(text, params);
    } catch (error) {
      return this.onFailure(error, { text, origin, result: {} }, failurePosition(error));
    }
  }
}

function failurePosition(error: unknown): number | undefined {
  return (toDatabaseFailure(error) ?? toDatabaseFailure((error as { cause?: unknown })?.cause))?.position;
}

/** Renders statements as a psql script. */
export class ScriptSink implements Sink {
  readonly online = false;
  private readonly lines: string[] = [];

  comment(text: string): void {
    this.lines.push(`-- ${text}`);
  }

  raw(line: string): void {
    this.lines.push(line);
  }

  statement(text: string, _origin?: StatementOrigin): StatementResult {
    this.lines.push(terminate(text), "");
    return {};
  }

  async flush(): Promise<void> {}

  async query<Row>(_text: string, _params: readonly unknown[], origin: StatementOrigin): Promise<Row[]> {
    throw new LambicError(
      "OFFLINE_QUERY",
      `Revision ${origin.revision ?? "?"} reads data with ctx.query (${origin.direction ?? ""}), which cannot run while rendering offline SQL: there is no database to read. Run it online, or guard the read with "if (ctx.online)".`,
      { revision: origin.revision, direction: origin.direction },
    );
  }

  toString(): string {
    return `${this.lines.join("\n").trimEnd()}\n`;
  }
}
