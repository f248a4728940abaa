/**
 * Turns verified bundle bytes into a RevisionSet: write them under a cache folder (the Lambda's
 * /tmp), import the module, validate every revision as the CLI does. Only bytes whose sha256
 * was checked by the caller may come here; the file is checked again before each import, since
 * /tmp outlives the module cache and could hold a torn write.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { LambicError } from "../errors.ts";
import { revisionSetOf, type RevisionSet } from "../revision/revision-set.ts";
import { parseSqlRevision } from "../revision/sql-revision.ts";
import type { LoadedRevision, Revision } from "../revision/types.ts";
import { validateRevisionModule } from "../revision/validate-revision.ts";
import { BUNDLE_FORMAT_VERSION, type BundleSettings } from "./bundle-format.ts";
import { sourceChecksum } from "./open-revisions.ts";
import { importModule } from "../import-module.ts";

/** A bundle ready to run: its revisions and how its database is tracked. */
export interface OpenedBundle {
  readonly sha256: string;
  readonly set: RevisionSet;
  readonly settings: BundleSettings;
}

interface BundleModule {
  formatVersion?: unknown;
  database?: unknown;
  settings?: unknown;
  revisions?: unknown;
}

type BundleEntry = { file: string; checksum: string } & ({ sql: string } | { revision: unknown });

export function bundleCacheDir(env: Record<string, string | undefined> = process.env): string {
  return env.LAMBIC_CACHE_DIR || join(tmpdir(), "lambic-bundles");
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The cached file's bytes when they still hash to `sha256`, else undefined. */
export function readCachedBundle(sha256: string, cacheDir: string): Buffer | undefined {
  try {
    const bytes = readFileSync(join(cacheDir, `${sha256}.mjs`));
    return sha256Hex(bytes) === sha256 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Imports bundle bytes already verified against `sha256`, for `database`. A bundle built for
 * another database is BUNDLE_DATABASE_MISMATCH before any of its revisions is used.
 */
export async function importBundle(bytes: Uint8Array, sha256: string, database: string, cacheDir: string): Promise<OpenedBundle> {
  if (sha256Hex(bytes) !== sha256) {
    throw new LambicError("BUNDLE_INTEGRITY", `Bundle bytes do not hash to ${sha256}; refusing to import them.`, { sha256 });
  }
  const file = join(cacheDir, `${sha256}.mjs`);
  if (readCachedBundle(sha256, cacheDir) === undefined) {
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      mkdirSync(cacheDir, { recursive: true });
      writeFileSync(temporary, bytes);
      renameSync(temporary, file);
    } catch (error) {
      // The module is imported from a file, so a folder that cannot be written fails every
      // invocation: a setting to fix (on Lambda only /tmp is writable), not a lambic bug.
      const code = (error as NodeJS.ErrnoException)?.code;
      throw new LambicError(
        "CONFIG_INVALID",
        `The verified bundle ${sha256} could not be written to LAMBIC_CACHE_DIR (${cacheDir}), where it is imported from: ${(error as Error)?.message ?? String(error)}. ${code === "ENOSPC" ? "The disk is full: raise the function's ephemeral storage, or clear the folder." : "Set LAMBIC_CACHE_DIR to a writable folder under /tmp (the only writable path on Lambda), or leave it unset for the default."}`,
        { variable: "LAMBIC_CACHE_DIR", cacheDir, sha256, fsError: code ?? null },
        { cause: error },
      );
    }
  }

  let module: BundleModule;
  try {
    module = await importModule<BundleModule>(pathToFileURL(file).href);
  } catch (error) {
    const origin = throwingFile(error, file);
    const thrower = origin === undefined ? "A revision" : origin.includes("/") ? `File ${origin}, which a revision imports,` : `Revision file ${origin}`;
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Importing bundle ${sha256} failed: ${(error as Error)?.message ?? String(error)}. ${thrower} threw while its module loaded; fix it, build and publish again.`,
      { sha256, ...(origin === undefined ? {} : { file: origin }) },
      { cause: error },
    );
  }
  if (module.formatVersion !== BUNDLE_FORMAT_VERSION || !Array.isArray(module.revisions) || typeof module.database !== "string") {
    throw new LambicError(
      "BUNDLE_INTEGRITY",
      `Bundle ${sha256} is not a lambic revision bundle of format ${BUNDLE_FORMAT_VERSION} (formatVersion ${JSON.stringify(module.formatVersion)}). Build it with this version of lambic (node build.mjs) and publish again.`,
      { sha256, formatVersion: module.formatVersion },
    );
  }
  if (module.database !== database) {
    throw new LambicError(
      "BUNDLE_DATABASE_MISMATCH",
      `Bundle ${sha256} holds the revisions of database "${module.database}", not "${database}". Publish database "${database}"'s bundle (lambic publish --name ${database}) or name the right sha256 in the event.`,
      { sha256, bundleDatabase: module.database, database },
    );
  }

  const entries = module.revisions as BundleEntry[];
  const revisions = entries.map((entry) => toLoadedRevision(entry, sha256));
  const set = revisionSetOf(database, revisions, sourceChecksum(revisions.map((r) => r.source.checksum)), sha256);
  return { sha256, set, settings: module.settings as BundleSettings };
}

/**
 * The source file (as the bundle names it: a revision's file name, or a path from the revisions
 * folder) whose code the error's first frame in the bundle is in, from the `// <file>` comment
 * esbuild writes before each file's code. The bundle has no source map: its line is not the file's.
 */
function throwingFile(error: unknown, file: string): string | undefined {
  try {
    const stack = String((error as Error)?.stack ?? "");
    const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const frame = new RegExp(`(?:${escaped(pathToFileURL(file).href)}|${escaped(file)}):(\\d+):\\d+`).exec(stack);
    if (!frame) return undefined;
    const lines = readFileSync(file, "utf8").split("\n", Number(frame[1]));
    for (let at = lines.length - 1; at >= 0; at--) {
      const name = /^\/\/ (\S.*)$/.exec(lines[at]!)?.[1];
      if (name !== undefined) return name === "lambic-bundle-entry.js" ? undefined : name;
    }
  } catch {
    // no stack, or the file is gone: the bundle is named alone
  }
  return undefined;
}

function toLoadedRevision(entry: BundleEntry, sha256: string): LoadedRevision {
  const file = `bundle:${sha256.slice(0, 12)}/${entry.file}`;
  const revision: Revision = "sql" in entry ? parseSqlRevision(entry.sql, file) : bind(validateRevisionModule(entry.revision, file));
  const loaded: { -readonly [K in keyof LoadedRevision]: LoadedRevision[K] } = {
    id: revision.id,
    revises: revision.revises,
    dependsOn: revision.dependsOn ?? [],
    branchLabels: revision.branchLabels ?? [],
    message: revision.message ?? "",
    transactional: revision.transactional ?? true,
    upgrade: revision.upgrade,
    source: { file: entry.file, checksum: entry.checksum },
  };
  if (revision.downgrade) loaded.downgrade = revision.downgrade;
  return loaded;
}

/** Bound, so a revision may use `this` as it would in its own module. */
function bind(revision: Revision): Revision {
  return { ...revision, upgrade: revision.upgrade.bind(revision), downgrade: revision.downgrade?.bind(revision) };
}
