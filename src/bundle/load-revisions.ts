import { isUtf8 } from "node:buffer";
import * as crypto from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire, isBuiltin, SourceMap, type SourceMapPayload } from "node:module";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as vm from "node:vm";
import type { BuildFailure, BuildOptions, BuildResult, Message } from "esbuild";
import { checkObject, checkString } from "../check-arguments.ts";
import { LambicError } from "../errors.ts";
import { parseSqlRevision, parseSqlRevisionParts, sqlMigration } from "../revision/sql-revision.ts";
import type { Operations } from "../operations/index.ts";
import { PRELOAD_CODE, type LoadedRevision, type MigrationFunction, type Revision, type RevisionContext, type RevisionMeta } from "../revision/types.ts";
import { HELPER_ADVICE, validateRevisionModule, withSourceLine } from "../revision/validate-revision.ts";
import { importModule } from "../import-module.ts";
import { readText } from "../read-text.ts";

/** Bump when the cache's shape, or what loading checks, changes: older cache files are then not reused. */
const LOADER_VERSION = "lambic-loader-26";

/** Revision files: `.sql`, TypeScript and JavaScript modules; not dotfiles or `__` files. */
const REVISION_FILE = /^(?!\.|__).*\.(?:sql|ts|mts|js|mjs)$/;
const DECLARATION_FILE = /\.d\.m?ts$/;
const REVISION_FILE_ANY_CASE = new RegExp(REVISION_FILE.source, "i");
const DECLARATION_FILE_ANY_CASE = new RegExp(DECLARATION_FILE.source, "i");
const ENTRY_NAME = "lambic-revisions-entry.js";

export interface LoadRevisionsOptions {
  /** Where compiled bundles are cached. Default: `<projectDir>/.lambic/cache`. */
  readonly cacheDir?: string;
  /** Default: the current working directory. */
  readonly projectDir?: string;
  /** The config file that names the folder, for the words of an error. */
  readonly configFile?: string;
}

/** A revision's metadata in the cache index, in file order; default values are left out to keep it small. */
interface IndexedRevision extends RevisionMeta {
  /** Present (false) only for a revision without a downgrade. */
  readonly downgrade?: false;
}

/**
 * How the compiled modules are stored. `script`: a CommonJS bundle run through `vm.Script` with
 * V8's code cache beside it, so a warm start skips most of the parsing (two thirds of the time
 * at 5,000 revisions). `module`: an ES module bundle, for revisions that need one
 * (`import.meta`, imports of packages, top-level await). None when every revision is `.sql`.
 */
type BundleFormat = "script" | "module";

/** What a cache entry records: enough to answer graph questions without reading any revision. */
interface CacheIndex {
  /** Distinguishes two builds under one key, which must not share Node's module cache. */
  readonly builtAt: string;
  readonly format?: BundleFormat;
  /** One entry per revision file, in file order (the key pins the file names). */
  readonly revisions: readonly IndexedRevision[];
  /** Each file's sha256 in hex, concatenated: one string parses faster than thousands. */
  readonly checksums: string;
  /**
   * Files the modules import (helpers), and the settings files esbuild read to compile them
   * (`tsconfig.json`, `package.json`), with the size and mtime they had at build time; -1 for a
   * settings file that was not there (creating it changes the build).
   */
  readonly imports: readonly (readonly [path: string, size: number, mtimeMs: number])[];
  /**
   * The files (revisions, helpers, settings) whose mtime was too close to the build for a later
   * edit to be sure to move it, with the sha256 of the bytes the build read: a warm start reads
   * these few again (git's "racily clean" entries).
   */
  readonly racy?: readonly (readonly [path: string, sha256: string])[];
  /**
   * When the files were last known to hold what the build read, less RACY_MS (a change time is
   * stamped in ticks too): a file whose change time (ctime) is later was rewritten, renamed over
   * or touched since, maybe keeping its size and mtime (`cp -p`, `touch -r`, `rsync -t`, tar),
   * and is read again, against the sha256 kept beside the index (`.sums.json`).
   */
  readonly checkedAt: number;
}

/**
 * Loads every revision file of `dir` in file-name order (a plain code-unit sort: the order that
 * breaks ties in the graph, as in Alembic ≥ 1.10). `.sql` files are parsed; TypeScript and JS
 * modules are compiled together by esbuild into one bundle. Both are cached under `cacheDir`,
 * keyed by each file's name, size and mtime; a file whose ctime is later than the build (see
 * CacheIndex.checkedAt) is read again and compared with the bytes the build read.
 *
 * A warm start reads neither the sources nor the bundle: the cache keeps each revision's
 * metadata and checksum in a JSON index; the bundle, and the `.sql` revisions' SQL kept beside
 * the index, are read only when an upgrade or downgrade function is first called, or asked for
 * ahead of that (PRELOAD_CODE: the runner does while the server answers its first statements). `lambic heads`
 * over thousands of revisions thus costs a directory listing, a stat per file and one JSON parse.
 */
export async function loadRevisions(dir: string, options: LoadRevisionsOptions = {}): Promise<LoadedRevision[]> {
  checkString("loadRevisions", "dir", dir);
  checkObject("loadRevisions", "options", options);
  const names = listRevisionFiles(dir, options.configFile);
  const prefix = folderPrefix(dir);
  const files: string[] = [];
  // The cache key: each file's name, size and mtime (numbers kept as numbers: thousands of
  // formatted strings showed up in the warm-load profile).
  const sizesAndTimes = new Float64Array(names.length * 2);
  // Not in the key: a copy of the project (an image pulled elsewhere) has new ones (see checkedAt).
  const changeTimes = new Float64Array(names.length);
  const startedAt = Date.now();
  for (let i = 0; i < names.length; i++) {
    const stat = statSync(prefix + names[i]!, { throwIfNoEntry: false }) ?? danglingLink(prefix + names[i]!);
    if (!stat?.isFile()) continue;
    changeTimes[files.length] = stat.ctimeMs;
    sizesAndTimes[files.length * 2] = stat.size;
    sizesAndTimes[files.length * 2 + 1] = stat.mtimeMs;
    files.push(names[i]!);
  }
  if (files.length === 0) return [];

  const absoluteDir = resolve(dir);
  const cacheDir = resolve(options.cacheDir ?? join(options.projectDir ?? process.cwd(), ".lambic", "cache"));
  const key = crypto
    .createHash("sha256")
    .update(`${LOADER_VERSION}\0${absoluteDir}\0${files.join("\0")}\0`)
    .update(new Uint8Array(sizesAndTimes.buffer, 0, files.length * 16))
    .digest("hex");
  // The folder's own hash prefixes the name, so a rebuild can prune that folder's stale entries
  // without touching the entries of the project's other databases.
  const dirKey = sha256(absoluteDir).slice(0, 12);
  const entry = join(cacheDir, `${dirKey}-${key}`);

  const index = readIndex(`${entry}.json`);
  // An index is written only for revisions that all loaded, with no id twice.
  if (index && index.revisions.length === files.length) {
    const touched: [path: string, ctimeMs: number][] = [];
    for (let i = 0; i < files.length; i++) if (changeTimes[i]! > index.checkedAt) touched.push([resolve(prefix + files[i]!), changeTimes[i]!]);
    if (importsUnchanged(index, touched) && racyUnchanged(index) && touchedUnchanged(entry, index, touched)) {
      // Checked now: recorded once that takes some of them off the list (their tick has passed).
      const checkedAt = touched.some(([, ctimeMs]) => ctimeMs <= startedAt - RACY_MS) ? startedAt - RACY_MS : index.checkedAt;
      if (index.racy || checkedAt !== index.checkedAt) settleIndex(`${entry}.json`, index, checkedAt);
      return fromIndex(prefix, files, entry, index);
    }
  }
  return build({ absoluteDir, prefix, files, cacheDir, dirKey, entry, startedAt });
}

