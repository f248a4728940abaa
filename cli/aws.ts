/**
 * `lambic publish` and `lambic invoke`: the two commands a deploy pipeline runs.
 *
 *   SHA=$(lambic publish --bucket B [--prefix P])       build + upload the bundle, print its sha256
 *   lambic invoke --function F upgrade head --bundle $SHA   run it in the Lambda; exit 0 only on success
 *   lambic invoke --fanout --function F upgrade head      every tenant, the Lambda invoking itself per batch
 *
 * S3 settings come from the environment as in the handler (LAMBIC_S3_ENDPOINT,
 * LAMBIC_S3_FORCE_PATH_STYLE, LAMBIC_S3_CHECKSUMS), `--endpoint` and `--region` override.
 */
import { resolve } from "node:path";
import { buildBundle, readBuiltBundle } from "../src/bundle/build-bundles.ts";
import { bundlePrefix, createS3Client, missingCredentialsStep, publishBundle, s3SettingsFromEnv } from "../src/bundle/s3-bundles.ts";
import { projectDirOf, type DatabaseConfig } from "../src/config.ts";
import { redactSecrets } from "../src/db/redact.ts";
import { parseEvent } from "../handler/event.ts";
import { answerLost, regionFromSdkChain } from "../src/aws-requests.ts";
import { LambicError } from "../src/errors.ts";
import { compactReportFromMessage, isCompactReport, messageWithoutReport, reportFromMessage, type CompactReport, type TenantReport, type TenantResult } from "../handler/tenant-report.ts";
import type { CliArgs } from "./args.ts";
import type { Io, Output } from "./io.ts";

const EVENT_COMMANDS = ["upgrade", "downgrade", "stamp", "current", "heads", "history", "check", "repair", "sql", "tenants"];
const TENANT_COMMANDS = ["upgrade", "downgrade", "stamp", "current", "check", "repair", "sql"];
const FANOUT_OPERATIONS = ["upgrade", "downgrade", "stamp"];
/** The command-line option each event field comes from, to name it in a refusal. */
const EVENT_FIELD_FLAGS: Readonly<Record<string, string>> = { target: "TARGET", x: "-x", dryRun: "--dry-run", allowChanged: "--allow-changed", perRevision: "--per-revision", purge: "--purge", range: "-r", tenants: "--tenant", batchSize: "--batch-size", bundle: "--bundle" };

export async function publish(database: DatabaseConfig, args: CliArgs, io: Io): Promise<Output> {
  const bucket = args.options.bucket ?? io.env.LAMBIC_BUCKET;
  if (!bucket) throw new LambicError("USAGE", "lambic publish needs --bucket BUCKET (or LAMBIC_BUCKET): the bucket the Lambda reads bundles from.", {});
  const prefix = bundlePrefix(args.options.prefix ?? io.env.LAMBIC_PREFIX);
  // Build from the sources now, so what is published is what is in the revisions folder;
  // builds are reproducible, so an unchanged folder gives the sha256 already published.
  const projectDir = projectDirOf(database, io.cwd);
  const built = await buildBundle(database, { projectDir, outDir: resolve(projectDir, "dist/bundles") });
  if (built.manifest.revisions.length === 0) {
    // An empty folder is a checkout or a config gone wrong: moving the pointer to an empty bundle
    // would make every later event of the function fail on the database's versions (UNKNOWN_VERSION).
    throw new LambicError(
      "CONFIG_INVALID",
      `Database "${database.name}" has no revisions (${database.revisions} holds no revision file), so there is nothing to publish: the function would find none of the database's versions. Check --name, "revisions" in ${database.configFile ?? "lambic.config.json"} and that the checkout has the revision files. Nothing was uploaded; s3://${bucket}/${prefix}/${database.name}/current.json is unchanged.`,
      { database: database.name, dir: database.revisions },
    );
  }
  const settings = s3SettingsFromEnv(io.env);
  const client = await createS3Client({ ...settings, endpoint: args.options.endpoint ?? settings.endpoint, region: args.options.region ?? settings.region });
  try {
    const result = await publishBundle(client, { bucket, prefix }, readBuiltBundle(built.dir));
    io.stderr(
      `${result.uploaded ? "Uploaded" : "Already published"} s3://${bucket}/${result.key} (${built.manifest.revisions.length} revisions, heads ${built.manifest.heads.join(", ")}); ` +
        `s3://${bucket}/${result.pointerKey} now names it${result.previous && result.previous !== result.sha256 ? ` (was ${result.previous})` : ""}.\n`,
    );
    return { json: { ...result, heads: built.manifest.heads }, text: result.sha256 };
  } finally {
    client.destroy();
  }
}

