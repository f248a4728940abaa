/**
 * Where the handler gets revisions: the bundle the event names (or the pointer's), from module
 * scope on a warm invocation, else /tmp, else S3 — checked against its sha256 before import in
 * every case. The S3 client is made once per execution environment, on first use.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { bundleCacheDir, importBundle, readCachedBundle, type OpenedBundle } from "../src/bundle/import-bundle.ts";
import { bundlePrefix, createS3Client, downloadBundle, getObject, putObject, readPointer, s3SettingsFromEnv, type BundleLocation } from "../src/bundle/s3-bundles.ts";
import { LambicError } from "../src/errors.ts";

export interface BundleLoad {
  readonly bundle: OpenedBundle;
  /** Where the bytes came from on this invocation. */
  readonly from: "memory" | "tmp" | "s3";
  /** S3 requests made for it (0 on a warm hit with a sha256 in the event). */
  readonly s3Requests: number;
}

const opened = new Map<string, Promise<OpenedBundle>>();
let client: Promise<S3Client> | undefined;

export function s3Client(env: Record<string, string | undefined>): Promise<S3Client> {
  client ??= createS3Client(s3SettingsFromEnv(env)).catch((error: unknown) => {
    client = undefined;
    throw error;
  });
  return client;
}

export function bundleLocation(env: Record<string, string | undefined>, database: string): BundleLocation {
  const bucket = env.LAMBIC_BUCKET;
  if (!bucket) {
    throw new LambicError("CONFIG_INVALID", `LAMBIC_BUCKET is not set: the function does not know where the revision bundles are. Set it to the bucket lambic publish writes to.`, { variable: "LAMBIC_BUCKET" });
  }
  return { bucket, prefix: bundlePrefix(env.LAMBIC_PREFIX), database };
}

export async function loadBundle(env: Record<string, string | undefined>, location: BundleLocation, sha256: string | undefined): Promise<BundleLoad> {
  let s3Requests = 0;
  const fromPointer = sha256 === undefined;
  if (sha256 === undefined) {
    // The pointer can move between invocations, so it is read every time; the bundle it names
    // is still served from the caches.
    s3Requests++;
    sha256 = (await readPointer(await s3Client(env), location)).sha256;
  }
  const key = `${location.database}:${sha256}`;
  const cached = opened.get(key);
  if (cached) return { bundle: await cached, from: "memory", s3Requests };

  const cacheDir = bundleCacheDir(env);
  const onDisk = readCachedBundle(sha256, cacheDir);
  let from: BundleLoad["from"] = "tmp";
  const load = (async () => {
    let bytes: Uint8Array | undefined = onDisk;
    if (!bytes) {
      from = "s3";
      s3Requests++;
      bytes = await downloadBundle(await s3Client(env), location, sha256, { fromPointer });
    }
    return importBundle(bytes, sha256, location.database, cacheDir);
  })();
  opened.set(key, load);
  try {
    return { bundle: await load, from, s3Requests };
  } catch (error) {
    opened.delete(key);
    throw error;
  }
}

/** `abortSignal`: cancels the write (a fallback's, when the invocation's time runs out). */
export async function writeScript(env: Record<string, string | undefined>, bucket: string, key: string, script: string, abortSignal?: AbortSignal): Promise<void> {
  await putObject(await s3Client(env), bucket, key, Buffer.from(script, "utf8"), "application/sql", undefined, abortSignal);
}

/** A tenant report too large for Lambda's response (handler/tenant-report.ts), as JSON. */
export async function writeReport(env: Record<string, string | undefined>, bucket: string, key: string, json: Uint8Array, abortSignal?: AbortSignal): Promise<void> {
  await putObject(await s3Client(env), bucket, key, json, "application/json", undefined, abortSignal);
}

/** A report a batch invocation wrote with writeReport, as text. */
export async function readReport(env: Record<string, string | undefined>, bucket: string, key: string): Promise<string> {
  return Buffer.from(await getObject(await s3Client(env), bucket, key)).toString("utf8");
}
