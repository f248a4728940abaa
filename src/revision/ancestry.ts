/**
 * Ancestor tests over a revision graph given in compressed rows (`offsets`/`targets`: each
 * revision's parents, by position). Pure and index-based; RevisionMap orders plans with it.
 */

/** Parent links in compressed rows: revision `i`'s parents are `targets[offsets[i] .. offsets[i + 1])`. */
export interface Edges {
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
}

/** Largest number of chains whose ancestor closure is kept as a bitset (chains² bits: 50 MB at 20,000). */
const CLOSURE_LIMIT = 20_000;

export interface Ancestry {
  /** Is `a` reachable from `b` along parent links (`b` itself included)? */
  isAncestor(a: number, b: number): boolean;
  /** Is `parent` the only parent of `child`, and `child` its only child (one plain chain)? */
  continuesChain(parent: number, child: number): boolean;
  /**
   * The index itself, for loops that ask many questions about one revision: its chain and height
   * in it, and per chain a bitset (`words` long) of the chains below it. Absent above the limit.
   */
  readonly chains?: { readonly chain: Int32Array; readonly height: Int32Array; readonly below: Uint32Array; readonly words: number };
}

/**
 * Ancestor tests for one graph.
 *
 * Revision histories are mostly plain chains. Each chain (a run where every revision has exactly
 * one parent and that parent exactly one child) is numbered, each revision gets its chain and its
 * height in it, and the closure is kept over chains only: a walk can enter a chain only at its
 * top (any other member's single child is in the chain), so reaching a chain means reaching all
 * of it. A linear history of any length is one chain. Above `closureLimit` chains the closure
 * would not fit, and each asked-about revision's ancestors are walked once instead.
 *
 * The graph must be acyclic (RevisionMap refuses cycles first). `inFileOrder`: every parent's
 * position is below its child's, so positions are already a parents-first order.
 */
export function ancestry(edges: Edges, options: { closureLimit?: number; inFileOrder?: boolean } = {}): Ancestry {
  const closureLimit = options.closureLimit ?? CLOSURE_LIMIT;
  const { offsets, targets } = edges;
  const n = offsets.length - 1;
  const childCount = new Int32Array(n);
  for (let e = 0; e < targets.length; e++) childCount[targets[e]!]!++;

  const chain = new Int32Array(n);
  const height = new Int32Array(n);
  const bottoms: number[] = [];
  const order = options.inFileOrder ? undefined : parentsFirst(edges);
  for (let k = 0; k < n; k++) {
    const node = order ? order[k]! : k;
    const start = offsets[node]!;
    if (offsets[node + 1]! - start === 1 && childCount[targets[start]!] === 1) {
      const parent = targets[start]!;
      chain[node] = chain[parent]!;
      height[node] = height[parent]! + 1;
    } else {
      chain[node] = bottoms.push(node) - 1;
    }
  }

  const chains = bottoms.length;
  const continuesChain = (parent: number, child: number) => chain[parent] === chain[child] && height[child] === height[parent]! + 1;
  if (chains > closureLimit) return { isAncestor: walkingTest(edges), continuesChain };
  const words = (chains + 31) >>> 5;
  const below = new Uint32Array(chains * words);
  // Chains were numbered parents first, so every chain below a bottom is complete when read, and
  // holds only lower numbers: a row is copied up to its own chain's word.
  for (let c = 0; c < chains; c++) {
    const bottom = bottoms[c]!;
    const row = c * words;
    for (let e = offsets[bottom]!, end = offsets[bottom + 1]!; e < end; e++) {
      const parentChain = chain[targets[e]!]!;
      const parentRow = parentChain * words;
      const used = (parentChain >>> 5) + 1;
      // The first parent's row is copied natively (the row is still empty): most chains start
      // at a fork, with one parent, and a first call runs this before V8 has compiled the loop.
      if (e === offsets[bottom]) below.copyWithin(row, parentRow, parentRow + used);
      else for (let w = 0; w < used; w++) below[row + w]! |= below[parentRow + w]!;
      below[row + (parentChain >>> 5)]! |= 1 << (parentChain & 31);
    }
  }
  const isAncestor = (a: number, b: number) => {
    const chainA = chain[a]!;
    const chainB = chain[b]!;
    if (chainA === chainB) return height[a]! <= height[b]!;
    return (below[chainB * words + (chainA >>> 5)]! & (1 << (chainA & 31))) !== 0;
  };
  return { isAncestor, continuesChain, chains: { chain, height, below, words } };
}

/** Every revision, each after all of its parents (an iterative post-order over parent links). */
export function parentsFirst(edges: Edges): Int32Array {
  const { offsets, targets } = edges;
  const n = offsets.length - 1;
  const order = new Int32Array(n);
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 placed
  const stack = new Int32Array(n + targets.length);
  let placed = 0;
  for (let root = 0; root < n; root++) {
    if (state[root] === 2) continue;
    let top = 0;
    stack[top++] = root;
    while (top > 0) {
      const node = stack[top - 1]!;
      if (state[node] === 2) {
        top--;
        continue;
      }
      if (state[node] === 0) {
        state[node] = 1;
        for (let e = offsets[node + 1]! - 1; e >= offsets[node]!; e--) if (state[targets[e]!] === 0) stack[top++] = targets[e]!;
        continue;
      }
      top--;
      state[node] = 2;
      order[placed++] = node;
    }
  }
  return order;
}

function walkingTest(edges: Edges): (a: number, b: number) => boolean {
  const { offsets, targets } = edges;
  const n = offsets.length - 1;
  const rows = new Map<number, Uint8Array>();
  return (a, b) => {
    let row = rows.get(b);
    if (!row) {
      row = new Uint8Array(n);
      const stack = [b];
      while (stack.length > 0) {
        const node = stack.pop()!;
        if (row[node]) continue;
        row[node] = 1;
        for (let e = offsets[node]!; e < offsets[node + 1]!; e++) stack.push(targets[e]!);
      }
      rows.set(b, row);
    }
    return row[a] === 1;
  };
}