/** The event `lambic invoke` sends, from the CLI's own arguments. */
export function eventFromArgs(database: DatabaseConfig, args: CliArgs): Record<string, unknown> {
  if (args.options.fanout) return fanoutEventFromArgs(database, args);
  if (args.options.concurrency !== undefined) throw new LambicError("USAGE", "lambic invoke takes --concurrency only with --fanout (batch invocations at once).", {});
  const [command, ...rest] = args.positionals;
  if (command === undefined || !EVENT_COMMANDS.includes(command)) {
    throw new LambicError("USAGE", `lambic invoke needs a command: one of ${EVENT_COMMANDS.join(", ")} (e.g. lambic invoke --function F upgrade head).`, { command });
  }
  const event: Record<string, unknown> = { command, database: database.name };
  if (rest.length > 0) {
    if (command === "stamp") event.target = rest.length === 1 ? rest[0] : rest;
    else if (["upgrade", "downgrade", "sql"].includes(command) && rest.length === 1) event.target = rest[0];
    else throw new LambicError("USAGE", `lambic invoke ${command} takes ${["upgrade", "downgrade", "sql"].includes(command) ? "one target" : "no target"}, got: ${rest.join(" ")}.`, {});
  }
  if (command === "sql" && args.options.output) throw new LambicError("USAGE", "lambic invoke sql writes the script to S3 and prints its key; --output does not apply.", {});
  if (args.options.bundle) event.bundle = { sha256: args.options.bundle };
  if (Object.keys(args.x).length > 0) event.x = args.x;
  if (args.options["dry-run"]) event.dryRun = true;
  if (args.options["allow-changed"]) event.allowChanged = true;
  if (args.options["per-revision"]) event.perRevision = true;
  if (args.options.purge) event.purge = true;
  if (args.options["rev-range"]) event.range = args.options["rev-range"];
  if (args.options.tenant) {
    if (!TENANT_COMMANDS.includes(command)) throw new LambicError("USAGE", `--tenant applies to ${TENANT_COMMANDS.join(", ")}, not ${command}.`, {});
    event.tenants = args.options.tenant;
  }
  if (command === "sql" && database.tenants !== undefined && args.options.tenant?.length !== 1) {
    throw new LambicError("USAGE", `Database "${database.name}" has tenants, so lambic invoke sql renders one tenant's script: name it with --tenant T (one).`, { option: "tenant" });
  }
  if (args.options["batch-size"] !== undefined) {
    if (command !== "tenants") throw new LambicError("USAGE", "--batch-size applies to --fanout and to the tenants command.", {});
    event.batchSize = wholeNumber(args.options["batch-size"], "--batch-size", 1000);
  }
  return event;
}

/** `lambic invoke --fanout upgrade head`: the `fanout` event. */
function fanoutEventFromArgs(database: DatabaseConfig, args: CliArgs): Record<string, unknown> {
  const [operation, ...targets] = args.positionals;
  if (operation === undefined || !FANOUT_OPERATIONS.includes(operation) || targets.length === 0) {
    throw new LambicError("USAGE", `lambic invoke --fanout needs ${FANOUT_OPERATIONS.join(", ")} and a target (e.g. lambic invoke --fanout --function F upgrade head).`, { operation });
  }
  if (operation !== "stamp" && targets.length > 1) throw new LambicError("USAGE", `lambic invoke --fanout ${operation} takes one target, got: ${targets.join(" ")}.`, {});
  if (args.options["dry-run"]) throw new LambicError("USAGE", "--dry-run is not available with --fanout; render a tenant's plan with lambic upgrade --sql --tenant T.", {});
  for (const [option, flag] of [["rev-range", "-r"], ["output", "--output"]] as const) {
    if (args.options[option] !== undefined) throw new LambicError("USAGE", `${flag} does not apply to lambic invoke --fanout (it takes a target, --tenant, --batch-size, --concurrency, --bundle, -x, --allow-changed, --per-revision and --purge).`, { option });
  }
  const event: Record<string, unknown> = { command: "fanout", operation, target: targets.length === 1 ? targets[0] : targets, database: database.name };
  if (args.options["batch-size"] !== undefined) event.batchSize = wholeNumber(args.options["batch-size"], "--batch-size", 1000);
  if (args.options.concurrency !== undefined) event.concurrency = wholeNumber(args.options.concurrency, "--concurrency", 100);
  if (args.options.tenant) event.tenants = args.options.tenant;
  if (args.options.bundle) event.bundle = { sha256: args.options.bundle };
  if (Object.keys(args.x).length > 0) event.x = args.x;
  if (args.options["allow-changed"]) event.allowChanged = true;
  if (args.options["per-revision"]) event.perRevision = true;
  if (args.options.purge) event.purge = true;
  return event;
}