function listRevisionFiles(dir: string, configFile: string | undefined): string[] {
  let entries;
  try {
    // Names only: a Dirent per file costs more than the stat each file gets anyway.
    entries = readdirSync(dir);
  } catch (error) {
    const fixConfig = configFile ? `fix "revisions" in ${configFile}` : `point "revisions" elsewhere in a lambic.config.json`;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new LambicError("CONFIG_INVALID", `Revisions folder ${dir} does not exist. Create it (lambic revision -m MESSAGE writes the first revision) or ${fixConfig}.`, { dir, configFile });
    }
    if (code === "ENOTDIR") {
      throw new LambicError("CONFIG_INVALID", `Revisions folder ${dir} is not a folder: it, or a folder above it, is a file. Move the file away or ${fixConfig}.`, { dir, configFile }, { cause: error });
    }
    if (code === "EACCES" || code === "EPERM") {
      throw new LambicError("CONFIG_INVALID", `Revisions folder ${dir} cannot be read (${code}). Give the user lambic runs as read access to it, and run again.`, { dir, configFile }, { cause: error });
    }
    throw error;
  }
  const names = entries.filter((name) => REVISION_FILE.test(name) && !DECLARATION_FILE.test(name));
  if (names.length < entries.length) {
    // `A1.SQL` would be skipped in silence, and its revision never run.
    const shouting = entries.find((name) => !REVISION_FILE.test(name) && REVISION_FILE_ANY_CASE.test(name) && !DECLARATION_FILE_ANY_CASE.test(name));
    if (shouting !== undefined) {
      const path = join(dir, shouting);
      const lower = shouting.replace(/\.[^.]+$/, (extension) => extension.toLowerCase());
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${path}: lambic reads revision files by their extension in lower case (.sql, .ts, .mts, .js, .mjs), so it would skip this one. Rename it to ${lower} (or move it out of the folder) and run again.`,
        { file: path },
      );
    }
  }
  return names.sort();
}

/**
 * A listed name that is gone when looked at: a file removed since the listing (an editor saving
 * by rename) is skipped, as if listed a moment later; a symbolic link to nothing is refused.
 */
function danglingLink(path: string): undefined {
  let target: string;
  try {
    target = readlinkSync(path);
  } catch {
    return undefined;
  }
  throw new LambicError(
    "REVISION_FILE_INVALID",
    `${path} is a symbolic link to ${target}, which does not exist. Fix the link or remove it, and run again.`,
    { file: path, target },
  );
}

/** A revision file's bytes; a file that cannot be read is named, with what to do. */
function readRevisionFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new LambicError("REVISION_FILE_INVALID", `${path} was removed while lambic was reading the revisions. Run the command again.`, { file: path }, { cause: error });
    }
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Cannot read the revision file ${path} (${code ?? (error as Error).message}). Give the user lambic runs as read access to it (or move it out of the revisions folder), and run again.`,
      { file: path },
      { cause: error },
    );
  }
}

function fromIndex(prefix: string, files: readonly string[], entry: string, index: CacheIndex): LoadedRevision[] {
  const bundle = new LazyBundle(entry, index, () => files.filter((name) => !name.endsWith(".sql")).map((name) => prefix + name));
  const sections = new SqlSections(`${entry}.sql.json`, index.builtAt);
  const revisions = new Array<LoadedRevision>(files.length);
  let modulePosition = 0;
  for (let i = 0; i < files.length; i++) {
    const path = prefix + files[i]!;
    const checksum = index.checksums.slice(i * 64, i * 64 + 64);
    const code = files[i]!.endsWith(".sql") ? new LazySqlRevision(path, checksum, sections) : bundle;
    revisions[i] = new CachedRevision(index.revisions[i]!, code, code === bundle ? modulePosition++ : i, path, checksum);
  }
  return revisions;
}

/** Where a cached revision's functions come from: the bundle (by module position) or its `.sql` file (by file position). */
interface RevisionCode {
  step(position: number, step: "upgrade" | "downgrade"): MigrationFunction;
  /** Reads the code now rather than at the first call (see PRELOAD_CODE). */
  preload(position: number): void;
}

const NO_IDS: readonly string[] = Object.freeze([]);

/**
 * The one shape every loaded revision has, whatever its source: defaults filled in, so a cold
 * load (from the files) and a warm one (from the cache index) return equal records.
 */
abstract class RevisionRecord implements LoadedRevision {
  readonly id: string;
  readonly revises: RevisionMeta["revises"];
  readonly dependsOn: readonly string[];
  readonly branchLabels: readonly string[];
  readonly message: string;
  readonly transactional: boolean;
  readonly source: { readonly file: string; readonly checksum: string };
  abstract readonly upgrade: MigrationFunction;
  abstract readonly downgrade?: MigrationFunction;

  constructor(meta: RevisionMeta, file: string, checksum: string) {
    this.id = meta.id;
    this.revises = meta.revises;
    this.dependsOn = meta.dependsOn ?? NO_IDS;
    this.branchLabels = meta.branchLabels ?? NO_IDS;
    this.message = meta.message ?? "";
    this.transactional = meta.transactional ?? true;
    this.source = { file, checksum };
  }
}

/** A revision read from its file, with its functions at hand. */
class ReadRevision extends RevisionRecord {
  readonly upgrade: MigrationFunction;
  declare readonly downgrade?: MigrationFunction;

  constructor(meta: RevisionMeta, upgrade: MigrationFunction, downgrade: MigrationFunction | undefined, file: string, checksum: string) {
    super(meta, file, checksum);
    this.upgrade = upgrade;
    // Only when there is one: a revision without a downgrade has no such property.
    if (downgrade) (this as { downgrade?: MigrationFunction }).downgrade = downgrade;
  }
}

/**
 * A revision as the cache index describes it. Its functions are made when read: a warm start
 * over thousands of revisions allocated two closures for each, most never called.
 */
class CachedRevision extends RevisionRecord {
  readonly #code: RevisionCode;
  readonly #position: number;
  readonly #reversible: boolean;

  constructor(indexed: IndexedRevision, code: RevisionCode, position: number, file: string, checksum: string) {
    super(indexed, file, checksum);
    this.#code = code;
    this.#position = position;
    this.#reversible = indexed.downgrade !== false;
  }

  get upgrade(): MigrationFunction {
    return this.#code.step(this.#position, "upgrade");
  }

  get downgrade(): MigrationFunction | undefined {
    return this.#reversible ? this.#code.step(this.#position, "downgrade") : undefined;
  }

  [PRELOAD_CODE](): void {
    this.#code.preload(this.#position);
  }
}

/** The compiled modules, loaded when a migration function is first called (or preloaded). */
class LazyBundle implements RevisionCode {
  private loading: Promise<LoadedBundle> | undefined;
  private loaded: LoadedBundle | undefined;

  constructor(
    private readonly entry: string,
    private readonly index: CacheIndex,
    private readonly modulePaths: () => readonly string[],
  ) {}

  /** The function running module `position` (in module order) one way. */
  step(position: number, step: "upgrade" | "downgrade"): MigrationFunction {
    // No async wrapper once loaded: thousands of steps each paid for two promises.
    return (op, ctx) => {
      if (this.loaded) return this.run(this.loaded, position, step, op, ctx);
      return this.load().then((bundle) => this.run(bundle, position, step, op, ctx));
    };
  }

  /** A script bundle is read and compiled here, synchronously, before loadBundle's first await. */
  preload(): void {
    // A failure is reported by the first call, which awaits the same promise.
    this.load().catch(() => undefined);
  }

