/**
 * The one connection the runner talks to: postgres.js over TCP or Neon's driver over WebSocket,
 * behind the same small interface. The runner sends BEGIN/COMMIT/ROLLBACK itself as statements,
 * so a Connection is always exactly one server session; it never reconnects behind the
 * runner's back (a new session would silently lose the transaction and its locks).
 */
import { userInfo } from "node:os";
import { argumentError, checkObject, checkString, checkTimeout } from "../check-arguments.ts";
import { LambicError } from "../errors.ts";
import { splitStatements } from "../operations/sql-statements.ts";
import { isPortNumber, portOf, redactUrl } from "./redact.ts";
import { isTransactionPooler, READ_PARAMETERS, readUrlParameters, type TlsRequest } from "./url-parameters.ts";

export interface Statement {
  readonly text: string;
  readonly params?: readonly unknown[];
}

/** What PostgreSQL said about a failed statement (its ErrorResponse fields). */
export interface DatabaseFailure {
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character offset into the statement text. */
  position?: number;
  where?: string;
}

export type DriverName = "postgres" | "neon";

export interface Connection {
  readonly driver: DriverName;
  /**
   * sessionLocks is false on a pooled (PgBouncer / Neon "-pooler") endpoint: use transaction-level locks there.
   * overlappingPipelines: a pipeline started while another is still waiting for replies is
   * written at once, without a round trip of its own (postgres.js); otherwise it waits its turn.
   * cancelRequests: cancel() stops the running statement; otherwise it closes the connection.
   */
  readonly capabilities: { readonly sessionLocks: boolean; readonly overlappingPipelines: boolean; readonly cancelRequests: boolean };
  /** One statement, extended protocol when params are given. Rows as plain objects. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /**
   * Sends every statement without waiting for each reply (pipelining) and resolves with each
   * one's rows, in order; a statement may be a multi-statement script when it has no params
   * (simple protocol; its rows are those of its last statement). Each statement is its own
   * protocol message with its own sync point, so statements after a failing one still run
   * unless they are inside a transaction (which the failure aborts): wrap the batch in
   * BEGIN/COMMIT for all-or-nothing. On the first failure it rejects with a PipelineError
   * carrying the failing index and the DatabaseFailure, after every reply has arrived.
   */
  pipeline(statements: readonly Statement[], onResult?: PipelineListener): Promise<Record<string, unknown>[][]>;
  /**
   * Number of round trips (request/reply waits) made so far by query and pipeline; connecting
   * is not counted. Neon: one per query or pipeline. postgres.js: a statement with params
   * costs two and splits a pipeline (see postgres-driver.ts); statements without params pipeline,
   * and a pipeline started while another is in flight joins its wait.
   */
  readonly roundTrips: number;
  /**
   * Stops what the session is running, for an interrupted run: postgres.js sends PostgreSQL a
   * cancel request (the running statement fails with SQLSTATE 57014 and its transaction rolls
   * back); Neon's WebSocket client sends none, so there it closes the connection.
   */
  cancel(): Promise<void>;
  close(): Promise<void>;
}

/** Told each statement's rows as they arrive, in order (no later than the pipeline resolves). */
export type PipelineListener = (index: number, rows: Record<string, unknown>[]) => void;

export class PipelineError extends Error {
  override readonly name = "PipelineError";
  readonly index: number;
  /** Undefined when the failure was not a PostgreSQL error (the connection broke). */
  readonly failure: DatabaseFailure | undefined;

  constructor(index: number, statement: Statement, cause: unknown) {
    const failure = toDatabaseFailure(cause);
    const what = failure ? `${failure.sqlstate}: ${failure.message}` : String((cause as Error)?.message ?? cause);
    super(`Statement ${index + 1} of the pipeline failed (${what}): ${abbreviate(statement.text)}`, { cause });
    this.index = index;
    this.failure = failure;
  }
}

