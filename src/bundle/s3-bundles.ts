/**
 * Revision bundles in S3:
 *   <prefix>/<db>/<sha256>/revisions.mjs   the module, content-addressed (never rewritten)
 *   <prefix>/<db>/<sha256>/manifest.json
 *   <prefix>/<db>/current.json             the pointer: { "sha256": ..., ... }
 *   <prefix>/<db>/sql/<from>__<to>__<request id>.sql   offline scripts (the `sql` command, fallbacks)
 *   <prefix>/<db>/reports/<command>__<request id>.json tenant reports too large for Lambda's response
 *
 * `@aws-sdk/client-s3` is imported only when a client is made, so commands that never touch S3
 * do not pay for loading it.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { awsRequestHandler, regionFromSdkChain } from "../aws-requests.ts";
import { LambicError, withoutFullStop } from "../errors.ts";
import { BUNDLE_MANIFEST, BUNDLE_MODULE, type BundleManifest } from "./bundle-format.ts";
import { sha256Hex } from "./import-bundle.ts";

export interface S3Settings {
  readonly region?: string;
  /** An S3-compatible server (tests: s3rver). Default: AWS. */
  readonly endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which servers without DNS buckets need. */
  readonly forcePathStyle?: boolean;
  /**
   * "WHEN_REQUIRED" turns off the SDK's default flexible checksums. Servers that do not speak
   * aws-chunked uploads (s3rver) store the chunk framing inside the object otherwise.
   */
  readonly checksums?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /** Connection and answer timeouts (see awsRequestHandler). */
  readonly requestHandler?: ReturnType<typeof awsRequestHandler>;
}

/**
 * S3 settings from the environment: LAMBIC_S3_ENDPOINT, LAMBIC_S3_FORCE_PATH_STYLE=true,
 * LAMBIC_S3_CHECKSUMS=WHEN_REQUIRED (and AWS_REGION). Unset, the SDK's defaults apply.
 */
export function s3SettingsFromEnv(env: Record<string, string | undefined>): S3Settings {
  const checksums = env.LAMBIC_S3_CHECKSUMS;
  if (checksums !== undefined && checksums !== "" && checksums !== "WHEN_REQUIRED" && checksums !== "WHEN_SUPPORTED") {
    throw new LambicError("CONFIG_INVALID", `LAMBIC_S3_CHECKSUMS is "${checksums}"; expected WHEN_REQUIRED or WHEN_SUPPORTED (or unset).`, { variable: "LAMBIC_S3_CHECKSUMS" });
  }
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    endpoint: env.LAMBIC_S3_ENDPOINT || undefined,
    forcePathStyle: /^(1|true|yes)$/i.test(env.LAMBIC_S3_FORCE_PATH_STYLE ?? ""),
    checksums: (checksums || undefined) as S3Settings["checksums"],
    requestHandler: awsRequestHandler(env),
  };
}

export async function createS3Client(settings: S3Settings): Promise<S3Client> {
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    // Without AWS_REGION (lambic publish on a laptop), the SDK's own chain: the profile's region
    // in ~/.aws/config, as the aws CLI reads it; us-east-1 only when there is none. A bucket in
    // another region is followed there rather than failing with PermanentRedirect.
    region: settings.region ?? (() => regionFromSdkChain(S3Client)),
    followRegionRedirects: true,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.forcePathStyle ? { forcePathStyle: true } : {}),
    ...(settings.checksums ? { requestChecksumCalculation: settings.checksums, responseChecksumValidation: settings.checksums } : {}),
    requestHandler: settings.requestHandler ?? awsRequestHandler({}),
  });
}

export interface BundleLocation {
  readonly bucket: string;
  /** Without slashes at either end, e.g. "lambic". */
  readonly prefix: string;
  readonly database: string;
}