  private load(): Promise<LoadedBundle> {
    return (this.loading ??= loadBundle(this.entry, this.index, this.modulePaths).then(async (bundle) => {
      // Another command rebuilt this entry since the index was read: of the same files (commands
      // started at once on a cold cache), the same code; after a file changed keeping its size and
      // mtime, code that is not what this command's checksums cover.
      if (bundle.build !== this.index.builtAt && !(await rebuiltAlike(this.entry, this.index, bundle.build))) {
        throw new LambicError(
          "REVISION_FILE_INVALID",
          `The compiled revisions ${this.entry} were rebuilt by another lambic command while this one ran, after a revision or a file it imports changed. Nothing of them ran; run the command again.`,
          { bundle: this.entry },
        );
      }
      return (this.loaded = bundle);
    }));
  }

  private run(bundle: LoadedBundle, position: number, step: "upgrade" | "downgrade", op: Operations, ctx: RevisionContext): void | Promise<void> {
    bundle.script?.ran(position, step);
    return bundle.revisions[position]![step]!(op, ctx);
  }
}

interface LoadedBundle {
  readonly revisions: readonly Revision[];
  readonly script?: ScriptBundle;
  /** The build the bundle's file holds (CacheIndex.builtAt of the index written with it). */
  readonly build: unknown;
}

/** Each `.sql` revision's up and down SQL (by file position; 0 for a module), as the cache keeps them, with the build they belong to. */
interface StoredSections {
  readonly builtAt: string;
  readonly sections: readonly (readonly [up: string, down: string | null] | 0)[];
}

/** The `.sql` revisions' sections, stored beside the index and read when one first runs. */
class SqlSections {
  private sections: StoredSections["sections"] | null | undefined;

  constructor(
    private readonly file: string,
    private readonly builtAt: string,
  ) {}

  /**
   * Undefined when the file is gone, torn, or another command's rebuild (a file changed keeping
   * its size and mtime): the revision is then read from its own file, which must hold what was loaded.
   */
  at(position: number): readonly [string, string | null] | undefined {
    if (this.sections === undefined) {
      try {
        const stored = JSON.parse(readFileSync(this.file, "utf8")) as StoredSections;
        this.sections = stored.builtAt === this.builtAt ? stored.sections : null;
      } catch {
        this.sections = null;
      }
    }
    const stored: unknown = this.sections?.[position];
    return Array.isArray(stored) && typeof stored[0] === "string" ? (stored as [string, string | null]) : undefined;
  }
}

/**
 * A `.sql` revision whose SQL is taken, on first use, from the cache (what its checksum was
 * computed over), or else read again from its file, which must still have that checksum.
 */
class LazySqlRevision implements RevisionCode {
  private revision: Pick<Revision, "upgrade" | "downgrade"> | undefined;

  constructor(
    private readonly path: string,
    private readonly checksum: string,
    private readonly sections: SqlSections,
  ) {}

  step(position: number, step: "upgrade" | "downgrade"): MigrationFunction {
    return (op, ctx) => {
      this.revision ??= this.load(position);
      return this.revision[step]!(op, ctx);
    };
  }

  preload(position: number): void {
    try {
      this.revision ??= this.load(position);
    } catch {
      // Reported by the first call, which loads it again.
    }
  }

