/**
 * The per-tenant report of a tenant run or a fan-out, and how it travels inside a function
 * error. Pure: shared by the handler, the fan-out coordinator and `lambic invoke`.
 *
 * Lambda keeps only errorType and errorMessage of a thrown error, so when some tenants failed
 * the whole report rides at the end of the message, after REPORT_MARKER, as one JSON line: the
 * coordinator and the CLI read every tenant's outcome back from it. The log does not repeat it
 * (the "failed" line drops it): each tenant has its own "tenant" line there.
 *
 * Lambda also refuses a synchronous answer over 6 MB: the invocation fails with a payload-size
 * error and whatever the run did goes unreported. A report that would not fit in the response
 * limit is written to S3 whole (the caller's ReportStore) and the answer carries a compact
 * report instead: the counts, the batches, the first failed tenants, and where the full one is.
 */
import { ENV_NUMBERS, envNumber } from "../src/env-number.ts";
import { LambicError } from "../src/errors.ts";

export interface TenantStep {
  readonly revision: string;
  readonly direction: string;
  readonly ms: number;
}

export type TenantResult =
  | { readonly tenant: string; readonly ok: true; readonly from: readonly string[]; readonly to: readonly string[]; readonly steps: readonly TenantStep[]; readonly changed?: readonly string[]; readonly ms: number }
  | { readonly tenant: string; readonly ok: true; readonly versions: readonly string[]; readonly heads: readonly string[]; readonly ms: number }
  | { readonly tenant: string; readonly ok: true; readonly versions: readonly string[]; readonly heads: readonly string[]; readonly upToDate: boolean; readonly pending: readonly string[]; readonly changed: readonly string[]; readonly ms: number }
  | { readonly tenant: string; readonly ok: false; readonly error: { readonly code: string; readonly message: string }; readonly ms?: number };

export interface TenantReport {
  readonly command: string;
  readonly database: string;
  readonly bundleSha256: string;
  readonly tenants: readonly TenantResult[];
  readonly succeeded: number;
  readonly failed: number;
}

export const REPORT_MARKER = "\nreport: ";

/** Failed tenants named in a message: the first few in full, then a count. */
const NAMED_FAILURES = 5;

export function tenantsFailedError(report: TenantReport): LambicError {
  const failures = failedResults(report.tenants);
  return new LambicError("TENANTS_FAILED", `${failureSummary(report)}${REPORT_MARKER}${JSON.stringify(report)}`, { succeeded: report.succeeded, failed: report.failed, failedTenants: failures.map((t) => t.tenant) });
}

/**
 * What a person reads first in a TENANTS_FAILED message: bounded, whatever the tenant count.
 * `brief` names one failure, shorter, for a response limit that leaves little room.
 */
function failureSummary(report: TenantReport, brief = false): string {
  const failures = failedResults(report.tenants);
  const [count, clipAt] = brief ? [1, 120] : [NAMED_FAILURES, 300];
  const named = failures.slice(0, count).map((t) => `${t.tenant} (${t.error.code}: ${t.error.message.slice(0, clipAt)})`);
  const more = failures.length > count ? `, and ${failures.length - count} more` : "";
  const retry = JSON.stringify(failures.slice(0, 20).map((t) => t.tenant));
  return (
    `${report.failed} of ${report.tenants.length} tenant(s) of database "${report.database}" failed ${report.command}: ${named.join("; ")}${more}. ` +
    `Each failed tenant was rolled back alone; the ${report.succeeded} others are committed. Fix the failed tenants and run again (only they: "tenants": ${retry}${failures.length > 20 ? " …" : ""}).`
  );
}

/**
 * The failed tenants, those that failed on their own first: an INVOKE_FAILED is their batch's
 * failure (or a lost outcome), the same for many tenants, so it is named after the others.
 */
function failedResults(tenants: readonly TenantResult[]): Extract<TenantResult, { ok: false }>[] {
  const failures = tenants.filter((t): t is Extract<TenantResult, { ok: false }> => !t.ok);
  return [...failures.filter((t) => t.error.code !== "INVOKE_FAILED"), ...failures.filter((t) => t.error.code === "INVOKE_FAILED")];
}

/** Lambda refuses a synchronous response larger than this (6 MB). */
export const LAMBDA_RESPONSE_MAX_BYTES = ENV_NUMBERS.LAMBIC_RESPONSE_LIMIT_BYTES.max;
/** The default response limit: a margin under Lambda's for the runtime's envelope. */
export const DEFAULT_RESPONSE_LIMIT_BYTES = ENV_NUMBERS.LAMBIC_RESPONSE_LIMIT_BYTES.unset;
/** Below this a compact report itself may not fit. */
export const MIN_RESPONSE_LIMIT_BYTES = ENV_NUMBERS.LAMBIC_RESPONSE_LIMIT_BYTES.min;
/** A compact report is for reading: at most this large, whatever the limit. */
const COMPACT_REPORT_MAX_BYTES = 64 * 1024;
/** Room a compact report needs for its counts and the report's key, escaped in a message. */
const MIN_COMPACT_BYTES = 1024;
/** Failed tenants a compact report lists with their error; the rest are counted. */
const LISTED_FAILURES = 100;
/** What the handler adds to a result after it is fitted (durationMs). */
const RESULT_ENVELOPE_BYTES = 64;
/** Lambda's error envelope around the message: errorType, the trace's frames, the JSON syntax. */
const ERROR_ENVELOPE_BYTES = 2048;

