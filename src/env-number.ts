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

/**
 * The function's numeric settings, in one place so that an invocation can check them all before
 * it starts (a typo in one a command does not read would otherwise surface only later).
 */
export const ENV_NUMBERS = {
  LAMBIC_AWS_REQUEST_TIMEOUT_MS: { unset: 10_000, min: 100, max: 300_000, unit: "milliseconds" },
  LAMBIC_SECRET_TTL_SECONDS: { unset: 300, min: 0, max: 86_400, unit: "seconds" },
  LAMBIC_DEADLINE_MARGIN_MS: { unset: 3000, min: 0, max: 900_000, unit: "milliseconds" },
  LAMBIC_TENANT_CONCURRENCY: { unset: 2, min: 1, max: 16 },
  LAMBIC_FANOUT_START_MARGIN_MS: { unset: 10_000, min: 0, max: 900_000, unit: "milliseconds" },
  // Lambda refuses an answer over 6 MB.
  LAMBIC_RESPONSE_LIMIT_BYTES: { unset: 5 * 1024 * 1024, min: 4096, max: 6 * 1024 * 1024, unit: "bytes" },
} as const;

export type EnvNumberName = keyof typeof ENV_NUMBERS;

export function envNumber(env: Record<string, string | undefined>, variable: EnvNumberName): number {
  return envWholeNumber(env, variable, ENV_NUMBERS[variable]);
}

/** Refuses the first numeric setting that is set and not a whole number in its range. */
export function checkEnvNumbers(env: Record<string, string | undefined>): void {
  for (const variable of Object.keys(ENV_NUMBERS) as EnvNumberName[]) envNumber(env, variable);
}