function wholeNumber(raw: string, option: string, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new LambicError("USAGE", `${option} takes a whole number from 1 to ${max}, got "${raw}".`, { value: raw });
  return value;
}

export async function invoke(database: DatabaseConfig, args: CliArgs, io: Io): Promise<Output> {
  const functionName = args.options.function ?? io.env.LAMBIC_FUNCTION;
  if (!functionName) throw new LambicError("USAGE", "lambic invoke needs --function NAME (or LAMBIC_FUNCTION): the lambic Lambda function's name or ARN.", {});
  const event = eventFromArgs(database, args);
  // The function's own check, before the round trip: a missing target or a field the command
  // does not take is a usage error here, not a failed invocation.
  try {
    parseEvent(event, { databases: [database.name], defaultDatabase: database.name });
  } catch (error) {
    if (error instanceof LambicError && error.code === "INVALID_EVENT") {
      // Named as the user typed it: the event field comes from this option.
      const flag = EVENT_FIELD_FLAGS[String(error.details.field ?? "").replace(/[[.].*$/, "")];
      throw new LambicError("USAGE", `lambic invoke${flag ? ` ${flag}` : ""}: ${error.message.replace(/^Invalid event: /, "")} Run "lambic --help".`, error.details, { cause: error });
    }
    throw error;
  }
  const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
  // One attempt: a retried migration would only queue behind the first on the advisory lock.
  const endpoint = args.options.endpoint ?? io.env.LAMBIC_LAMBDA_ENDPOINT;
  const region = await invokeRegion(args, io, LambdaClient);
  const client = new LambdaClient({ region, maxAttempts: 1, ...(endpoint ? { endpoint } : {}) });
  if (event.command === "fanout") io.stderr(`fanout: ${event.operation} ${JSON.stringify(event.target)} on every tenant of ${database.name}${event.tenants ? ` (${(event.tenants as string[]).length} named)` : ""} through ${functionName}...\n`);
  const started = performance.now();
  // Ctrl-C stops the wait, not the function: Lambda cannot cancel an invocation, so say so. So
  // does SIGTERM, what a cancelled CI job sends: left to Node's default it ended lambic silently.
  const interrupt = new AbortController();
  let received: "SIGINT" | "SIGTERM" | undefined;
  const onInterrupt = () => {
    received ??= "SIGINT";
    interrupt.abort();
  };
  const onTerminate = () => {
    received ??= "SIGTERM";
    interrupt.abort();
  };
  process.once("SIGINT", onInterrupt);
  process.once("SIGTERM", onTerminate);
  let response;
  try {
    response = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", LogType: "Tail", Payload: Buffer.from(JSON.stringify(event)) }), { abortSignal: interrupt.signal });
  } catch (error) {
    if (interrupt.signal.aborted) {
      throw new LambicError(
        "INTERRUPTED",
        `${received === "SIGTERM" ? "Terminated (SIGTERM)" : "Interrupted"}: lambic stopped waiting for ${functionName}, but Lambda cannot cancel an invocation, so the function goes on to its end (or its timeout). Its outcome is in its log (/aws/lambda/${functionName} in CloudWatch); read the database with lambic invoke current (or check) before running it again.`,
        // main() exits 130 after SIGINT, 143 after SIGTERM.
        { function: functionName, event, ran: null, signal: received ?? "SIGINT" },
      );
    }
    throw invokeRequestError(error, functionName, region, event);
  } finally {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onTerminate);
    client.destroy();
  }
  // What the function sends back can quote a database URL (a failed statement, a revision's own
  // error, the log's details): what lambic prints goes to CI logs, so never with its password.
  const body = redactSecrets(response.Payload ? Buffer.from(response.Payload).toString("utf8") : "");
  const logTail = redactSecrets(response.LogResult ? Buffer.from(response.LogResult, "base64").toString("utf8") : "");
  let payload: Record<string, unknown> | undefined;
  try {
    payload = JSON.parse(body) as Record<string, unknown>;
  } catch {
    payload = undefined;
  }

  const elapsedMs = performance.now() - started;
  // Some tenants failed: the error carries every tenant's outcome; report them all, exit 1.
  const failedReport = response.FunctionError && payload?.errorType === "TENANTS_FAILED" && typeof payload.errorMessage === "string" ? reportFromMessage(payload.errorMessage) : undefined;
  if (failedReport) {
    printTenantProgress(failedReport, elapsedMs, io);
    io.stderr(`lambic: TENANTS_FAILED: ${messageWithoutReport(payload!.errorMessage as string)}\n`);
    return { json: { ...failedReport, ok: false }, text: summarizeTenants(failedReport), exitCode: 1 };
  }
  // The same, too large for the response: the failed tenants it could list, and where the rest is.
  const failedCompact = response.FunctionError && payload?.errorType === "TENANTS_FAILED" && typeof payload.errorMessage === "string" ? compactReportFromMessage(payload.errorMessage) : undefined;
  if (failedCompact) {
    printCompactProgress(failedCompact, elapsedMs, io);
    io.stderr(`lambic: TENANTS_FAILED: ${messageWithoutReport(payload!.errorMessage as string)}\n`);
    return { json: { ...failedCompact, ok: false }, text: summarizeCompact(failedCompact), exitCode: 1 };
  }
  if (!response.FunctionError && payload?.ok !== true) {
    // Not a function error, and not lambic's answer either: most likely another function.
    if (logTail) io.stderr(`--- log tail of ${functionName} ---\n${logTail}${logTail.endsWith("\n") ? "" : "\n"}---\n`);
    throw new LambicError(
      "INVOKE_FAILED",
      `${functionName} answered without a lambic result: ${body.slice(0, 300) || "(empty response)"}. Is ${functionName} the lambic function (handler handler.handler of dist/lambda/, as infra/ deploys it)? Check --function (or LAMBIC_FUNCTION).`,
      { function: functionName, functionError: null, remote: payload === undefined ? body : payload, event, logTail },
    );
  }
  if (response.FunctionError || !payload || payload.ok !== true) {
    if (logTail) io.stderr(`--- log tail of ${functionName} ---\n${logTail}${logTail.endsWith("\n") ? "" : "\n"}---\n`);
    const message = typeof payload?.errorMessage === "string" ? payload.errorMessage : body || "(empty response)";
    // Lambda's own timeout error: "Sandbox.Timedout", or, from older runtimes, only the message.
    const timedOut = payload?.errorType === "Sandbox.Timedout" || (response.FunctionError !== undefined && /Task timed out after/.test(message));
    // Lambda's refusal of an answer over its 6 MB limit, once the handler had returned it.
    const tooLarge = payload?.errorType === "Function.ResponseSizeTooLarge" || (response.FunctionError !== undefined && /exceeded maximum allowed payload size/.test(message));
    const code = typeof payload?.errorType === "string" ? payload.errorType : timedOut ? "Sandbox.Timedout" : "INVOKE_FAILED";
    const step = timedOut ? TIMED_OUT_STEP : tooLarge ? TOO_LARGE_STEP : undefined;
    throw new LambicError(
      "INVOKE_FAILED",
      `${functionName} failed: ${code}: ${message}${step ? `${/[.!]$/.test(message) ? "" : "."} ${step}` : ""}`,
      { function: functionName, functionError: response.FunctionError ?? null, errorType: code, ...(tooLarge ? { ran: true } : {}), remote: payload ?? body, event, logTail },
    );
  }
  // `check` succeeds as an invocation but is a failure for the pipeline when work is pending,
  // as the local `lambic check` exits 1.
  const exitCode = payload.command === "check" && payload.upToDate === false ? 1 : 0;
  if (Array.isArray(payload.tenants) && payload.command !== "tenants") {
    const report = payload as unknown as TenantReport;
    printTenantProgress(report, elapsedMs, io);
    // As the local `lambic check` on a tenant database: the exit 1 says why.
    const behind = payload.command === "check" ? `\n${report.tenants.filter((t) => t.ok && "upToDate" in t && !t.upToDate).length} tenant(s) behind.` : "";
    return { json: payload, text: `${summarizeTenants(report)}${behind}`, exitCode };
  }
  if (isCompactReport(payload)) {
    printCompactProgress(payload, elapsedMs, io);
    return { json: payload, text: summarizeCompact(payload), exitCode };
  }
  return { json: payload, text: summarize(payload), exitCode };
}

