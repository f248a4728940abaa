import { describe, expect, it } from "vitest";
import { RevisionMap } from "../../src/revision/revision-map.ts";
import { answer, GENERATED_DIR, loadCases, toMetas } from "./harness.ts";

/**
 * Plans order revisions with an ancestor closure kept as a bitset over plain chains, or, for
 * graphs with too many chains for one, by walking each head's ancestors. Both must give every
 * conformance answer identically.
 */
describe("ancestor tests without the chain closure", () => {
  for (const testCase of [...loadCases(), ...loadCases(GENERATED_DIR)]) {
    let maps: [RevisionMap, RevisionMap];
    try {
      maps = [new RevisionMap(toMetas(testCase.revisions)), new RevisionMap(toMetas(testCase.revisions), { closureLimit: 0 })];
    } catch {
      continue; // invalid graphs are refused before any plan
    }
    it(`answers ${testCase.file} the same way`, () => {
      for (const query of testCase.queries) {
        const steps = query.kind === "sequence" ? query.steps! : [query];
        const states = [{ rows: [...(query.current ?? [])] }, { rows: [...(query.current ?? [])] }];
        for (const step of steps) {
          const [withClosure, withoutClosure] = maps.map((map, i) => answer(map, step, states[i]!));
          expect(withoutClosure).toEqual(withClosure);
        }
      }
    });
  }
});