  private load(position: number): Pick<Revision, "upgrade" | "downgrade"> {
    const stored = this.sections.at(position);
    if (stored) return { upgrade: sqlMigration(stored[0]), ...(stored[1] === null ? {} : { downgrade: sqlMigration(stored[1]) }) };
    const bytes = readFileSync(this.path);
    if (revisionChecksum(bytes) !== this.checksum) {
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${this.path} changed while lambic was running: its content is not what was loaded a moment ago. Run the command again.`,
        { file: this.path },
      );
    }
    return parseSqlRevision(utf8Text(bytes, this.path), this.path);
  }
}

/** The modules of a cache entry, in module order. */
async function loadBundle(entry: string, index: Pick<CacheIndex, "format" | "builtAt">, modulePaths: () => readonly string[]): Promise<LoadedBundle> {
  const file = `${entry}${index.format === "script" ? ".cjs" : ".mjs"}`;
  try {
    if (index.format === "script") {
      const script = new ScriptBundle(file, `${entry}.code`);
      return { revisions: script.revisions, script, build: script.lambicBuild };
    }
    // The query keeps two builds under one name apart in Node's module cache.
    const bundle = await importModule<{ default: readonly Revision[]; lambicBuild?: unknown }>(`${pathToFileURL(file).href}?${index.builtAt}`);
    return { revisions: bundle.default, build: bundle.lambicBuild };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException)?.code;
    if ((code === "ENOENT" && (error as NodeJS.ErrnoException).path === file) || (code === "ERR_MODULE_NOT_FOUND" && String((error as { url?: unknown }).url).startsWith(pathToFileURL(file).href))) {
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `The compiled revisions ${file} were removed while lambic was running: another lambic command rebuilt the cache after a revision changed, or .lambic/cache was deleted. ` +
          "Nothing of them ran; run the command again.",
        { bundle: file },
        { cause: error },
      );
    }
    // Node 20 runs no TypeScript; Node ≥ 22.18 strips types, but not in files under node_modules.
    if (code === "ERR_UNKNOWN_FILE_EXTENSION" || code === "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING") {
      const path = unrunnableFile(String((error as Error).message));
      const name = path === undefined ? undefined : packageNameOf(path);
      const importers = name === undefined ? [] : modulePaths().filter((revision) => importsPackage(revision, name));
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${importers.length > 0 ? `Revision file ${importers.join(", ")} imports` : "A revision imports"} ${name === undefined ? "a package" : `the package "${name}"`}, whose code is ${path ?? "a file"}, which Node cannot run: ` +
          "lambic compiles the revisions and the files they import by relative path, and leaves packages (node_modules, workspaces) to Node. " +
          "Import the package's built JavaScript, or the file by a relative path so it is compiled with the revisions, and run again.",
        { ...(importers.length > 0 ? { file: importers[0] } : {}), ...(name === undefined ? {} : { package: name }), bundle: file },
        { cause: error },
      );
    }
    const missing = missingPackage(error);
    if (missing !== undefined) {
      const importers = modulePaths().filter((path) => importsPackage(path, missing));
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${importers.length > 0 ? `Revision file ${importers.join(", ")} imports` : "A revision imports"} the package "${missing}", which is not installed where lambic runs ` +
          `(Node looks for it in node_modules from ${dirname(file)} upwards). Install it in the project (npm install ${missing}) and run again.` +
          (missing === "lambic"
            ? ' If it imports lambic for types only, write `import type { Revision } from "lambic"`: a type-only import is erased, where a plain one is kept under tsconfig\'s verbatimModuleSyntax.'
            : ""),
        { file: importers[0], package: missing, bundle: file },
        { cause: error },
      );
    }
    const unexported = missingExport(error);
    if (unexported !== undefined) {
      const { name, specifier, commonJs } = unexported;
      const pkg = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
      const importers = isBuiltin(specifier) || specifier.startsWith(".") ? [] : modulePaths().filter((path) => importsPackage(path, pkg));
      // Node's own message quotes the import's line of the bundle: the rest of it, all the revisions.
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${importers.length > 0 ? `Revision file ${importers.join(", ")} imports` : "A revision imports"} { ${name} } from "${specifier}", ` +
          (commonJs
            ? `a CommonJS module whose named exports Node cannot see (Node loads packages for the revisions as it loads them for any ES module). Import its default export and take the name from it: \`import pkg from "${specifier}"; const { ${name} } = pkg;\`, and run again.`
            : `which has no export of that name. Check the name (and the installed version of the package), and run again.`),
        { ...(importers.length > 0 ? { file: importers[0] } : {}), package: pkg, export: name, bundle: file },
        { cause: error },
      );
    }
    const origin = originOf(error, file, index.format === "script" ? SCRIPT_PREFIX.length : 0);
    if (origin) {
      const real = (path: string) => {
        try {
          return realpathSync(path);
        } catch {
          return resolve(path);
        }
      };
      const isRevision = (path: string) => modulePaths().some((revision) => real(revision) === real(path));
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${isRevision(origin.file) ? "Revision file" : "File"} ${origin.file}${isRevision(origin.file) ? "" : ", which a revision imports,"} failed while loading, at line ${origin.line}: ${(error as Error)?.message ?? String(error)}. Its top-level code (or what it imports) threw; fix it and run again.`,
        { file: origin.file, line: origin.line, bundle: file },
        { cause: error },
      );
    }
    if (!(error instanceof Error)) {
      // No stack, so no file and line: the files whose source holds the thrown text are the likely ones.
      const text = String(error);
      const holders = text.trim().length >= 3 ? modulePaths().filter((path) => sourceIncludes(path, text)).map(displayPath) : [];
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `A revision's top-level code (or what it imports) threw ${JSON.stringify(text.slice(0, 200))} while loading, a value that is not an Error and so names no file or line` +
          `${holders.length > 0 ? ` (the text is in ${holders.slice(0, 5).join(", ")})` : ""}. Fix that throw (throw an Error to have its file and line named) and run again.`,
        { bundle: file, ...(holders.length > 0 ? { file: holders[0] } : {}) },
        { cause: error },
      );
    }
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Loading the compiled revisions ${file} failed: ${error.message}. ` +
        "If a revision throws while it is loaded, fix it; if the cache was removed meanwhile, run again.",
      { bundle: file },
      { cause: error },
    );
  }
}

/** The package an ES module import (ERR_MODULE_NOT_FOUND) or a require() (MODULE_NOT_FOUND, a bare name) could not find. */
function missingPackage(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  const message = String((error as Error).message);
  const specifier =
    code === "ERR_MODULE_NOT_FOUND"
      ? /Cannot find package '([^']+)'/.exec(message)?.[1]
      : code === "MODULE_NOT_FOUND"
        ? /^Cannot find module '([^./'][^']*)'/.exec(message)?.[1]
        : undefined;
  if (specifier === undefined || isAbsolute(specifier)) return undefined;
  // "pkg/sub/path" or "@scope/pkg/sub" names the package "pkg" or "@scope/pkg".
  return specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
}

/** The name an ES module import asked a module for, which it does not export (Node's SyntaxError when linking, as Node 20 and 22 word it). */
function missingExport(error: unknown): { name: string; specifier: string; commonJs: boolean } | undefined {
  if (!(error instanceof SyntaxError)) return undefined;
  const commonJs = /^Named export '([^']+)' not found\. The requested module '([^']+)' is a CommonJS module/.exec(error.message);
  if (commonJs) return { name: commonJs[1]!, specifier: commonJs[2]!, commonJs: true };
  const missing = /^The requested module '([^']+)' does not provide an export named '([^']+)'/.exec(error.message);
  return missing ? { name: missing[2]!, specifier: missing[1]!, commonJs: false } : undefined;
}

/** The name in the package.json nearest above `path`, if any. */
function packageNameOf(path: string): string | undefined {
  for (let at = dirname(path); ; at = dirname(at)) {
    try {
      const name = (JSON.parse(readFileSync(join(at, "package.json"), "utf8")) as { name?: unknown }).name;
      if (typeof name === "string") return name;
    } catch {
      // none here, or unreadable: look further up
    }
    if (dirname(at) === at) return undefined;
  }
}

/** Whether a revision's source names `name` (or a path inside it) as a module to import. */
function importsPackage(path: string, name: string): boolean {
  try {
    const specifier = new RegExp(`(?:\\bfrom|\\bimport|\\brequire)\\s*\\(?\\s*["']${escapeRegExp(name)}(?:/[^"']*)?["']`);
    return specifier.test(readFileSync(path, "utf8"));
  } catch {
    return false;
  }
}

/** @internal The file a "cannot run it" error names, at its end: `for /path` (Node 20), `for "/path"` or `for "file:///path"` (Node 22). */
export function unrunnableFile(message: string): string | undefined {
  const match = /for (?:"(.+)"|(\S+))$/.exec(message);
  const named = match?.[1] ?? match?.[2];
  if (named === undefined || !named.startsWith("file:")) return named;
  try {
    return fileURLToPath(named);
  } catch {
    return named;
  }
}

function sourceIncludes(path: string, text: string): boolean {
  try {
    return readFileSync(path, "utf8").includes(text);
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Where in the revision files an error thrown while the bundle loaded comes from: the first
 * frame of its stack in the bundle, mapped back through the bundle's source map (or a frame
 * already in a revision file, where Node maps stacks itself: --enable-source-maps). `prefix`:
 * the characters the script wrapper puts before the bundle's first line.
 */
/** A path as messages show it: from the working directory when it is below it. */
function displayPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere.startsWith("..") || isAbsolute(fromHere) ? path : fromHere;
}

function originOf(error: unknown, file: string, prefix: number): { file: string; line: number } | undefined {
  try {
    const stack = String((error as Error)?.stack ?? "");
    const payload = JSON.parse(readFileSync(`${file}.map`, "utf8")) as SourceMapPayload;
    const shown = (source: string) => displayPath(source.startsWith("file:") ? new URL(source).pathname : resolve(dirname(file), source));
    const at = (path: string) => new RegExp(`(?:${escapeRegExp(path)}|${escapeRegExp(pathToFileURL(path).href)})(?:\\?[^:\\s]*)?:(\\d+):(\\d+)`);
    const frame = at(file).exec(stack);
    if (frame) {
      const line = Number(frame[1]);
      const column = Number(frame[2]) - (line === 1 ? prefix : 0);
      const entry = new SourceMap(payload).findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number };
      if (!entry.originalSource || entry.originalLine === undefined) return undefined;
      return { file: shown(entry.originalSource), line: entry.originalLine + 1 };
    }
    // The first frame in one of the bundle's sources.
    let first: { file: string; line: number; index: number } | undefined;
    for (const source of payload.sources) {
      const match = at(resolve(dirname(file), source)).exec(stack);
      if (match && (first === undefined || match.index < first.index)) first = { file: shown(source), line: Number(match[1]), index: match.index };
    }
    return first && { file: first.file, line: first.line };
  } catch {
    return undefined; // no map, or no frame in the bundle: the bundle is named instead
  }
}

/** The bundle's last comment but the source map's: `//lambic-build:<builtAt>`. */
const BUILD_MARK = "//lambic-build:";

/** The build a bundle's source names (see BUILD_MARK); empty when none. */
function buildOf(source: string): string {
  const at = source.lastIndexOf(BUILD_MARK);
  if (at === -1) return "";
  const end = source.indexOf("\n", at);
  return source.slice(at + BUILD_MARK.length, end === -1 ? undefined : end);
}

/** What runs a CommonJS bundle as Node runs a module (before the bundle's first line). */
const SCRIPT_PREFIX = `(function (exports, require, module, __filename, __dirname) {"use strict";`;

/**
 * A CommonJS bundle run as Node would run a module, with V8's code cache beside it (read when
 * present and accepted; a different Node or V8 rejects it). The cache holds what had been
 * compiled when it was written: at first the top level only. Compiling thousands of revision
 * functions costs more than parsing them, so once a process has run functions the cache lacks,
 * it writes the cache again before it exits. The file starts with a bitset of the functions
 * (module position × direction) the cache holds.
 */
class ScriptBundle {
  readonly revisions: readonly Revision[];
  readonly lambicBuild: unknown;
  private readonly script: vm.Script;
  private readonly compiled: Uint8Array;
  private readonly build: string;

  constructor(
    file: string,
    private readonly codeCacheFile: string,
  ) {
    const source = readText(file);
    this.build = buildOf(source);
    // V8 checks only the length of the source a code cache was made from, and runs the cached
    // functions of a same-length bundle (a helper's "t1" become "t2"): the build must match.
    const cache = readCodeCache(codeCacheFile, this.build);
    this.script = new vm.Script(`${SCRIPT_PREFIX}${source}\n})`, {
      filename: file,
      cachedData: cache?.data,
    });
    const module = { exports: {} as { default?: readonly Revision[]; lambicBuild?: unknown } };
    (this.script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
    this.revisions = module.exports.default ?? [];
    this.lambicBuild = module.exports.lambicBuild;
    const accepted = cache !== undefined && !this.script.cachedDataRejected && cache.compiled.length === this.revisions.length * 2;
    this.compiled = accepted ? cache.compiled : new Uint8Array(this.revisions.length * 2);
    if (!accepted) this.save();
  }

  /** Notes that a revision function runs; one the cache lacks gets the cache written at exit. */
  ran(position: number, step: "upgrade" | "downgrade"): void {
    const slot = position * 2 + (step === "upgrade" ? 0 : 1);
    if (this.compiled[slot] === 1) return;
    this.compiled[slot] = 1;
    saveAtExit(this);
  }

  /** @internal Writes the code cache with what is compiled now. */
  save(): void {
    try {
      const data = this.script.createCachedData();
      const build = Buffer.from(this.build);
      const header = Buffer.alloc(4 + this.compiled.length + 1);
      header.writeUInt32BE(this.compiled.length, 0);
      header.set(this.compiled, 4);
      header.writeUInt8(build.length, 4 + this.compiled.length);
      writeAtomically(this.codeCacheFile, Buffer.concat([header, build, data]));
    } catch {
      // A read-only cache folder only costs the next start the compiling.
    }
  }
}

/** Bundles whose code cache lacks functions this process ran; one listener writes them all. */
const unsaved = new Set<ScriptBundle>();

function saveAtExit(bundle: ScriptBundle): void {
  if (unsaved.size === 0) {
    process.once("beforeExit", () => {
      for (const pending of unsaved) pending.save();
      unsaved.clear();
    });
  }
  unsaved.add(bundle);
}

/** The code cache: a bitset of the functions it holds, the build it was made from, V8's data. */
function readCodeCache(file: string, build: string): { compiled: Uint8Array; data: Buffer } | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length < 5) return undefined;
  const slots = bytes.readUInt32BE(0);
  if (bytes.length < 5 + slots) return undefined;
  const buildLength = bytes.readUInt8(4 + slots);
  const dataStart = 5 + slots + buildLength;
  if (build === "" || bytes.length < dataStart || bytes.toString("latin1", 5 + slots, dataStart) !== build) return undefined;
  return { compiled: new Uint8Array(bytes.subarray(4, 4 + slots)), data: bytes.subarray(dataStart) };
}