/**
 * What a Lambda timeout means for the database, and what to do: Lambda stops the process
 * mid-run, which lambic's statement and lock timeouts are set to prevent, so it happened
 * between statements (a long transaction of many statements, a revision's own code) or the
 * function's timeout is shorter than its work.
 */
const TIMED_OUT_STEP =
  "The function reached its timeout and Lambda stopped it mid-run: what it committed stays, the transaction it had open is rolled back when PostgreSQL notices the lost connection (releasing the migration lock), and a revision that runs outside a transaction may have left part of its work. " +
  "Read the database with lambic invoke current (or check), then raise the function's timeout (15 minutes at most) or split the revision, and run again.";

/** What an answer too large for Lambda means: the handler returned, so its work is done (committed). */
const TOO_LARGE_STEP =
  "The function ran to its end, but its answer was over Lambda's 6 MB limit, so Lambda dropped it: what the command changed is committed (a dry run changed nothing), and its outcome is in the function's log. " +
  "Read the database with lambic invoke current (or check) before running it again; render a large script with lambic invoke sql, which writes it to S3.";

/**
 * An Invoke request that got no answer from the function, said as what it means for the
 * database: refused or unreachable, the function did not run; an answer lost after the request
 * was sent (a dropped connection during a long run), it may have run or still be running.
 */
