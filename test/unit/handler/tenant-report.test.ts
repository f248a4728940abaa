/**
 * The size of a tenant run's answer: Lambda refuses a synchronous response over 6 MB, so a
 * report over the limit goes to S3 (here: the ReportStore's write, collected in memory, since
 * these functions only hand it bytes) and the answer is a compact report.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RESPONSE_LIMIT_BYTES,
  LAMBDA_RESPONSE_MAX_BYTES,
  compactReportFromMessage,
  errorResponseBytes,
  fitFailure,
  fitResult,
  messageWithoutReport,
  reportFromMessage,
  responseLimitFromEnv,
  type ReportStore,
  type TenantReport,
  type TenantResult,
} from "../../../handler/tenant-report.ts";
import { LambicError } from "../../../src/errors.ts";

const SHA = "0123456789abcdef".repeat(4);
const STEPS = ["aaaa00000001", "bbbb00000002", "cccc00000003"].map((revision) => ({ revision, direction: "up", ms: 12 }));

function tenantResults(count: number, failEvery = 0): TenantResult[] {
  return Array.from({ length: count }, (_, i): TenantResult => {
    const tenant = `tenant_${String(i).padStart(6, "0")}`;
    if (failEvery > 0 && i % failEvery === 0) {
      return { tenant, ok: false, error: { code: "STATEMENT_FAILED", message: `Revision bbbb00000002 (upgrade) failed: relation "invoice" already exists [SQLSTATE 42P07]. ${"context ".repeat(60)}` }, ms: 40 };
    }
    return { tenant, ok: true, from: [], to: ["cccc00000003"], steps: STEPS, ms: 80 };
  });
}

/** A fan-out's report: tenants plus one summary per batch of 25. */
function fanoutReport(tenants: TenantResult[]): TenantReport & Record<string, unknown> {
  const failed = tenants.filter((t) => !t.ok).length;
  const batches = Array.from({ length: Math.ceil(tenants.length / 25) }, (_, index) => {
    const slice = tenants.slice(index * 25, index * 25 + 25);
    const f = slice.filter((t) => !t.ok).length;
    return { index, tenants: slice.length, succeeded: slice.length - f, failed: f, ms: 900 };
  });
  return { command: "fanout", operation: "upgrade", targets: ["head"], database: "app", bundleSha256: SHA, function: "arn:aws:lambda:us-east-1:000000000000:function:lambic", batchSize: 25, concurrency: 4, batches, tenants, succeeded: tenants.length - failed, failed };
}

