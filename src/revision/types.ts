import type { Operations } from "../operations/index.ts";

/** The graph-relevant part of a revision: what Alembic keeps in its RevisionMap. */
export interface RevisionMeta {
  /** Revision id: letters, digits and `_` only (it is also a target symbol). */
  readonly id: string;
  /** `null` for a base, one id, or several ids for a merge point. */
  readonly revises: string | readonly string[] | null;
  /** Revision ids or branch labels that must be applied first (Alembic's depends_on). */
  readonly dependsOn?: readonly string[];
  readonly branchLabels?: readonly string[];
  readonly message?: string;
  /** `false`: runs outside the run's transaction (CREATE INDEX CONCURRENTLY and the like). */
  readonly transactional?: boolean;
}

export type RevisionDirection = "up" | "down";

export interface RevisionContext {
  /** User arguments: CLI `-x key=value`, event `"x": {...}`. */
  readonly x: Readonly<Record<string, string>>;
  /** `false` while rendering offline SQL. */
  readonly online: boolean;
  readonly revision: string;
  readonly direction: RevisionDirection;
  /**
   * Reads data for a data-dependent migration. Online only: offline it throws OFFLINE_QUERY,
   * as Alembic does when a migration reads in --sql mode.
   */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export type MigrationFunction = (op: Operations, ctx: RevisionContext) => void | Promise<void>;

/** What a revision module default-exports (and what a `.sql` revision is parsed into). */
export interface Revision extends RevisionMeta {
  upgrade: MigrationFunction;
  downgrade?: MigrationFunction;
}

/** A revision as loaded from its file: where it came from and the checksum of its source. */
export interface LoadedRevision extends Revision {
  readonly source: { readonly file: string; readonly checksum: string };
}

/**
 * Where a loaded revision's code is read on its first call (a folder's compiled revisions), this
 * method reads it now instead, and reports no failure: the first call reads it again and reports
 * it there. Keyed by a symbol, so that it stays off the public shape.
 */
export const PRELOAD_CODE = Symbol("lambic.preloadCode");

export function preloadCode(revision: LoadedRevision | undefined): void {
  (revision as { [PRELOAD_CODE]?: () => void } | undefined)?.[PRELOAD_CODE]?.();
}
