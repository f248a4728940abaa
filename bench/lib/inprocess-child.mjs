// One fresh process: generate N branchy metas (not timed), then time RevisionMap construction,
// planUpgrade(map, [], "heads") and map.heads, first on a cold (un-JITted) engine, then warmed up.
// Usage: node inprocess-child.mjs <path of dist/index.mjs> <N>
import { pathToFileURL } from "node:url";
import { timeFirstAndWarm } from "./first-call.mjs";
import { branchyGraph, metasOf } from "./graphs.mjs";

const [indexPath, countText] = process.argv.slice(2);
const { RevisionMap, planUpgrade } = await import(pathToFileURL(indexPath).href);
const metas = metasOf(branchyGraph(Number(countText ?? 10000)));

function once() {
  const t0 = performance.now();
  const map = new RevisionMap(metas);
  const t1 = performance.now();
  const steps = planUpgrade(map, [], "heads");
  const t2 = performance.now();
  const heads = map.heads;
  const t3 = performance.now();
  return { load: t1 - t0, plan: t2 - t1, heads: t3 - t2, total: t3 - t0, steps: steps.length, headCount: heads.length };
}

const { first, warmTotal } = timeFirstAndWarm(once);
process.stdout.write(
  JSON.stringify({ first, warm: { total: warmTotal }, steps: first.steps, heads: first.headCount }),
);
