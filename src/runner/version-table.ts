import { doBlock, qualifiedName, quoteIdentifier, quoteLiteral, quoteLiteralAnyStrings, utf8Length } from "../operations/quote.ts";
import type { VersionRowChange } from "../revision/plan.ts";

/**
 * The SQL lambic writes about itself: the version table (Alembic's shape, so `alembic_version`
 * can be adopted as is) and `lambic_history`. Every name is quoted and every value is a quoted
 * literal, so the same text serves the connection and the offline script.
 */
export interface VersionTableNames {
  readonly schema: string | undefined;
  readonly versionTable: string;
  readonly historyTable: string;
}

/** Shared by every version table of a schema: no version table may take its name. */
export const HISTORY_TABLE = "lambic_history";

export function versionTableNames(options: { schema?: string; versionTable: string }): VersionTableNames {
  return { schema: options.schema, versionTable: options.versionTable, historyTable: HISTORY_TABLE };
}

const where = (argument: string) => ({ op: "versionTable", argument });

const versionTableSqlCache = new WeakMap<VersionTableNames, string>();

/** The quoted name (checked and quoted once per run: every step's version-row change names it). */
export function versionTableSql(names: VersionTableNames): string {
  let sql = versionTableSqlCache.get(names);
  if (sql === undefined) {
    sql = qualifiedName(names.schema, names.versionTable, where("versionTable"));
    versionTableSqlCache.set(names, sql);
  }
  return sql;
}

export function historyTableSql(names: VersionTableNames): string {
  return qualifiedName(names.schema, names.historyTable, where("historyTable"));
}

/**
 * The key of the advisory lock that serialises runs on one version table, as an SQL expression:
 * the hash of `lambic:<schema>.<table>` with the schema the table is in, so that a run configured
 * without a schema (the table goes to the search_path's first, current_schema()) and one naming
 * that schema lock the same key. Literals work whatever standard_conforming_strings is (the key
 * is also taken outside lambic's transactions).
 */
export function runLockKeySql(names: VersionTableNames): string {
  const text =
    names.schema !== undefined
      ? quoteLiteralAnyStrings(`lambic:${names.schema}.${names.versionTable}`)
      : `'lambic:' || coalesce(current_schema(), '') || ${quoteLiteralAnyStrings(`.${names.versionTable}`)}`;
  return `hashtextextended(${text}, 0)`;
}

/** NAMEDATALEN - 1: the longest name PostgreSQL keeps whole. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Alembic's primary key name, `<versionTable>_pkc`, while it fits in 63 bytes. A longer one
 * would be truncated by PostgreSQL (for a 63-byte table name, to the table's own name, which
 * CREATE TABLE then refuses as a duplicate relation), so the key is left unnamed and
 * PostgreSQL picks a free name.
 */
function primaryKeyClause(names: VersionTableNames): string {
  const name = `${names.versionTable}_pkc`;
  return utf8Length(name) > MAX_IDENTIFIER_BYTES ? "PRIMARY KEY (version_num)" : `CONSTRAINT ${quoteIdentifier(name, where("versionTable"))} PRIMARY KEY (version_num)`;
}

/**
 * Taken before lambic's tables are created, while the history table is missing from the schema:
 * it is shared by every version table there (named databases), so two first runs over different
 * version tables would both create it, and the second CREATE TABLE IF NOT EXISTS would fail on
 * pg_type's unique index once the first commits. Only while it is missing: once it exists such
 * runs do not wait for each other. Keyed on the schema the tables go to (the search_path's first
 * when none is configured).
 */
export function createTablesLockStatement(names: VersionTableNames): string {
  const schema = names.schema === undefined ? "current_schema()" : quoteLiteral(names.schema, where("schema"));
  const table = quoteLiteral(names.historyTable, where("historyTable"));
  return (
    `SELECT ${createTablesLock("n.nspname", names)} FROM pg_namespace n ` +
    `WHERE n.nspname = ${schema} AND NOT EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = ${table})`
  );
}

/** The lock on creating lambic's tables in the schema `schemaSql` (SQL text giving its name) names. */
function createTablesLock(schemaSql: string, names: VersionTableNames): string {
  return `pg_advisory_xact_lock(hashtextextended('lambic-tables:' || ${schemaSql} || '.' || ${quoteLiteral(names.historyTable, where("historyTable"))}, 0))`;
}

/**
 * A tenant's schema, created if missing, safely against a concurrent first run over another
 * version table of it (named databases sharing the tenant schemas), which would otherwise fail
 * on pg_namespace_nspname_index once the other commits:
 * - while the schema is missing, the lock createTablesLockStatement takes for that schema (which
 *   the run holding it goes on to take anyway), so the second run waits until the first has
 *   committed the schema and lambic's tables in it;
 * - then the schema is looked up with the statement's snapshot, not with CREATE SCHEMA IF NOT
 *   EXISTS: that consults the session's catalog cache, which still holds "no such schema" from
 *   the search_path lookups earlier in the transaction when the other run committed it since.
 */
