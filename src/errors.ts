/**
 * One error class for everything lambic refuses or fails at. The code is stable (scripts and
 * the Lambda's callers branch on it); the message says what happened, the values involved and
 * the next step; `details` carries the same values as data.
 */
export const ERROR_CODES = [
  // revision files and the graph
  "REVISION_FILE_INVALID",
  "DUPLICATE_REVISION",
  "DUPLICATE_BRANCH_LABEL",
  "CYCLE_DETECTED",
  "DEPENDENCY_CYCLE_DETECTED",
  "SELF_LOOP",
  "UNKNOWN_PARENT",
  // targets and plans
  "REVISION_NOT_FOUND",
  "AMBIGUOUS_REVISION",
  "MULTIPLE_HEADS",
  "RANGE_NOT_ANCESTOR",
  "AMBIGUOUS_RELATIVE",
  "RELATIVE_OUT_OF_RANGE",
  "INVALID_TARGET",
  "OVERLAPPING_VERSIONS",
  // operations
  "INVALID_OPERATION",
  "OFFLINE_QUERY",
  // configuration and usage
  "CONFIG_INVALID",
  "USAGE",
  // online
  "CONNECTION_FAILED",
  "LOCK_TIMEOUT",
  "STATEMENT_TIMEOUT",
  "STATEMENT_FAILED",
  "REVISION_FAILED",
  // the run was interrupted (Ctrl-C): what ran is cancelled and rolled back
  "INTERRUPTED",
  "UNKNOWN_VERSION",
  "CHECKSUM_MISMATCH",
  "SESSION_LOCK_UNAVAILABLE",
  "INVALID_TENANT",
  // some tenants of a tenant run or fan-out failed (the message carries every tenant's outcome)
  "TENANTS_FAILED",
  // Lambda and bundles
  "INVALID_EVENT",
  "BUNDLE_NOT_FOUND",
  "BUNDLE_INTEGRITY",
  "BUNDLE_DATABASE_MISMATCH",
  "AWS_FAILED",
  "INVOKE_FAILED",
  // a bug: an error that is none of the above
  "INTERNAL_ERROR",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type ErrorDetails = Record<string, unknown>;

export class LambicError extends Error {
  override readonly name = "LambicError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string } & ErrorDetails {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isLambicError(value: unknown, code?: ErrorCode): value is LambicError {
  return value instanceof LambicError && (code === undefined || value.code === code);
}

/** Another's message, quoted where a sentence of ours goes on after it: without its closing full stop. */
export function withoutFullStop(message: string): string {
  return message.endsWith(".") ? message.slice(0, -1) : message;
}