function invokeRequestError(error: unknown, functionName: string, region: string, event: Record<string, unknown>): LambicError {
  const { name = "Error", Reason } = (error ?? {}) as { name?: string; Reason?: string };
  const what = `${name}: ${String((error as Error)?.message ?? error).replace(/\.+$/, "")}`;
  const details = { function: functionName, awsError: name, event };
  const credentials = missingCredentialsStep(error);
  if (credentials) return new LambicError("INVOKE_FAILED", `Invoking ${functionName} failed before it ran: ${what}. ${credentials}`, { ...details, ran: false }, { cause: error });
  if (name === "TooManyRequestsException") {
    return new LambicError(
      "INVOKE_FAILED",
      `Lambda throttled the invocation of ${functionName}${Reason ? ` (${Reason})` : ""}, so it did not run: ${what}. Run again once the function's other invocations end; if it is always throttled, check its reserved concurrency (0 throttles every invocation) and the account's concurrency in ${region}.`,
      { ...details, ran: false, reason: Reason ?? null },
      { cause: error },
    );
  }
  if (!answerLost(error)) {
    return new LambicError("INVOKE_FAILED", `Invoking ${functionName} failed before it ran: ${what}. Check the function name, the region (${region}) and that you may call lambda:InvokeFunction on it.`, { ...details, ran: false }, { cause: error });
  }
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const lost = status === undefined ? `The answer of ${functionName} was lost (${what}) after the request was sent` : `Invoking ${functionName} got a server error (HTTP ${status}, ${what}), which does not say whether it ran`;
  return new LambicError(
    "INVOKE_FAILED",
    `${lost}: the function may have run, or may still be running. Do not assume it failed: see its log (/aws/lambda/${functionName} in CloudWatch) and read the database with lambic invoke current (or check) before running it again.`,
    { ...details, ran: null },
    { cause: error },
  );
}

/**
 * The region to invoke in: --region, AWS_REGION or AWS_DEFAULT_REGION, else the SDK's own chain
 * (the profile's `region` in ~/.aws/config, as the aws CLI reads it), else us-east-1. A fixed
 * us-east-1 ahead of the profile sent `AWS_PROFILE=prod` to the wrong region, where the function
 * is "not found".
 */
async function invokeRegion(args: CliArgs, io: Io, LambdaClient: typeof import("@aws-sdk/client-lambda").LambdaClient): Promise<string> {
  const explicit = args.options.region || io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION;
  return explicit || regionFromSdkChain(LambdaClient);
}

type BatchLine = { index: number; tenants: number; succeeded: number; failed: number; ms: number; error?: { code: string } };

