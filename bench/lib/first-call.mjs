// How the in-process children time a call: once on a cold engine, then warmed up.
import { readFileSync } from "node:fs";

const WARMUP_CALLS = 20;
const MEASURED_CALLS = 15;
const BUDGET_MS = 6000;

/**
 * `once()` returns an object with the call's `total` ms. The first call runs on a cold (un-JITted)
 * engine. Steady state: warm-up calls until V8 has optimised the hot code (its tiers take a dozen
 * or more calls here; a median over those would be neither cold nor warm), then the median of
 * measured calls. Both phases within a time budget, so that a slow build cannot hold the bench up.
 */
export function timeFirstAndWarm(once) {
  const before = mainThreadSchedule();
  const first = once();
  const after = mainThreadSchedule();
  if (before && after) Object.assign(first, { mainRun: after.run - before.run, mainWait: after.wait - before.wait });
  const budget = performance.now() + BUDGET_MS;
  for (let i = 0; i < WARMUP_CALLS && performance.now() < budget; i++) once();
  const warm = [];
  for (let i = 0; i < MEASURED_CALLS && (i === 0 || performance.now() < budget); i++) warm.push(once().total);
  warm.sort((a, b) => a - b);
  return { first, warmTotal: warm[warm.length >> 1] };
}

/**
 * The main thread's time on a CPU and runnable but waiting for one, in ms (Linux's schedstat;
 * undefined elsewhere). On a 2-CPU machine a cold call competes with V8's background compiles
 * of its own loops: the wall time is the main thread's work plus that wait.
 */
function mainThreadSchedule() {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ").map(Number);
    return { run: run / 1e6, wait: wait / 1e6 };
  } catch {
    return undefined;
  }
}
