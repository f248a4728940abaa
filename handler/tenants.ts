/**
 * Tenant databases in the Lambda: upgrade/downgrade/stamp/current on the tenants the event
 * names (default: every configured tenant), each on its own connection, in its own schema, with
 * its own version table and lock (src/runner/tenants.ts). One tenant's failure is that tenant's
 * only; when any failed the invocation is a TENANTS_FAILED function error carrying the report.
 */
import { randomUUID } from "node:crypto";
import type { OpenedBundle } from "../src/bundle/import-bundle.ts";
import type { Connection } from "../src/db/connection.ts";
import { envNumber } from "../src/env-number.ts";
import { LambicError } from "../src/errors.ts";
import type { MigrationCommand } from "../src/runner/run.ts";
import type { TenantOutcome } from "../src/runner/tenants.ts";
import type { Deps } from "./commands.ts";
import type { LambicEvent } from "./event.ts";
import { countOutcomes, fitFailure, fitResult, type ReportStore, type TenantReport, type TenantResult } from "./tenant-report.ts";


export function isTenantDatabase(bundle: OpenedBundle): boolean {
  return bundle.settings.tenants !== undefined;
}

export function tenantConcurrency(env: Record<string, string | undefined>): number {
  return envNumber(env, "LAMBIC_TENANT_CONCURRENCY");
}

/**
 * Every tenant of the bundle's database, or the ones the event names (refusing names that are
 * not tenants: an event must not migrate `public` or another database's schema).
 */
export async function selectEventTenants(bundle: OpenedBundle, connection: Connection, wanted: readonly string[] | undefined, timeoutMs: number): Promise<string[]> {
  const { listTenants, selectTenants } = await import("../src/runner/tenants.ts");
  const configured = bundle.settings.tenants;
  if (configured === undefined) throw noTenants(bundle);
  // Bounded like every statement of the invocation: a tenants query stuck on a lock must fail
  // with its failed line and metric, not run into the function's timeout.
  return selectTenants(await listTenants(connection, configured, { timeoutMs }), wanted);
}

/** `command`: the event's; "fanout" and "tenants" exist only for tenant databases, the others only named tenants. */
export function noTenants(bundle: OpenedBundle, command?: string): LambicError {
  const next =
    command === "fanout" || command === "tenants"
      ? `{"command": "${command}"} works on a database with tenants: run the command itself on this database (e.g. {"command": "upgrade", "target": "head"})`
      : `Leave "tenants" out of the event`;
  return new LambicError(
    "INVALID_TENANT",
    `Database "${bundle.set.database}" has no tenants: bundle ${bundle.sha256} carries no "tenants" setting. ${next}, or set "tenants" for the database in lambic.config.json and publish again.`,
    { database: bundle.set.database, bundleSha256: bundle.sha256 },
  );
}

export interface TenantRunDeps extends Deps {
  readonly connect: () => Promise<Connection>;
  readonly runOptions: () => import("../src/runner/run.ts").RunOptions;
  /** Where the report goes when it is too large for the response. */
  readonly reportStore: ReportStore;
}

export async function runTenants(event: LambicEvent, bundle: OpenedBundle, deps: TenantRunDeps, base: Record<string, unknown>): Promise<Record<string, unknown>> {
  // Refused before connecting: the bundle already says whether the database has tenants.
  if (bundle.settings.tenants === undefined) throw noTenants(bundle);
  if (event.dryRun) {
    throw new LambicError("INVALID_EVENT", `Invalid event: "dryRun" is not available on tenant database "${event.database}". Render a tenant's plan with {"command": "sql", "tenants": ["<tenant>"]} or \`lambic upgrade --sql --tenant T\`.`, { field: "dryRun", value: true });
  }
  const [runner, tenants] = await Promise.all([import("../src/runner/run.ts"), import("../src/runner/tenants.ts")]);
  const admin = await deps.connect();
  let selected: string[];
  try {
    selected = await selectEventTenants(bundle, admin, event.tenants, deps.runOptions().statementTimeoutMs);
  } finally {
    await admin.close().catch(() => undefined);
  }

  const reads = event.command === "current" || event.command === "check" || event.command === "repair";
  const command: MigrationCommand | undefined =
    reads ? undefined : event.command === "stamp" ? { kind: "stamp", targets: event.targets, purge: event.purge } : { kind: event.command as "upgrade" | "downgrade", target: event.targets[0]! };
  const outcomes = await tenants.forEachTenant(
    selected,
    {
      concurrency: tenantConcurrency(deps.env),
      connect: deps.connect,
      onProgress: ({ last, done, failed, remaining }) => deps.onTenant?.(toResult(last as TenantOutcome<unknown>), { done, failed, remaining }),
    },
    async (connection, tenant): Promise<unknown> => {
      if (event.command === "check") {
        const result = await runner.checkDatabase(connection, bundle.set, { versionTable: bundle.settings.versionTable, schema: tenant });
        return { versions: result.versions, heads: result.heads, upToDate: result.upToDate, pending: result.pending, changed: result.changed.map((c) => c.revision) };
      }
      if (event.command === "repair") {
        const result = await runner.repairChecksums(connection, bundle.set, { ...deps.runOptions(), schema: tenant, runId: randomUUID() });
        return { versions: result.versions, repaired: result.repaired.map((c) => c.revision), recorded: result.recorded.map((r) => r.revision) };
      }
      if (command === undefined) {
        const state = await runner.readCurrent(connection, bundle.set, { versionTable: bundle.settings.versionTable, schema: tenant });
        return { versions: state.versions, heads: state.heads };
      }
      // Options per tenant: the timeouts shrink with the invocation's remaining time.
      const options = deps.runOptions();
      const result = await runner.runMigration(connection, bundle.set, command, {
        ...options,
        schema: tenant,
        searchPath: tenant,
        runId: randomUUID(),
        onStep: (step) => deps.onStep(step, tenant),
      });
      deps.report.revisionsApplied += result.steps.filter((s) => s.direction !== "stamp").length;
      // As a run on one database answers: the edited applied revisions allowChanged ran past (ids, as check lists them).
      return { from: result.from, to: result.to, steps: result.steps.map(({ revision, direction, ms }) => ({ revision, direction, ms })), ...(result.changed.length > 0 ? { changed: result.changed.map((c) => c.revision) } : {}) };
    },
  );

  const results = outcomes.map((outcome) => toResult(outcome));
  const counts = countOutcomes(results);
  deps.report.tenants = counts;
  const report: TenantReport = { command: event.command, database: event.database, bundleSha256: bundle.sha256, tenants: results, ...counts };
  if (counts.failed > 0) throw await fitFailure(report, deps.reportStore);
  // `check` answers for the database as a whole too: up to date when every tenant is.
  const upToDate = event.command === "check" ? { upToDate: results.every((r) => r.ok && "upToDate" in r && r.upToDate) } : {};
  return fitResult({ ...base, ...report, ...upToDate, ok: true }, deps.reportStore);
}

function toResult(outcome: TenantOutcome<unknown>): TenantResult {
  const ms = Math.round(outcome.ms);
  if (!outcome.ok) return { tenant: outcome.tenant, ok: false, error: { code: outcome.error.code, message: outcome.error.message }, ms };
  return { tenant: outcome.tenant, ok: true, ...(outcome.result as object), ms } as TenantResult;
}
