/**
 * Fan-out over Lambda itself (DESIGN.md "Scaling out"): `fanout` lists the tenants, splits them
 * into batches and invokes this same function once per batch with the batch's `tenants`, a few
 * batches at a time, then reports every tenant. `tenants` lists them (and their batches) for a
 * caller that fans out itself, such as infra's Step Functions Map.
 *
 * Every batch runs the bundle this coordinator loaded (its sha256 is in the batch event), so a
 * publish during the fan-out cannot split the tenants between two histories.
 *
 * A report too large for Lambda's 6 MB answer goes to S3 (tenant-report.ts): the coordinator's
 * own, and a batch's, which the coordinator reads back to report every tenant.
 */
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { OpenedBundle } from "../src/bundle/import-bundle.ts";
import { reportsPrefix, type BundleLocation } from "../src/bundle/s3-bundles.ts";
import type { Connection } from "../src/db/connection.ts";
import { answerLost, CONNECTION_TIMEOUT_MS } from "../src/aws-requests.ts";
import { LambicError, withoutFullStop } from "../src/errors.ts";
import { readReport } from "./bundle-source.ts";
import { deadlineMarginMs, runBudget, type Deps } from "./commands.ts";
import type { LambicEvent } from "./event.ts";
import { envNumber } from "../src/env-number.ts";
import { selectEventTenants } from "./tenants.ts";
import {
  compactReportFromMessage,
  countOutcomes,
  fitFailure,
  fitResult,
  isCompactReport,
  messageWithoutReport,
  reportFromMessage,
  type CompactReport,
  type ReportStore,
  type StoredReport,
  type TenantReport,
  type TenantResult,
} from "./tenant-report.ts";


export interface BatchSummary {
  readonly index: number;
  readonly tenants: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly ms: number;
  /** The batch invocation's failure when it failed as a whole (not tenant by tenant). */
  readonly error?: { readonly code: string; readonly message: string };
}

export type FanoutReport = TenantReport & {
  readonly operation: string;
  readonly targets: readonly string[];
  readonly function: string;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly batches: readonly BatchSummary[];
};

type FanoutDeps = Deps & {
  readonly connect: () => Promise<Connection>;
  /** The bundle's bucket and prefix: batch reports too large for a response are read from there. */
  readonly location: BundleLocation;
  /** Where the fan-out's own report goes when it is too large for the response. */
  readonly reportStore: ReportStore;
};

export function splitBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

