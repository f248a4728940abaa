import { createHash } from "node:crypto";
import type { Operations } from "../../src/operations/index.ts";
import { createRevisionSet, type RevisionSet } from "../../src/revision/revision-set.ts";
import type { LoadedRevision, RevisionContext, RevisionMeta } from "../../src/revision/types.ts";

export interface InlineRevision extends RevisionMeta {
  upgrade?: (op: Operations, ctx: RevisionContext) => void | Promise<void>;
  /** `null`: the revision has no downgrade (a .sql file without a "-- +down" section). */
  downgrade?: ((op: Operations, ctx: RevisionContext) => void | Promise<void>) | null;
  /** Stands in for the file's bytes in its checksum. */
  source?: string;
}

/** A RevisionSet built inline, as a test states its history. */
export function inlineRevisionSet(revisions: readonly InlineRevision[], database = "main"): RevisionSet {
  const loaded: LoadedRevision[] = revisions.map((r) => ({
    ...r,
    upgrade: r.upgrade ?? (() => {}),
    downgrade: r.downgrade === null ? undefined : (r.downgrade ?? (() => {})),
    source: { file: `inline/${r.id}.ts`, checksum: sha256(r.source ?? `${r.id}:${String(r.upgrade)}`) },
  }));
  return createRevisionSet(database, loaded, sha256(loaded.map((r) => r.source.checksum).join("\n")));
}

/** A linear history of `count` revisions, each creating table t<i>. */
export function tableHistory(count: number, extra: (index: number) => Partial<InlineRevision> = () => ({})): InlineRevision[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `r${String(i + 1).padStart(4, "0")}`,
    revises: i === 0 ? null : `r${String(i).padStart(4, "0")}`,
    message: `create t${i + 1}`,
    upgrade: (op: Operations) => op.createTable(`t${i + 1}`, { id: "bigint primary key", note: "text" }),
    downgrade: (op: Operations) => op.dropTable(`t${i + 1}`),
    ...extra(i),
  }));
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
