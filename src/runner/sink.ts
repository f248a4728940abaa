import type { Connection } from "../db/connection.ts";
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
}

/** A statement with its terminator; a last line holding "--" may be a comment, so `;` goes below it. */
export function terminate(text: string): string {
  const body = text.trimEnd().replace(/;+$/, "").trimEnd();
  const lastLine = body.slice(body.lastIndexOf("\n") + 1);
  return lastLine.includes("--") ? `${body}\n;` : `${body};`;
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

/** Pipelines statements over one connection; a failure carries the statement's origin. */
export class ConnectionSink implements Sink {
  readonly online = true;
  private queue: QueuedStatement[] = [];

  constructor(
    readonly connection: Connection,
    private readonly onFailure: (error: unknown, statement: QueuedStatement | undefined) => never,
  ) {}

  comment(): void {}

  statement(text: string, origin: StatementOrigin): StatementResult {
    const result: StatementResult = {};
    this.queue.push({ text, origin, result });
    return result;
  }

  async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      await this.connection.pipeline(
        batch.map((s) => ({ text: s.text })),
        (index, rows) => {
          const { result } = batch[index]!;
          result.rows = rows;
          result.onRows?.(rows);
        },
      );
    } catch (error) {
      const index = (error as { index?: number }).index;
      return this.onFailure(error, index === undefined ? undefined : batch[index]);
    }
  }

  async query<Row>(text: string, params: readonly unknown[], origin: StatementOrigin): Promise<Row[]> {
    await this.flush();
    try {
      return await this.connection.query<Row>(text, params);
    } catch (error) {
      return this.onFailure(error, { text, origin, result: {} });
    }
  }
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
