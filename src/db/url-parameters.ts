/**
 * The query parameters of a database URL, read as libpq reads them where lambic can honour them.
 * postgres.js would otherwise send every parameter it does not know to the server as a setting
 * (so `sslrootcert=/ca.pem` fails the connection with "unrecognized configuration parameter"),
 * take a few as its own pool options, and accept any sslmode, trying TLS for a misspelt one.
 * Pure: files named here are read by the caller.
 */
import { LambicError } from "../errors.ts";

/** libpq's sslmode values, weakest first. */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** How to speak TLS to the server (postgres.js; Neon's driver always uses a TLS WebSocket). */
export interface TlsRequest {
  readonly mode: SslMode;
  /** A PEM file of the certificate authorities to trust, or "system" (Node's bundled ones). */
  readonly rootCert?: string;
  /** A client certificate and its key (PEM files), for servers that ask for one. */
  readonly cert?: string;
  readonly key?: string;
  /** sslnegotiation=direct: TLS from the first byte, without PostgreSQL's SSLRequest (PostgreSQL 17+). */
  readonly direct: boolean;
}

export interface UrlParameters {
  /** Overrides of the URL's own parts (libpq lets host, port, user, password and dbname come as parameters). */
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  readonly tls: TlsRequest;
  readonly connectTimeoutSeconds?: number;
  /** The parameters left, which go to the server as settings (a startup parameter each). */
  readonly serverSettings: readonly string[];
}

/** Read here and removed from what a driver is given. */
export const READ_PARAMETERS = new Set([
  "host", "port", "user", "password", "dbname",
  "sslmode", "sslrootcert", "sslcert", "sslkey", "sslnegotiation",
  "connect_timeout", "target_session_attrs", "channel_binding", "client_encoding",
]);

/** postgres.js reads these from a URL as its own options: none is a server setting. */
const DRIVER_OPTIONS = new Set(["max", "idle_timeout", "max_lifetime", "max_pipeline", "backoff", "keep_alive", "prepare", "debug", "fetch_types", "publications"]);

/** libpq parameters neither driver implements. */
const UNSUPPORTED_LIBPQ = new Set([
  "hostaddr", "passfile", "service", "require_auth", "gssencmode", "gsslib", "gssdelegation", "krbsrvname", "requirepeer",
  "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
  "sslpassword", "sslcrl", "sslcrldir", "sslcompression", "sslsni", "sslcertmode", "sslkeylogfile",
  "ssl_min_protocol_version", "ssl_max_protocol_version", "replication", "load_balance_hosts",
]);

function urlError(redacted: string, problem: string, next: string, parameter: string): LambicError {
  return new LambicError("CONNECTION_FAILED", `The database URL ${redacted} ${problem}. ${next}`, { url: redacted, parameter });
}

/**
 * Reads the parameters of `query` (the parsed URL's). `redacted` is the URL as messages show it.
 * A parameter given twice, a value libpq would refuse, and a parameter no driver honours are
 * refused here, before anything connects.
 */
export function readUrlParameters(query: URLSearchParams, redacted: string): UrlParameters {
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (name === "") throw urlError(redacted, "has a parameter without a name (\"=value\" after ? or &)", "Write name=value, or remove it.", name);
    if (seen.has(name)) throw urlError(redacted, `gives the parameter ${name} twice`, "Keep one of them.", name);
    seen.add(name);
    if (name === "ssl") {
      throw urlError(
        redacted,
        `has ssl=${query.get(name)}, a node-postgres parameter lambic does not read`,
        `Use libpq's sslmode: sslmode=require for TLS, sslmode=verify-full for TLS with the server's certificate checked (sslrootcert=FILE names the authority that signed it).`,
        name,
      );
    }
    if (DRIVER_OPTIONS.has(name)) {
      throw urlError(redacted, `has ${name}=${query.get(name)}, a postgres.js pool option, not a server setting`, "lambic sets its one connection up itself: remove the parameter.", name);
    }
    if (UNSUPPORTED_LIBPQ.has(name)) {
      throw urlError(redacted, `has libpq's ${name} parameter, which lambic's drivers do not implement`, "Remove it (see the README's Drivers section for the parameters lambic reads).", name);
    }
  }
  const text = (name: string): string | undefined => {
    const value = query.get(name);
    if (value === null) return undefined;
    if (value === "") throw urlError(redacted, `has an empty ${name} parameter`, `Give it a value or remove it.`, name);
    return value;
  };

  const mode = text("sslmode");
  if (mode !== undefined && !(SSL_MODES as readonly string[]).includes(mode)) {
    throw urlError(redacted, `has sslmode=${mode}`, `sslmode is one of ${SSL_MODES.join(", ")} (as libpq reads it).`, "sslmode");
  }
  const rootCert = text("sslrootcert");
  // libpq: without sslmode it tries TLS and falls back to a plain connection (prefer);
  // sslrootcert=system asks for the host name to be checked against the system's authorities.
  let tlsMode: SslMode = (mode as SslMode | undefined) ?? (rootCert === "system" ? "verify-full" : "prefer");
  if (rootCert === "system" && tlsMode !== "verify-full" && tlsMode !== "disable") {
    throw urlError(redacted, `has sslmode=${tlsMode} with sslrootcert=system`, `A weak sslmode cannot be used with the system's authorities (libpq refuses it too): use sslmode=verify-full.`, "sslmode");
  }
  // libpq: require with a root certificate checks the chain as verify-ca does.
  if (tlsMode === "require" && rootCert !== undefined) tlsMode = "verify-ca";
  const cert = text("sslcert");
  const key = text("sslkey");
  if ((cert === undefined) !== (key === undefined)) {
    const [given, missing] = cert === undefined ? ["sslkey", "sslcert"] : ["sslcert", "sslkey"];
    throw urlError(redacted, `has ${given} without ${missing}`, `A client certificate needs both: sslcert=FILE (the certificate) and sslkey=FILE (its private key).`, missing);
  }
  if (cert !== undefined && (tlsMode === "disable" || tlsMode === "allow" || tlsMode === "prefer")) {
    throw urlError(redacted, `has a client certificate (sslcert) with sslmode=${tlsMode}`, `Use sslmode=require or stricter: lambic sends a client certificate only over a connection that must be TLS.`, "sslmode");
  }
  const negotiation = text("sslnegotiation");
  if (negotiation !== undefined && negotiation !== "postgres" && negotiation !== "direct") {
    throw urlError(redacted, `has sslnegotiation=${negotiation}`, `sslnegotiation is postgres (the default) or direct.`, "sslnegotiation");
  }
  const direct = negotiation === "direct";
  if (direct && !["require", "verify-ca", "verify-full"].includes(tlsMode)) {
    throw urlError(redacted, `has sslnegotiation=direct with sslmode=${tlsMode}`, `Direct TLS cannot fall back to a plain connection (libpq refuses it too): use sslmode=require or stricter.`, "sslmode");
  }

  const timeout = text("connect_timeout");
  let connectTimeoutSeconds: number | undefined;
  if (timeout !== undefined) {
    connectTimeoutSeconds = Number(timeout);
    if (!/^\d+$/.test(timeout) || connectTimeoutSeconds < 1 || connectTimeoutSeconds > 3600) {
      throw urlError(redacted, `has connect_timeout=${timeout}`, `connect_timeout is a whole number of seconds from 1 to 3600 (lambic always bounds the wait, so 0 for "forever" is not taken).`, "connect_timeout");
    }
  }

  const attributes = text("target_session_attrs");
  if (attributes !== undefined) {
    if (attributes === "read-only" || attributes === "standby") {
      throw urlError(redacted, `has target_session_attrs=${attributes}`, `Migrations change the database, so they run on a server that accepts writes: remove the parameter or use read-write.`, "target_session_attrs");
    }
    if (!["any", "read-write", "primary", "prefer-standby"].includes(attributes)) {
      throw urlError(redacted, `has target_session_attrs=${attributes}`, `target_session_attrs is one of any, read-write, primary, prefer-standby (read-only and standby cannot run migrations).`, "target_session_attrs");
    }
  }

  const encoding = text("client_encoding");
  if (encoding !== undefined && !/^(utf-?8|unicode)$/i.test(encoding)) {
    throw urlError(
      redacted,
      `has client_encoding=${encoding}`,
      `lambic's drivers read and write UTF-8, and another client encoding would garble every non-ASCII character in both directions: remove the parameter.`,
      "client_encoding",
    );
  }

  const portText = text("port");
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw urlError(redacted, `has port=${portText}`, "The port is a number from 1 to 65535.", "port");
  }

  return {
    host: text("host"),
    port,
    user: text("user"),
    password: query.get("password") ?? undefined,
    database: text("dbname"),
    tls: { mode: tlsMode, direct, ...(rootCert !== undefined && { rootCert }), ...(cert !== undefined && { cert, key }) },
    connectTimeoutSeconds,
    serverSettings: [...seen].filter((name) => !READ_PARAMETERS.has(name)),
  };
}

/**
 * A host that hands each transaction to any server session, where session-level advisory locks
 * and SETs do not hold: Neon's "-pooler" endpoints and Supabase's poolers on port 6543 (transaction
 * mode; 5432 is session mode). Host names are case-insensitive.
 */
export function isTransactionPooler(host: string, port: number): boolean {
  const name = host.toLowerCase();
  return name.includes("-pooler") || (port === 6543 && /(^|\.)supabase\.(com|co)$/.test(name));
}
