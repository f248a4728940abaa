/**
 * postgres.js over TCP. One pooled connection (`max: 1`) is one server session: postgres.js
 * allows BEGIN through `unsafe` only with max 1, and pipelines every query issued before the
 * previous reply arrived.
 *
 * Except one kind: a statement with parameters that is not a cached prepared statement is
 * sent as Parse/Describe first, and its Bind/Execute only after the server described the
 * parameter types (postgres.js's `describeFirst`). So it costs two round trips and nothing
 * after it is sent meanwhile. We keep `prepare: false` anyway: a cached plan inside a
 * migration's transaction fails with "cached plan must not change result type" after DDL on
 * its table, and postgres.js's retry cannot help in an aborted transaction. Statements
 * without parameters (all rendered DDL) pipeline fully.
 */
import { connect, type Socket } from "node:net";
import postgres from "postgres";
import { arrayDelimiter, BUILTIN_ARRAYS, parseArrayLiteral } from "./array-literal.ts";
import { checkParameters, parameterText } from "./parameters.ts";
import { parseDateTime } from "./timestamps.ts";
import {
  type Connection,
  type DriverTarget,
  type Statement,
  PipelineError,
  connectionFailed,
  refusedOverTls,
  refusedWithoutTls,
  ReplyWatchdog,
  SessionState,
  type PipelineListener,
} from "./connection.ts";
import { postgresSsl, type PostgresSsl } from "./tls-files.ts";

// (`simple` is read by postgres.js but missing from its types.)
const SIMPLE = { prepare: false, simple: true } as postgres.UnsafeQueryOptions;
const EXTENDED = { prepare: false, simple: false } as postgres.UnsafeQueryOptions;

/**
 * postgres.js holds back queries beyond this many in flight; above it a pipeline takes more round
 * trips. Every step's statement is a query of its own, so a large upgrade has this many in flight.
 */
const MAX_PIPELINE = 100_000;

