// Helpers for the operations tests: run op calls and collect what they emit, or what they refuse.
import { expect } from "vitest";
import { isLambicError, type LambicError } from "../../../src/errors.ts";
import { createOperations, type Operations } from "../../../src/operations/index.ts";

/** The statements the calls emit, in order. */
export function emitted(calls: (op: Operations) => void): string[] {
  const statements: string[] = [];
  calls(createOperations((statement) => statements.push(statement)));
  return statements;
}

/** The INVALID_OPERATION error the call throws; also checks it emitted nothing before throwing. */
export function refusal(call: (op: Operations) => void): LambicError {
  const statements: string[] = [];
  try {
    call(createOperations((statement) => statements.push(statement)));
  } catch (error) {
    if (!isLambicError(error, "INVALID_OPERATION")) throw error;
    expect(statements).toEqual([]);
    return error;
  }
  throw new Error(`expected INVALID_OPERATION, but the call emitted: ${JSON.stringify(statements)}`);
}

/** Names no test should be able to break out of a quoted identifier with. */
export const HOSTILE_NAMES = [
  ['a double quote', 'we"ird', '"we""ird"'],
  ["a closing quote and a statement", '"; DROP TABLE x; --', '"""; DROP TABLE x; --"'],
  ["a backslash", "back\\slash", '"back\\slash"'],
  ["dollar quotes", "$$x$$", '"$$x$$"'],
  ["a single quote", "it's", "\"it's\""],
  ["accented letters", "ünïcödé", '"ünïcödé"'],
  ["an emoji", "duck🦆", '"duck🦆"'],
  ["a reserved word", "user", '"user"'],
  ["upper case", "MixedCase", '"MixedCase"'],
] as const;
