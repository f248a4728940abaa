/** The revision bundle format, shared by the builder, the publisher and the handler (no I/O here). */

/** Bump when the module's exports or the manifest change shape; the handler refuses others. */
export const BUNDLE_FORMAT_VERSION = 1;
export const BUNDLE_MODULE = "revisions.mjs";
export const BUNDLE_MANIFEST = "manifest.json";

/** How the database is tracked: travels with the revisions, so the handler needs no config file. */
export interface BundleSettings {
  readonly versionTable: string;
  readonly schema: string | null;
  readonly driver: "postgres" | "neon" | null;
  readonly lockTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /**
   * The database's tenant schemas (lambic.config.json `tenants`): a list, or a query returning
   * them. Absent for a database without tenants, so those bundles keep the bytes (and sha256)
   * they had before tenants existed; format 1 handlers simply read it as "no tenants".
   */
  readonly tenants?: readonly string[] | { readonly query: string };
}

export interface ManifestRevision {
  readonly id: string;
  readonly parents: readonly string[];
  readonly dependsOn: readonly string[];
  readonly branchLabels: readonly string[];
  readonly message: string;
  readonly transactional: boolean;
  readonly downgrade: boolean;
  readonly file: string;
  /** sha256 of the revision file's bytes (what `lambic_history.checksum` records). */
  readonly checksum: string;
}

export interface BundleManifest {
  readonly formatVersion: number;
  readonly database: string;
  /** sha256 of `revisions.mjs`: the bundle's name in S3 and in `lambic_history`. */
  readonly sha256: string;
  readonly sourceChecksum: string;
  readonly heads: readonly string[];
  readonly revisions: readonly ManifestRevision[];
  readonly settings: BundleSettings;
  readonly builtAt: string;
  readonly gitCommit: string | null;
}