export interface OpenOptions {
  /** Default: "neon" for a *.neon.tech host, else "postgres". */
  driver?: DriverName;
  applicationName?: string;
  /** Default 10. */
  connectTimeoutSeconds?: number;
  /**
   * The statement_timeout the runs on this connection set (0 or absent: none). With one, a
   * statement left without a reply for that long plus connectTimeoutSeconds means the network
   * stalled (a connection that neither answers nor closes, which TCP keepalives through a proxy
   * or NAT do not notice): the connection is closed and the statement fails with CONNECTION_FAILED.
   */
  statementTimeoutMs?: number;
  /**
   * When (epoch ms) the caller must stop waiting for the server, whatever statementTimeoutMs
   * allows: a Lambda invocation's end, less part of the margin it keeps to report. A reply still
   * outstanding then is taken for a stall as above, so the invocation ends in CONNECTION_FAILED
   * rather than being killed by Lambda with nothing reported.
   */
  replyDeadline?: number;
  /** Neon WebSocket settings for this connection (tests point them at a local proxy). */
  neon?: NeonSocketSettings;
}

/** The subset of Neon's `neonConfig` that decides how the WebSocket is opened. */
export interface NeonSocketSettings {
  wsProxy?: string | ((host: string, port: number | string) => string);
  useSecureWebSocket?: boolean;
  pipelineTLS?: boolean;
  pipelineConnect?: "password" | false;
  forceDisablePgSSL?: boolean;
}

/** Everything a driver module needs, already parsed and checked. */
export interface DriverTarget {
  /** What the driver is given (see driverUrl). */
  readonly url: string;
  readonly redacted: string;
  /** Decoded; empty when the URL has none. */
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly applicationName: string;
  readonly connectTimeoutSeconds: number;
  /** The statement_timeout of the runs on this connection (OpenOptions.statementTimeoutMs); 0: none, and no ReplyWatchdog. */
  readonly statementTimeoutMs: number;
  /** OpenOptions.replyDeadline; undefined: none. */
  readonly replyDeadline: number | undefined;
  readonly sessionLocks: boolean;
  /** postgres.js's TLS (see TlsRequest); Neon's driver always speaks TLS over its WebSocket. */
  readonly tls: TlsRequest;
  /** The URL's parameters that go to the server as settings, by name (for the words of a failure). */
  readonly serverSettings: readonly string[];
  readonly neon?: NeonSocketSettings;
}

export async function openConnection(url: string, options: OpenOptions = {}): Promise<Connection> {
  if (typeof url !== "string") throw argumentError("openConnection", "url", "a postgres:// URL string", url);
  checkObject("openConnection", "options", options);
  checkOpenOptions(options);
  const target = parseTarget(url, options);
  const driver = options.driver ?? (/\.neon\.tech$/i.test(target.host) ? "neon" : "postgres");
  // Lazy imports: the Lambda bundle that uses one driver never evaluates the other.
  if (driver === "neon") {
    const { openNeonConnection } = await import("./neon-driver.ts");
    return openNeonConnection(target);
  }
  const { openPostgresConnection } = await import("./postgres-driver.ts");
  return openPostgresConnection(target);
}

/** What code may get wrong in OpenOptions: ignored, a wrong driver name fell back to postgres and a wrong timeout read "no answer within NaN s". */
function checkOpenOptions(options: OpenOptions): void {
  const fn = "openConnection";
  if (options.driver !== undefined && options.driver !== "postgres" && options.driver !== "neon") throw argumentError(fn, "options.driver", '"postgres" or "neon" when given', options.driver);
  const seconds: unknown = options.connectTimeoutSeconds;
  if (seconds !== undefined && (typeof seconds !== "number" || !(seconds >= 1 && seconds <= 3600))) throw argumentError(fn, "options.connectTimeoutSeconds", "a number of seconds from 1 to 3600 when given", seconds);
  checkString(fn, "options.applicationName", options.applicationName, true);
  if (options.statementTimeoutMs !== undefined) checkTimeout(fn, "options.statementTimeoutMs", options.statementTimeoutMs);
  const deadline: unknown = options.replyDeadline;
  if (deadline !== undefined && (typeof deadline !== "number" || !Number.isFinite(deadline))) throw argumentError(fn, "options.replyDeadline", "a time in epoch milliseconds when given", deadline);
}

