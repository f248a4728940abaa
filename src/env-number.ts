import { LambicError } from "./errors.ts";

/**
 * A whole-number setting read from the environment: `unset` when the variable is missing or
 * empty; anything else must be a whole number in [min, max], or the run stops with
 * CONFIG_INVALID naming the variable (a typo must not quietly become the default).
 */
export function envWholeNumber(env: Record<string, string | undefined>, variable: string, { unset, min, max, unit = "" }: { unset: number; min: number; max: number; unit?: string }): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === "") return unset;
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new LambicError(
      "CONFIG_INVALID",
      `${variable} is "${raw}"; expected a whole number${unit ? ` of ${unit}` : ""} from ${min} to ${max} (or unset for ${unset}). Fix the function's environment and run again.`,
      { variable, value: raw },
    );
  }
  return value;
}