export interface BundlePointer {
  readonly sha256: string;
  readonly database: string;
  readonly publishedAt: string;
  readonly manifest: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The key prefix from --prefix or LAMBIC_PREFIX, without surrounding slashes. Empty counts as
 * unset (as an empty numeric variable does): a blank CI variable must not make publish write
 * where the function, which infra/ always gives a prefix, does not look.
 */
export function bundlePrefix(value: string | undefined): string {
  return value?.replace(/^\/+|\/+$/g, "") || "lambic";
}

function base(location: BundleLocation): string {
  return location.prefix ? `${location.prefix}/${location.database}` : location.database;
}

export function bundleKey(location: BundleLocation, sha256: string, file: string = BUNDLE_MODULE): string {
  return `${base(location)}/${sha256}/${file}`;
}

export function pointerKey(location: BundleLocation): string {
  return `${base(location)}/current.json`;
}

/** `<prefix>/<db>/sql/<from>__<to>__<request id>.sql`; several heads are joined with "+", none is "base". */
export function sqlKey(location: BundleLocation, from: readonly string[], to: readonly string[], requestId: string): string {
  const heads = (rows: readonly string[]) => (rows.length === 0 ? "base" : [...rows].sort().join("+"));
  return `${base(location)}/sql/${heads(from)}__${heads(to)}__${requestId.replace(/[^A-Za-z0-9._-]/g, "_")}.sql`;
}

/**
 * `<prefix>/<db>/reports/<command>__<request id>.json`: the full report of a tenant run or
 * fan-out whose answer would not fit in Lambda's response. `command` is e.g. "upgrade" or
 * "fanout-upgrade".
 */
export function reportKey(location: BundleLocation, command: string, requestId: string): string {
  const safe = (part: string) => part.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${base(location)}/reports/${safe(command)}__${safe(requestId)}.json`;
}

/** The folder reportKey writes under, with its trailing slash. */
export function reportsPrefix(location: BundleLocation): string {
  return `${base(location)}/reports/`;
}

export interface PublishResult {
  readonly database: string;
  readonly sha256: string;
  readonly bucket: string;
  readonly key: string;
  readonly manifestKey: string;
  readonly pointerKey: string;
  /** False when the content-addressed objects were already there (a re-publish). */
  readonly uploaded: boolean;
  readonly previous: string | null;
}

/**
 * Uploads a built bundle content-addressed, then moves the pointer. The objects are written
 * before the pointer, so a reader that follows the pointer always finds them. Publishing the
 * same bundle again uploads nothing and leaves the pointer on it.
 */
export async function publishBundle(client: S3Client, location: Omit<BundleLocation, "database">, bundle: { manifest: BundleManifest; code: Uint8Array }, now: Date = new Date()): Promise<PublishResult> {
  const { manifest, code } = bundle;
  if (sha256Hex(code) !== manifest.sha256) {
    throw new LambicError("BUNDLE_INTEGRITY", `The bundle of database "${manifest.database}" does not hash to its manifest's sha256 ${manifest.sha256}; build it again.`, { database: manifest.database });
  }
  const at: BundleLocation = { ...location, database: manifest.database };
  // Whoever publishes needs more than the function's read access: say what, for this folder.
  const advice = `Check the bucket name and the region, and that these credentials may s3:GetObject and s3:PutObject on s3://${at.bucket}/${base(at)}/*.`;
  const key = bundleKey(at, manifest.sha256);
  const manifestKey = bundleKey(at, manifest.sha256, BUNDLE_MANIFEST);

  // Content-addressed: an object under this key with the right hash is this bundle.
  const existing = await getObject(client, at.bucket, key, undefined, advice).catch((error: unknown) => {
    if (isLambicErrorCode(error, "BUNDLE_NOT_FOUND")) return undefined;
    throw error;
  });
  const uploaded = existing === undefined || sha256Hex(existing) !== manifest.sha256;
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  if (uploaded) {
    await putObject(client, at.bucket, key, code, "text/javascript", advice);
    await putObject(client, at.bucket, manifestKey, manifestBytes, "application/json", advice);
  } else if (!(await objectExists(client, at.bucket, manifestKey, advice))) {
    // The module is there but its manifest is not (a publish stopped between the two writes, or
    // it was deleted): write it, since the pointer is about to name it.
    await putObject(client, at.bucket, manifestKey, manifestBytes, "application/json", advice);
  }
  const previous = await readPointer(client, at).catch(() => undefined);
  const pointer: BundlePointer = { sha256: manifest.sha256, database: manifest.database, publishedAt: now.toISOString(), manifest: manifestKey };
  await putObject(client, at.bucket, pointerKey(at), Buffer.from(`${JSON.stringify(pointer, null, 2)}\n`), "application/json", advice);
  return { database: manifest.database, sha256: manifest.sha256, bucket: at.bucket, key, manifestKey, pointerKey: pointerKey(at), uploaded, previous: previous?.sha256 ?? null };
}

async function objectExists(client: S3Client, bucket: string, key: string, advice: string): Promise<boolean> {
  return getObject(client, bucket, key, undefined, advice).then(
    () => true,
    (error: unknown) => {
      if (isLambicErrorCode(error, "BUNDLE_NOT_FOUND")) return false;
      throw error;
    },
  );
}

/** The sha256 the pointer names. */
export async function readPointer(client: S3Client, location: BundleLocation): Promise<BundlePointer> {
  const key = pointerKey(location);
  const bytes = await getObject(client, location.bucket, key, `No bundle has been published for database "${location.database}" (s3://${location.bucket}/${key} does not exist). Run \`lambic publish --name ${location.database} --bucket ${location.bucket}\` first, or name a bundle sha256 in the event.`);
  let pointer: Partial<BundlePointer> | null;
  try {
    pointer = JSON.parse(Buffer.from(bytes).toString("utf8")) as Partial<BundlePointer> | null;
  } catch (error) {
    throw new LambicError("BUNDLE_INTEGRITY", `s3://${location.bucket}/${key} is not JSON. Publish again to rewrite it.`, { bucket: location.bucket, key }, { cause: error });
  }
  const sha256 = typeof pointer === "object" && pointer !== null ? pointer.sha256 : undefined;
  if (typeof sha256 !== "string" || !SHA256.test(sha256)) {
    throw new LambicError("BUNDLE_INTEGRITY", `s3://${location.bucket}/${key} names no valid sha256 (${JSON.stringify(sha256) ?? "no \"sha256\" field"}). Publish again to rewrite it.`, { bucket: location.bucket, key });
  }
  return pointer as BundlePointer;
}

