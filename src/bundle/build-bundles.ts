/**
 * Revision bundles: each database's revisions compiled into one self-contained ES module
 * (`revisions.mjs`) plus a `manifest.json` describing it. The Lambda downloads the module by its
 * sha256, checks the hash, and imports it; the manifest is for people and pipelines.
 *
 * The module does not import the engine: TypeScript revisions are compiled with their own
 * imports bundled in, and `.sql` revisions are embedded verbatim (the handler parses them with
 * the same parser the CLI uses). A bundle therefore works with any handler that reads this
 * format version, and the same sources always give the same bytes, hence the same sha256.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { BuildFailure, Plugin } from "esbuild";
import { loadConfig, type DatabaseConfig } from "../config.ts";
import { LambicError } from "../errors.ts";
import { RevisionMap } from "../revision/revision-map.ts";
import { COMMONJS_NAMES, esmBanner, loadRevisions, TEXT_LOADERS } from "./load-revisions.ts";
import { BUNDLE_FORMAT_VERSION, BUNDLE_MANIFEST, BUNDLE_MODULE, type BundleManifest, type BundleSettings } from "./bundle-format.ts";
import { sourceChecksum } from "./open-revisions.ts";

export { BUNDLE_FORMAT_VERSION, BUNDLE_MANIFEST, BUNDLE_MODULE, type BundleManifest, type BundleSettings };

export interface BuiltBundle {
  readonly database: string;
  readonly dir: string;
  readonly sha256: string;
  readonly manifest: BundleManifest;
}

/**
 * Builds `<outDir>/<database>/revisions.mjs` and `manifest.json` for one configured database.
 * The revisions are first loaded and validated exactly as the CLI loads them, so a bundle never
 * holds a revision the CLI would refuse.
 */