export function createSchemaStatements(schema: string, names: VersionTableNames): { lock: string; create: string } {
  const name = quoteLiteral(schema, where("schema"));
  return {
    lock: `SELECT ${createTablesLock(name, names)} WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = ${name})`,
    create: doBlock(`BEGIN IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = ${name}) THEN CREATE SCHEMA ${quoteIdentifier(schema, { op: "tenant", argument: "schema" })}; END IF; END`),
  };
}

export function createVersionTableStatements(names: VersionTableNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${versionTableSql(names)} (version_num varchar(32) NOT NULL, ${primaryKeyClause(names)})`,
    `CREATE TABLE IF NOT EXISTS ${historyTableSql(names)} (` +
      "id bigserial PRIMARY KEY, run_id text NOT NULL, version_table text NOT NULL, revision varchar(32), " +
      "direction text NOT NULL, checksum text, actor text, bundle_sha256 text, source_checksum text, " +
      "started_at timestamptz NOT NULL DEFAULT clock_timestamp(), duration_ms double precision)",
  ];
}

export function versionRowStatement(names: VersionTableNames, change: VersionRowChange): string {
  const table = versionTableSql(names);
  switch (change.op) {
    case "insert":
      return `INSERT INTO ${table} (version_num) VALUES (${quoteLiteral(change.version)})`;
    case "delete":
      return `DELETE FROM ${table} WHERE version_num = ${quoteLiteral(change.version)}`;
    case "update":
      return `UPDATE ${table} SET version_num = ${quoteLiteral(change.to)} WHERE version_num = ${quoteLiteral(change.from)}`;
  }
}

/** The server's clock in epoch milliseconds (with microseconds): timestamptz values would lose them. */
const CLOCK_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::float8";

/** The server's clock, read where a segment of steps starts (the first step's start). */
export const CLOCK_STATEMENT = `SELECT ${CLOCK_MS} AS at`;

/** Offline, a step's version-row changes: Alembic's statements. */
export function versionChangeStatements(names: VersionTableNames, changes: readonly VersionRowChange[]): string[] {
  return changes.map((change) => versionRowStatement(names, change));
}

/**
 * The version-row changes of an online transaction not yet written: they are written before
 * the transaction commits, and before a revision reads data (it may read the version table).
 * Written as the per-step statements would leave the table: rows this transaction did not
 * touch stay where they are, and each row it wrote comes after them in the order of its last
 * write (PostgreSQL puts a new or updated row after the existing ones), because `current` and
 * a bare "-1" go by the table's order.
 */
export class PendingVersionRows {
  /** The rows in table order as the per-step statements would leave them. */
  private readonly order: string[];
  /** Rows in the table as last written. */
  private stored: Set<string>;
  /** Stored rows to delete: removed since, or to be written again at the end. */
  private removed: string[] = [];
  /** Rows to insert (present in `order`). */
  private readonly written = new Set<string>();

  constructor(rows: readonly string[]) {
    this.order = [...rows];
    this.stored = new Set(rows);
  }

  get pending(): boolean {
    return this.removed.length > 0 || this.written.size > 0;
  }

  apply(changes: readonly VersionRowChange[]): void {
    for (const change of changes) {
      if (change.op === "insert") this.add(change.version);
      else if (change.op === "delete") this.remove(change.version);
      else {
        this.remove(change.from);
        this.add(change.to);
      }
    }
  }

  /**
   * The statements that write what is pending, and how many rows the delete must find (the
   * version table is locked; fewer means a revision changed it). Marks everything written.
   */
  take(names: VersionTableNames): { statements: string[]; expectedDeletes: number } {
    const table = versionTableSql(names);
    const list = (values: readonly string[]) => values.map((value) => quoteLiteral(value)).join(", ");
    const statements: string[] = [];
    const expectedDeletes = this.removed.length;
    if (expectedDeletes > 0) statements.push(`WITH removed AS (DELETE FROM ${table} WHERE version_num IN (${list(this.removed)}) RETURNING 1) SELECT count(*)::int AS removed FROM removed`);
    const inserts = this.order.filter((row) => this.written.has(row));
    if (inserts.length > 0) statements.push(`INSERT INTO ${table} (version_num) VALUES ${inserts.map((row) => `(${quoteLiteral(row)})`).join(", ")}`);
    this.stored = new Set(this.order);
    this.removed = [];
    this.written.clear();
    return { statements, expectedDeletes };
  }

  // A row is added only once it is absent (VersionRows refuses otherwise): a stored row written
  // again was removed first, and so is already among the rows to delete.
  private add(row: string): void {
    this.order.push(row);
    this.written.add(row);
  }

  private remove(row: string): void {
    const index = this.order.indexOf(row);
    if (index >= 0) this.order.splice(index, 1);
    this.written.delete(row);
    if (this.stored.has(row) && !this.removed.includes(row)) this.removed.push(row);
  }
}

/** What every history row of a run shares. */
export interface HistoryRun {
  readonly runId: string;
  readonly actor: string;
  readonly bundleSha256: string | null;
  readonly sourceChecksum: string | null;
}

export interface HistoryStep {
  readonly revision: string | null;
  /** "repair": the revision's edited source was accepted (lambic repair), and this is its checksum now. */
  readonly direction: "up" | "down" | "stamp" | "repair";
  readonly checksum: string | null;
  /** Server clock (epoch milliseconds) at the step's start and end, when it ran online. */
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

/**
 * One history row per step of a segment, in one statement. Online the rows carry the step's
 * start and end as the server's clock read them; offline, the time the script ran. What varies
 * per step travels as array literals unnested by the server: thousands of VALUES rows would
 * cost the server's parser several times more.
 */
export function historyInsertStatement(names: VersionTableNames, run: HistoryRun, steps: readonly HistoryStep[]): string {
  const literal = (value: string | null) => (value === null ? "NULL" : quoteLiteral(value));
  const clock = (value: number | undefined) => (typeof value === "number" && Number.isFinite(value) ? String(value) : null);
  const arrays = [
    `${arrayLiteral(steps.map((s) => s.revision))}::text[]`,
    `${arrayLiteral(steps.map((s) => s.direction))}::text[]`,
    `${arrayLiteral(steps.map((s) => s.checksum))}::text[]`,
    `${arrayLiteral(steps.map((s) => clock(s.startedAt)), { numbers: true })}::float8[]`,
    `${arrayLiteral(steps.map((s) => clock(s.finishedAt)), { numbers: true })}::float8[]`,
  ];
  const constants = [run.runId, names.versionTable, run.actor, run.bundleSha256, run.sourceChecksum].map(literal);
  // Rows in step order, so that their ids (bigserial) are too.
  return (
    `INSERT INTO ${historyTableSql(names)} (run_id, version_table, actor, bundle_sha256, source_checksum, revision, direction, checksum, started_at, duration_ms)\n` +
    `SELECT ${constants.join(", ")}, step.revision, step.direction, step.checksum, coalesce(to_timestamp(step.started / 1000), clock_timestamp()), ` +
    `CASE WHEN step.finished < step.started THEN 0 ELSE step.finished - step.started END\n` +
    `FROM unnest(${arrays.join(",\n  ")}) WITH ORDINALITY AS step (revision, direction, checksum, started, finished, n) ORDER BY step.n`
  );
}

/**
 * A one-dimensional array literal (to be cast): elements double-quoted with `"` and `\\`
 * escaped, NULL as NULL, then the whole quoted as a string literal (standard strings: the
 * backslashes reach the array parser as they are). Elements are joined, not appended: half
 * the time at 1,000 steps once warmed up (1.2 → 0.7 ms; a first call's ≈ 4 ms is the same).
 */
function arrayLiteral(values: readonly (string | null)[], { numbers = false } = {}): string {
  const elements = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    elements[i] = value === null ? "NULL" : numbers ? value : quotedElement(value);
  }
  return quoteLiteral(`{${elements.join(",")}}`, where("history"));
}

/** An array element in double quotes; the regex only where there is something to escape (the common case is a third faster). */
function quotedElement(value: string): string {
  return value.includes('"') || value.includes("\\") ? `"${value.replace(/[\\"]/g, "\\$&")}"` : `"${value}"`;
}

export function selectVersionsStatement(names: VersionTableNames): string {
  // ctid order is the table's physical order: Alembic reads rows unordered, and a bare "-1"
  // steps down from the first row.
  return `SELECT version_num FROM ${versionTableSql(names)} ORDER BY ctid`;
}

/**
 * The checksum each revision had when it was last applied or repaired (and not undone since).
 * `check` reads it outside a transaction, where standard_conforming_strings may be off.
 */
export function selectAppliedChecksumsStatement(names: VersionTableNames): string {
  return (
    `SELECT DISTINCT ON (revision) revision, direction, checksum FROM ${historyTableSql(names)} ` +
    `WHERE version_table = ${quoteLiteralAnyStrings(names.versionTable)} AND direction IN ('up', 'down', 'repair') ORDER BY revision, id DESC`
  );
}
