import { qualifiedName, quoteIdentifier, quoteLiteral } from "../operations/quote.ts";
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

export function versionTableNames(options: { schema?: string; versionTable: string }): VersionTableNames {
  return { schema: options.schema, versionTable: options.versionTable, historyTable: "lambic_history" };
}

const where = (argument: string) => ({ op: "versionTable", argument });

export function versionTableSql(names: VersionTableNames): string {
  return qualifiedName(names.schema, names.versionTable, where("versionTable"));
}

export function historyTableSql(names: VersionTableNames): string {
  return qualifiedName(names.schema, names.historyTable, where("historyTable"));
}

/** The key of the advisory lock that serialises runs on one version table. */
export function lockKey(names: VersionTableNames): string {
  return `lambic:${names.schema ?? ""}.${names.versionTable}`;
}

export function createVersionTableStatements(names: VersionTableNames): string[] {
  const pk = quoteIdentifier(`${names.versionTable}_pkc`.slice(0, 63), where("versionTable"));
  return [
    `CREATE TABLE IF NOT EXISTS ${versionTableSql(names)} (version_num varchar(32) NOT NULL, CONSTRAINT ${pk} PRIMARY KEY (version_num))`,
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

/**
 * Marks the start of a step, so its history row can carry the server-measured duration.
 * Transaction-local, except for a step that runs outside the transaction (it must outlive the
 * autocommitted statements until the history row is written).
 */
export function stepStartStatement(transactional: boolean): string {
  return `SELECT set_config('lambic.step_started', clock_timestamp()::text, ${transactional})`;
}

export interface HistoryEntry {
  readonly runId: string;
  readonly revision: string | null;
  readonly direction: "up" | "down" | "stamp";
  readonly checksum: string | null;
  readonly actor: string;
  readonly bundleSha256: string | null;
  readonly sourceChecksum: string | null;
}

/**
 * A step's bookkeeping in one statement: its version-row changes (as data-modifying CTEs, which
 * all run once and touch distinct rows) and its history row, whose duration runs from the mark
 * the previous step (or stepStartStatement) left. It marks the start of the next step too.
 */
export function bookkeepingStatement(names: VersionTableNames, changes: readonly VersionRowChange[], entry: HistoryEntry): string {
  const literal = (value: string | null) => (value === null ? "NULL" : quoteLiteral(value));
  const values = [entry.runId, names.versionTable, entry.revision, entry.direction, entry.checksum, entry.actor, entry.bundleSha256, entry.sourceChecksum].map(literal).join(", ");
  const insert =
    `INSERT INTO ${historyTableSql(names)} (run_id, version_table, revision, direction, checksum, actor, bundle_sha256, source_checksum, started_at, duration_ms)\n` +
    `SELECT ${values}, mark.started, extract(epoch FROM clock_timestamp() - mark.started) * 1000\n` +
    `FROM (SELECT current_setting('lambic.step_started')::timestamptz AS started) AS mark\n` +
    `RETURNING duration_ms, set_config('lambic.step_started', clock_timestamp()::text, true) AS next_step`;
  if (changes.length === 0) return insert;
  return `WITH ${changes.map((change, i) => `version_${i} AS (${versionRowStatement(names, change)})`).join(",\n")}\n${insert}`;
}

export function selectVersionsStatement(names: VersionTableNames): string {
  // ctid order is the table's physical order: Alembic reads rows unordered, and a bare "-1"
  // steps down from the first row.
  return `SELECT version_num FROM ${versionTableSql(names)} ORDER BY ctid`;
}

/** The checksum each revision had when it was last applied (and not undone since). */
export function selectAppliedChecksumsStatement(names: VersionTableNames): string {
  return (
    `SELECT DISTINCT ON (revision) revision, direction, checksum FROM ${historyTableSql(names)} ` +
    `WHERE version_table = ${quoteLiteral(names.versionTable)} AND direction IN ('up', 'down') ORDER BY revision, id DESC`
  );
}
