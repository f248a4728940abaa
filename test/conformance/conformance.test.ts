import { describe, expect, it } from "vitest";
import { LambicError } from "../../src/errors.ts";
import { RevisionMap } from "../../src/revision/revision-map.ts";
import { answer, expectationFor, GENERATED_DIR, firstRowTarget, isAmbiguousDowngrade, loadCases, pick, toMetas, type Answer, type Query } from "./harness.ts";

/**
 * lambic refuses a bare `-N` from several rows (Alembic only warns). The refusal must be
 * AMBIGUOUS_RELATIVE, and naming the first row's branch must give Alembic's answer.
 */
function answerAmbiguous(map: RevisionMap, query: Query, state: { rows: string[] }): Answer {
  const refused = answer(map, query, { rows: [...state.rows] });
  expect("error" in refused ? (refused.error as LambicError).code : refused).toBe("AMBIGUOUS_RELATIVE");
  return answer(map, { ...query, target: firstRowTarget(query.target as string, state.rows) }, state);
}

function check(kind: string, got: Answer, expected: any, alternatives?: any[]): void {
  const expectation = expectationFor(expected, alternatives);
  if (expectation.kind === "no-crash") return; // reaching here without an exception is the point
  if (expectation.kind === "error") {
    expect("error" in got ? (got.error as LambicError).code : got).toSatisfy((code: unknown) => expectation.codes.includes(code as never));
    return;
  }
  if ("error" in got && got.error instanceof LambicError) {
    throw new Error(`expected an answer ${JSON.stringify(pick(kind, expected))}, got ${got.error.code}: ${got.error.message}`);
  }
  const accepted = expectation.accepted.map((a) => pick(kind, a));
  expect(accepted).toContainEqual(pick(kind, got as Record<string, unknown>));
}

function label(query: Query, index: number): string {
  const args = [query.current && `from [${query.current.join(",")}]`, query.target !== undefined && `to ${JSON.stringify(query.target)}`, query.range && `range ${query.range}`]
    .filter(Boolean)
    .join(" ");
  return `#${index} ${query.kind} ${args}`.trim();
}

describe.each([...loadCases(), ...loadCases(GENERATED_DIR)])("Alembic conformance: $file", (testCase) => {
  let map: RevisionMap | LambicError;
  try {
    map = new RevisionMap(toMetas(testCase.revisions));
  } catch (error) {
    if (!(error instanceof LambicError)) throw error;
    map = error;
  }

  if (testCase.name === "duplicate_revision_id" || testCase.file === "h_duplicate_revision_id.json") {
    // Alembic warns and keeps going (and later fails with "overlaps"); lambic refuses the graph.
    it("refuses the graph with DUPLICATE_REVISION", () => {
      expect(map).toBeInstanceOf(LambicError);
      expect((map as LambicError).code).toBe("DUPLICATE_REVISION");
    });
    return;
  }

  testCase.queries.forEach((query, index) => {
    it(label(query, index), () => {
      if (map instanceof LambicError) {
        check(query.kind, { error: map }, query.kind === "sequence" ? query.expected[0] : query.expected);
        return;
      }
      const state = { rows: [...(query.current ?? [])] };
      if (query.kind !== "sequence") {
        const got = isAmbiguousDowngrade(query.expected) ? answerAmbiguous(map, query, state) : answer(map, query, state);
        check(query.kind, got, query.expected, query.raw_alternatives);
        return;
      }
      query.steps!.forEach((step, stepIndex) => {
        const before = [...state.rows];
        const got = isAmbiguousDowngrade(query.expected[stepIndex]) ? answerAmbiguous(map as RevisionMap, step, state) : answer(map as RevisionMap, step, state);
        if ("error" in got) state.rows = before; // a failed step changes nothing
        // Where Alembic crashed and lambic answered, the steps after it start from what the crash
        // left in Alembic's table (the oracle's SQLite keeps what ran before the crash).
        const crashed = query.expected[stepIndex];
        if (expectationFor(crashed).kind === "no-crash") state.rows = Array.isArray(crashed.versions) ? [...crashed.versions] : before;
        try {
          check(step.kind, got, query.expected[stepIndex], query.raw_alternatives?.map((alt) => alt[stepIndex]));
        } catch (error) {
          throw new Error(`sequence step ${stepIndex} (${label(step, stepIndex)}): ${(error as Error).message}`);
        }
      });
    });
  });
});