/**
 * Downloads `<prefix>/<db>/<sha256>/revisions.mjs` and checks its sha256 before returning it:
 * a bundle that does not hash to its name is BUNDLE_INTEGRITY and is never imported.
 */
export async function downloadBundle(client: S3Client, location: BundleLocation, sha256: string, options: { fromPointer?: boolean } = {}): Promise<Uint8Array> {
  const key = bundleKey(location, sha256);
  const bytes = await getObject(
    client,
    location.bucket,
    key,
    options.fromPointer
      ? `Bundle ${sha256}, which s3://${location.bucket}/${pointerKey(location)} names as the current one, is not in S3 (s3://${location.bucket}/${key}): it was deleted, or the pointer was written by hand. Publish again (lambic publish --name ${location.database} rewrites both), or name an existing bundle's sha256 in the event.`
      : `Bundle ${sha256} of database "${location.database}" is not in S3 (s3://${location.bucket}/${key}). Check the sha256 (lambic publish prints it) and that it was published for this database and prefix.`,
  );
  const actual = sha256Hex(bytes);
  if (actual !== sha256) {
    throw new LambicError(
      "BUNDLE_INTEGRITY",
      `s3://${location.bucket}/${key} has sha256 ${actual}, not ${sha256}: the object was changed or corrupted after it was published. It was not imported. Publish the bundle again (lambic publish) and check who can write to the bucket.`,
      { bucket: location.bucket, key, expected: sha256, actual },
    );
  }
  return bytes;
}

/**
 * `advice`: the next step when the write fails (default: the function's permissions).
 * `abortSignal` cancels the request and its retries (the caller says why).
 */
export async function putObject(client: S3Client, bucket: string, key: string, body: Uint8Array, contentType: string, advice?: string, abortSignal?: AbortSignal): Promise<void> {
  const { PutObjectCommand } = await import("@aws-sdk/client-s3");
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.byteLength }), { abortSignal });
  } catch (error) {
    throw awsFailed(`Writing s3://${bucket}/${key}`, error, { bucket, key }, advice);
  }
}

/** The object's bytes; a missing object (or bucket) is BUNDLE_NOT_FOUND with `missing` as its message. */
export async function getObject(client: S3Client, bucket: string, key: string, missing?: string, advice?: string): Promise<Uint8Array> {
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await response.Body!.transformToByteArray();
  } catch (error) {
    const name = (error as { name?: string })?.name;
    const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
    // Without s3:ListBucket (the construct grants none) S3 answers a missing key with 403.
    if (name === "NoSuchKey" || name === "NoSuchBucket" || name === "NotFound" || status === 404 || (status === 403 && name === "AccessDenied")) {
      // A 403 is also what a denied read looks like: say so, or a permission problem reads as a missing bundle.
      const denied = status === 403 ? ` S3 answered 403 AccessDenied, which is also how it refuses a read: if s3://${bucket}/${key} exists, check the function's s3:GetObject on it (and kms:Decrypt on its key).` : "";
      // Not the object but the whole bucket: publishing into it, or naming another bundle, cannot help.
      const what =
        name === "NoSuchBucket"
          ? `The bucket "${bucket}" does not exist (S3 answered NoSuchBucket reading s3://${bucket}/${key}). Check the bucket's name (the function's LAMBIC_BUCKET, publish's --bucket) and its region.`
          : (missing ?? `s3://${bucket}/${key} does not exist (${name}).`);
      throw new LambicError("BUNDLE_NOT_FOUND", `${what}${denied}`, { bucket, key, s3Error: name }, { cause: error });
    }
    throw awsFailed(`Reading s3://${bucket}/${key}`, error, { bucket, key }, advice);
  }
}

/** The next step when the SDK found no credentials at all (a machine without an AWS profile or keys). */
export function missingCredentialsStep(error: unknown): string | undefined {
  return (error as { name?: string })?.name === "CredentialsProviderError"
    ? "No AWS credentials were found: set AWS_PROFILE (run aws sso login first for an SSO profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    : undefined;
}

function awsFailed(what: string, error: unknown, details: Record<string, unknown>, advice?: string): LambicError {
  const name = (error as { name?: string })?.name ?? "Error";
  // S3's messages are sentences ("... does not exist in our records."): one full stop, not two.
  const message = withoutFullStop((error as Error)?.message ?? String(error));
  return new LambicError(
    "AWS_FAILED",
    `${what} failed: ${name}: ${message}. ${missingCredentialsStep(error) ?? advice ?? "Check the bucket name, the region and the function's permissions (s3:GetObject on <prefix>/*, s3:PutObject on <prefix>/<database>/sql/* and <prefix>/<database>/reports/*, as infra/ grants)."}`,
    { ...details, awsError: name },
    { cause: error },
  );
}

function isLambicErrorCode(error: unknown, code: string): boolean {
  return error instanceof LambicError && error.code === code;
}

export type { BundleManifest };
