// How the in-process children time a call: once on a cold engine, then warmed up.

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
  const first = once();
  const budget = performance.now() + BUDGET_MS;
  for (let i = 0; i < WARMUP_CALLS && performance.now() < budget; i++) once();
  const warm = [];
  for (let i = 0; i < MEASURED_CALLS && (i === 0 || performance.now() < budget); i++) warm.push(once().total);
  warm.sort((a, b) => a - b);
  return { first, warmTotal: warm[warm.length >> 1] };
}
