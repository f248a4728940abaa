/**
 * Neon's serverless driver: node-postgres's Client over a WebSocket. Unlike the HTTP `neon()`
 * function it keeps one session, so interactive transactions and advisory locks work.
 *
 * node-postgres sends a query only after the previous one's ReadyForQuery, which would make a
 * pipeline cost one round trip per statement (tens of ms each to a Neon region). `Pipeline`
 * below is a node-postgres "submittable" (the extension point pg-cursor uses) that writes all
 * statements at once and hands each reply to its statement in turn.
 */
import { Client, neonConfig, types } from "@neondatabase/serverless";
import { arrayDelimiter, BUILTIN_ARRAYS, parseArrayLiteral } from "./array-literal.ts";
import { checkParameters, parameterText } from "./parameters.ts";
import { parseDateTime } from "./timestamps.ts";
import {
  type Connection,
  type DriverTarget,
  type Statement,
  PipelineError,
  ReplyWatchdog,
  connectionFailed,
  isConnectionError,
  missingPassword,
  SessionState,
  type PipelineListener,
} from "./connection.ts";

/** node-postgres's Query: a submittable that parses one statement's replies. */
interface PgQuery {
  submit(connection: unknown): Error | null | undefined;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: unknown): void;
  handleEmptyQuery(connection: unknown): void;
  handlePortalSuspended(connection: unknown): void;
  handleCopyInResponse(connection: unknown): void;
  handleCopyData(message: unknown, connection: unknown): void;
  handleError(error: unknown, connection: unknown): void;
  handleReadyForQuery(connection: unknown): void;
  /** The parameter types its Parse declares. */
  types?: unknown;
  _result?: { _types?: unknown };
}
type PgQueryClass = new (config: { text: string; values?: unknown[] }, values?: undefined, callback?: (error: Error | null, result: unknown) => void) => PgQuery;

/** The Client internals the pipeline relies on (node-postgres 8, as bundled in the pinned Neon driver). */
interface ClientInternals {
  activeQuery: unknown;
  readyForQuery: boolean;
  _types?: unknown;
  /** Neon's Socket over a WebSocket (`ws`'s, with terminate(), or the global one). */
  connection?: { stream?: { ws?: { terminate?: () => void; close?: () => void } | null; destroy?: () => void } };
}

const asText = (text: string) => text;

/**
 * Where node-postgres's parsers (pg-types) read a value otherwise than postgres.js, the default
 * driver, ctx.query gives what postgres.js gives, so that a data migration reads the same rows
 * through either: interval, point and circle as PostgreSQL's text (pg-types makes objects of
 * them), and dates and timestamps as timestamps.ts reads them for both drivers. Arrays are read
 * as postgres-driver.ts reads them: every built-in array type (pg-types knows only some, and
 * makes floats of numeric[], losing digits), each element as its type's parser reads it.
 */
const AS_POSTGRES_JS: Readonly<Record<number, (text: string) => unknown>> = {
  1186: asText, // interval
  600: asText, // point
  718: asText, // circle
  1082: parseDateTime, // date
  1114: parseDateTime, // timestamp
  1184: parseDateTime, // timestamptz
};

/** Array parsers by type oid: node-postgres asks for a parser per column of every result. */
const arrayParsers = new Map<number, (text: string) => unknown>();

function textParser(oid: number): (text: string) => unknown {
  const element = BUILTIN_ARRAYS[oid];
  if (element !== undefined) {
    let parse = arrayParsers.get(oid);
    if (!parse) {
      const parseElement = textParser(element);
      const delimiter = arrayDelimiter(oid);
      parse = (text) => parseArrayLiteral(text, parseElement, delimiter);
      arrayParsers.set(oid, parse);
    }
    return parse;
  }
  return AS_POSTGRES_JS[oid] ?? (types.getTypeParser(oid, "text") as (text: string) => unknown);
}

type QueryResultShape = { rows: Record<string, unknown>[] } | { rows: Record<string, unknown>[] }[];