export async function buildBundle(database: DatabaseConfig, options: { projectDir: string; outDir: string; now?: Date }): Promise<BuiltBundle> {
  const revisionsDir = resolve(database.revisions);
  const loaded = await loadRevisions(revisionsDir, { projectDir: options.projectDir });
  const map = new RevisionMap(loaded); // refuses a broken graph before anything is written
  const files = loaded.map((revision) => fileName(revision.source.file));

  const entry = [
    "// lambic revision bundle: generated, do not edit",
    ...loaded.flatMap((_, i) => (files[i]!.endsWith(".sql") ? [] : [`import r${i} from ${JSON.stringify(`./${files[i]}`)};`])),
    `export const formatVersion = ${BUNDLE_FORMAT_VERSION};`,
    `export const database = ${JSON.stringify(database.name)};`,
    `export const settings = ${JSON.stringify(settingsOf(database))};`,
    "export const revisions = [",
    ...loaded.map((revision, i) => {
      const common = `file: ${JSON.stringify(files[i])}, checksum: ${JSON.stringify(revision.source.checksum)}`;
      return files[i]!.endsWith(".sql")
        ? `  { ${common}, sql: ${JSON.stringify(readFileSync(revision.source.file, "utf8"))} },`
        : `  { ${common}, revision: r${i} },`;
    }),
    "];",
  ].join("\n");

  const esbuild = await import("esbuild");
  let code: Uint8Array;
  try {
    const build = (banner?: string) => esbuild.build({
      stdin: { contents: entry, resolveDir: revisionsDir, sourcefile: "lambic-bundle-entry.js", loader: "js" },
      // Paths in the output's comments are relative to this, so the bytes do not depend on
      // where the project is checked out.
      absWorkingDir: revisionsDir,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      legalComments: "none",
      loader: TEXT_LOADERS,
      define: COMMONJS_NAMES,
      write: false,
      logLevel: "silent",
      plugins: [refuseEngineImports(database.name)],
      ...(banner ? { banner: { js: banner } } : {}),
    });
    let result = await build();
    // A CommonJS package bundled into an ES module keeps its require() of Node's built-in
    // modules, and a revision may use require() or __dirname as it does in the cache's script
    // bundle: such a bundle gets them (see esmBanner). Only those: the others keep their bytes.
    const banner = esmBanner(result.outputFiles[0]!.contents);
    if (banner) result = await build(banner);
    code = result.outputFiles[0]!.contents;
  } catch (error) {
    if (error instanceof LambicError) throw error;
    const failure = error as BuildFailure;
    const first = failure.errors?.[0];
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Bundling the revisions of database "${database.name}" (${revisionsDir}) failed: ${first ? `${first.location?.file ?? ""}:${first.location?.line ?? ""}: ${first.text}` : failure.message}. Fix the revision and build again.`,
      { database: database.name, dir: revisionsDir },
      { cause: error },
    );
  }

  const sha256 = createHash("sha256").update(code).digest("hex");
  const manifest: BundleManifest = {
    formatVersion: BUNDLE_FORMAT_VERSION,
    database: database.name,
    sha256,
    sourceChecksum: sourceChecksum(loaded.map((r) => r.source.checksum)),
    heads: [...map.heads],
    revisions: loaded.map((revision, i) => ({
      id: revision.id,
      parents: revision.revises === null ? [] : typeof revision.revises === "string" ? [revision.revises] : [...revision.revises],
      dependsOn: [...(revision.dependsOn ?? [])],
      branchLabels: [...(revision.branchLabels ?? [])],
      message: revision.message ?? "",
      transactional: revision.transactional !== false,
      downgrade: revision.downgrade !== undefined,
      file: files[i]!,
      checksum: revision.source.checksum,
    })),
    settings: settingsOf(database),
    builtAt: (options.now ?? new Date()).toISOString(),
    gitCommit: gitCommit(options.projectDir),
  };

  const dir = join(options.outDir, database.name);
  mkdirSync(dir, { recursive: true });
  writeAtomically(join(dir, BUNDLE_MODULE), code);
  writeAtomically(join(dir, BUNDLE_MANIFEST), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return { database: database.name, dir, sha256, manifest };
}

/** Every database of the project's lambic.config.json (or the default `main`). */
export async function buildAllBundles(options: { projectDir: string; outDir: string; env?: Record<string, string | undefined> }): Promise<BuiltBundle[]> {
  const config = loadConfig({ cwd: options.projectDir, env: options.env ?? process.env });
  const built: BuiltBundle[] = [];
  for (const database of Object.values(config.databases)) {
    built.push(await buildBundle(database, { projectDir: options.projectDir, outDir: resolve(options.projectDir, options.outDir) }));
  }
  return built;
}

/** Reads a built bundle back: the manifest, and the module's bytes checked against it. */
export function readBuiltBundle(dir: string): { manifest: BundleManifest; code: Buffer } {
  let manifest: BundleManifest;
  let code: Buffer;
  try {
    manifest = JSON.parse(readFileSync(join(dir, BUNDLE_MANIFEST), "utf8")) as BundleManifest;
    code = readFileSync(join(dir, BUNDLE_MODULE));
  } catch (error) {
    throw new LambicError(
      "BUNDLE_NOT_FOUND",
      `No built bundle in ${dir} (${(error as Error).message}). Run \`npm run build\` (node build.mjs) first.`,
      { dir },
      { cause: error },
    );
  }
  const actual = createHash("sha256").update(code).digest("hex");
  if (actual !== manifest.sha256) {
    throw new LambicError(
      "BUNDLE_INTEGRITY",
      `${join(dir, BUNDLE_MODULE)} has sha256 ${actual}, but its manifest says ${manifest.sha256}. The file changed after the build; run \`npm run build\` again.`,
      { dir, expected: manifest.sha256, actual },
    );
  }
  return { manifest, code };
}

function settingsOf(database: DatabaseConfig): BundleSettings {
  return {
    versionTable: database.versionTable,
    schema: database.schema ?? null,
    driver: database.driver ?? null,
    lockTimeoutMs: database.lockTimeoutMs,
    statementTimeoutMs: database.statementTimeoutMs,
    ...(database.tenants !== undefined ? { tenants: database.tenants } : {}),
  };
}

/**
 * A revision may import `lambic` for types only (`import type`, erased). A value import would
 * pull the engine into the bundle, or fail in the Lambda where `lambic` is not installed.
 */
function refuseEngineImports(database: string): Plugin {
  return {
    name: "lambic-refuse-engine",
    setup(build) {
      build.onResolve({ filter: /^lambic(\/.*)?$/ }, (args) => ({
        errors: [{ text: `${args.importer} imports "${args.path}" at run time. Revisions may import lambic for types only (\`import type { Revision } from "lambic"\`); database "${database}"'s bundle must not contain the engine.` }],
      }));
    },
  };
}

function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1]!;
}

function gitCommit(projectDir: string): string | null {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: projectDir, stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).toString().trim() || null;
  } catch {
    return null;
  }
}

function writeAtomically(path: string, contents: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/** The databases that have a built bundle under `outDir`. */
export function listBuiltBundles(outDir: string): string[] {
  try {
    return readdirSync(outDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