export async function openPostgresConnection(target: DriverTarget): Promise<Connection> {
  const session = new SessionState(target);
  // Our own sockets, so that a stalled one can be destroyed: postgres.js's end() only half-closes
  // it, and a socket whose peer never answers keeps the process alive.
  const sockets = new Set<Socket>();
  // libpq never uses TLS over a Unix socket, and ignores sslmode there (and sslnegotiation).
  const unixSocket = target.host.includes("/");
  const ssl = unixSocket ? false : await postgresSsl(target);
  // The first byte the server sent: "N" to the SSLRequest is a server that does not speak TLS.
  let firstByte: number | undefined;
  const options = {
    // Given either way: left out, postgres.js takes libpq's PGSSLNEGOTIATION, which lambic does not read.
    sslnegotiation: target.tls.direct && !unixSocket ? "direct" : null,
    max: 1,
    // No idle or lifetime recycling: postgres.js would reconnect silently and the runner's
    // open transaction and locks would be gone. close() ends the session.
    idle_timeout: 0,
    max_lifetime: 0,
    max_pipeline: MAX_PIPELINE,
    connect_timeout: target.connectTimeoutSeconds,
    // Statements are run once each; a named prepared statement per statement only costs.
    prepare: false,
    onnotice: () => {},
    connection: { application_name: target.applicationName },
    // No query for the array types at connect: their parsers are ours, for the built-in array
    // types only (replaceParsers), and every parameter's serializer too (replaceSerializers).
    fetch_types: false,
    socket: () => {
      const socket = unixSocket ? connect(`${target.host}/.s.PGSQL.${target.port}`) : connect(target.port, target.host);
      // What postgres.js sets on a socket of its own, read for TLS's server name (SNI).
      Object.assign(socket, { host: target.host, port: target.port });
      socket.once("data", (chunk: Buffer) => {
        firstByte ??= chunk[0];
      });
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      return socket;
    },
  };

  // A hard deadline of our own, for every attempt together: a port that answers with something
  // other than PostgreSQL (an HTTP service, a load balancer) makes postgres.js reconnect in a
  // loop, and its connect_timeout, per attempt, never fires.
  let deadline: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(Object.assign(new Error(`no PostgreSQL answer within ${target.connectTimeoutSeconds} s`), { code: "CONNECT_TIMEOUT" })), target.connectTimeoutSeconds * 1000);
  });
  const attempt = async (tls: PostgresSsl) => {
    firstByte = undefined;
    // Only the connection that connected ends the session when it closes: a failed attempt's
    // close (its error answered already) may come while the next attempt connects.
    let connected = false;
    const onclose = () => {
      if (connected) session.markEnded("the server closed the connection");
    };
    // (max_pipeline is a documented option missing from postgres.js's types.)
    const client = withoutLibpqEnvironment(() => postgres(target.url, { ...options, ssl: tls, onclose } as postgres.Options<Record<string, postgres.PostgresType>>));
    try {
      await Promise.race([client.unsafe("select 1"), expired]);
      connected = true;
      return client;
    } catch (error) {
      await client.end({ timeout: 0 }).catch(() => undefined);
      throw error;
    }
  };
  let sql: postgres.Sql;
  try {
    try {
      sql = await attempt(ssl);
    } catch (error) {
      // As libpq does: prefer tries again without TLS when the server's pg_hba.conf turns the
      // client away over TLS, and allow with TLS when it turns a plain connection away.
      if (ssl === "prefer" && refusedOverTls(error)) sql = await attempt(false);
      else if (target.tls.mode === "allow" && !unixSocket && refusedWithoutTls(error)) sql = await attempt("require");
      else throw error;
    }
  } catch (error) {
    throw connectionFailed(target, error, { serverRefusedTls: ssl !== false && ssl !== "prefer" && !target.tls.direct && firstByte === 0x4e });
  } finally {
    clearTimeout(deadline);
  }

  replaceParsers(sql);
  replaceSerializers(sql);

  let roundTrips = 0;
  /** Queries sent and not settled, oldest first: the first is the one running. */
  const unsettled = new Set<{ cancel(): void }>();
  /** Pipelines waiting for replies: one started meanwhile is written at once and shares their wait. */
  let pipelinesInFlight = 0;

  const ensureOpen = () => session.ensureOpen();
  const translate = (error: unknown) => session.translate(error);
  const watchdog = new ReplyWatchdog(target, (error) => {
    session.markLost(error);
    for (const socket of sockets) socket.destroy();
  });

  /** Issues a statement; the caller removes it from `unsettled` once it settles. */
  function send(statement: Statement) {
    const params = statement.params;
    // No params: the simple protocol, which accepts a script of several statements.
    const query = params?.length ? sql.unsafe(statement.text, params.map((value) => sendable(sql, value)), EXTENDED) : sql.unsafe(statement.text, [], SIMPLE);
    unsettled.add(query);
    watchdog.sent(statement);
    return query;
  }

  return {
    driver: "postgres",
    capabilities: { sessionLocks: target.sessionLocks, overlappingPipelines: true, cancelRequests: true },
    get roundTrips() {
      return roundTrips;
    },
    async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
      ensureOpen();
      checkParameters(params);
      roundTrips += params?.length ? 2 : 1;
      const query = send({ text, params });
      try {
        return lastResultRows(await watchdog.watch(query)) as Row[];
      } catch (error) {
        throw translate(error);
      } finally {
        if (unsettled.delete(query)) watchdog.replied();
      }
    },
    async pipeline(statements: readonly Statement[], onResult?: PipelineListener): Promise<Record<string, unknown>[][]> {
      ensureOpen();
      for (const statement of statements) checkParameters(statement.params);
      if (statements.length === 0) return [];
      roundTrips += Math.max(0, pipelineRoundTrips(statements) - (pipelinesInFlight > 0 ? 1 : 0));
      // Issued in one tick without awaiting: postgres.js writes them back to back. Wait for
      // every reply, so that the session is idle again whatever failed. Replies settle in
      // order: the first failure is the cause, and nothing after it is told.
      const rows: Record<string, unknown>[][] = new Array(statements.length);
      let failure: { index: number; error: unknown } | undefined;
      let answered = 0;
      pipelinesInFlight++;
      try {
        await watchdog.watch(
          Promise.all(
            statements.map((statement, index) => {
              const query = send(statement);
              return query.then(
                (result) => {
                  if (unsettled.delete(query)) watchdog.replied();
                  answered++;
                  if (failure !== undefined) return;
                  rows[index] = lastResultRows(result);
                  onResult?.(index, rows[index]);
                },
                (error: unknown) => {
                  if (unsettled.delete(query)) watchdog.replied();
                  answered++;
                  failure ??= { index, error };
                },
              );
            }),
          ),
        );
      } catch (error) {
        // The network stalled: the first statement without its reply is where the run stopped.
        failure ??= { index: answered, error };
      } finally {
        pipelinesInFlight--;
      }
      if (failure) throw new PipelineError(failure.index, statements[failure.index], translate(failure.error));
      return rows;
    },
    async cancel(): Promise<void> {
      // postgres.js hands a query to the connection a microtask after it is issued; cancelled
      // before that, it is skipped there and the connection takes no query again (a hang). By
      // the next macrotask every query issued so far has been handed over.
      await new Promise((resolve) => setImmediate(resolve));
      const running = unsettled.values().next().value;
      if (running) await running.cancel();
    },
    async close(): Promise<void> {
      if (!session.markClosing()) return;
      // After the session died postgres.js would wait out the whole timeout for nothing.
      await sql.end({ timeout: session.lost ? 0 : 5 });
    },
  };
}