/** `dir` plus a separator: `join` per file was a visible cost at 5,000 files. */
function folderPrefix(dir: string): string {
  const joined = join(dir, "x");
  return joined.slice(0, -1);
}

function readIndex(file: string): CacheIndex | undefined {
  try {
    return JSON.parse(readText(file)) as CacheIndex;
  } catch {
    return undefined; // missing or torn: rebuild
  }
}

/**
 * How close to a build an mtime must be for a same-size edit to be able to keep it: file systems
 * stamp times in ticks (a few ms on Linux, 1 s on HFS+, 2 s on FAT), so a file rewritten in the
 * tick the build read it in keeps its size-and-mtime key.
 */
const RACY_MS = 2_000;

function racyFiles(paths: readonly string[], bytesOf: (path: string) => Buffer, startedAt: number): [string, string][] {
  const racy: [string, string][] = [];
  for (const path of paths) {
    try {
      if (statSync(path).mtimeMs < startedAt - RACY_MS) continue;
      racy.push([resolve(path), sha256(bytesOf(path))]);
    } catch {
      // gone since: its stat no longer matches, so the next start rebuilds anyway
    }
  }
  return racy;
}

function racyUnchanged(index: CacheIndex): boolean {
  return (index.racy ?? []).every(([path, hash]) => {
    try {
      return sha256(readFileSync(path)) === hash;
    } catch {
      return false;
    }
  });
}

/**
 * Drops from the index the racy files found unchanged whose tick has passed: an edit now moves
 * their mtime, so their stat is enough again, and later starts skip reading them. Records
 * `checkedAt`, when files changed since the last check were found to hold the same bytes. (A
 * read-only cache keeps reading them.)
 */
function settleIndex(file: string, index: CacheIndex, checkedAt: number): void {
  const settled = Date.now() - RACY_MS;
  const racy = (index.racy ?? []).filter(([path]) => {
    try {
      return statSync(path).mtimeMs >= settled;
    } catch {
      return true;
    }
  });
  if (racy.length === (index.racy ?? []).length && checkedAt === index.checkedAt) return;
  const { racy: _, ...rest } = index;
  try {
    writeAtomically(file, Buffer.from(JSON.stringify(racy.length > 0 ? { ...rest, checkedAt, racy } : { ...rest, checkedAt })));
  } catch {
    // read-only: the next start reads them again
  }
}

/** Whether the files whose status changed since the last check still hold the bytes the build read. */
function touchedUnchanged(entry: string, index: CacheIndex, touched: readonly (readonly [path: string, ctimeMs: number])[]): boolean {
  if (touched.length === 0) return true;
  let sums: Map<string, string>;
  try {
    const stored = JSON.parse(readFileSync(`${entry}.sums.json`, "utf8")) as { builtAt: string; files: [string, string][] };
    // Another command's build of the same key may have replaced one file and not yet the other.
    if (stored.builtAt !== index.builtAt) return false;
    sums = new Map(stored.files);
  } catch {
    return false; // missing or torn: rebuild
  }
  return touched.every(([path]) => {
    try {
      return sums.get(path) === sha256(readFileSync(path));
    } catch {
      return false;
    }
  });
}

/** Whether the helpers and settings files have the size and mtime they had; those whose status changed since are added to `touched`. */
function importsUnchanged(index: CacheIndex, touched: [path: string, ctimeMs: number][]): boolean {
  return index.imports.every(([path, size, mtimeMs]) => {
    try {
      // Most settings files recorded are absent ones: no exception for those.
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat === undefined) return size === -1;
      if (stat.ctimeMs > index.checkedAt) touched.push([path, stat.ctimeMs]);
      return stat.size === size && stat.mtimeMs === mtimeMs;
    } catch {
      return size === -1; // ENOTDIR: as absent as when recorded
    }
  });
}

/**
 * A cache miss: parses the `.sql` files, compiles and validates the modules, then writes the
 * bundle and, last, the index (an index exists only for revisions that all loaded).
 */