export async function openNeonConnection(target: DriverTarget): Promise<Connection> {
  // Node 22 (the Lambda runtime) has a global WebSocket; Node 20 needs the `ws` package.
  if (!neonConfig.webSocketConstructor && typeof (globalThis as { WebSocket?: unknown }).WebSocket !== "function") {
    const { default: WebSocket } = await import("ws");
    neonConfig.webSocketConstructor = WebSocket;
  }
  const client = new Client({
    connectionString: target.url,
    application_name: target.applicationName,
    connectionTimeoutMillis: target.connectTimeoutSeconds * 1000,
    types: { getTypeParser: (oid: number, format?: "text" | "binary") => (format === "binary" ? types.getTypeParser(oid, format) : textParser(oid)) },
  });
  if (target.password === "" && !process.env.PGPASSWORD) {
    // Without one, node-postgres fails a password request with an exception no caller can catch
    // ("SASL: protocol error", an unhandled rejection) and the connect waits out its timeout. Set
    // here: a connection string's (absent) password overrides the constructor's.
    (client as unknown as { password: unknown }).password = () => Promise.reject(missingPassword());
  }
  // The URL's server settings go in the startup message as written, as postgres.js sends them.
  // node-postgres sends only a few of them (options, application_name, and statement_timeout,
  // lock_timeout and idle_in_transaction_session_timeout as parseInt made them: "5min" went as
  // 5 ms) and dropped the rest (?search_path=app ran the migration in public).
  // node-postgres also takes options, replication and client_encoding from PGOPTIONS, PGREPLICATION
  // and PGCLIENT_ENCODING (a PGOPTIONS exported for psql moved the run's search_path); lambic reads
  // only PGPASSWORD of libpq's variables, and these come from the URL, as settings, or not at all.
  const settings = serverSettings(target);
  const internal = client as unknown as { getStartupConf(): Record<string, string> };
  const startupConf = internal.getStartupConf.bind(client);
  internal.getStartupConf = () => {
    const { options: _options, replication: _replication, client_encoding: _encoding, ...conf } = startupConf();
    return { ...conf, ...settings };
  };
  // Per-client settings, so that tests (or two targets in one process) don't fight over neonConfig.
  Object.assign(client.neonConfig, target.neon ?? {});

  const session = new SessionState(target);
  // Without a listener an idle connection error (server restart, proxy gone) crashes the process.
  client.on("error", (error: unknown) => session.markLost(error));
  client.on("end", () => session.markEnded("Connection terminated"));

  let timer: NodeJS.Timeout | undefined;
  try {
    // Our own deadline too: a WebSocket that opens but never answers is not covered by
    // node-postgres's connectionTimeoutMillis in every case.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error("connect timeout"), { code: "CONNECT_TIMEOUT" })),
        target.connectTimeoutSeconds * 1000,
      );
    });
    const connecting = client.connect();
    connecting.catch(() => undefined); // when the deadline wins, its later rejection is expected
    await Promise.race([connecting, deadline]);
  } catch (error) {
    // Not awaited: end() waits for an 'end' event that a failed connect has already emitted.
    client.end().catch(() => undefined);
    throw connectionFailed(target, error, { webSocket: true });
  } finally {
    clearTimeout(timer);
  }

  const Query = (Client as unknown as { Query: PgQueryClass }).Query;
  const internals = client as unknown as ClientInternals;
  let roundTrips = 0;

  /**
   * A statement as node-postgres's Query, its Parse declaring each parameter (of no type, 0) as
   * postgres.js's does: undeclared, a parameter the statement does not use failed the Bind with
   * 08P01 ("bind message supplies 1 parameters, but prepared statement requires 0") where
   * postgres.js fails with 42P18. The Query takes `types` for both the Parse and its result's
   * parsers: the result gets the client's, as Client.query gives it.
   */
  const newQuery = (statement: Statement, callback?: (error: Error | null, result: unknown) => void): PgQuery => {
    const params = statement.params?.length ? statement.params : undefined;
    const query = new Query({ text: statement.text, values: params?.map(parameterText) }, undefined, callback);
    if (params) query.types = params.map(() => 0);
    if (query._result) query._result._types = internals._types;
    return query;
  };

  const ensureOpen = () => session.ensureOpen();
  const translate = (error: unknown) => session.translate(error);
  const watchdog = new ReplyWatchdog(target, (error) => {
    session.markLost(error);
    // Not end(): a closing handshake the stalled peer never answers holds the socket (30 s in ws).
    const stream = internals.connection?.stream;
    if (stream?.ws?.terminate) stream.ws.terminate();
    else stream?.destroy?.();
  });

  const connection: Connection = {
    driver: "neon",
    // node-postgres sends a queued query only after the previous one's last reply.
    capabilities: { sessionLocks: target.sessionLocks, overlappingPipelines: false, cancelRequests: false },
    get roundTrips() {
      return roundTrips;
    },
    async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
      ensureOpen();
      checkParameters(params);
      roundTrips++;
      watchdog.sent({ text, params });
      try {
        const reply = new Promise<QueryResultShape>((resolve, reject) => {
          client.query(newQuery({ text, params }, (error, result) => (error ? reject(error) : resolve(result as QueryResultShape))) as never);
        });
        const result = await watchdog.watch(reply);
        return lastResultRows(result) as Row[];
      } catch (error) {
        throw translate(error);
      } finally {
        watchdog.replied();
      }
    },
    async pipeline(statements: readonly Statement[], onResult?: PipelineListener): Promise<Record<string, unknown>[][]> {
      ensureOpen();
      for (const statement of statements) checkParameters(statement.params);
      if (statements.length === 0) return [];
      roundTrips++;
      // Each statement's rows are told as its reply ends, up to the first failure.
      let failedYet = false;
      let answered = 0;
      for (const statement of statements) watchdog.sent(statement);
      const replies = new Promise<PromiseSettledResult<QueryResultShape>[]>((resolve) => {
        const queries = statements.map((statement) => newQuery(statement));
        const settled = (index: number, outcome: PromiseSettledResult<QueryResultShape>) => {
          answered++;
          watchdog.replied();
          if (outcome.status === "rejected") failedYet = true;
          else if (!failedYet) onResult?.(index, lastResultRows(outcome.value));
        };
        client.query(new Pipeline(internals, queries, settled, resolve) as never);
      });
      let outcomes: PromiseSettledResult<QueryResultShape>[];
      try {
        outcomes = await watchdog.watch(replies);
      } catch (error) {
        // The network stalled: the first statement without its reply is where the run stopped.
        throw new PipelineError(answered, statements[answered], translate(error));
      }
      // A lost connection fails the statements not yet answered without telling each one.
      for (; answered < statements.length; answered++) watchdog.replied();
      const failed = outcomes.findIndex((outcome) => outcome.status === "rejected");
      if (failed >= 0) {
        throw new PipelineError(failed, statements[failed], translate((outcomes[failed] as PromiseRejectedResult).reason));
      }
      return outcomes.map((outcome) => lastResultRows((outcome as PromiseFulfilledResult<QueryResultShape>).value));
    },
    async cancel(): Promise<void> {
      // node-postgres sends a cancel request only for a query it runs itself (not our Pipeline).
      await connection.close();
    },
    async close(): Promise<void> {
      if (!session.markClosing()) return;
      const ended = client.end().catch(() => undefined);
      // After the session died, end() waits for an 'end' event that has already been emitted.
      if (!session.lost) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
        clearTimeout(timer);
      }
    },
  };
  return connection;
}

