/**
 * The Lambda entry (`handler.handler`, built to dist/lambda/handler.mjs). Validates the event
 * before anything connects, runs it (handler/commands.ts), and reports: the result on success;
 * on failure a thrown error whose type is lambic's error code, so the invocation is a function
 * error and the deploy step that invoked it fails. Either way one JSON log line per step and
 * one EMF metrics line.
 *
 * Only the event check, Powertools and the bundle format are loaded at cold start; the
 * database driver, the runner and the AWS SDK clients are imported on first use.
 */
import type { Context } from "aws-lambda";
import { redactSecrets } from "../src/db/redact.ts";
import { LambicError } from "../src/errors.ts";
import { createLogger, startInvocation } from "../src/observe/logger.ts";
import { createMetrics, publishOutcome, publishTenantOutcome } from "../src/observe/metrics.ts";
import { COMMANDS, eventDefaultsFromEnv, parseEvent } from "./event.ts";
import { messageWithoutReport } from "./tenant-report.ts";
import type { RunReport } from "./commands.ts";

const logger = createLogger();
const metrics = createMetrics();

export type LambicResult = Record<string, unknown> & { ok: true; command: string; database: string; durationMs: number; bundleSha256: string };

export async function handler(event: unknown, context: Context): Promise<LambicResult> {
  const started = performance.now();
  const env = process.env;
  const defaults = eventDefaultsFromEnv(env);
  // Dimensions for a malformed event: the function's database and "invalid", never values from
  // the event (a typo would otherwise create a new metric).
  const raw = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const dimensions = {
    database: typeof raw.database === "string" && defaults.databases.includes(raw.database) ? raw.database : defaults.defaultDatabase,
    command: typeof raw.command === "string" && (COMMANDS as readonly string[]).includes(raw.command) ? raw.command : "invalid",
  };
  startInvocation(logger, context, dimensions, event);
  const report: RunReport = { revisionsApplied: 0, s3Requests: 0 };

  try {
    const parsed = parseEvent(event, defaults);
    logger.info("invocation", { target: parsed.targets, bundle: parsed.bundleSha256 ?? "current", dryRun: parsed.dryRun });
    const { runEvent } = await import("./commands.ts");
    const result = await runEvent(parsed, {
      env,
      context,
      report,
      onStep: (step, tenant) => logger.info("step", { ...(tenant !== undefined ? { tenant } : {}), revision: step.revision, direction: step.direction, ms: step.ms, revisionMessage: step.message }),
      log: (message, fields) => logger.info(message, fields),
      // The coordinator of a fanout logs batches; its batch invocations record the tenants.
      onTenant:
        parsed.command === "fanout"
          ? undefined
          : (tenant, progress) => {
              const ran = "steps" in tenant ? tenant : undefined;
              const revisionsApplied = ran ? ran.steps.filter((s) => s.direction === "up" || s.direction === "down").length : 0;
              if (tenant.ok) logger.info("tenant", { tenant: tenant.tenant, ok: true, ms: tenant.ms, ...(ran ? { from: ran.from, to: ran.to, revisionsApplied } : {}), ...progress });
              else logger.error("tenant", { tenant: tenant.tenant, ok: false, ms: tenant.ms, error: { ...tenant.error, message: redactSecrets(tenant.error.message) }, ...progress });
              publishTenantOutcome(metrics, {
                ...dimensions,
                tenant: tenant.tenant,
                ok: tenant.ok,
                revisionsApplied,
                durationMs: tenant.ms ?? 0,
                from: ran?.from,
                to: ran?.to,
                errorCode: tenant.ok ? undefined : tenant.error.code,
                requestId: context.awsRequestId,
              });
            },
    });
    const durationMs = Math.round(performance.now() - started);
    publishOutcome(metrics, { ...dimensions, ok: true, durationMs, ...outcomeOf(report), requestId: context.awsRequestId });
    logger.info("done", { ok: true, durationMs, from: report.from, to: report.to, revisionsApplied: report.revisionsApplied, bundleFrom: report.bundleFrom, s3Requests: report.s3Requests, roundTrips: report.roundTrips, tenants: report.tenants });
    return { ...result, durationMs } as LambicResult;
  } catch (error) {
    const coded = error instanceof LambicError ? error : new LambicError("INTERNAL_ERROR", `Unexpected failure: ${(error as Error)?.message ?? String(error)}. This is a lambic bug; the log has the stack.`, {}, { cause: error });
    const durationMs = Math.round(performance.now() - started);
    // A malformed event is not a failed run of its command: its alarm stays quiet.
    if (coded.code === "INVALID_EVENT") dimensions.command = "invalid";
    publishOutcome(metrics, { ...dimensions, ok: false, durationMs, ...outcomeOf(report), errorCode: coded.code, requestId: context.awsRequestId });
    // The revision's own frames (where it threw), besides lambic's: a REVISION_FAILED's cause.
    const causeStack = coded.cause instanceof Error ? stackFrames(coded.cause) : undefined;
    logger.error("failed", { error: loggedError(coded), stack: stackFrames(error), ...(causeStack ? { causeStack: redactSecrets(causeStack) } : {}), durationMs, bundleSha256: report.bundleSha256 });
    throw toFunctionError(coded);
  }
}

