import type { RevisionMeta } from "./types.ts";

/** Alembic truncates the file-name slug at 40 characters (`truncate_slug_length`). */
const SLUG_MAX_LENGTH = 40;

/**
 * A new revision id: 12 random hex characters, the shape of Alembic's `uuid4().hex[-12:]`, so
 * lambic and Alembic ids look alike in one history.
 */
export function generateRevisionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * `<yyyy>_<mm>_<dd>_<hhmm>_<id>_<slug>.<ext>` in UTC. The date prefix makes the folder list in
 * creation order, which is also the order that breaks ties in the graph; to the minute only
 * (Alembic's date template), so revisions written in one minute list by id.
 */
export function revisionFileName(date: Date, id: string, message: string, ext: "ts" | "sql"): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  const stamp = `${date.getUTCFullYear()}_${pad(date.getUTCMonth() + 1)}_${pad(date.getUTCDate())}_${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}`;
  const slug = slugify(message);
  return `${stamp}_${id}${slug === "" ? "" : `_${slug}`}.${ext}`;
}

/**
 * Latin letters that NFKD leaves whole (no accent to drop), in their usual ASCII spelling: without
 * it "Straße" would split into "stra_e" and "Łódź" lose its first letter.
 */
const ASCII_SPELLING: Readonly<Record<string, string>> = { ß: "ss", ẞ: "ss", æ: "ae", Æ: "ae", ø: "o", Ø: "o", œ: "oe", Œ: "oe", ł: "l", Ł: "l", đ: "d", Đ: "d", ð: "d", Ð: "d", þ: "th", Þ: "th", ı: "i", ħ: "h", Ħ: "h" };

/** Lowercase ascii words joined by `_`, cut at a word boundary like Alembic's slug. */
function slugify(message: string): string {
  const words = message
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // "café" → "cafe" rather than "caf"
    .replace(/[ßẞæÆøØœŒłŁđĐðÐþÞıħĦ]/g, (letter) => ASCII_SPELLING[letter]!)
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== "");
  let slug = "";
  for (const word of words) {
    const next = slug === "" ? word : `${slug}_${word}`;
    if (next.length > SLUG_MAX_LENGTH) break;
    slug = next;
  }
  // One word longer than the limit: cut it rather than drop the whole slug.
  return slug === "" && words.length > 0 ? words[0]!.slice(0, SLUG_MAX_LENGTH) : slug;
}

/** The TypeScript module `lambic revision` writes; every value goes through JSON.stringify. */
export function renderTsRevision(meta: RevisionMeta): string {
  const list = (items: readonly string[] | undefined) => `[${(items ?? []).map((item) => JSON.stringify(item)).join(", ")}]`;
  const revises = meta.revises === null ? "null" : typeof meta.revises === "string" ? JSON.stringify(meta.revises) : list(meta.revises);
  return `import type { Revision } from "lambic";

export default {
  id: ${JSON.stringify(meta.id)},
  revises: ${revises},
  dependsOn: ${list(meta.dependsOn)},
  branchLabels: ${list(meta.branchLabels)},
  message: ${JSON.stringify(meta.message ?? "")},
  transactional: ${meta.transactional ?? true},
  async upgrade(op, ctx) {
  },
  async downgrade(op, ctx) {
  },
} satisfies Revision;
`;
}
