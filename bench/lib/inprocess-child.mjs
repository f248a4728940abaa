// One fresh process: generate N branchy metas (not timed), then time RevisionMap construction,
// planUpgrade(map, [], "heads") and map.heads, first on a cold (un-JITted) engine, then warmed up.
// Usage: node inprocess-child.mjs <path of dist/index.mjs> <N>
import { pathToFileURL } from "node:url";
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

const first = once();
// Steady state: warm-up calls until V8 has optimised the hot code (its tiers take a dozen or more
// calls here; a median over those would be neither cold nor warm), then the median of measured
// calls. Both phases within a time budget, so that a slow build cannot hold the bench up.
const WARMUP_CALLS = 20;
const MEASURED_CALLS = 15;
const budget = performance.now() + 6000;
for (let i = 0; i < WARMUP_CALLS && performance.now() < budget; i++) once();
const warmRuns = [];
for (let i = 0; i < MEASURED_CALLS && (i === 0 || performance.now() < budget); i++) warmRuns.push(once());
const sorted = warmRuns.map((r) => r.total).sort((a, b) => a - b);
const warmTotal = sorted[sorted.length >> 1];
process.stdout.write(
  JSON.stringify({ first, warm: { total: warmTotal }, steps: first.steps, heads: first.headCount }),
);
