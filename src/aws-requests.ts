import { LambicError } from "./errors.ts";

/**
 * How long an AWS call (S3, Secrets Manager, SSM) may wait: to connect, and for the next bytes of
 * an answer. Without these the SDK waits as long as the socket stays open, so an endpoint that
 * accepts and stays silent (a VPC without an S3 endpoint or NAT) ran the Lambda into its timeout,
 * with no failed line and no metric. LAMBIC_AWS_REQUEST_TIMEOUT_MS sets the second (default 10 s).
 */
export function awsRequestHandler(env: Record<string, string | undefined>): { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true } {
  const raw = env.LAMBIC_AWS_REQUEST_TIMEOUT_MS;
  const requestTimeout = raw === undefined || raw === "" ? 10_000 : Number(raw);
  if (!Number.isInteger(requestTimeout) || requestTimeout < 100 || requestTimeout > 300_000) {
    throw new LambicError("CONFIG_INVALID", `LAMBIC_AWS_REQUEST_TIMEOUT_MS is "${raw}"; expected whole milliseconds from 100 to 300000 (or unset for 10000).`, { variable: "LAMBIC_AWS_REQUEST_TIMEOUT_MS" });
  }
  return { connectionTimeout: Math.min(3_000, requestTimeout), requestTimeout, throwOnRequestTimeout: true };
}