function memoryStore(limitBytes: number, fail?: Error): ReportStore & { written: Uint8Array[] } {
  const written: Uint8Array[] = [];
  return {
    limitBytes,
    bucket: "bundles",
    key: "lambic/app/reports/fanout-upgrade__req-1.json",
    written,
    write: async (json) => {
      if (fail) throw fail;
      written.push(json);
    },
  };
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe("fitResult", () => {
  it("answers a report under the limit as it is, writing nothing", async () => {
    const result = { ...fanoutReport(tenantResults(30)), ok: true as const };
    const store = memoryStore(DEFAULT_RESPONSE_LIMIT_BYTES);
    expect(await fitResult(result, store)).toBe(result);
    expect(store.written).toHaveLength(0);
  });

  it("30,000 tenants (over 6 MB): the full report goes to the store, the answer is a compact report far under the limit", async () => {
    const result = { ...fanoutReport(tenantResults(30_000)), ok: true as const };
    expect(bytes(result)).toBeGreaterThan(LAMBDA_RESPONSE_MAX_BYTES);
    const store = memoryStore(DEFAULT_RESPONSE_LIMIT_BYTES);
    const answer: Record<string, any> = await fitResult(result, store);
    expect(answer).toMatchObject({ ok: true, command: "fanout", operation: "upgrade", count: 30_000, succeeded: 30_000, failed: 0, failedTenants: [], report: { bucket: "bundles", key: store.key } });
    expect(answer.tenants).toBeUndefined();
    expect(bytes(answer)).toBeLessThanOrEqual(64 * 1024);
    expect(store.written).toHaveLength(1);
    expect(JSON.parse(Buffer.from(store.written[0]!).toString("utf8"))).toEqual(result);
    expect((answer.report as { bytes: number }).bytes).toBe(store.written[0]!.byteLength);
  });

  it("a store that fails: the compact report still answers, with report null and why", async () => {
    const denied = new LambicError("AWS_FAILED", "Writing s3://bundles/lambic/app/reports/x.json failed: AccessDenied: Access Denied.", {});
    const store = memoryStore(8192, denied);
    const answer: Record<string, any> = await fitResult({ ...fanoutReport(tenantResults(100)), ok: true as const }, store);
    expect(answer).toMatchObject({ ok: true, count: 100, report: null });
    expect(answer.reportError).toMatch(/^The full report \(\d+ bytes of JSON\) is over the 8192-byte response limit and could not be written to s3:\/\/bundles\/lambic\/app\/reports\/fanout-upgrade__req-1\.json: AWS_FAILED: Writing .* AccessDenied/);
    expect(answer.reportError).toContain(`one "tenant" line each`);
    expect(bytes(answer)).toBeLessThanOrEqual(8192);
  });

  it("at a small limit the compact report drops the successful batches' summaries first", async () => {
    const result = { ...fanoutReport(tenantResults(5000, 1000)), ok: true as const };
    const answer: Record<string, any> = await fitResult(result, memoryStore(4096));
    expect(bytes(answer)).toBeLessThanOrEqual(4096);
    expect(answer.batches).toEqual([expect.objectContaining({ index: 0, failed: 1 }), expect.objectContaining({ index: 40, failed: 1 }), expect.objectContaining({ index: 80, failed: 1 }), expect.objectContaining({ index: 120, failed: 1 }), expect.objectContaining({ index: 160, failed: 1 })]);
    expect(answer.batchesOmitted).toBe(195);
  });
});

describe("fitFailure", () => {
  it("a batch-sized failure embeds every tenant's outcome, read back by reportFromMessage (the coordinator and the CLI)", async () => {
    const report = fanoutReport(tenantResults(25, 7));
    const store = memoryStore(DEFAULT_RESPONSE_LIMIT_BYTES);
    const error = await fitFailure(report, store);
    expect(store.written).toHaveLength(0);
    expect(error).toMatchObject({ code: "TENANTS_FAILED" });
    expect(reportFromMessage(error.message)).toEqual(report);
    expect(compactReportFromMessage(error.message)).toBeUndefined();
  });

  it("20,000 tenants, 5,000 failed: a bounded message that names the first failures and the S3 report, with a compact report", async () => {
    const report = fanoutReport(tenantResults(20_000, 4));
    const store = memoryStore(DEFAULT_RESPONSE_LIMIT_BYTES);
    const error = await fitFailure(report, store);
    // What Lambda would send (the message twice, escaped) fits, and is far smaller than the report.
    expect(errorResponseBytes(error.message)).toBeLessThanOrEqual(DEFAULT_RESPONSE_LIMIT_BYTES);
    expect(Buffer.byteLength(error.message)).toBeLessThan(64 * 1024 + 4096);
    const text = messageWithoutReport(error.message);
    expect(text).toMatch(/^5000 of 20000 tenant\(s\) of database "app" failed fanout: tenant_000000 \(STATEMENT_FAILED: Revision bbbb00000002/);
    expect(text).toContain(", and 4995 more.");
    expect(text).toContain(`Every tenant's outcome is in s3://bundles/${store.key} (`);
    expect(text.length).toBeLessThan(4096);
    expect(reportFromMessage(error.message)).toBeUndefined();
    const compact = compactReportFromMessage(error.message)!;
    expect(compact).toMatchObject({ command: "fanout", count: 20_000, succeeded: 15_000, failed: 5000, report: { bucket: "bundles", key: store.key } });
    expect(compact.failedTenants.length).toBeGreaterThan(0);
    expect(compact.failedTenants.length + compact.failedTenantsOmitted!).toBe(5000);
    expect(error.details.failedTenants).toHaveLength(compact.failedTenants.length);
    const full = JSON.parse(Buffer.from(store.written[0]!).toString("utf8"));
    expect(full).toEqual({ ...report, ok: false });
  });

  it("a small limit is kept for the whole error response, and a failed write is explained in the message", async () => {
    const report = fanoutReport(tenantResults(300, 50));
    const error = await fitFailure(report, memoryStore(8192, new Error("connect ECONNREFUSED 127.0.0.1:9")));
    expect(errorResponseBytes(error.message)).toBeLessThanOrEqual(8192);
    expect(messageWithoutReport(error.message)).toContain("could not be written to s3://bundles/lambic/app/reports/fanout-upgrade__req-1.json: connect ECONNREFUSED");
    // However tight, the compact report keeps one failed tenant with its own error.
    expect(compactReportFromMessage(error.message)).toMatchObject({ count: 300, failed: 6, report: null, failedTenants: [{ tenant: "tenant_000000", error: { code: "STATEMENT_FAILED" } }] });
  });
});

describe("responseLimitFromEnv", () => {
  it("defaults to 5 MB and takes whole numbers of bytes up to Lambda's 6 MB", () => {
    expect(responseLimitFromEnv({})).toBe(5 * 1024 * 1024);
    expect(responseLimitFromEnv({ LAMBIC_RESPONSE_LIMIT_BYTES: "200000" })).toBe(200_000);
    for (const raw of ["1000", "6291457", "5e6x", "12.5"]) {
      expect(() => responseLimitFromEnv({ LAMBIC_RESPONSE_LIMIT_BYTES: raw })).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining(`LAMBIC_RESPONSE_LIMIT_BYTES is "${raw}"; expected a whole number of bytes from 4096 to 6291456 (or unset for 5242880)`) }));
    }
  });
});
