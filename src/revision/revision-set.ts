import { LambicError } from "../errors.ts";
import { RevisionMap } from "./revision-map.ts";
import type { LoadedRevision } from "./types.ts";

/** One database's revisions: the graph, each revision's code, and the checksum of them all. */
export interface RevisionSet {
  readonly database: string;
  readonly map: RevisionMap;
  readonly revisions: ReadonlyMap<string, LoadedRevision>;
  /** sha256 over every revision's source checksum, in file order: names the exact history. */
  readonly sourceChecksum: string;
  /** The bundle's sha256 when the revisions came from a published bundle. */
  readonly bundleSha256?: string;
}

export function createRevisionSet(database: string, revisions: readonly LoadedRevision[], sourceChecksum: string, bundleSha256?: string): RevisionSet {
  const map = new RevisionMap(revisions);
  return { database, map, revisions: new Map(revisions.map((r) => [r.id, r])), sourceChecksum, bundleSha256 };
}

export function revisionOf(set: RevisionSet, id: string): LoadedRevision {
  const revision = set.revisions.get(id);
  if (!revision) throw new LambicError("REVISION_NOT_FOUND", `No revision ${id} in database "${set.database}".`, { revision: id });
  return revision;
}
