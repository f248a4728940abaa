import { describe, expect, it } from "vitest";
import { awsRequestHandler } from "../../src/aws-requests.ts";
import { resolveDatabaseUrl } from "../../src/db/secrets.ts";
import { checkEnvNumbers, ENV_NUMBERS, envWholeNumber } from "../../src/env-number.ts";
import { LambicError } from "../../src/errors.ts";
import { runBudget } from "../../handler/commands.ts";
import { tenantConcurrency } from "../../handler/tenants.ts";

const range = { unset: 300, min: 0, max: 86_400, unit: "seconds" };

function refusal(run: () => unknown): LambicError {
  try {
    run();
  } catch (error) {
    return error as LambicError;
  }
  throw new Error("expected a refusal");
}

describe("whole-number settings from the environment", () => {
  it("takes the default when the variable is unset or empty", () => {
    expect(envWholeNumber({}, "LAMBIC_X", range)).toBe(300);
    expect(envWholeNumber({ LAMBIC_X: "" }, "LAMBIC_X", range)).toBe(300);
    expect(envWholeNumber({ LAMBIC_X: "  " }, "LAMBIC_X", range)).toBe(300);
  });

  it("reads a whole number within the range, the bounds included", () => {
    expect(envWholeNumber({ LAMBIC_X: "0" }, "LAMBIC_X", range)).toBe(0);
    expect(envWholeNumber({ LAMBIC_X: "86400" }, "LAMBIC_X", range)).toBe(86_400);
    expect(envWholeNumber({ LAMBIC_X: " 60 " }, "LAMBIC_X", range)).toBe(60);
  });

  for (const raw of ["5m", "1.5", "-1", "86401", "1e3", "0x10", "NaN", "Infinity"]) {
    it(`refuses ${JSON.stringify(raw)} with CONFIG_INVALID naming the variable, the value and the range`, () => {
      const error = refusal(() => envWholeNumber({ LAMBIC_X: raw }, "LAMBIC_X", range));
      expect(error).toBeInstanceOf(LambicError);
      expect(error.code).toBe("CONFIG_INVALID");
      expect(error.message).toBe(`LAMBIC_X is "${raw}"; expected a whole number of seconds from 0 to 86400 (or unset for 300). Fix the function's environment and run again.`);
      expect(error.details).toEqual({ variable: "LAMBIC_X", value: raw });
    });
  }

  it("LAMBIC_SECRET_TTL_SECONDS that is not a number is refused before any AWS call", async () => {
    await expect(resolveDatabaseUrl("main", { LAMBIC_DATABASE_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:1:secret:db", LAMBIC_SECRET_TTL_SECONDS: "5 minutes" })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      details: { variable: "LAMBIC_SECRET_TTL_SECONDS" },
    });
  });

  it("LAMBIC_TENANT_CONCURRENCY and LAMBIC_AWS_REQUEST_TIMEOUT_MS are read the same way", () => {
    expect(tenantConcurrency({ LAMBIC_TENANT_CONCURRENCY: "4" })).toBe(4);
    expect(refusal(() => tenantConcurrency({ LAMBIC_TENANT_CONCURRENCY: "17" })).details).toEqual({ variable: "LAMBIC_TENANT_CONCURRENCY", value: "17" });
    expect(awsRequestHandler({ LAMBIC_AWS_REQUEST_TIMEOUT_MS: "2500" }).requestTimeout).toBe(2500);
    expect(refusal(() => awsRequestHandler({ LAMBIC_AWS_REQUEST_TIMEOUT_MS: "99" })).code).toBe("CONFIG_INVALID");
  });

  it("LAMBIC_DEADLINE_MARGIN_MS that is not a number is refused, not taken for the default", () => {
    const deps = (value: string) => ({ env: { LAMBIC_DEADLINE_MARGIN_MS: value }, context: { getRemainingTimeInMillis: () => 60_000 } }) as unknown as Parameters<typeof runBudget>[0];
    const bundle = { settings: { statementTimeoutMs: 0, lockTimeoutMs: 10_000 } } as unknown as Parameters<typeof runBudget>[1];
    expect(runBudget(deps("5000"), bundle).marginMs).toBe(5000);
    expect(refusal(() => runBudget(deps("5s"), bundle)).details).toEqual({ variable: "LAMBIC_DEADLINE_MARGIN_MS", value: "5s" });
  });
});

describe("checking every numeric setting of the function at once", () => {
  it("passes when each is unset or in range", () => {
    expect(() => checkEnvNumbers({})).not.toThrow();
    expect(() => checkEnvNumbers(Object.fromEntries(Object.entries(ENV_NUMBERS).map(([name, spec]) => [name, String(spec.max)])))).not.toThrow();
  });

  it.each(Object.keys(ENV_NUMBERS))("refuses %s out of range or not a number, naming it", (variable) => {
    for (const raw of ["abc", "-1", "999999999"]) {
      const error = refusal(() => checkEnvNumbers({ [variable]: raw }));
      expect(error).toMatchObject({ code: "CONFIG_INVALID", details: { variable, value: raw } });
    }
  });
});