/** A pipeline of at least this many statements is written at once (see Pipeline.submit). */
const GATHER_WRITES_FROM = 16;

/**
 * Writes every statement on submit (each with its own Sync, as node-postgres would) and routes
 * the replies: each statement's replies end at its ReadyForQuery. The Client clears
 * `activeQuery` at every ReadyForQuery and ErrorResponse; we put ourselves back until the last
 * statement's ReadyForQuery, so it neither drops replies nor sends the next queued query early.
 */
class Pipeline {
  private current = 0;
  private readonly outcomes: PromiseSettledResult<QueryResultShape>[] = [];
  private failedCurrent = false;
  private finished = false;

  constructor(
    private readonly client: ClientInternals,
    private readonly queries: PgQuery[],
    /** Each statement's outcome, as its reply ends (in order). */
    private readonly settled: (index: number, outcome: PromiseSettledResult<QueryResultShape>) => void,
    private readonly done: (outcomes: PromiseSettledResult<QueryResultShape>[]) => void,
  ) {
    queries.forEach((query, index) => {
      (query as unknown as { callback: (error: Error | null, result: unknown) => void }).callback = (error, result) => {
        this.outcomes[index] = error ? { status: "rejected", reason: error } : { status: "fulfilled", value: result as QueryResultShape };
        this.settled(index, this.outcomes[index]);
      };
    });
  }

