/**
 * CloudWatch metrics in Embedded Metric Format through Powertools for AWS Lambda's Metrics: one
 * EMF line per invocation on stdout, which CloudWatch Logs turns into metrics.
 *
 * Namespace `Lambic` (POWERTOOLS_METRICS_NAMESPACE), one dimension set {service, database,
 * command}: Powertools always adds `service`, and CloudWatch matches a metric (and the
 * construct's MigrationFailed alarm) by its exact dimension set. Heads and the bundle go in as
 * properties, not dimensions: they are high-cardinality and searchable in Logs Insights.
 *
 * A tenant run adds one EMF line per tenant with the same dimension set and the tenant as a
 * property: a `tenant` dimension would make one metric per tenant (cost, and the alarm would
 * not see them); `Tenant*` metric names keep `MigrationFailed` a count of invocations.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

export type { Metrics };

export const METRICS_NAMESPACE = "Lambic";

export function createMetrics(): Metrics {
  return new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || "lambic",
  });
}

export interface MigrationOutcome {
  readonly database: string;
  readonly command: string;
  readonly ok: boolean;
  /** Revisions upgraded or downgraded (stamps and reads count 0). */
  readonly revisionsApplied: number;
  readonly durationMs: number;
  /** Undefined when the run never took the lock. */
  readonly lockWaitMs?: number;
  readonly from?: readonly string[];
  readonly to?: readonly string[];
  readonly bundleSha256?: string;
  readonly errorCode?: string;
  readonly requestId?: string;
  /** Tenant databases and fanout: how many tenants succeeded and failed. */
  readonly tenants?: { readonly succeeded: number; readonly failed: number };
}

export interface TenantOutcomeMetrics {
  readonly database: string;
  readonly command: string;
  readonly tenant: string;
  readonly ok: boolean;
  readonly revisionsApplied: number;
  readonly durationMs: number;
  readonly from?: readonly string[];
  readonly to?: readonly string[];
  readonly errorCode?: string;
  readonly requestId?: string;
}

/** One tenant's outcome as its own EMF line; `tenant` is a property, never a dimension. */
export function publishTenantOutcome(metrics: Metrics, outcome: TenantOutcomeMetrics): void {
  metrics.addDimension("database", outcome.database);
  metrics.addDimension("command", outcome.command);
  metrics.addMetric("TenantRevisionsApplied", MetricUnit.Count, outcome.revisionsApplied);
  metrics.addMetric("TenantDurationMs", MetricUnit.Milliseconds, Math.round(outcome.durationMs));
  metrics.addMetric("TenantFailed", MetricUnit.Count, outcome.ok ? 0 : 1);
  metrics.addMetadata("tenant", outcome.tenant);
  if (outcome.from) metrics.addMetadata("from", outcome.from.join(",") || "base");
  if (outcome.to) metrics.addMetadata("to", outcome.to.join(",") || "base");
  if (outcome.errorCode) metrics.addMetadata("errorCode", outcome.errorCode);
  if (outcome.requestId) metrics.addMetadata("requestId", outcome.requestId);
  metrics.publishStoredMetrics();
}

/** Records one invocation's metrics and flushes them as one EMF line. */
export function publishOutcome(metrics: Metrics, outcome: MigrationOutcome): void {
  // addDimension, not addDimensions: the latter starts a second dimension set.
  metrics.addDimension("database", outcome.database);
  metrics.addDimension("command", outcome.command);
  metrics.addMetric("RevisionsApplied", MetricUnit.Count, outcome.revisionsApplied);
  metrics.addMetric("MigrationDurationMs", MetricUnit.Milliseconds, Math.round(outcome.durationMs));
  metrics.addMetric("MigrationFailed", MetricUnit.Count, outcome.ok ? 0 : 1);
  if (outcome.lockWaitMs !== undefined) metrics.addMetric("LockWaitMs", MetricUnit.Milliseconds, Math.round(outcome.lockWaitMs * 10) / 10);
  if (outcome.from) metrics.addMetadata("from", outcome.from.join(",") || "base");
  if (outcome.to) metrics.addMetadata("to", outcome.to.join(",") || "base");
  if (outcome.bundleSha256) metrics.addMetadata("bundleSha256", outcome.bundleSha256);
  if (outcome.errorCode) metrics.addMetadata("errorCode", outcome.errorCode);
  if (outcome.requestId) metrics.addMetadata("requestId", outcome.requestId);
  if (outcome.tenants) {
    metrics.addMetadata("tenantsSucceeded", String(outcome.tenants.succeeded));
    metrics.addMetadata("tenantsFailed", String(outcome.tenants.failed));
  }
  metrics.publishStoredMetrics();
}
