import { describe, expect, it } from "vitest";
import { ancestry, parentsFirst, type Edges } from "../../../src/revision/ancestry.ts";

/** A deterministic generator, so a failing graph can be rebuilt from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * A history-like DAG: mostly chains, some forks, merges of two earlier revisions, and a few
 * extra parents (dependencies). Parents always come earlier; `shuffle` then renumbers the
 * revisions so that they no longer do.
 */
function historyGraph(n: number, seed: number, shuffle: boolean): Edges {
  const next = random(seed);
  const parents: number[][] = [];
  for (let i = 0; i < n; i++) {
    const roll = next();
    if (i === 0 || roll < 0.03) parents.push([]);
    else if (roll < 0.75) parents.push([i - 1]);
    else if (roll < 0.9) parents.push([Math.floor(next() * i)]);
    else parents.push([...new Set([i - 1, Math.floor(next() * i), Math.floor(next() * i)])]);
  }
  const position = Array.from({ length: n }, (_, i) => i);
  if (shuffle) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [position[i], position[j]] = [position[j]!, position[i]!];
    }
  }
  const rows: number[][] = new Array(n);
  for (let i = 0; i < n; i++) rows[position[i]!] = parents[i]!.map((p) => position[p]!);
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + rows[i]!.length;
  return { offsets, targets: Int32Array.from(rows.flat()) };
}

/** The answer by definition: walk b's ancestors. */
function walkedAncestors(edges: Edges, b: number): Set<number> {
  const seen = new Set<number>();
  const stack = [b];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    for (let e = edges.offsets[node]!; e < edges.offsets[node + 1]!; e++) stack.push(edges.targets[e]!);
  }
  return seen;
}

function expectSameAsWalking(edges: Edges, options: Parameters<typeof ancestry>[1]): void {
  const { isAncestor } = ancestry(edges, options);
  const n = edges.offsets.length - 1;
  for (let b = 0; b < n; b++) {
    const ancestors = walkedAncestors(edges, b);
    for (let a = 0; a < n; a++) {
      if (isAncestor(a, b) !== ancestors.has(a)) throw new Error(`isAncestor(${a}, ${b}) should be ${ancestors.has(a)}`);
    }
  }
}

describe("ancestry", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`answers every pair as a walk does (history graph ${seed}, parents first)`, () => {
      expectSameAsWalking(historyGraph(300, seed, false), { inFileOrder: true });
    });

    it(`answers every pair as a walk does (history graph ${seed}, shuffled positions)`, () => {
      expectSameAsWalking(historyGraph(300, seed, true), {});
    });

    it(`answers every pair as a walk does without the chain closure (history graph ${seed})`, () => {
      expectSameAsWalking(historyGraph(200, seed, true), { closureLimit: 0 });
    });
  }

  it("counts a revision among its own ancestors", () => {
    const { isAncestor } = ancestry(historyGraph(50, 9, true));
    for (let i = 0; i < 50; i++) expect(isAncestor(i, i)).toBe(true);
  });

  it("says a parent continues its only child's chain, and a branch point does not", () => {
    // 0 ← 1 ← 2, and 1 ← 3 (1 is a branch point)
    const edges: Edges = { offsets: Int32Array.from([0, 0, 1, 2, 3]), targets: Int32Array.from([0, 1, 1]) };
    const { continuesChain } = ancestry(edges, { inFileOrder: true });
    expect(continuesChain(0, 1)).toBe(true);
    expect(continuesChain(1, 2)).toBe(false);
    expect(continuesChain(1, 3)).toBe(false);
  });
});

describe("parentsFirst", () => {
  it("places every revision after all of its parents", () => {
    const edges = historyGraph(500, 7, true);
    const order = parentsFirst(edges);
    const placedAt = new Int32Array(order.length);
    order.forEach((node, k) => (placedAt[node] = k));
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    for (let node = 0; node < 500; node++) {
      for (let e = edges.offsets[node]!; e < edges.offsets[node + 1]!; e++) expect(placedAt[edges.targets[e]!]).toBeLessThan(placedAt[node]!);
    }
  });
});