function parseTarget(url: string, options: OpenOptions): DriverTarget {
  const redacted = redactUrl(url);
  if (!url.includes("://")) {
    throw new LambicError(
      "CONNECTION_FAILED",
      `The database URL is not a URL: it has no "://" (${url.length} characters, not shown: it may hold a password). ` +
        `Expected postgres://user:password@host:5432/database; libpq's "host=... dbname=..." form is not read.`,
      { url: redacted },
    );
  }
  const { parsed, emptyHost } = parseUrl(url, redacted);
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new LambicError(
      "CONNECTION_FAILED",
      `The database URL ${redacted} has protocol "${parsed.protocol}"; expected postgres:// or postgresql://.`,
      { url: redacted },
    );
  }
  // An "@" the parse did not take as the end of user:password: the password holds a "#", "/"
  // or "?" that ended it early (and the host parsed is really the user name).
  const scheme = url.indexOf("://");
  if (url.lastIndexOf("@") > scheme && (parsed.hash.includes("@") || parsed.pathname.includes("@") || parsed.search.includes("@") || (parsed.hostname === "" && !parsed.searchParams.has("host")))) {
    throw new LambicError(
      "CONNECTION_FAILED",
      `The database URL ${redacted} does not parse as user:password@host: its password probably holds a "#", "/" or "?". Percent-encode them (# is %23, / is %2F, ? is %3F).`,
      { url: redacted },
    );
  }
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new LambicError("CONNECTION_FAILED", `The database URL ${redacted} has a broken percent-encoding in its ${what}: "%" must be followed by two hex digits (a "%" itself is %25).`, { url: redacted });
    }
  };
  const parameters = readUrlParameters(parsed.searchParams, redacted);
  const host = parameters.host ?? (emptyHost ? "" : decode(parsed.hostname, "host").replace(/^\[(.*)\]$/, "$1"));
  if (!host) {
    throw new LambicError(
      "CONNECTION_FAILED",
      `The database URL ${redacted} names no host. Expected postgres://user:password@host:5432/database.`,
      { url: redacted },
    );
  }
  // libpq also takes these as parameters, over the URL's own parts; neither driver does. Without
  // a user, libpq's is the OS user's name, and without a database, the user's: both go to the
  // driver explicitly, so that neither falls back to PGUSER or PGDATABASE behind the messages' back.
  const user = parameters.user ?? (decode(parsed.username, "user name") || osUserName(redacted));
  const password = parameters.password ?? decode(parsed.password, "password");
  const database = parameters.database ?? (decode(parsed.pathname.slice(1), "database name") || user);
  const port = parameters.port ?? (parsed.port ? Number(parsed.port) : 5432);
  return {
    url: driverUrl(parsed, { host, port, user, password, database }),
    redacted,
    password,
    host,
    port,
    database,
    user,
    applicationName: options.applicationName ?? "lambic",
    connectTimeoutSeconds: options.connectTimeoutSeconds ?? parameters.connectTimeoutSeconds ?? 10,
    statementTimeoutMs: options.statementTimeoutMs ?? 0,
    replyDeadline: options.replyDeadline,
    sessionLocks: !isTransactionPooler(host, port),
    tls: parameters.tls,
    serverSettings: parameters.serverSettings,
    neon: options.neon,
  };
}

/** Stands in for the empty host of "user:password@/db": WHATWG URL refuses an empty host after a user. */
const EMPTY_HOST = "lambic-empty-host.invalid";

/**
 * Parses the URL as libpq reads it where WHATWG URL is stricter: libpq reads an empty host after
 * the user and password (`postgres://user:password@/db?host=/cloudsql/…`, Cloud SQL's socket
 * URLs; `user:password@:5433/db?host=…`), taking the host parameter or else its default socket.
 */
function parseUrl(url: string, redacted: string): { parsed: URL; emptyHost: boolean } {
  const scheme = url.indexOf("://");
  const at = url.lastIndexOf("@");
  try {
    return { parsed: new URL(url), emptyHost: false };
  } catch {
    // No cause: Node's "Invalid URL" error carries the whole input, password included.
  }
  if (at > scheme && /^(?:[/?:]|$)/.test(url.slice(at + 1))) {
    try {
      return { parsed: new URL(`${url.slice(0, at + 1)}${EMPTY_HOST}${url.slice(at + 1)}`), emptyHost: true };
    } catch {
      // Broken elsewhere too: said below.
    }
  }
  // A port after the user and password that is no port number is said as such. Without a user and
  // password, what follows the host's ":" may be a password whose "@host" is missing: not shown.
  const port = at > scheme ? portOf(url.slice(at + 1)) : undefined;
  if (port !== undefined && !isPortNumber(port)) {
    throw new LambicError("CONNECTION_FAILED", `The database URL ${redacted} is not a valid URL: its port "${port}" is not a port number (1–65535).`, { url: redacted });
  }
  throw new LambicError(
    "CONNECTION_FAILED",
    `The database URL is not a valid URL: ${redacted}. ` +
      `Expected postgres://user:password@host:5432/database (percent-encode special characters in the password).`,
    { url: redacted },
  );
}