async function listOnce(bundle: OpenedBundle, connect: () => Promise<Connection>, wanted: readonly string[] | undefined, timeoutMs: number): Promise<string[]> {
  const connection = await connect();
  try {
    return await selectEventTenants(bundle, connection, wanted, timeoutMs);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** `{"command": "tenants"}`: the tenant list, and its batches as a Map state's items. */
export async function listEventTenants(event: LambicEvent, bundle: OpenedBundle, deps: Pick<Deps, "env" | "context">, connect: () => Promise<Connection>, base: Record<string, unknown>): Promise<Record<string, unknown>> {
  const tenants = await listOnce(bundle, connect, undefined, runBudget(deps, bundle).statementTimeoutMs);
  // Each name once, in its batch: a Step Functions state holds 256 KB, this listing included.
  return { ...base, count: tenants.length, batchSize: event.batchSize, batches: splitBatches(tenants, event.batchSize).map((batch) => ({ tenants: batch })) };
}

/** The function the batches go to: this one, as invoked (an alias or version stays the same). */
export function fanoutFunction(deps: Pick<Deps, "env" | "context">): string {
  return deps.env.LAMBIC_FANOUT_FUNCTION || deps.context.invokedFunctionArn || deps.context.functionName;
}

export async function runFanout(event: LambicEvent, bundle: OpenedBundle, deps: FanoutDeps, base: Record<string, unknown>): Promise<Record<string, unknown>> {
  const operation = event.operation!;
  const startMarginMs = envNumber(deps.env, "LAMBIC_FANOUT_START_MARGIN_MS");
  // Each batch must answer this long before the coordinator's end, for the report to be made.
  const answerMarginMs = deadlineMarginMs(deps.env);
  const tenants = await listOnce(bundle, deps.connect, event.tenants, runBudget(deps, bundle).statementTimeoutMs);
  const batches = splitBatches(tenants, event.batchSize);
  const functionName = fanoutFunction(deps);
  deps.log?.("fanout", { operation, target: event.targets, tenants: tenants.length, batches: batches.length, batchSize: event.batchSize, concurrency: event.concurrency, function: functionName });

  const readStored = (stored: StoredReport) => readBatchReport(stored, deps);
  const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
  // One attempt: a retried batch would only queue behind the first on the tenants' locks. The
  // endpoint override is for tests (a local Invoke API) and VPC endpoints. A connection that is
  // not made within 3 s (isolated subnets without a Lambda endpoint) fails its batch as not run;
  // without a bound each batch waited minutes on it and the fan-out ran into its own timeout. No
  // bound on the answer: a batch may run as long as the function's timeout.
  const client = new LambdaClient({
    maxAttempts: 1,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS },
    ...(deps.env.LAMBIC_LAMBDA_ENDPOINT ? { endpoint: deps.env.LAMBIC_LAMBDA_ENDPOINT } : {}),
  });
  const perBatch: { results: TenantResult[]; summary: BatchSummary }[] = new Array(batches.length);
  let done = 0;
  let failed = 0;
  try {
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const index = next++;
        const batch = batches[index]!;
        const remainingMs = deps.context.getRemainingTimeInMillis();
        const outcome =
          remainingMs < startMarginMs
            ? batchFailed(index, batch, 0, {
                code: "INVOKE_FAILED",
                message: `Batch ${index + 1} was not invoked: only ${remainingMs} ms of the fan-out's invocation remained (LAMBIC_FANOUT_START_MARGIN_MS ${startMarginMs}). Raise the function's timeout, lower batchSize or raise concurrency, or use the Step Functions fan-out; then run again for the tenants not run.`,
              })
            : await invokeBatch(client, InvokeCommand, functionName, batchEvent(event, bundle, batch, Date.now() + remainingMs - answerMarginMs), index, batch, readStored);
        perBatch[index] = outcome;
        for (const result of outcome.results) {
          done++;
          if (!result.ok) failed++;
          deps.onTenant?.(result, { done, failed, remaining: tenants.length - done });
        }
        deps.log?.("batch", { ...outcome.summary });
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(event.concurrency, batches.length)) }, worker));
  } finally {
    client.destroy();
  }

  const results = perBatch.flatMap((b) => b.results);
  const counts = countOutcomes(results);
  deps.report.tenants = counts;
  // revisionsApplied stays 0: each batch's invocation counts the revisions it applied in its own
  // RevisionsApplied, and counting them again here would double any sum over the metric.
  const report: FanoutReport = {
    command: "fanout",
    operation,
    targets: event.targets,
    database: event.database,
    bundleSha256: bundle.sha256,
    function: functionName,
    batchSize: event.batchSize,
    concurrency: event.concurrency,
    batches: perBatch.map((b) => b.summary),
    tenants: results,
    ...counts,
  };
  if (counts.failed > 0) throw await fitFailure(report, deps.reportStore);
  return fitResult({ ...base, ...report, ok: true }, deps.reportStore);
}

/**
 * The full report a batch wrote to S3 because it was too large for its response. Read only from
 * this function's own reports folder: the key comes from an invocation's answer.
 */
async function readBatchReport(stored: StoredReport, deps: FanoutDeps): Promise<TenantReport> {
  const folder = reportsPrefix(deps.location);
  if (stored.bucket !== deps.location.bucket || !stored.key.startsWith(folder) || stored.key.includes("..")) {
    throw new LambicError("INVOKE_FAILED", `the batch names its report at s3://${stored.bucket}/${stored.key}, outside s3://${deps.location.bucket}/${folder}, so it was not read`, { bucket: stored.bucket, key: stored.key });
  }
  deps.report.s3Requests++;
  const text = await readReport(deps.env, stored.bucket, stored.key);
  let report: Partial<TenantReport> | undefined;
  try {
    report = JSON.parse(text) as Partial<TenantReport>;
  } catch {
    report = undefined;
  }
  if (!Array.isArray(report?.tenants)) throw new LambicError("INVOKE_FAILED", `s3://${stored.bucket}/${stored.key} holds no tenant report (${text.slice(0, 100)}…)`, { bucket: stored.bucket, key: stored.key });
  return report as TenantReport;
}

/**
 * The tenants' outcomes of a batch that answered with a compact report. When its full report
 * cannot be read, the failed tenants it names keep their errors and the others have no outcome
 * (`missing` says why).
 */
async function storedBatchResults(compact: CompactReport, read: (stored: StoredReport) => Promise<TenantReport>): Promise<{ results: TenantResult[]; missing?: string }> {
  const named = compact.failedTenants.map((t): TenantResult => ({ tenant: t.tenant, ok: false, error: t.error }));
  if (!compact.report) return { results: named, missing: compact.reportError ?? "the batch wrote no report" };
  try {
    return { results: [...(await read(compact.report)).tenants] };
  } catch (error) {
    const why = error instanceof LambicError ? error.message : `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? String(error)}`;
    return { results: named, missing: `its report s3://${compact.report.bucket}/${compact.report.key} could not be read: ${why}` };
  }
}

