import { LambicError } from "../../src/errors.ts";

/** The LambicError `fn` throws; anything else it throws, or no throw at all, fails the test. */
export function failure(fn: () => unknown): LambicError {
  try {
    fn();
  } catch (error) {
    if (error instanceof LambicError) return error;
    throw error;
  }
  throw new Error("no error");
}