/** What follows the ":" of `host:port` at the start of `text` (an IPv6 host in brackets), if any. */
/**
 * The URL a driver is given: the parameters lambic reads itself (see READ_PARAMETERS) taken out,
 * and libpq's host, port, user, password and dbname parameters moved into the URL's own parts.
 * What is left goes to the server as settings (postgres.js sends each as a startup parameter).
 */
function driverUrl(parsed: URL, parts: { host: string; port: number; user: string; password: string; database: string }): string {
  const query = parsed.searchParams;
  const complete = parsed.username !== "" && parsed.pathname.length > 1;
  if (complete && ![...query.keys()].some((name) => READ_PARAMETERS.has(name))) return parsed.href;
  const url = new URL(parsed.href);
  // A Unix socket's directory (host=/var/run/postgresql) goes percent-encoded, as libpq reads it too.
  if (query.has("host")) url.hostname = parts.host.includes(":") ? `[${parts.host}]` : encodeURIComponent(parts.host);
  if (query.has("port")) url.port = String(parts.port);
  url.username = encodeURIComponent(parts.user);
  url.password = encodeURIComponent(parts.password);
  url.pathname = `/${encodeURIComponent(parts.database)}`;
  for (const name of READ_PARAMETERS) url.searchParams.delete(name);
  return url.href;
}

/** The OS user's name, libpq's default user. */
function osUserName(redacted: string): string {
  try {
    return userInfo().username;
  } catch (error) {
    throw new LambicError(
      "CONNECTION_FAILED",
      `The database URL ${redacted} names no user, and this process's OS user has no name to use instead (${(error as Error).message}). Put the user in the URL: postgres://user:password@host/database.`,
      { url: redacted },
      { cause: error },
    );
  }
}

/** The PostgreSQL error fields of a postgres.js `PostgresError` or a pg/Neon `DatabaseError`. */
export function toDatabaseFailure(error: unknown): DatabaseFailure | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as Record<string, unknown>;
  // Both drivers put the SQLSTATE in `code`; node's own errors use codes like ECONNRESET,
  // so require the five-character SQLSTATE shape and the server's severity.
  if (typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.severity !== "string") return undefined;
  const failure: DatabaseFailure = { sqlstate: e.code, message: String(e.message ?? "") };
  if (typeof e.detail === "string") failure.detail = e.detail;
  if (typeof e.hint === "string") failure.hint = e.hint;
  if (e.position !== undefined && e.position !== null && e.position !== "") failure.position = Number(e.position);
  if (typeof e.where === "string") failure.where = e.where;
  return failure;
}

/** The code of the error a ReplyWatchdog fails the waiting statements with. */
const REPLY_TIMEOUT = "REPLY_TIMEOUT";

/** SQLSTATE class 08 (connection exception) and 57P01-57P03 (the server ended our session). */
const SESSION_GONE_SQLSTATE = /^(08|57P0[1-3])/;
/** Node socket codes and postgres.js's own codes for a connection that went away. */
const SESSION_GONE_CODES = new Set([
  "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "CONNECT_TIMEOUT",
  "ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED", REPLY_TIMEOUT,
]);

