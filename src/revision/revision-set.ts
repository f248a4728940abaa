import { argumentError } from "../check-arguments.ts";
import { LambicError } from "../errors.ts";
import { RevisionMap } from "./revision-map.ts";
import type { LoadedRevision } from "./types.ts";

/** One database's revisions: the graph, each revision's code, and the checksum of them all. */
export interface RevisionSet {
  readonly database: string;
  readonly map: RevisionMap;
  /** Each revision's code and source, by exact id. */
  readonly revisions: RevisionsById;
  /** sha256 over every revision's source checksum, in file order: names the exact history. */
  readonly sourceChecksum: string;
  /** The bundle's sha256 when the revisions came from a published bundle. */
  readonly bundleSha256?: string;
}

export interface RevisionsById {
  get(id: string): LoadedRevision | undefined;
  readonly size: number;
}

/** `sourceChecksum` may be given as a function: graph commands never ask for it. */
export function createRevisionSet(database: string, revisions: readonly LoadedRevision[], sourceChecksum: string | (() => string), bundleSha256?: string): RevisionSet {
  if (typeof database !== "string" || database === "") throw argumentError("createRevisionSet", "database", "a non-empty string (the database's name)", database);
  if (!Array.isArray(revisions)) throw argumentError("createRevisionSet", "revisions", "an array of loaded revisions (loadRevisions)", revisions);
  if (typeof sourceChecksum !== "string" && typeof sourceChecksum !== "function") throw argumentError("createRevisionSet", "sourceChecksum", "a string, or a function returning one", sourceChecksum);
  revisions.forEach(checkCode);
  return revisionSetOf(database, revisions, sourceChecksum, bundleSha256);
}

/**
 * createRevisionSet for revisions the loader made (loadRevisions, a bundle's import), which it
 * has checked already: checking each again read every lazily loaded revision's code getter, a
 * visible cost of every command at thousands of revisions.
 */
export function revisionSetOf(database: string, revisions: readonly LoadedRevision[], sourceChecksum: string | (() => string), bundleSha256?: string): RevisionSet {
  const map = new RevisionMap(revisions);
  // The graph already indexes the revisions it was built from; a second map of thousands of
  // entries only cost time at every start.
  const byId: RevisionsById = { get: (id) => map.find(id)?.meta as LoadedRevision | undefined, size: revisions.length };
  let checksum = typeof sourceChecksum === "string" ? sourceChecksum : undefined;
  return {
    database,
    map,
    revisions: byId,
    get sourceChecksum() {
      return (checksum ??= (sourceChecksum as () => string)());
    },
    bundleSha256,
  };
}

/**
 * What a run needs of a revision beyond its graph fields (RevisionMap checks those): its code and
 * its source, for code building the set itself. A missing upgrade was reported as a missing
 * downgrade, and a missing source as a TypeError, only once the run had begun.
 */
function checkCode(revision: LoadedRevision, index: number): void {
  if (typeof revision !== "object" || revision === null) return; // RevisionMap names it
  const name = `revisions[${index}]`;
  if (typeof revision.upgrade !== "function") throw argumentError("createRevisionSet", `${name}.upgrade`, "a function", revision.upgrade);
  if (revision.downgrade !== undefined && typeof revision.downgrade !== "function") throw argumentError("createRevisionSet", `${name}.downgrade`, "a function when given", revision.downgrade);
  const source: unknown = revision.source;
  if (typeof source !== "object" || source === null) throw argumentError("createRevisionSet", `${name}.source`, "{ file, checksum } (where the revision was read from, and the sha256 of its source)", source);
  for (const field of ["file", "checksum"] as const) {
    const value = (source as Record<string, unknown>)[field];
    if (typeof value !== "string" || value === "") throw argumentError("createRevisionSet", `${name}.source.${field}`, "a non-empty string", value);
  }
}

export function revisionOf(set: RevisionSet, id: string): LoadedRevision {
  const revision = set.revisions.get(id);
  if (!revision) throw new LambicError("REVISION_NOT_FOUND", `No revision ${id} in database "${set.database}".`, { revision: id });
  return revision;
}
