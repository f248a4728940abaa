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

/** Request id, cold start and function name on every line of this invocation, plus `keys`. */
export function startInvocation(logger: Logger, context: Context, keys: Record<string, string>): void {
  logger.resetKeys();
  logger.addContext(context);
  logger.appendKeys(keys);
}