/** A failure to connect, in words: where we tried, what went wrong, what to do next. */
export function connectionFailed(target: DriverTarget, error: unknown, context: { serverRefusedTls?: boolean; webSocket?: boolean } = {}): LambicError {
  // A WebSocket's failure is an ErrorEvent around the socket's error (ECONNREFUSED, ENOTFOUND).
  const socketError = context.webSocket ? (error as { error?: unknown })?.error : undefined;
  if (socketError instanceof Error) error = socketError;
  // Neon's driver reaches the host's WebSocket proxy (wss://host/v2, port 443), not the URL's port,
  // unless the caller routes it elsewhere (neon.wsProxy).
  const neonDefault = context.webSocket === true && target.neon?.wsProxy === undefined;
  const endpoint = context.webSocket ? webSocketEndpoint(target) : undefined;
  const host = neonDefault
    ? `${target.host} over a WebSocket (${endpoint}, port 443: Neon's driver)`
    : endpoint ? `${target.host}:${target.port} through the WebSocket proxy ${endpoint}` : `${target.host}:${target.port}`;
  const where = `${host}, database "${target.database}", user "${target.user}"`;
  const failure = toDatabaseFailure(error);
  const code = (error as { code?: unknown })?.code;
  let reason: string;
  let next: string;
  const tlsCode = typeof code === "string" && TLS_VERIFY_CODES.has(code) ? code : undefined;
  const upgrade = context.webSocket ? refusedUpgrade(error) : undefined;
  if (upgrade !== undefined) {
    ({ reason, next } = upgradeRefusal(upgrade));
  } else if (context.serverRefusedTls) {
    reason = `the server does not accept TLS connections (it declined the SSL request), and sslmode=${target.tls.mode} asks for TLS`;
    next = "Turn ssl on in the server's configuration, or lower the URL's sslmode to prefer (TLS when the server offers it) or disable.";
  } else if (tlsCode !== undefined) {
    reason = `the server's TLS certificate failed verification (${tlsCode}: ${(error as Error).message})`;
    next = tlsCode === "ERR_TLS_CERT_ALTNAME_INVALID"
      ? `The certificate does not name the host "${target.host}": connect by a host name the certificate lists, or use sslmode=verify-ca to check only who signed it.`
      : `Name the authority that signed it with sslrootcert=FILE (a PEM file, such as your cloud provider's bundle), or use sslmode=require to encrypt without checking the certificate.`;
  } else if (isMissingPassword(error)) {
    reason = "authentication failed: the server asks for a password and the URL has no password";
    next = "Put it in the database URL (postgres://user:password@host/database, percent-encoded) or set PGPASSWORD.";
  } else if (refusedWithoutTls(error)) {
    reason = `the server refused a connection without TLS (${failure!.sqlstate}: ${failure!.message})`;
    // Neon's driver encrypts with the WebSocket (wss://) and takes no sslmode: asking for one changes nothing.
    next = context.webSocket
      ? "Neon's driver sends PostgreSQL's protocol unencrypted inside its WebSocket (wss:// is what encrypts it), so sslmode does not apply: let the WebSocket proxy's own connection to the server use TLS, or add a pg_hba.conf line that accepts the proxy's connections, or use the postgres driver (\"driver\": \"postgres\"), which takes sslmode=require."
      : "Use sslmode=require (or verify-full) in the database URL: the server accepts only encrypted connections from this client.";
  } else if (refusedOverTls(error)) {
    reason = `the server refused this client over TLS (${failure!.sqlstate}: ${failure!.message})`;
    next = `Its pg_hba.conf has no hostssl line (or a reject line) for it: add one, or lower the URL's sslmode=${target.tls.mode} to prefer, which then connects without TLS.`;
  } else if (failure?.sqlstate === "28P01" || failure?.sqlstate === "28000") {
    reason = `authentication failed (${failure.sqlstate}: ${failure.message})`;
    next = target.password === "" && !process.env.PGPASSWORD
      ? "The URL has no password: put it in the database URL (postgres://user:password@host/database, percent-encoded) or set PGPASSWORD."
      : "Check the user and password in the database URL (DATABASE_URL or lambic.config.json).";
  } else if (failure?.sqlstate === "3D000") {
    reason = `database "${target.database}" does not exist`;
    next = `Create it (CREATE DATABASE ${quoteIdentifier(target.database)}) or fix the database name in the URL.`;
  } else if (failure !== undefined && SETTING_SQLSTATES.has(failure.sqlstate) && target.serverSettings.length > 0) {
    reason = `the server refused a setting (${failure.sqlstate}: ${failure.message})`;
    next = `The URL's parameters ${target.serverSettings.join(", ")} go to the server as settings (as options=-c name=value would): fix or remove the one named. lambic itself reads ${[...READ_PARAMETERS].join(", ")}.`;
  } else if (code === "ECONNREFUSED") {
    reason = "the connection was refused";
    next = "Is the server running and listening on that host and port?";
  } else if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    reason = `the host name "${target.host}" could not be resolved`;
    next = "Check the host in the database URL.";
  } else if (code === "CONNECT_TIMEOUT" || code === "ETIMEDOUT" || /timeout/i.test(String((error as Error)?.message))) {
    reason = `no answer within ${target.connectTimeoutSeconds} s`;
    next = "Check the host and port (that PostgreSQL listens there, not another service), and that a firewall or security group lets this client through.";
  } else {
    reason = failure ? `${failure.sqlstate}: ${failure.message}` : String((error as Error)?.message ?? error);
    next = "Check that the server is running and the database URL is right.";
  }
  if (neonDefault && failure === undefined && !/\.neon\.tech$/i.test(target.host)) {
    next = `The driver is "neon", which connects to a Neon WebSocket proxy as *.neon.tech endpoints run; for a PostgreSQL server on ${target.host}:${target.port}, remove "driver": "neon" from lambic.config.json (or set "postgres"), so that postgres.js connects over TCP.`;
  }
  return new LambicError(
    "CONNECTION_FAILED",
    `Could not connect to ${where} (${target.redacted}): ${scrub(reason, target)}. ${next}`,
    { url: target.redacted, host: target.host, port: target.port, database: target.database, sqlstate: failure?.sqlstate },
    { cause: error },
  );
}

