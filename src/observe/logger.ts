/**
 * Structured JSON logs through Powertools for AWS Lambda's Logger: one line per event, each with
 * the Lambda request id once `startInvocation` has been called. Service name from
 * POWERTOOLS_SERVICE_NAME (the construct sets "lambic"), level from POWERTOOLS_LOG_LEVEL.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";

export type { Logger };

export function createLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || "lambic" });
}

/**
 * Request id, cold start and function name on every line of this invocation, plus `keys`. Does
 * what Powertools' injectLambdaContext does before a handler, so its documented variables hold
 * here too: POWERTOOLS_LOGGER_SAMPLE_RATE draws again on every invocation (not once per
 * execution environment), and POWERTOOLS_LOGGER_LOG_EVENT=true logs the event.
 */
export function startInvocation(logger: Logger, context: Context, keys: Record<string, string>, event: unknown): void {
  logger.resetKeys();
  logger.refreshSampleRateCalculation();
  logger.addContext(context);
  logger.appendKeys(keys);
  logger.logEventIfEnabled(event);
}