async function build(target: { absoluteDir: string; prefix: string; files: readonly string[]; cacheDir: string; dirKey: string; entry: string; startedAt: number }): Promise<LoadedRevision[]> {
  const { absoluteDir, prefix, files, cacheDir, dirKey, entry, startedAt } = target;
  const loaded = new Array<LoadedRevision>(files.length);
  const modules: string[] = [];
  const modulePositions: number[] = [];
  // The bytes each revision file had when read, before anything compiled it.
  const readBytes = new Map<string, Buffer>();
  const sections: (readonly [string, string | null] | 0)[] = [];
  for (let i = 0; i < files.length; i++) {
    const path = prefix + files[i]!;
    sections.push(0);
    if (path.endsWith(".sql")) {
      const bytes = readRevisionFile(path);
      readBytes.set(path, bytes);
      const { revision, upSql, downSql } = parseSqlRevisionParts(utf8Text(bytes, path), path);
      loaded[i] = new ReadRevision(revision, revision.upgrade, revision.downgrade, path, revisionChecksum(bytes));
      sections[i] = [upSql, downSql ?? null];
    } else {
      const bytes = readRevisionFile(path);
      readBytes.set(path, bytes);
      utf8Text(bytes, path);
      modules.push(files[i]!);
      modulePositions.push(i);
    }
  }

  const builtAt = `${Date.now()}-${process.pid}`;
  let compiled: { format: BundleFormat; outputs: readonly { path: string; contents: Uint8Array }[]; inputs: ReadonlyMap<string, readonly string[]> } | undefined;
  if (modules.length > 0) compiled = await compileModules(absoluteDir, modules, entry, builtAt);
  let release: () => void;
  try {
    mkdirSync(cacheDir, { recursive: true });
    release = await lockEntry(entry);
  } catch (error) {
    // Without modules nothing needs the cache: a read-only project still loads, only slower.
    if (compiled) throw cacheUnwritable(cacheDir, error);
    checkDuplicates(loaded);
    return loaded;
  }
  try {
    return await writeEntry();
  } finally {
    release();
  }

  /** The bundle, then what was loaded from it, then the index naming it. */
  async function writeEntry(): Promise<LoadedRevision[]> {
    try {
      pruneStale(cacheDir, dirKey, basename(entry));
      for (const output of compiled?.outputs ?? []) writeAtomically(output.path, output.contents);
    } catch (error) {
      if (compiled) throw cacheUnwritable(cacheDir, error);
      checkDuplicates(loaded);
      return loaded;
    }

    if (compiled) {
      const bundle = await loadBundle(entry, { format: compiled.format, builtAt }, () => modules.map((name) => prefix + name));
      const helperChecksums = new Map<string, string>();
      modules.forEach((name, position) => {
        const path = prefix + name;
        let revision: Revision;
        try {
          revision = validateRevisionModule(bundle.revisions[position], path);
        } catch (error) {
          throw withSourceLine(error, path, readFileSync(path, "utf8"));
        }
        // Bound, so a revision may use `this` as it would in its own module.
        const upgrade = revision.upgrade.bind(revision);
        const downgrade = revision.downgrade?.bind(revision);
        const checksum = moduleChecksum(resolve(path), readBytes.get(path)!, compiled.inputs, helperChecksums);
        loaded[modulePositions[position]!] = new ReadRevision(revision, upgrade, downgrade, path, checksum);
      });
    }

    checkDuplicates(loaded);
    const revisionPaths = new Set(files.map((file) => join(absoluteDir, file)));
    const imports = compiled ? buildInputs(absoluteDir, compiled.inputs, revisionPaths) : [];
    const racy = racyFiles(
      [...readBytes.keys(), ...imports.filter(([, size]) => size !== -1).map(([path]) => path)],
      (path) => readBytes.get(path) ?? readFileSync(path),
      startedAt,
    );
    const index: CacheIndex = {
      builtAt,
      ...(compiled ? { format: compiled.format } : {}),
      checksums: loaded.map((revision) => revision.source.checksum).join(""),
      revisions: loaded.map((revision) => ({
        id: revision.id,
        revises: revision.revises,
        ...(revision.dependsOn?.length ? { dependsOn: revision.dependsOn } : {}),
        ...(revision.branchLabels?.length ? { branchLabels: revision.branchLabels } : {}),
        ...(revision.message ? { message: revision.message } : {}),
        ...(revision.transactional === false ? { transactional: false } : {}),
        ...(revision.downgrade ? {} : { downgrade: false as const }),
      })),
      imports,
      ...(racy.length > 0 ? { racy } : {}),
      checkedAt: startedAt - RACY_MS,
    };
    // The bytes each file had for the build, for the files whose status changes later (see checkedAt).
    const sums: [string, string][] = [...readBytes].map(([path, bytes]) => [resolve(path), sha256(bytes)]);
    for (const [path, size] of imports) {
      try {
        if (size !== -1) sums.push([path, sha256(readFileSync(path))]);
      } catch {
        // not a file (a folder named package.json): a change to it rebuilds
      }
    }
    try {
      if (modules.length < files.length) writeAtomically(`${entry}.sql.json`, Buffer.from(JSON.stringify({ builtAt, sections } satisfies StoredSections)));
      writeAtomically(`${entry}.sums.json`, Buffer.from(JSON.stringify({ builtAt, files: sums })));
      writeAtomically(`${entry}.json`, Buffer.from(JSON.stringify(index)));
    } catch (error) {
      if (compiled) throw cacheUnwritable(cacheDir, error);
    }
    return loaded;
  }
}

/** A cache entry's lock older than this was left by a command killed while writing it: taken over. */
const ENTRY_LOCK_STALE_MS = 10_000;

/**
 * Serialises the writes of one cache entry. Commands started at once on a cold cache each
 * compile, then write the bundle and, last, the index naming its build; interleaved, one
 * command's index could be left beside another's bundle, which every later command would then
 * refuse as a rebuild. Compiling stays outside the lock; writing takes milliseconds.
 */