/** The URL Neon's driver opens its WebSocket on (neonConfig.wsProxy's, or its default host/v2). */
function webSocketEndpoint(target: DriverTarget): string {
  const proxy = target.neon?.wsProxy ?? ((host: string) => `${host}/v2`);
  const scheme = target.neon?.useSecureWebSocket === false ? "ws" : "wss";
  try {
    return `${scheme}://${typeof proxy === "function" ? proxy(target.host, target.port) : `${proxy}?address=${target.host}:${target.port}`}`;
  } catch {
    return `${scheme}://${target.host}/v2`;
  }
}

/**
 * The HTTP status a WebSocket upgrade was refused with: `ws` says "Unexpected server response:
 * 401"; Node's own WebSocket (undici, Node 22) does not give it (0).
 */
function refusedUpgrade(error: unknown): number | undefined {
  const message = String((error as Error)?.message ?? "");
  const status = /^Unexpected server response: (\d{3})$/.exec(message);
  if (status) return Number(status[1]);
  return /non-101 status code/.test(message) ? 0 : undefined;
}

/** What a refused WebSocket upgrade means, by its status: it comes from the HTTP side (a gateway, a proxy), before PostgreSQL is reached. */
function upgradeRefusal(status: number): { reason: string; next: string } {
  const reason = status === 0
    ? "the WebSocket connection failed before PostgreSQL was reached: it was refused, or its upgrade answered with an HTTP error (Node's WebSocket does not say which)"
    : `the WebSocket endpoint refused the upgrade with HTTP ${status}, before PostgreSQL was reached`;
  if (status === 401 || status === 403 || status === 407) {
    return {
      reason,
      next: "The database password is not checked there: an HTTP proxy, gateway or firewall between this client and the endpoint turned the request away. Check the endpoint's host in the database URL, and that such a proxy lets WebSocket connections to it through.",
    };
  }
  if (status === 404 || status === 400 || status === 426) {
    return {
      reason,
      next: "Nothing there serves Neon's WebSocket proxy: check the host in the database URL (a Neon endpoint such as ep-name-123456.region.aws.neon.tech).",
    };
  }
  if (status >= 500) {
    return {
      reason,
      next: "The endpoint's gateway could not reach its database (the endpoint may be starting, suspended or unavailable): run the command again in a moment, and check the project's status in the Neon console if it persists.",
    };
  }
  return { reason, next: "Check the host in the database URL, that the endpoint is up, and any HTTP proxy or firewall between this client and it." };
}

/**
 * How PostgreSQL's 28000 ends when pg_hba.conf has no line (or a reject line) for this client
 * over TLS ("SSL encryption"; "SSL on" before 14) or without it ("no encryption"; "SSL off").
 */
const HBA_REFUSED = { overTls: /SSL (encryption|on)\s*$/, withoutTls: /(no encryption|SSL off)\s*$/ } as const;

function refusedByHba(error: unknown, connection: keyof typeof HBA_REFUSED): boolean {
  const failure = toDatabaseFailure(error);
  return failure?.sqlstate === "28000" && HBA_REFUSED[connection].test(failure.message);
}

export const refusedOverTls = (error: unknown): boolean => refusedByHba(error, "overTls");
export const refusedWithoutTls = (error: unknown): boolean => refusedByHba(error, "withoutTls");