/** Progress of a tenant run, after the fact: per batch for a fanout, then the totals and rate. */
function printTenantProgress(report: TenantReport & { batches?: BatchLine[] }, elapsedMs: number, io: Io): void {
  const failures = report.tenants.filter((t): t is Extract<TenantResult, { ok: false }> => !t.ok);
  printProgress({ batches: report.batches, count: report.tenants.length, failed: report.failed, failures }, elapsedMs, io);
}

/** A compact report's progress: the batches it kept, the failed tenants it lists, how many it left out. */
function printCompactProgress(report: CompactReport, elapsedMs: number, io: Io): void {
  const batches = Array.isArray(report.batches) ? (report.batches as BatchLine[]) : undefined;
  printProgress({ batches, count: report.count, failed: report.failed, failures: report.failedTenants }, elapsedMs, io);
  if (report.failedTenantsOmitted) io.stderr(`(${report.failedTenantsOmitted} more failed tenant(s) in the full report)\n`);
}

function printProgress(
  view: { batches?: readonly BatchLine[]; count: number; failed: number; failures: readonly { tenant: string; error: { code: string; message: string } }[] },
  elapsedMs: number,
  io: Io,
): void {
  for (const batch of view.batches ?? []) {
    io.stderr(`batch ${batch.index + 1}/${view.batches!.length}: ${batch.tenants} tenant(s), ${batch.succeeded} ok, ${batch.failed} failed, ${batch.ms} ms${batch.error ? ` (${batch.error.code})` : ""}\n`);
  }
  for (const tenant of view.failures) io.stderr(`tenant ${tenant.tenant} failed: ${tenant.error.code}: ${tenant.error.message}\n`);
  const perSecond = view.count / Math.max(elapsedMs / 1000, 0.001);
  io.stderr(`tenants: ${view.count} done, ${view.failed} failed, 0 remaining, ${perSecond.toFixed(1)}/s\n`);
}

/** A compact report in text: the counts, the failed tenants it lists, and where every tenant's outcome is. */
function summarizeCompact(report: CompactReport): string {
  const failures = report.failedTenants.map((t) => `${t.tenant}: FAILED ${t.error.code}`);
  const omitted = report.failedTenantsOmitted ? [`… and ${report.failedTenantsOmitted} more failed tenant(s)`] : [];
  const where = report.report
    ? `Every tenant's outcome is in s3://${report.report.bucket}/${report.report.key} (${report.report.bytes} bytes of JSON, too large for the function's answer).`
    : `${report.reportError ?? "The full report was not written."}`;
  return [...failures, ...omitted, `${report.succeeded} of ${report.count} tenant(s) ok, ${report.failed} failed (database ${report.database}, bundle ${report.bundleSha256}). ${where}`].join("\n");
}

function summarizeTenants(report: TenantReport): string {
  const heads = (value: readonly string[] | undefined) => (value && value.length > 0 ? value.join(", ") : "base");
  const line = (t: TenantResult) => {
    if (!t.ok) return `${t.tenant}: FAILED ${t.error.code}`;
    if ("upToDate" in t && !t.upToDate) return `${t.tenant}: ${heads(t.heads)}, pending ${t.pending.join(", ") || "none"}${t.changed.length > 0 ? `, changed since applied ${t.changed.join(", ")}` : ""}`;
    if ("versions" in t) return `${t.tenant}: ${heads(t.heads)}`;
    const changed = t.changed && t.changed.length > 0 ? `; changed since applied (--allow-changed): ${t.changed.join(", ")}` : "";
    return t.steps.length === 0 ? `${t.tenant}: at ${heads(t.from)}${changed}` : `${t.tenant}: ${heads(t.from)} -> ${heads(t.to)}, ${t.steps.length} step(s)${changed}`;
  };
  return [...report.tenants.map(line), `${report.succeeded} tenant(s) ok, ${report.failed} failed (database ${report.database}, bundle ${report.bundleSha256}).`].join("\n");
}