/** Items of a list in an error's details that the "failed" line keeps; the count of the rest follows. */
const LOGGED_LIST_ITEMS = 100;

/**
 * The error as the "failed" line logs it: without the tenant report a TENANTS_FAILED message
 * carries (each tenant has its own "tenant" line), long lists cut. CloudWatch cuts a log event
 * at 256 KB, and a cut line is no longer JSON a query can read.
 */
function loggedError(error: LambicError): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...error.toJSON(), message: messageWithoutReport(error.message) };
  for (const [field, value] of Object.entries(fields)) {
    if (typeof value === "string") fields[field] = clipMessage(redactSecrets(value));
    else if (Array.isArray(value) && value.length > LOGGED_LIST_ITEMS) {
      fields[field] = value.slice(0, LOGGED_LIST_ITEMS);
      fields[`${field}Omitted`] = value.length - LOGGED_LIST_ITEMS;
    }
  }
  return fields;
}

/** Characters of an error's message the answer and the failed line keep: its start and its end. */
const MESSAGE_HEAD = 12_000;
const MESSAGE_TAIL = 4_000;

/**
 * A message cut in its middle when long: PostgreSQL quotes a value it could not read whole
 * (invalid input syntax for type integer: "…" of a 5 MB literal), and a revision's error may be
 * anything. Lambda sends errorMessage twice (and the trace) in an answer of at most 6 MB, and
 * CloudWatch cuts a log event at 256 KB. The end says what the run left and where its fallback is.
 */
function clipMessage(message: string): string {
  if (message.length <= MESSAGE_HEAD + MESSAGE_TAIL) return message;
  return `${message.slice(0, MESSAGE_HEAD)} … [${message.length - MESSAGE_HEAD - MESSAGE_TAIL} characters cut] … ${message.slice(-MESSAGE_TAIL)}`;
}

/** The stack's frames: its first line repeats the message, already in the line's error. */
function stackFrames(error: unknown): string | undefined {
  const stack = (error as Error)?.stack;
  return typeof stack === "string" ? stack.split("\n").filter((line) => line.startsWith("    at ")).join("\n") : undefined;
}

function outcomeOf(report: RunReport) {
  return { revisionsApplied: report.revisionsApplied, lockWaitMs: report.lockWaitMs, from: report.from, to: report.to, bundleSha256: report.bundleSha256, tenants: report.tenants };
}

/**
 * Lambda reports a thrown error as { errorType: error.name, errorMessage, trace } and drops
 * every other property, so the code travels as the type: callers branch on errorType.
 */
function toFunctionError(error: LambicError): Error {
  // A TENANTS_FAILED message carries its report, already sized to the response limit.
  // A revision's own error may quote the database URL (its message is the revision's words).
  const message = redactSecrets(error.message);
  const thrown = new Error(error.code === "TENANTS_FAILED" ? message : clipMessage(message), { cause: error });
  thrown.name = error.code;
  return thrown;
}
