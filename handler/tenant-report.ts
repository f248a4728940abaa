/**
 * The per-tenant report of a tenant run or a fan-out, and how it travels inside a function
 * error. Pure: shared by the handler, the fan-out coordinator and `lambic invoke`.
 *
 * Lambda keeps only errorType and errorMessage of a thrown error, so when some tenants failed
 * the whole report rides at the end of the message, after REPORT_MARKER, as one JSON line: the
 * coordinator and the CLI read every tenant's outcome back from it, the log keeps it too.
 */
import { LambicError } from "../src/errors.ts";

export interface TenantStep {
  readonly revision: string;
  readonly direction: string;
  readonly ms: number;
}

export type TenantResult =
  | { readonly tenant: string; readonly ok: true; readonly from: readonly string[]; readonly to: readonly string[]; readonly steps: readonly TenantStep[]; readonly ms: number }
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
  const failures = report.tenants.filter((t): t is Extract<TenantResult, { ok: false }> => !t.ok);
  const named = failures.slice(0, NAMED_FAILURES).map((t) => `${t.tenant} (${t.error.code}: ${t.error.message.slice(0, 300)})`);
  const more = failures.length > NAMED_FAILURES ? `, and ${failures.length - NAMED_FAILURES} more` : "";
  const retry = JSON.stringify(failures.slice(0, 20).map((t) => t.tenant));
  const message =
    `${report.failed} of ${report.tenants.length} tenant(s) of database "${report.database}" failed ${report.command}: ${named.join("; ")}${more}. ` +
    `Each failed tenant was rolled back alone; the ${report.succeeded} others are committed. Fix the failed tenants and run again (only they: "tenants": ${retry}${failures.length > 20 ? " …" : ""}).` +
    `${REPORT_MARKER}${JSON.stringify(report)}`;
  return new LambicError("TENANTS_FAILED", message, { succeeded: report.succeeded, failed: report.failed, failedTenants: failures.map((t) => t.tenant) });
}

/** The report carried by a TENANTS_FAILED message, or undefined when there is none. */
export function reportFromMessage(message: string): TenantReport | undefined {
  const at = message.lastIndexOf(REPORT_MARKER);
  if (at === -1) return undefined;
  try {
    const report = JSON.parse(message.slice(at + REPORT_MARKER.length)) as TenantReport;
    return Array.isArray(report?.tenants) ? report : undefined;
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