async function lockEntry(entry: string): Promise<() => void> {
  const lock = `${entry}.lock`;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    try {
      if (Date.now() - statSync(lock).mtimeMs > ENTRY_LOCK_STALE_MS) rmSync(lock, { force: true });
    } catch {
      // released meanwhile
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** How long a command that finds its bundle rebuilt waits for the rebuild's index (written just after the bundle). */
const REBUILT_INDEX_WAIT_MS = 5_000;

/**
 * Whether build `build`, found in place of the one this command's index names, compiled the same
 * code: commands started at once on a cold cache each write the entry, the same code under
 * their own build marks. The rebuild's index records its revisions' checksums, which cover the
 * files they import, and the settings files esbuild read: the same as this command's, the same code.
 */
async function rebuiltAlike(entry: string, index: CacheIndex, build: unknown): Promise<boolean> {
  const deadline = performance.now() + REBUILT_INDEX_WAIT_MS;
  for (;;) {
    try {
      const current = JSON.parse(readFileSync(`${entry}.json`, "utf8")) as Partial<CacheIndex>;
      if (current.builtAt === build) {
        return current.format === index.format && current.checksums === index.checksums && JSON.stringify(current.imports) === JSON.stringify(index.imports);
      }
    } catch {
      // not there, or being replaced: read again
    }
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** esbuild's loaders beyond its defaults, the same for the cache and for the Lambda's bundle. */
export const TEXT_LOADERS = { ".sql": "text" } as const;

/**
 * A CommonJS module's own names, which an ES module bundle lacks: a revision's free `__dirname`
 * or `__filename` becomes one of these (a revision's own declaration of the name is left alone),
 * so the bundle can be seen to need it (see esmBanner).
 */
export const COMMONJS_NAMES = { __dirname: "__lambicDirname", __filename: "__lambicFilename" } as const;

/** What esbuild's require() shim throws, in a bundle that holds CommonJS code calling require(). */
const DYNAMIC_REQUIRE_SHIM = 'Dynamic require of "';

/**
 * The banner an ES module bundle needs to give its revisions what a CommonJS module has, as the
 * script bundle does: a real `require` (esbuild's shim refuses every call, "Dynamic require of
 * "os" is not supported", in a CommonJS package or a `.js` revision written with require()), and
 * `__dirname`/`__filename` (a ReferenceError otherwise): the bundle's, as in the script bundle.
 * Undefined when it needs none, so such a bundle keeps its bytes. (esbuild renames a module's
 * own top-level `require`, `__dirname` or `__filename`: the banner's do not clash with them.)
 */
export function esmBanner(code: Uint8Array): string | undefined {
  const text = Buffer.from(code.buffer, code.byteOffset, code.byteLength);
  const lines: string[] = [];
  if (text.includes(DYNAMIC_REQUIRE_SHIM)) {
    lines.push('import { createRequire as __lambicCreateRequire } from "node:module";', "const require = __lambicCreateRequire(import.meta.url);");
  }
  if (text.includes(COMMONJS_NAMES.__dirname) || text.includes(COMMONJS_NAMES.__filename)) {
    lines.push(
      'import { fileURLToPath as __lambicFileURLToPath } from "node:url";',
      'import { dirname as __lambicDirnameOf } from "node:path";',
      `const ${COMMONJS_NAMES.__filename} = __lambicFileURLToPath(import.meta.url);`,
      `const ${COMMONJS_NAMES.__dirname} = __lambicDirnameOf(${COMMONJS_NAMES.__filename});`,
    );
  }
  return lines.length > 0 ? lines.join("\n") : undefined;
}

/** The settings files esbuild reads for a source file: the nearest of each, looking upwards. */
const SETTINGS_FILES = ["tsconfig.json", "jsconfig.json", "package.json"] as const;

/**
 * What a bundle was built from besides the revision files, to key the cache: the helpers the
 * modules import, and the settings files that can change how esbuild compiles or resolves them
 * (tsconfig `paths`, `extends`, decorator and class-field options; package.json `imports`),
 * which esbuild's metafile does not list. A changed `tsconfig.json` thus rebuilds, as a changed
 * helper does.
 */
function buildInputs(absoluteDir: string, inputs: ReadonlyMap<string, readonly string[]>, revisionPaths: ReadonlySet<string>): CacheIndex["imports"] {
  const entries = new Map<string, readonly [string, number, number]>();
  const record = (path: string): boolean => {
    if (entries.has(path)) return entries.get(path)![1] !== -1;
    let stat;
    try {
      stat = statSync(path, { throwIfNoEntry: false });
    } catch {
      stat = undefined; // ENOTDIR and the like: not there either
    }
    entries.set(path, stat ? [path, stat.size, stat.mtimeMs] : [path, -1, -1]);
    return stat !== undefined;
  };
  const helpers = [...inputs.keys()].filter((path) => !revisionPaths.has(path));
  for (const path of helpers) {
    utf8Text(readFileSync(path), path);
    record(path);
  }
  const folders = new Set([absoluteDir, ...helpers.map((path) => dirname(path))]);
  for (const folder of folders) {
    for (const name of SETTINGS_FILES) {
      for (let at = folder; ; at = dirname(at)) {
        const path = join(at, name);
        if (record(path)) {
          if (name !== "package.json") recordExtends(path, record);
          break;
        }
        if (dirname(at) === at) break;
      }
    }
  }
  return [...entries.values()];
}

/** The files a tsconfig `extends` (a path, or a package's file), best effort: esbuild reads them too. */
function recordExtends(tsconfig: string, record: (path: string) => boolean, depth = 0): void {
  if (depth > 8) return;
  let text: string;
  try {
    text = readFileSync(tsconfig, "utf8");
  } catch {
    return;
  }
  const value = /"extends"\s*:\s*(\[[^\]]*\]|"[^"]*")/.exec(text)?.[1];
  if (value === undefined) return;
  for (const [, target] of value.matchAll(/"([^"]*)"/g)) {
    let path: string | undefined;
    if (target!.startsWith(".") || isAbsolute(target!)) {
      path = resolve(dirname(tsconfig), target!);
      if (!path.endsWith(".json") && !record(path)) path = `${path}.json`;
    } else {
      try {
        path = createRequire(tsconfig).resolve(target!);
      } catch {
        try {
          path = createRequire(tsconfig).resolve(`${target}.json`);
        } catch {
          continue;
        }
      }
    }
    if (record(path)) recordExtends(path, record, depth + 1);
  }
}

/** esbuild, once for a script bundle and, when that is not safe (see scriptSafe), for an ES module one. */
async function compileModules(absoluteDir: string, modules: readonly string[], entry: string, builtAt: string): Promise<{ format: BundleFormat; outputs: readonly { path: string; contents: Uint8Array }[]; inputs: ReadonlyMap<string, readonly string[]> }> {
  // Loaded only on a cache miss: importing esbuild costs more than a warm load.
  const esbuild = await import("esbuild");
  // Default imports, not `import * as`: esbuild then emits plain variables instead of a
  // namespace object per module.
  const contents = [
    ...modules.map((file, i) => `import r${i} from ${JSON.stringify(`./${file}`)};`),
    `export default [${modules.map((_, i) => `r${i}`).join(",")}];`,
    // Read back by LazyBundle: a command must not run another one's rebuild of the same entry.
    `export const lambicBuild = ${JSON.stringify(builtAt)};`,
  ].join("\n");
  const options = (format: "cjs" | "esm", outfile: string, banner?: string): BuildOptions & { metafile: true; write: false } => ({
    stdin: { contents, resolveDir: absoluteDir, sourcefile: ENTRY_NAME, loader: "js" },
    absWorkingDir: absoluteDir,
    bundle: true,
    format,
    platform: "node",
    target: "node20",
    // Packages (and `lambic` itself, which revisions import for types) stay imports: the
    // bundle lives under the project, so node resolves them from its node_modules.
    packages: "external",
    external: ["lambic"],
    // A data file a revision imports (`import seed from "./data/seed.sql"`) is its text, as a
    // `.txt` file is by default: compiled in, so checksummed with the revision and in the bundle.
    loader: TEXT_LOADERS,
    outfile,
    sourcemap: "linked",
    sourcesContent: false,
    // Names the build, so a code cache is used only with the bundle it was made from.
    footer: { js: `${BUILD_MARK}${builtAt}` },
    // A script run with a code cache cannot import() on Node 20 (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING:
    // the revision worked once, then failed at every later start); a script bundle imports only
    // Node's built-in modules (see scriptSafe), which require() loads as well.
    ...(format === "cjs" ? { supported: { "dynamic-import": false } } : { define: COMMONJS_NAMES }),
    ...(banner ? { banner: { js: banner } } : {}),
    // Smaller text parses faster at every start; names stay, and the source map points back.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    write: false,
    logLevel: "silent",
  });

  let format: BundleFormat = "script";
  let result: BuildResult<{ metafile: true; write: false }> | undefined = await esbuild.build(options("cjs", `${entry}.cjs`)).catch(() => undefined);
  if (!result || !scriptSafe(result)) {
    format = "module";
    try {
      result = await esbuild.build(options("esm", `${entry}.mjs`));
      const banner = esmBanner(result.outputFiles.find((output) => output.path.endsWith(".mjs"))!.contents);
      if (banner) result = await esbuild.build(options("esm", `${entry}.mjs`, banner));
    } catch (error) {
      throw buildError(absoluteDir, error as BuildFailure);
    }
  }
  // Each input (as an absolute path) with the inputs it imports: the files bundled, not packages.
  const inputs = new Map<string, readonly string[]>();
  const absolute = fromEsbuild(absoluteDir);
  for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
    if (absolute(input) === join(absoluteDir, ENTRY_NAME)) continue;
    inputs.set(absolute(input), imports.filter((imported) => !imported.external).map((imported) => absolute(imported.path)));
  }
  return { format, outputs: result.outputFiles, inputs };
}

/**
 * Whether a CommonJS build behaves as the revisions' own modules would: no `import.meta` (empty
 * there) and no imports left to resolve at run time except Node's built-in modules (packages may
 * be ES modules only, which Node 20 cannot require).
 */
function scriptSafe(result: BuildResult<{ metafile: true }>): boolean {
  if (result.warnings.some((warning) => warning.text.includes("import.meta"))) return false;
  return Object.values(result.metafile.outputs).every((output) => output.imports.every((imported) => !imported.external || isBuiltin(imported.path)));
}

function cacheUnwritable(cacheDir: string, error: unknown): LambicError {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new LambicError(
    "CONFIG_INVALID",
    `Cannot write the compiled revisions to ${cacheDir} (${reason}). TypeScript revisions are compiled there before they run: make that folder writable, ` +
      "or fill the cache beforehand, while the project can be written: run any lambic command (lambic heads) on it at the path it will run from (e.g. while building the image), and a read-only copy then loads from that cache " +
      "(from code, loadRevisions(dir, { cacheDir }) puts the cache in another folder).",
    { cacheDir },
    { cause: error },
  );
}

/**
 * Removes this folder's stale cache files: other entries (built from sources since changed), and
 * the code cache of the entry being rebuilt (it belongs to the bundle being replaced, and V8 checks
 * only a script's length before using one). The entry's other files stay: each is replaced by a
 * rename, and a command started at the same time may be between writing and reading them. Not
 * another process's file in the middle of a write (`.tmp`) either, unless it is an hour old (its
 * writer was killed).
 */
function pruneStale(cacheDir: string, dirKey: string, entryName: string): void {
  const abandoned = Date.now() - 3_600_000;
  for (const name of readdirSync(cacheDir)) {
    if (!name.startsWith(`${dirKey}-`)) continue;
    const path = join(cacheDir, name);
    try {
      if (name.endsWith(".tmp") ? statSync(path).mtimeMs > abandoned : name.startsWith(`${entryName}.`) && !name.endsWith(".code")) continue;
      rmSync(path, { force: true });
    } catch {
      // gone already: another command pruned it
    }
  }
}

/** Write then rename: a concurrent run never reads a half-written file. */
function writeAtomically(path: string, contents: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/**
 * A path as esbuild reports it (relative to the real path of its working directory, the revisions
 * folder, symbolic links resolved) as an absolute path under the folder as lambic names it.
 */
function fromEsbuild(absoluteDir: string): (path: string) => string {
  let real = absoluteDir;
  try {
    real = realpathSync(absoluteDir);
  } catch {
    // as named
  }
  return (path) => {
    const full = resolve(real, path);
    return full === real || full.startsWith(real + sep) ? absoluteDir + full.slice(real.length) : full;
  };
}

function buildError(dir: string, failure: BuildFailure): LambicError {
  const errors: readonly Message[] = failure.errors ?? [];
  const absolute = fromEsbuild(dir);
  if (errors.length === 0) {
    return new LambicError("REVISION_FILE_INVALID", `Compiling the revisions in ${dir} failed: ${failure.message}`, { dir }, { cause: failure });
  }
  const located = errors.map((message) => {
    const location = message.location;
    // The generated entry imports each module's default export, so esbuild reports a missing
    // one against the entry; name the revision file instead.
    const noDefault = /^No matching export in "(.+)" for import "default"$/.exec(message.text);
    if (noDefault && location && absolute(location.file) === join(dir, ENTRY_NAME)) {
      const file = absolute(noDefault[1]!);
      return { file, line: 1, column: 1, text: `has no default export; end the module with \`export default { id, revises, upgrade, ... } satisfies Revision;\`. ${HELPER_ADVICE}` };
    }
    // esbuild reports paths relative to its working directory (the revisions folder).
    const file = location ? absolute(location.file) : undefined;
    return { file, line: location?.line, column: location ? location.column + 1 : undefined, text: message.text };
  });
  const first = located[0]!;
  const lines = located.slice(0, 5).map((error) => `${error.file ? `${error.file}:${error.line}:${error.column}: ` : ""}${error.text}`);
  const more = located.length > 5 ? `\n(and ${located.length - 5} more)` : "";
  return new LambicError(
    "REVISION_FILE_INVALID",
    `${lines.join("\n")}${more}\nFix the file${located.length > 1 ? "s" : ""} and run again.`,
    { file: first.file, line: first.line, column: first.column, errors: located },
    { cause: failure },
  );
}

function checkDuplicates(revisions: readonly LoadedRevision[]): void {
  const seen = new Map<string, LoadedRevision>();
  for (const revision of revisions) {
    const first = seen.get(revision.id);
    if (first) {
      const files = [first.source.file, revision.source.file];
      const lines = files.map((file) => idLine(file, revision.id) ?? null);
      const where = files.map((file, i) => (lines[i] === null ? file : `${file}:${lines[i]}`));
      throw new LambicError(
        "DUPLICATE_REVISION",
        `Revision id "${revision.id}" is defined twice: in ${where[0]} and in ${where[1]}. Give one of them a new id (and update the revisions that revise it).`,
        { id: revision.id, files, lines },
      );
    }
    seen.set(revision.id, revision);
  }
}

/** The line that gives a revision its id: `-- revision: ID` in SQL, the quoted id in a module. */
function idLine(file: string, id: string): number | undefined {
  try {
    const text = readFileSync(file, "utf8");
    const match = new RegExp(`^--\\s*revision:\\s*${escapeRegExp(id)}\\s*$|(["'\`])${escapeRegExp(id)}\\1`, "m").exec(text);
    return match ? text.slice(0, match.index).split("\n").length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A module revision's checksum: its file's, or, when it imports files of the project (helpers,
 * followed through their own imports), the sha256 of its file's checksum and theirs, so that an
 * edit to a helper is an edit to each revision that runs it (a helper moved or renamed as it is
 * changes nothing: its checksum goes in, not its path). Packages are not covered.
 */
function moduleChecksum(path: string, bytes: Buffer, inputs: ReadonlyMap<string, readonly string[]>, checksums: Map<string, string>): string {
  const own = revisionChecksum(bytes);
  const seen = new Set<string>([path]);
  const pending = [...(inputs.get(path) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    pending.push(...(inputs.get(next) ?? []));
  }
  seen.delete(path);
  if (seen.size === 0) return own;
  // Each helper is read once, however many revisions import it.
  const checksumOf = (helper: string) => checksums.get(helper) ?? checksums.set(helper, revisionChecksum(readFileSync(helper))).get(helper)!;
  const helpers = [...seen].map(checksumOf).sort();
  return sha256([own, ...helpers].join("\n"));
}

/**
 * A revision (or helper) file's text, refused unless it is UTF-8: decoding replaces each invalid
 * byte (a Latin-1 "é") with U+FFFD, which would then run, in a string literal or a row, unnoticed.
 */
function utf8Text(bytes: Buffer, path: string): string {
  if (isUtf8(bytes)) return bytes.toString("utf8");
  let start = 0;
  let line = 1;
  for (let end = bytes.indexOf(0x0a); ; end = bytes.indexOf(0x0a, start)) {
    const text = bytes.subarray(start, end === -1 ? bytes.length : end);
    if (!isUtf8(text)) {
      const decoded = text.toString("utf8");
      const column = decoded.indexOf("\uFFFD") + 1;
      throw new LambicError(
        "REVISION_FILE_INVALID",
        `${path}:${line}: the file is not UTF-8 text (near column ${column}: ${JSON.stringify(decoded.trim().slice(0, 60))}); lambic reads revisions as UTF-8, and would run U+FFFD (\uFFFD) in place of each such byte. ` +
          "Save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) and run again.",
        { file: path, line },
      );
    }
    if (end === -1) return bytes.toString("utf8"); // (unreachable: some line is invalid)
    start = end + 1;
    line++;
  }
}

/**
 * A revision file's checksum: the sha256 of its bytes, less a UTF-8 byte order mark and with
 * CRLF line endings read as LF, so that a checkout with core.autocrlf (Windows) or an editor that
 * adds a BOM does not read as an edit of every applied revision (Flyway's checksums ignore line
 * endings too). A file with neither hashes exactly its bytes.
 */
export function revisionChecksum(bytes: Buffer): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (bom === 0 && !bytes.includes(0x0d)) return sha256(bytes);
  const normalized = Buffer.allocUnsafe(bytes.length - bom);
  let length = 0;
  for (let i = bom; i < bytes.length; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) continue;
    normalized[length++] = bytes[i]!;
  }
  return sha256(normalized.subarray(0, length));
}

// crypto.hash (Node ≥ 20.12) is about twice as fast as createHash for thousands of small files.
// Read as a property, not a named import, so Node 20 releases before 20.12 still link.
const sha256 = (data: string | Buffer): string =>
  typeof crypto.hash === "function" ? crypto.hash("sha256", data, "hex") : crypto.createHash("sha256").update(data).digest("hex");