/**
 * Waits postgres.js makes for a pipeline: each statement with parameters ends the batch in
 * flight with its Describe (one wait) and then needs its Bind/Execute (a second); statements
 * after the last such statement go in one more batch.
 */
export function pipelineRoundTrips(statements: readonly Statement[]): number {
  let waits = 0;
  let batch = 0;
  for (const statement of statements) {
    if (statement.params?.length) {
      waits += 2;
      batch = 0;
    } else if (++batch === MAX_PIPELINE) {
      waits++;
      batch = 0;
    }
  }
  return waits + (batch > 0 ? 1 : 0);
}

/** A simple-protocol script resolves to one result per statement; keep the last one's rows. */
function lastResultRows(result: unknown): Record<string, unknown>[] {
  const rows = result as Record<string, unknown>[];
  if (rows.length > 0 && Array.isArray(rows[0])) {
    return [...(rows[rows.length - 1] as unknown as Record<string, unknown>[])];
  }
  return [...rows];
}

/** The parts of postgres.js's options that hold its type parsers and serializers (filled when it connects). */
interface ParserOptions {
  parsers: Record<number, ((text: string) => unknown) & { array?: boolean }>;
  serializers: Record<number, (value: unknown) => string>;
}

/**
 * A parameter as postgres.js is given it: its text (see parameters.ts), so that postgres.js
 * declares no type for it; an array stays an array, typed "unknown" (postgres.js would declare
 * its first element's type), until the server said what it is (see replaceSerializers).
 */
function sendable(sql: postgres.Sql, value: unknown): postgres.ParameterOrJSON<never> {
  if (Array.isArray(value)) return sql.typed(value as never, 0) as never;
  return parameterText(value) as never;
}

/**
 * postgres.js writes a parameter by the type the server described: its serializers would turn a
 * string into false for a boolean, into its UTF-8 bytes for a bytea, an object into
 * "[object Object]" for text. Every parameter is already its text, but for an array, which is
 * JSON where the server expects json or jsonb (as documented) and a PostgreSQL array elsewhere.
 */
function replaceSerializers(sql: postgres.Sql): void {
  const options = (sql as unknown as { options: ParserOptions }).options;
  const asText = (value: unknown) => (typeof value === "string" ? value : (parameterText(value) ?? ""));
  const asJson = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));
  options.serializers = new Proxy({}, {
    has: () => true,
    get: (_, type) => (type === "114" || type === "3802" ? asJson : asText),
  });
}

/**
 * Registers array parsers for the built-in array types (see BUILTIN_ARRAYS), reading an unquoted
 * NULL element as null where postgres.js's own yields the string "NULL" (see array-literal.ts).
 * postgres.js hands an array parser the text after its first character.
 * Dates and timestamps are read as timestamps.ts reads them (postgres.js's `new Date(text)`
 * takes a timestamp for local time and makes Invalid Dates of BC years).
 */
function replaceParsers(sql: postgres.Sql): void {
  const { parsers } = (sql as unknown as { options: ParserOptions }).options;
  // date, timestamp, timestamptz (see timestamps.ts); their arrays pick these up below.
  for (const type of [1082, 1114, 1184]) parsers[type] = parseDateTime;
  // Arrays of other types than the built-in ones stay text, as through Neon's driver: no parser is
  // registered for them (fetch_types is off).
  for (const [array, element] of Object.entries(BUILTIN_ARRAYS)) {
    const parseElement = parsers[element];
    const delimiter = arrayDelimiter(Number(array));
    const parser = (rest: string) => parseArrayLiteral(BOUNDS.test(rest) ? `[${rest}` : `{${rest}`, parseElement, delimiter);
    parsers[Number(array)] = Object.assign(parser, { array: true });
  }
}

/** What follows the "[" of an array's bounds ("[0:1]={...}", "[1:2][1:2]={{...}}"). */
const BOUNDS = /^-?\d+:-?\d+\](\[-?\d+:-?\d+\])*=\{/;

/**
 * Runs `create` (postgres.js's constructor, which reads its options synchronously) with libpq's
 * PGTARGETSESSIONATTRS hidden: without a target_session_attrs option postgres.js takes that
 * variable, and no option value means "any", so a PGTARGETSESSIONATTRS=standby exported for psql
 * failed every connection to a primary ("write CONNECTION_DESTROYED"). lambic reads only
 * PGPASSWORD of libpq's variables; the URL's target_session_attrs is checked in url-parameters.ts.
 */
function withoutLibpqEnvironment<T>(create: () => T): T {
  const exported = process.env["PGTARGETSESSIONATTRS"];
  if (exported === undefined) return create();
  delete process.env["PGTARGETSESSIONATTRS"];
  try {
    return create();
  } finally {
    process.env["PGTARGETSESSIONATTRS"] = exported;
  }
}