  submit(connection: unknown): Error | null {
    // Neon's socket gathers the writes of a tick into one WebSocket message by copying all it has
    // gathered at each write (coalesceWrites): quadratic in a pipeline's writes, 100,000 statements
    // took 35 s. A pipeline of more than a few statements gathers them here and writes them at once.
    const stream = (connection as { stream?: { write?: unknown } }).stream;
    if (this.queries.length < GATHER_WRITES_FROM || !stream || typeof stream.write !== "function") return this.submitEach(connection);
    const write = stream.write as (chunk: Uint8Array) => boolean;
    const own = Object.hasOwn(stream, "write");
    const chunks: Uint8Array[] = [];
    stream.write = (chunk: Uint8Array) => chunks.push(chunk) > 0;
    try {
      return this.submitEach(connection);
    } finally {
      if (own) stream.write = write;
      else delete stream.write;
      if (chunks.length > 0) write.call(stream, Buffer.concat(chunks));
    }
  }

  private submitEach(connection: unknown): Error | null {
    for (const query of this.queries) {
      const error = query.submit(connection);
      if (error) return error;
    }
    return null;
  }

  private get query(): PgQuery {
    return this.queries[this.current];
  }

  handleRowDescription(message: unknown): void {
    this.query.handleRowDescription(message);
  }
  handleDataRow(message: unknown): void {
    this.query.handleDataRow(message);
  }
  handleCommandComplete(message: unknown, connection: unknown): void {
    this.query.handleCommandComplete(message, connection);
  }
  handleEmptyQuery(connection: unknown): void {
    this.query.handleEmptyQuery(connection);
  }
  handlePortalSuspended(connection: unknown): void {
    this.query.handlePortalSuspended(connection);
  }
  handleCopyInResponse(connection: unknown): void {
    this.query.handleCopyInResponse(connection);
  }
  handleCopyData(message: unknown, connection: unknown): void {
    this.query.handleCopyData(message, connection);
  }

  handleError(error: unknown, connection: unknown): void {
    if (this.finished) return;
    if (isConnectionError(error)) {
      // The session is gone: no more replies will come for this or any later statement.
      for (let index = this.current; index < this.queries.length; index++) {
        this.outcomes[index] ??= { status: "rejected", reason: error };
      }
      this.finish();
      return;
    }
    this.query.handleError(error, connection);
    this.failedCurrent = true;
    this.client.activeQuery = this; // its ReadyForQuery is still to come
  }

  handleReadyForQuery(connection: unknown): void {
    if (this.finished) return;
    // After an ErrorResponse node-postgres does not pass the ReadyForQuery on; neither do we.
    if (!this.failedCurrent) this.query.handleReadyForQuery(connection);
    this.failedCurrent = false;
    this.current++;
    if (this.current < this.queries.length) {
      this.client.activeQuery = this;
      this.client.readyForQuery = false;
    } else {
      this.finish();
    }
  }

  private finish(): void {
    this.finished = true;
    this.done(this.outcomes);
  }
}

/** The URL's parameters that go to the server as settings (DriverTarget.serverSettings), by name. */
function serverSettings(target: DriverTarget): Record<string, string> {
  if (target.serverSettings.length === 0) return {};
  const query = new URL(target.url).searchParams;
  const settings: Record<string, string> = {};
  for (const name of target.serverSettings) {
    const value = query.get(name);
    if (value !== null) settings[name] = value;
  }
  return settings;
}

function lastResultRows(result: QueryResultShape): Record<string, unknown>[] {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  return last ? [...last.rows] : [];
}
