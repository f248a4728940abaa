// The floor of the in-process figure: what any implementation pays to order N revisions in a
// fresh process on this machine. A bare-bones upgrade plan over the same branchy metas as
// inprocess-child.mjs: ids and branch labels into one Map, parents and dependencies into rows of
// positions, the heads, one depth-first pass that puts every revision after its parents, and one
// step object per revision. No checks of any kind, no cycle detection, and not Alembic's order.
// Timed as inprocess-child.mjs is (first-call.mjs): the first call on a cold engine, then warmed up.
// Usage: node inprocess-floor-child.mjs <N>
import { timeFirstAndWarm } from "./first-call.mjs";
import { branchyGraph, metasOf } from "./graphs.mjs";

const metas = metasOf(branchyGraph(Number(process.argv[2] ?? 10000)));

function bareBonesPlan(metas) {
  const n = metas.length;
  const positions = new Map();
  for (let i = 0; i < n; i++) positions.set(metas[i].id, i);
  for (let i = 0; i < n; i++) for (const label of metas[i].branchLabels ?? []) positions.set(label, i);
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const { revises, dependsOn } = metas[i];
    offsets[i + 1] = offsets[i] + (revises == null ? 0 : typeof revises === "string" ? 1 : revises.length) + (dependsOn?.length ?? 0);
  }
  const parents = new Int32Array(offsets[n]);
  const childCount = new Int32Array(n);
  for (let i = 0, e = 0; i < n; i++) {
    const { revises, dependsOn } = metas[i];
    if (typeof revises === "string") parents[e++] = positions.get(revises);
    else if (revises != null) for (const id of revises) parents[e++] = positions.get(id);
    if (dependsOn) for (const id of dependsOn) parents[e++] = positions.get(id);
  }
  for (let e = 0; e < parents.length; e++) childCount[parents[e]]++;
  const heads = [];
  for (let i = 0; i < n; i++) if (childCount[i] === 0) heads.push(metas[i].id);
  const order = new Int32Array(n);
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 placed
  const stack = new Int32Array(n + parents.length);
  let placed = 0;
  for (let head = 0; head < n; head++) {
    if (childCount[head] !== 0) continue;
    let top = 0;
    stack[top++] = head;
    while (top > 0) {
      const node = stack[top - 1];
      if (state[node] === 2) {
        top--;
      } else if (state[node] === 0) {
        state[node] = 1;
        for (let e = offsets[node + 1] - 1; e >= offsets[node]; e--) if (state[parents[e]] === 0) stack[top++] = parents[e];
      } else {
        top--;
        state[node] = 2;
        order[placed++] = node;
      }
    }
  }
  const steps = new Array(placed);
  for (let k = 0; k < placed; k++) {
    const { id, revises } = metas[order[k]];
    steps[k] = { kind: "revision", revision: id, direction: "up", from: revises == null ? [] : typeof revises === "string" ? [revises] : revises, to: [id] };
  }
  return { heads, steps };
}

function once() {
  const started = performance.now();
  const { heads, steps } = bareBonesPlan(metas);
  return { total: performance.now() - started, steps: steps.length, heads: heads.length };
}

const { first, warmTotal } = timeFirstAndWarm(once);
process.stdout.write(JSON.stringify({ first, warm: { total: warmTotal } }));
