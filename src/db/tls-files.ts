/**
 * postgres.js's `ssl` option from a URL's TLS parameters (see TlsRequest), with the PEM files it
 * names read and checked, so that a wrong path or a key where the certificate belongs is refused
 * naming the file, before anything connects.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
// Read synchronously (a few small files, once, before connecting): node:fs/promises would cost every
// connection ≈ 0.7 ms of loading Node's promise file API (and its readline) even with no file named.
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { LambicError } from "../errors.ts";
import type { DriverTarget } from "./connection.ts";

export type PostgresSsl = false | "prefer" | "require" | ConnectionOptions;

export async function postgresSsl(target: DriverTarget): Promise<PostgresSsl> {
  const { mode, rootCert, cert, key } = target.tls;
  // allow: plain first; the driver tries again with TLS when the server wants it (as libpq does).
  if (mode === "disable" || mode === "allow") return false;
  // (A client certificate comes only with require or stricter: readUrlParameters refuses it otherwise.)
  if (mode === "prefer") return "prefer";
  if (mode === "require" && rootCert === undefined && cert === undefined) return "require";
  const options: ConnectionOptions = { rejectUnauthorized: mode === "verify-ca" || mode === "verify-full", host: target.host };
  // verify-ca checks that a trusted authority signed the certificate, not which host it names.
  if (mode === "verify-ca") options.checkServerIdentity = () => undefined;
  // "system": Node's bundled authorities, the default.
  if (rootCert !== undefined && rootCert !== "system") options.ca = pemFile(target, "sslrootcert", rootCert, "certificate");
  if (cert !== undefined && key !== undefined) {
    options.cert = pemFile(target, "sslcert", cert, "certificate");
    options.key = pemFile(target, "sslkey", key, "key");
  }
  return options;
}

function pemFile(target: DriverTarget, parameter: string, path: string, holds: "certificate" | "key"): string {
  const refuse = (problem: string, next: string, cause?: unknown) =>
    new LambicError("CONNECTION_FAILED", `The database URL's ${parameter}=${path} ${problem}. ${next}`, { url: target.redacted, parameter, file: path }, cause === undefined ? undefined : { cause });
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw refuse(
      code === "ENOENT" ? "names a file that does not exist" : `could not be read (${code ?? String(error)})`,
      "Give the path of a PEM file (relative paths start from the current folder).",
      error,
    );
  }
  try {
    if (holds === "certificate") new X509Certificate(text);
    else createPrivateKey(text);
  } catch (error) {
    throw refuse(
      `does not hold a PEM ${holds === "certificate" ? "certificate" : "private key"} (${(error as Error).message})`,
      holds === "certificate" ? `It should start with "-----BEGIN CERTIFICATE-----".` : `It should hold the client certificate's unencrypted private key ("-----BEGIN PRIVATE KEY-----" or similar).`,
      error,
    );
  }
  return text;
}