function summarize(result: Record<string, unknown>): string {
  const heads = (value: unknown) => (Array.isArray(value) && value.length > 0 ? value.join(", ") : "base");
  const steps = Array.isArray(result.steps) ? (result.steps as { revision: string; direction: string; ms?: number }[]) : [];
  const lines: string[] = [];
  switch (result.command) {
    case "upgrade":
    case "downgrade":
    case "stamp":
      if (result.dryRun) {
        lines.push(`dry run of ${result.command} on ${result.database}: ${heads(result.from)} -> ${heads(result.to)}, ${steps.length} step(s); nothing was changed`);
        // A script too large for the answer went to S3.
        const script = result.script as { bucket?: string; key?: string; bytes?: number } | undefined;
        if (script?.key) lines.push(`script (${script.bytes} bytes, too large for the answer): s3://${script.bucket}/${script.key}`);
      }
      else lines.push(steps.length === 0 ? `Nothing to do: ${result.database} is at ${heads(result.from)}.` : `${result.command} ${result.database}: ${heads(result.from)} -> ${heads(result.to)} in ${result.durationMs} ms`);
      for (const step of steps) lines.push(`  ${step.direction} ${step.revision}${step.ms !== undefined ? ` ${step.ms} ms` : ""}`);
      // As the local run warns: the edited applied revisions allowChanged ran past.
      for (const c of Array.isArray(result.changed) ? (result.changed as { revision: string; file?: string }[]) : []) {
        lines.push(`changed since applied (--allow-changed): ${c.revision}${c.file ? ` (${c.file})` : ""}`);
      }
      break;
    case "sql":
      lines.push(`s3://${result.bucket}/${result.key} (${heads(result.from)} -> ${heads(result.to)}, ${steps.length} step(s))`);
      break;
    case "current":
      lines.push(`${result.database}: ${heads(result.heads)}`);
      break;
    case "heads":
      for (const head of (result.heads as string[]) ?? []) lines.push(head);
      break;
    case "history": {
      // Alembic's history line, from the entry's fields (the graph is in the function).
      const entries = Array.isArray(result.revisions) ? (result.revisions as { id: string; revises: string[]; dependsOn: string[]; branchLabels: string[]; message: string }[]) : [];
      for (const r of entries) {
        lines.push(`${r.revises.join(", ") || "<base>"}${r.dependsOn.length > 0 ? ` (${r.dependsOn.join(", ")})` : ""} -> ${r.id}${r.branchLabels.length > 0 ? ` (${r.branchLabels.join(", ")})` : ""}, ${r.message}`);
      }
      break;
    }
    case "repair": {
      const repaired = Array.isArray(result.repaired) ? (result.repaired as { revision: string; file: string }[]) : [];
      const recorded = Array.isArray(result.recorded) ? (result.recorded as { revision: string; file: string }[]) : [];
      if (repaired.length + recorded.length === 0) lines.push(`Nothing to repair: no applied revision of ${result.database} changed since it ran, and each has its checksum on record.`);
      for (const c of repaired) lines.push(`recorded the checksum of ${c.revision} (${c.file}), changed since it ran`);
      for (const r of recorded) lines.push(`recorded the checksum of ${r.revision} (${r.file}), which had none on record`);
      break;
    }
    case "check": {
      // Behind can be pending revisions, applied revisions edited since they ran, or both.
      const pending = Array.isArray(result.pending) ? (result.pending as string[]) : [];
      const changed = Array.isArray(result.changed) ? (result.changed as { revision: string; file?: string }[]) : [];
      if (result.upToDate) lines.push(`${result.database} is up to date.`);
      if (pending.length > 0) lines.push(`${result.database}: pending ${pending.join(", ")}`);
      for (const c of changed) lines.push(`${result.database}: changed since applied: ${c.revision}${c.file ? ` (${c.file})` : ""}`);
      if (changed.length > 0) lines.push("An edited applied revision does not change the database: restore it and publish again, or accept an edit that changes nothing the database needs with lambic invoke repair.");
      break;
    }
    case "tenants": {
      // One tenant a line, for grep and wc; the batches are the JSON's.
      const batches = Array.isArray(result.batches) ? (result.batches as { tenants: string[] }[]) : [];
      // A loop, not push(...all): past ≈ 125,000 names a spread overflows the call's arguments.
      for (const batch of batches) for (const tenant of batch.tenants) lines.push(tenant);
      lines.push(`${result.count} tenant(s) of ${result.database} in ${batches.length} batch(es) of up to ${result.batchSize}`);
      break;
    }
    default:
      lines.push(JSON.stringify(result, null, 2));
  }
  lines.push(`bundle ${result.bundleSha256}`);
  return lines.join("\n");
}