/**
 * LAMBIC_RESPONSE_LIMIT_BYTES, else DEFAULT_RESPONSE_LIMIT_BYTES: the largest answer a tenant run
 * or fan-out gives before its report goes to S3. Lower it for a caller with a smaller limit
 * (a Step Functions state takes 256 KB).
 */
export function responseLimitFromEnv(env: Record<string, string | undefined>): number {
  return envNumber(env, "LAMBIC_RESPONSE_LIMIT_BYTES");
}

/** Where a report too large for the response is written, and how. */
export interface ReportStore {
  /** The largest answer the invocation may give, in bytes of JSON. */
  readonly limitBytes: number;
  readonly bucket: string;
  readonly key: string;
  /** Writes the full report's JSON to bucket/key; throws when it cannot. */
  readonly write: (json: Uint8Array) => Promise<void>;
}

export interface StoredReport {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
}

export type FailedTenant = { readonly tenant: string; readonly error: { readonly code: string; readonly message: string } };

/** A report without `tenants`: what the answer carries when the full report is in S3. */
export type CompactReport = Record<string, unknown> & {
  readonly command: string;
  readonly database: string;
  readonly bundleSha256: string;
  /** How many tenants the run had (`tenants` is not here). */
  readonly count: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failedTenants: readonly FailedTenant[];
  /** Failed tenants not listed in failedTenants. */
  readonly failedTenantsOmitted?: number;
  /** Batch summaries left out (the successful ones first). */
  readonly batchesOmitted?: number;
  /** Where the full report is; null when it could not be written (reportError says why). */
  readonly report: StoredReport | null;
  readonly reportError?: string;
};

/**
 * A successful tenant run's answer: the result itself when its JSON fits in the limit, else a
 * compact report, the full one written to S3.
 */
export async function fitResult<R extends TenantReport & { readonly ok: true }>(result: R, store: ReportStore): Promise<R | CompactReport> {
  const json = JSON.stringify(result);
  if (Buffer.byteLength(json) + RESULT_ENVELOPE_BYTES <= store.limitBytes) return result;
  const stored = await storeFull(json, store);
  return compactReport(result, stored, Math.min(COMPACT_REPORT_MAX_BYTES, store.limitBytes - RESULT_ENVELOPE_BYTES));
}

/**
 * The TENANTS_FAILED error of a run where some tenants failed: the whole report embedded when
 * the error fits in the limit, else the full report in S3 and a compact one embedded.
 */
export async function fitFailure(report: TenantReport, store: ReportStore): Promise<LambicError> {
  const whole = tenantsFailedError(report);
  if (errorResponseBytes(whole.message) <= store.limitBytes) return whole;
  const stored = await storeFull(JSON.stringify({ ...report, ok: false }), store);
  const where = (brief: boolean) =>
    stored.report
      ? ` Every tenant's outcome is in s3://${stored.report.bucket}/${stored.report.key} (${stored.report.bytes} bytes of JSON; the ${store.limitBytes}-byte response could not carry it).`
      : ` ${brief ? clipText(stored.reportError ?? "", 400) : stored.reportError}`;
  // The message appears twice in Lambda's error response (errorMessage and the trace's first
  // line), JSON-escaped both times. A small limit gets the brief summary, leaving the compact
  // report room for at least its counts and the report's key.
  const budgetAfter = (summary: string) => Math.min(COMPACT_REPORT_MAX_BYTES, Math.floor((store.limitBytes - ERROR_ENVELOPE_BYTES) / 2) - jsonBytes(`${summary}${REPORT_MARKER}`));
  let summary = `${failureSummary(report)}${where(false)}`;
  if (budgetAfter(summary) < MIN_COMPACT_BYTES) summary = `${failureSummary(report, true)}${where(true)}`;
  const compact = compactReport(report, stored, budgetAfter(summary), jsonBytes);
  return new LambicError("TENANTS_FAILED", `${summary}${REPORT_MARKER}${JSON.stringify(compact)}`, {
    succeeded: report.succeeded,
    failed: report.failed,
    failedTenants: compact.failedTenants.map((t) => t.tenant),
    ...(compact.failedTenantsOmitted ? { failedTenantsOmitted: compact.failedTenantsOmitted } : {}),
    report: stored.report,
  });
}

/** Bytes of the function error Lambda would send for this message. */
export function errorResponseBytes(message: string): number {
  return 2 * jsonBytes(message) + ERROR_ENVELOPE_BYTES;
}