function batchEvent(event: LambicEvent, bundle: OpenedBundle, tenants: readonly string[], deadline: number): Record<string, unknown> {
  const batch: Record<string, unknown> = {
    command: event.operation,
    database: event.database,
    target: event.operation === "stamp" && event.targets.length > 1 ? event.targets : event.targets[0],
    bundle: { sha256: bundle.sha256 },
    tenants,
    deadline: Math.floor(deadline),
  };
  if (Object.keys(event.x).length > 0 && event.operation !== "stamp") batch.x = event.x;
  if (event.allowChanged && event.operation !== "stamp") batch.allowChanged = true;
  if (event.perRevision && event.operation !== "stamp") batch.perRevision = true;
  if (event.purge && event.operation === "stamp") batch.purge = true;
  return batch;
}

function batchFailed(index: number, tenants: readonly string[], ms: number, error: { code: string; message: string }): { results: TenantResult[]; summary: BatchSummary } {
  return {
    results: tenants.map((tenant) => ({ tenant, ok: false, error })),
    summary: { index, tenants: tenants.length, succeeded: 0, failed: tenants.length, ms, error },
  };
}

async function invokeBatch(
  client: LambdaClient,
  InvokeCommand: typeof import("@aws-sdk/client-lambda").InvokeCommand,
  functionName: string,
  event: Record<string, unknown>,
  index: number,
  tenants: readonly string[],
  readStored: (stored: StoredReport) => Promise<TenantReport>,
): Promise<{ results: TenantResult[]; summary: BatchSummary }> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let response;
  try {
    response = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", Payload: Buffer.from(JSON.stringify(event)) }));
  } catch (error) {
    const what = `${(error as { name?: string })?.name ?? "Error"}: ${String((error as Error)?.message ?? error).replace(/\.+$/, "")}`;
    return batchFailed(index, tenants, elapsed(), {
      code: "INVOKE_FAILED",
      message: answerLost(error)
        ? `The answer of batch ${index + 1} (${functionName}) was lost after the request was sent (${what}): its tenants may have been migrated, or may still be. Read its log, or the tenants' version rows (current with their names), before running them again (a tenant already at the target has nothing to do).`
        : `Invoking ${functionName} for batch ${index + 1} failed before it ran: ${what}. Check that the function may call lambda:InvokeFunction on itself, and its reserved concurrency.`,
    });
  }
  const body = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
  let payload: Record<string, unknown> | undefined;
  try {
    payload = JSON.parse(body) as Record<string, unknown>;
  } catch {
    payload = undefined;
  }
  let results: TenantResult[] | undefined;
  let error: { code: string; message: string } | undefined;
  // Why tenants without an outcome have none, when the batch's report was in S3 and unreadable.
  let missingWhy: string | undefined;
  if (!response.FunctionError && payload?.ok === true && Array.isArray(payload.tenants)) {
    results = payload.tenants as TenantResult[];
  } else if (!response.FunctionError && payload?.ok === true && isCompactReport(payload)) {
    ({ results, missing: missingWhy } = await storedBatchResults(payload, readStored));
  } else {
    const code = typeof payload?.errorType === "string" ? payload.errorType : "INVOKE_FAILED";
    const message = typeof payload?.errorMessage === "string" ? payload.errorMessage : `batch ${index + 1} answered ${body.slice(0, 500) || "nothing"}${response.FunctionError ? ` (${response.FunctionError})` : ""}`;
    // TENANTS_FAILED carries every tenant's outcome; any other function error failed the batch
    // as a whole (a timeout, the bundle, the connection) and counts for each of its tenants.
    // A report too large for the batch's response is in S3, a compact one in the message.
    const carried = code === "TENANTS_FAILED" ? reportFromMessage(message) : undefined;
    const compact = code === "TENANTS_FAILED" && !carried ? compactReportFromMessage(message) : undefined;
    if (carried) results = [...carried.tenants];
    else if (compact) ({ results, missing: missingWhy } = await storedBatchResults(compact, readStored));
    else error = { code, message: messageWithoutReport(message) };
  }
  if (!results) return batchFailed(index, tenants, elapsed(), error!);
  const reported = new Set(results.map((r) => r.tenant));
  const missing = tenants.filter((t) => !reported.has(t));
  if (missing.length > 0) {
    // Never count a tenant as done without its own outcome.
    const messageFor = (tenant: string) =>
      missingWhy
        ? `Batch ${index + 1} ran tenant ${tenant}, but its outcome is not known here: ${withoutFullStop(missingWhy)}. Read the batch's "tenant" log line for it, or run it again (a tenant already at the target has nothing to do).`
        : `Batch ${index + 1} returned no outcome for tenant ${tenant}.`;
    results = [...results, ...missing.map((tenant): TenantResult => ({ tenant, ok: false, error: { code: "INVOKE_FAILED", message: messageFor(tenant) } }))];
  }
  const counts = countOutcomes(results);
  return { results, summary: { index, tenants: tenants.length, ...counts, ms: elapsed() } };
}