/** Node's codes for a server certificate that failed verification. */
const TLS_VERIFY_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_UNTRUSTED", "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE", "INVALID_CA", "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** A startup setting the server does not know (42704), takes no such value (22023), or lets no client set (42501, 55P02). */
const SETTING_SQLSTATES = new Set(["42704", "22023", "42501", "55P02"]);

/** What a driver is given for a password the URL does not have and the server asks for. */
export function missingPassword(): Error {
  return Object.assign(new Error("the server asks for a password and the URL has none"), { code: MISSING_PASSWORD });
}

const MISSING_PASSWORD = "LAMBIC_MISSING_PASSWORD";

function isMissingPassword(error: unknown): boolean {
  return (error as { code?: unknown })?.code === MISSING_PASSWORD;
}

/** The connection died under a statement: there is no session left to continue on. */
export function connectionLost(target: DriverTarget, error: unknown): LambicError {
  const failure = toDatabaseFailure(error);
  const reason = failure ? `${failure.sqlstate}: ${failure.message}` : String((error as Error)?.message ?? error);
  return new LambicError(
    "CONNECTION_FAILED",
    `The connection to ${target.host}:${target.port}/${target.database} was lost (${scrub(reason, target)}). ` +
      `An open transaction was rolled back by the server; run the command again.`,
    { url: target.redacted, host: target.host, port: target.port, database: target.database, sqlstate: failure?.sqlstate, reason: scrub(reason, target) },
    { cause: error },
  );
}

/** True for errors that mean the session is gone rather than that a statement failed. */
export function isConnectionError(error: unknown): boolean {
  const failure = toDatabaseFailure(error);
  // The server ends a session with a FATAL error. A class 08 code sent as ERROR leaves it going:
  // a Bind with fewer or more parameters than the statement uses is 08P01 at severity ERROR.
  // (postgres.js's severity is the unlocalized one; node-postgres's may be localized, and is then
  // taken as the end of the session, as before.)
  if (failure) return SESSION_GONE_SQLSTATE.test(failure.sqlstate) && (error as { severity?: unknown }).severity !== "ERROR";
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string" && SESSION_GONE_CODES.has(code)) return true;
  // pg (inside Neon's driver) reports a dropped socket only in words.
  return /connection terminated|not queryable|websocket/i.test(String(message));
}