function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text));
}

async function storeFull(json: string, store: ReportStore): Promise<{ report: StoredReport | null; reportError?: string }> {
  const body = Buffer.from(json, "utf8");
  try {
    await store.write(body);
    return { report: { bucket: store.bucket, key: store.key, bytes: body.byteLength } };
  } catch (error) {
    const cause = error instanceof LambicError ? `${error.code}: ${error.message}` : String((error as Error)?.message ?? error);
    return {
      report: null,
      reportError:
        `The full report (${body.byteLength} bytes of JSON) is over the ${store.limitBytes}-byte response limit and could not be written to s3://${store.bucket}/${store.key}: ${cause.slice(0, 600)} ` +
        `Every tenant's outcome is still in the function's log, one "tenant" line each.`,
    };
  }
}

type BatchLike = { readonly failed?: number; readonly error?: { readonly code: string; readonly message: string } };

/**
 * The report without `tenants`, at most `budgetBytes` (as `measure` counts its JSON) when it can be: the failed tenants
 * (the first LISTED_FAILURES, messages clipped), the batch summaries, and where the full one is.
 * Dropped first when over: the successful batches' summaries, failed tenants down to one, the
 * end of a long reportError, the failed batches' summaries, the last failed tenant.
 */
export function compactReport(
  result: TenantReport,
  stored: { report: StoredReport | null; reportError?: string },
  budgetBytes: number,
  measure: (json: string) => number = (json) => Buffer.byteLength(json),
): CompactReport {
  // Every other field (a fan-out's operation, batches, …) is kept as it is.
  const { tenants, batches: allBatches, ...rest } = result as TenantReport & { readonly batches?: unknown };
  const failures: FailedTenant[] = failedResults(tenants).map((t) => ({ tenant: t.tenant, error: { code: t.error.code, message: clip(t.error.message) } }));
  const summaries = Array.isArray(allBatches) ? (allBatches as BatchLike[]).map((b) => (b.error ? { ...b, error: { code: b.error.code, message: clip(b.error.message) } } : b)) : undefined;
  let batches = summaries;
  let listed = Math.min(failures.length, LISTED_FAILURES);
  let reportError = stored.reportError;
  const build = (): CompactReport => ({
    ...rest,
    ...(batches ? { batches } : {}),
    ...(summaries && batches && batches.length < summaries.length ? { batchesOmitted: summaries.length - batches.length } : {}),
    count: tenants.length,
    failedTenants: failures.slice(0, listed),
    ...(failures.length > listed ? { failedTenantsOmitted: failures.length - listed } : {}),
    report: stored.report,
    ...(reportError ? { reportError } : {}),
  });
  let compact = build();
  while (measure(JSON.stringify(compact)) > budgetBytes) {
    if (batches && batches.some((b) => !b.failed)) batches = batches.filter((b) => b.failed);
    else if (listed > 1) listed = Math.floor(listed / 2);
    else if (reportError && reportError === stored.reportError && reportError.length > 200) reportError = clipText(reportError, 200);
    else if (batches && batches.length > 0) batches = batches.slice(0, Math.floor(batches.length / 2));
    else if (listed > 0) listed = 0;
    else break;
    compact = build();
  }
  return compact;
}

function clip(message: string): string {
  return clipText(message, 300);
}

function clipText(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

/** The report carried by a TENANTS_FAILED message, or undefined when there is none (or only a compact one). */
export function reportFromMessage(message: string): TenantReport | undefined {
  const carried = jsonAfterMarker(message) as TenantReport | undefined;
  return Array.isArray(carried?.tenants) ? carried : undefined;
}

/** The compact report a TENANTS_FAILED message carries when the full one went to S3. */
export function compactReportFromMessage(message: string): CompactReport | undefined {
  const carried = jsonAfterMarker(message);
  return isCompactReport(carried) ? carried : undefined;
}

export function isCompactReport(value: unknown): value is CompactReport {
  const candidate = value as Partial<CompactReport> | undefined;
  return typeof candidate === "object" && candidate !== null && !Array.isArray((candidate as { tenants?: unknown }).tenants) && Array.isArray(candidate.failedTenants) && "report" in candidate;
}

function jsonAfterMarker(message: string): unknown {
  const at = message.lastIndexOf(REPORT_MARKER);
  if (at === -1) return undefined;
  try {
    return JSON.parse(message.slice(at + REPORT_MARKER.length)) as unknown;
  } catch {
    return undefined;
  }
}

/** The message without its JSON report: what a person reads. */
export function messageWithoutReport(message: string): string {
  const at = message.lastIndexOf(REPORT_MARKER);
  return at === -1 ? message : message.slice(0, at);
}

export function countOutcomes(tenants: readonly TenantResult[]): { succeeded: number; failed: number } {
  const failed = tenants.filter((t) => !t.ok).length;
  return { succeeded: tenants.length - failed, failed };
}
