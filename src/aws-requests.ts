import { envNumber } from "./env-number.ts";

/**
 * How long an AWS call (S3, Secrets Manager, SSM) may wait: to connect, and for the next bytes of
 * an answer. Without these the SDK waits as long as the socket stays open, so an endpoint that
 * accepts and stays silent (a VPC without an S3 endpoint or NAT) ran the Lambda into its timeout,
 * with no failed line and no metric. LAMBIC_AWS_REQUEST_TIMEOUT_MS sets the second (default 10 s).
 */
export function awsRequestHandler(env: Record<string, string | undefined>): { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true } {
  const requestTimeout = envNumber(env, "LAMBIC_AWS_REQUEST_TIMEOUT_MS");
  return { connectionTimeout: Math.min(CONNECTION_TIMEOUT_MS, requestTimeout), requestTimeout, throwOnRequestTimeout: true };
}

/** How long any AWS client here waits for a connection to be made. */
export const CONNECTION_TIMEOUT_MS = 3_000;

/**
 * The region the SDK's own chain finds when none is given (the profile's `region` in the AWS
 * config file, as the aws CLI reads it), else us-east-1. `Client` is any SDK v3 client class;
 * a throwaway instance reads the chain.
 */
export async function regionFromSdkChain(Client: new (config: object) => { config: { region: () => Promise<string> }; destroy(): void }): Promise<string> {
  const probe = new Client({});
  try {
    return (await probe.config.region()) || "us-east-1";
  } catch {
    return "us-east-1"; // no region anywhere
  } finally {
    probe.destroy();
  }
}

/** Errors of a connection that was never made: the request did not reach the service. */
const NOT_CONNECTED = new Set(["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH"]);

/**
 * Whether a failed AWS request may still have been carried out: no answer came back after it was
 * sent (a connection dropped during a long Lambda invocation), or a server error answered it. A
 * refusal (a 4xx status), missing credentials or a connection never made mean it was not.
 */
export function answerLost(error: unknown): boolean {
  const { name, code, $metadata } = (error ?? {}) as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = $metadata?.httpStatusCode;
  if (name === "CredentialsProviderError") return false;
  // A server error is no proof the request was not carried out: Lambda's ServiceException (500)
  // and a gateway's 502/503/504 may come after the function ran. Lambda's own 502s for an
  // environment it could not set up (ENILimitReachedException, KMSAccessDeniedException, ...) did not run it.
  if (status !== undefined) return status >= 500 && !(status === 502 && /Exception$/.test(name ?? "") && name !== "ServiceException");
  // The SDK's connectionTimeout: the socket never connected, so nothing was sent.
  if (name === "TimeoutError" && /did not establish a connection/.test(String((error as Error).message))) return false;
  return !(code !== undefined && NOT_CONNECTED.has(code));
}