/** Defence in depth: a driver message should never echo the password, but make sure. */
function scrub(text: string, target: DriverTarget): string {
  return target.password ? text.split(target.password).join("***") : text;
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function abbreviate(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

/**
 * The state of a driver's one server session. A lost session is never replaced behind the
 * runner's back (its transaction and locks would silently be gone): every later call fails.
 */
export class SessionState {
  private lostWith: unknown;
  private closed = false;

  constructor(private readonly target: DriverTarget) {}

  get lost(): boolean {
    return this.lostWith !== undefined;
  }

  get closing(): boolean {
    return this.closed;
  }

  /** The driver reported an error on the session. */
  markLost(error: unknown): void {
    this.lostWith ??= error;
  }

  /** The session ended; expected only after close(). */
  markEnded(reason: string): void {
    if (!this.closed) this.lostWith ??= new Error(reason);
  }

  /** Returns false when close() already ran. */
  markClosing(): boolean {
    if (this.closed) return false;
    this.closed = true;
    return true;
  }

  ensureOpen(): void {
    if (this.lostWith !== undefined) throw connectionLost(this.target, this.lostWith);
    if (this.closed) throw connectionLost(this.target, new Error("the connection was closed by close()"));
  }

  /** A connection-level failure marks the session lost and becomes CONNECTION_FAILED. */
  translate(error: unknown): unknown {
    if (!isConnectionError(error)) return error;
    this.lostWith ??= error;
    return connectionLost(this.target, error);
  }
}

/**
 * Bounds the wait for the server's replies (DriverTarget.statementTimeoutMs): PostgreSQL answers
 * a statement within statement_timeout, so while statements are outstanding, no reply for longer
 * (the first one's statement_timeout times the statements it holds, plus the connect timeout)
 * means that the network stalled or the server stopped answering. DriverTarget.replyDeadline, when
 * earlier, is the bound. The driver then learns it through `watch`, which rejects, and `onStall`,
 * which closes the connection.
 */
export class ReplyWatchdog {
  /**
   * The statement count of each statement sent and not answered, oldest first (replies come in
   * order), from `first` on: a reply moves `first` on rather than shifting the array, which moves
   * every later entry (a revision of 200,000 statements took seconds of shifting).
   */
  private outstanding: number[] = [];
  private first = 0;
  /** When the oldest outstanding statement's clock started: its sending on an idle session, or the last reply. */
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (epoch ms). */
  private firesAt = Infinity;
  private stalledWith: Error | undefined;
  private readonly waiting = new Set<(error: Error) => void>();

  constructor(private readonly target: DriverTarget, private readonly onStall: (error: Error) => void) {}

  private get off(): boolean {
    return !(this.target.statementTimeoutMs > 0) && this.target.replyDeadline === undefined;
  }

  /** A statement was sent: its clock runs from now if nothing was outstanding. */
  sent(statement: Statement): void {
    if (this.off) return;
    // A script's statements are each bounded by statement_timeout, and answered together. Text
    // without a ";" holds one statement at most: only a script is split.
    const text = statement.text;
    this.outstanding.push(statement.params?.length || !text.includes(";") ? 1 : Math.max(1, splitStatements(text).length));
    if (this.outstanding.length - this.first === 1) {
      this.since = Date.now();
      this.arm();
    }
  }

  /**
   * A statement's reply ended (or it failed): the clock starts again for the next one. The timer
   * is left as it is unless the next one is due sooner: it checks when it fires (one timer per
   * pipeline rather than one per reply, which cost ≈ 3 µs a reply).
   */
  replied(): void {
    if (this.off || this.outstanding.length === this.first) return;
    this.first++;
    if (this.outstanding.length === this.first) {
      this.outstanding.length = 0;
      this.first = 0;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.firesAt = Infinity;
      return;
    }
    if (this.first >= 4096 && this.first * 2 >= this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.first);
      this.first = 0;
    }
    this.since = Date.now();
    if (this.since + this.due().ms < this.firesAt) this.arm();
  }

  /** `work`, or the stall, whichever comes first. */
  watch<T>(work: Promise<T>): Promise<T> {
    if (this.off) return work;
    if (this.stalledWith) return Promise.reject(this.stalledWith);
    let listener: ((error: Error) => void) | undefined;
    const stalled = new Promise<never>((_, reject) => this.waiting.add((listener = reject)));
    return Promise.race([work, stalled]).finally(() => this.waiting.delete(listener!));
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.firesAt = this.since + this.due().ms;
    this.timer = setTimeout(() => this.check(), Math.max(0, this.firesAt - Date.now()));
    // A statement still outstanding when its caller has gone does not keep the process alive.
    this.timer.unref();
  }

  /** How long the oldest outstanding statement may go unanswered from `since`, and whether the run's deadline is what bounds it. */
  private due(): { ms: number; deadline: boolean } {
    const { statementTimeoutMs, connectTimeoutSeconds, replyDeadline } = this.target;
    const bound = statementTimeoutMs > 0 ? this.outstanding[this.first]! * statementTimeoutMs + connectTimeoutSeconds * 1000 : Infinity;
    const untilDeadline = replyDeadline === undefined ? Infinity : Math.max(0, replyDeadline - this.since);
    return { ms: Math.min(bound, untilDeadline), deadline: untilDeadline < bound };
  }

  private check(): void {
    this.timer = undefined;
    this.firesAt = Infinity;
    if (this.outstanding.length === this.first || this.stalledWith) return;
    const { ms, deadline } = this.due();
    if (Date.now() - this.since >= ms) this.stall(ms, deadline);
    else this.arm();
  }

  private stall(ms: number, deadline: boolean): void {
    const seconds = Math.round(ms / 100) / 10;
    const bound = deadline
      ? `no reply from the server by the deadline the run was given (the Lambda invocation's end, less half the margin kept to report), after ${seconds} s of waiting: the network stalled, or the run needs more time than the invocation has; lambic closed the connection`
      : `no reply from the server within ${seconds} s, longer than statement_timeout allows (statementTimeoutMs plus the connect timeout): the network stalled or the server stopped answering, and lambic closed the connection`;
    this.stalledWith = Object.assign(
      new Error(bound),
      { code: REPLY_TIMEOUT },
    );
    this.onStall(this.stalledWith);
    for (const reject of this.waiting) reject(this.stalledWith);
    this.waiting.clear();
  }
}
