import type { TenantsConfig } from "../config.ts";
import { toDatabaseFailure, type Connection } from "../db/connection.ts";
import { LambicError } from "../errors.ts";
import { tenantNameProblem } from "../tenant-name.ts";

/**
 * Schema-per-tenant (Alembic's cookbook: one search_path per tenant): each tenant schema has its
 * own version table and its own lock, and is migrated on a connection of its own, several at a
 * time. One tenant's failure rolls back that tenant only.
 */

export function validateTenantName(name: unknown, source: string): string {
  const problem = tenantNameProblem(name);
  if (problem !== undefined) {
    throw new LambicError("INVALID_TENANT", `Tenant ${JSON.stringify(name)} (from ${source}) ${problem}. It was not used; fix the tenant list.`, { tenant: name, source });
  }
  return name as string;
}

/**
 * The configured tenants: the list as is, or the rows of the query (first column), each name once.
 * `timeoutMs` bounds the query (the Lambda's time left): it sets the session's statement_timeout,
 * so give it a connection of its own.
 */
export async function listTenants(connection: Connection, tenants: TenantsConfig, options: { timeoutMs?: number } = {}): Promise<string[]> {
  if (Array.isArray(tenants)) return tenants.map((t) => validateTenantName(t, "the tenants list"));
  const query = (tenants as { query: string }).query;
  const timeoutMs = options.timeoutMs === undefined ? undefined : Math.max(1, Math.floor(options.timeoutMs));
  let rows: Record<string, unknown>[];
  try {
    if (timeoutMs !== undefined) await connection.query(`SET statement_timeout = ${timeoutMs}`);
    rows = await connection.query<Record<string, unknown>>(query);
  } catch (error) {
    const failure = toDatabaseFailure(error);
    if (!failure) throw error; // the connection broke: its own error says so
    if (failure.sqlstate === "57014" && timeoutMs !== undefined) {
      throw new LambicError(
        "STATEMENT_TIMEOUT",
        `The tenants query did not answer within ${timeoutMs} ms, the time this invocation had left to run it: no tenant was run. Check what holds it up (a lock on the table it reads), or raise the function's timeout. The query: ${query.slice(0, 200)}`,
        { query: query.slice(0, 200), timeoutMs, sqlstate: failure.sqlstate },
        { cause: error },
      );
    }
    throw new LambicError(
      "CONFIG_INVALID",
      `The tenants query failed: ${failure.message} [SQLSTATE ${failure.sqlstate}] in: ${query.slice(0, 200)}. Fix "tenants": {"query": ...} in the config; it must return the tenant schema names in its first column.`,
      { query: query.slice(0, 200), sqlstate: failure.sqlstate },
      { cause: error },
    );
  }
  // A join can return a schema twice; each tenant is migrated once (two runs of one tenant would
  // queue on its lock and count it twice in the report).
  return [...new Set(rows.map((row) => validateTenantName(Object.values(row)[0], "the tenants query")))];
}

/**
 * The tenant an offline script is rendered for. On a tenant database a script is one tenant's
 * (its search_path, its version table): exactly one is named, and a configured list must hold
 * it (a query's rows need the database, so there the name is only checked for shape).
 */
export function offlineTenant(tenants: TenantsConfig | undefined, wanted: readonly string[] | undefined, database: string): string | undefined {
  if (tenants === undefined) return undefined;
  if (!wanted || wanted.length !== 1) {
    throw new LambicError(
      "USAGE",
      `Database "${database}" has tenants, each with its own schema and version table, so an offline script is one tenant's: name it with --tenant T (one)${wanted && wanted.length > 1 ? `, not ${wanted.length}` : ""}.`,
      { option: "tenant", tenants: wanted ?? [] },
    );
  }
  return namedTenant(tenants, wanted[0]!, "the command line");
}

/** One tenant named for a script: a configured list must hold it; a query's rows need the database, so there only its shape is checked. */
export function namedTenant(tenants: TenantsConfig, name: string, source: string): string {
  return Array.isArray(tenants) ? selectTenants(tenants, [name])[0]! : validateTenantName(name, source);
}

/** Narrows the tenant list to the ones asked for, refusing names that are not tenants. */
export function selectTenants(all: readonly string[], wanted: readonly string[] | undefined): string[] {
  if (!wanted || wanted.length === 0) return [...all];
  for (const name of wanted) validateTenantName(name, "the command line");
  // A Set: a fanout's list may name thousands of a query's tenants.
  const configured = new Set(all);
  const unknown = wanted.filter((w) => !configured.has(w));
  if (unknown.length > 0) {
    throw new LambicError("INVALID_TENANT", `Not tenants of this database: ${unknown.join(", ")}. Tenants: ${all.slice(0, 20).join(", ")}${all.length > 20 ? ", ..." : ""}.`, { unknown });
  }
  return [...new Set(wanted)];
}

export type TenantOutcome<T> =
  | { readonly tenant: string; readonly ok: true; readonly result: T; readonly ms: number }
  | { readonly tenant: string; readonly ok: false; readonly error: LambicError; readonly ms: number };

export interface TenantProgress {
  readonly done: number;
  readonly failed: number;
  readonly remaining: number;
  readonly perSecond: number;
  readonly last: TenantOutcome<unknown>;
}

/**
 * Runs `work` for every tenant with at most `concurrency` at once, each on its own connection.
 * Never throws for a tenant's failure: every tenant gets an outcome, in the input order.
 */
export async function forEachTenant<T>(
  tenants: readonly string[],
  options: { concurrency: number; connect: () => Promise<Connection>; onProgress?: (progress: TenantProgress) => void },
  work: (connection: Connection, tenant: string) => Promise<T>,
): Promise<TenantOutcome<T>[]> {
  const outcomes: TenantOutcome<T>[] = new Array(tenants.length);
  const started = performance.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  const worker = async () => {
    let connection: Connection | undefined;
    try {
      while (next < tenants.length) {
        const index = next++;
        const tenant = tenants[index]!;
        const t0 = performance.now();
        let outcome: TenantOutcome<T>;
        try {
          connection ??= await options.connect();
          outcome = { tenant, ok: true, result: await work(connection, tenant), ms: performance.now() - t0 };
        } catch (error) {
          const coded = error instanceof LambicError ? error : new LambicError("REVISION_FAILED", `Tenant ${tenant} failed: ${(error as Error)?.message ?? String(error)}`, { tenant }, { cause: error });
          outcome = { tenant, ok: false, error: coded, ms: performance.now() - t0 };
          failed++;
          // A lost connection is not reused for the next tenant.
          if (coded.code === "CONNECTION_FAILED") {
            await connection?.close().catch(() => undefined);
            connection = undefined;
          }
        }
        outcomes[index] = outcome;
        done++;
        options.onProgress?.({ done, failed, remaining: tenants.length - done, perSecond: done / ((performance.now() - started) / 1000), last: outcome });
      }
    } finally {
      await connection?.close().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, tenants.length)) }, worker));
  return outcomes;
}
