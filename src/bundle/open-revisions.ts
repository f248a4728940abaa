import { createHash } from "node:crypto";
import { checkObject, checkString } from "../check-arguments.ts";
import type { DatabaseConfig } from "../config.ts";
import { revisionSetOf, type RevisionSet } from "../revision/revision-set.ts";
import { loadRevisions } from "./load-revisions.ts";

/** Loads a configured database's revisions folder into a RevisionSet. */
export async function openRevisionSet(database: DatabaseConfig, projectDir: string): Promise<RevisionSet> {
  checkObject("openRevisionSet", "database", database);
  checkString("openRevisionSet", "database.revisions", database.revisions);
  checkString("openRevisionSet", "projectDir", projectDir, true);
  const revisions = await loadRevisions(database.revisions, { projectDir, configFile: database.configFile });
  return revisionSetOf(database.name, revisions, () => sourceChecksum(revisions.map((r) => r.source.checksum)));
}

/** One checksum over the whole history, in file order. */
export function sourceChecksum(checksums: readonly string[]): string {
  return createHash("sha256").update(checksums.join("\n")).digest("hex");
}
