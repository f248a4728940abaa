import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadRevisions, unrunnableFile } from "../../src/bundle/load-revisions.ts";
import { LambicError } from "../../src/errors.ts";
import { preloadCode, type LoadedRevision, type RevisionContext } from "../../src/revision/types.ts";

let project: string;
let dir: string;
let cacheDir: string;

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), "lambic-load-"));
  dir = join(project, "revisions", "main");
  cacheDir = join(project, ".lambic", "cache");
  mkdirSync(dir, { recursive: true });
});

afterEach(() => rmSync(project, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function tsRevision(id: string, revises: string | null, body = "", extra = ""): string {
  return `import type { Revision } from "lambic";

export default {
  id: ${JSON.stringify(id)},
  revises: ${JSON.stringify(revises)},
  message: ${JSON.stringify(`revision ${id}`)},${extra}
  async upgrade(op, ctx) {
    op.execute(${JSON.stringify(`UP ${id}`)});${body}
  },
  async downgrade(op, ctx) {
    op.execute(${JSON.stringify(`DOWN ${id}`)});
  },
} satisfies Revision;
`;
}

function sqlRevision(id: string, revises: string | null): string {
  return `-- revision: ${id}\n${revises ? `-- revises: ${revises}\n` : ""}-- message: revision ${id}\n-- +up\nUP ${id}\n-- +down\nDOWN ${id}\n`;
}

const load = () => loadRevisions(dir, { cacheDir });

async function loadError(): Promise<LambicError> {
  try {
    await load();
  } catch (error) {
    expect(error).toBeInstanceOf(LambicError);
    return error as LambicError;
  }
  throw new Error("expected loadRevisions to fail");
}

async function run(revision: LoadedRevision, step: "upgrade" | "downgrade"): Promise<string[]> {
  const executed: string[] = [];
  await revision[step]!({ execute: (sql: string) => void executed.push(sql) } as never, {} as RevisionContext);
  return executed;
}

function meta(revisions: readonly LoadedRevision[]) {
  return revisions.map(({ upgrade, downgrade, ...rest }) => ({ ...rest, hasDowngrade: downgrade !== undefined }));
}

/** Changes a file's content and moves its mtime, as an editor save does. */
function edit(name: string, text: string): void {
  const path = write(name, text);
  const later = new Date(statSync(path).mtimeMs + 5_000);
  utimesSync(path, later, later);
}

/** Runs every revision's upgrade in a process of its own (vitest's module runner lends a bundle a require()), returning what each executed or its error. */
function upgradeInNode(): { executed?: string[]; error?: { message: string; details: unknown } } {
  const index = new URL("../../dist/index.mjs", import.meta.url).href;
  const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
    try {
      const executed = [];
      for (const revision of await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} })) await revision.upgrade({ execute: (sql) => executed.push(sql) }, {});
      console.log(JSON.stringify({ executed }));
    } catch (error) {
      console.log(JSON.stringify({ error: { message: error.message, details: error.details } }));
    }`;
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: project }).toString());
}

function installPackage(name: string, code: string): void {
  const pkg = join(project, "node_modules", name);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name, version: "1.0.0", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), code);
}

function cacheFiles(): string[] {
  return readdirSync(cacheDir).sort();
}

describe("loadRevisions", () => {
  it("loads TypeScript and SQL revisions in file-name order", async () => {
    write("2024_01_02_b2.sql", sqlRevision("b2", "a1"));
    write("2024_01_01_a1.ts", tsRevision("a1", null));
    write("2024_01_03_c3.mts", tsRevision("c3", "b2"));
    write("2024_01_04_d4.mjs", tsRevision("d4", "c3").replace('import type { Revision } from "lambic";', "").replace("satisfies Revision", ""));
    const revisions = await load();
    expect(revisions.map((revision) => revision.id)).toEqual(["a1", "b2", "c3", "d4"]);
    expect(revisions[0]).toMatchObject({ revises: null, dependsOn: [], branchLabels: [], message: "revision a1", transactional: true });
    expect(revisions[1]).toMatchObject({ revises: "a1", message: "revision b2" });
  });

  it("sorts by code unit, so upper case comes before lower case", async () => {
    write("b.sql", sqlRevision("lower", null));
    write("B.sql", sqlRevision("upper", null));
    expect((await load()).map((revision) => revision.id)).toEqual(["upper", "lower"]);
  });

  it("ignores declaration files, dotfiles, __ files, other extensions and folders", async () => {
    write("a1.ts", tsRevision("a1", null));
    write("a1.d.ts", "export {};");
    write(".a2.ts", tsRevision("a2", null));
    write("__init__.ts", tsRevision("a3", null));
    write("README.md", "# revisions");
    mkdirSync(join(dir, "helpers"));
    writeFileSync(join(dir, "helpers", "x.ts"), tsRevision("a4", null));
    expect((await load()).map((revision) => revision.id)).toEqual(["a1"]);
  });

  it("refuses a revision file whose extension is in upper case, which it would otherwise skip in silence", async () => {
    write("a1.ts", tsRevision("a1", null));
    write("B2.SQL", sqlRevision("b2", "a1"));
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${join(dir, "B2.SQL")}: lambic reads revision files by their extension in lower case`);
    expect(error.message).toContain("Rename it to B2.sql");
  });

  it("loads a revisions folder reached through a symbolic link, with its helpers and its errors' files as named", async () => {
    const real = join(project, "elsewhere", "main");
    mkdirSync(real, { recursive: true });
    writeFileSync(join(project, "elsewhere", "names.ts"), 'export const TABLE = "invoice";\n');
    const linked = join(project, "linked");
    symlinkSync(real, linked);
    writeFileSync(join(real, "a1.ts"), `import { TABLE } from "../names.ts";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    const [revision] = await loadRevisions(linked, { cacheDir });
    expect(await run(revision!, "upgrade")).toEqual(["UP a1", "invoice"]);
    writeFileSync(join(project, "elsewhere", "names.ts"), 'export const TABLE = "receipt";\n');
    const [edited] = await loadRevisions(linked, { cacheDir });
    expect(edited!.source.checksum).not.toBe(revision!.source.checksum);
    writeFileSync(join(real, "b2.ts"), "export const x = 1;\n");
    const error = (await loadRevisions(linked, { cacheDir }).catch((caught: unknown) => caught)) as LambicError;
    expect(error.details).toMatchObject({ file: join(linked, "b2.ts"), line: 1 });
    writeFileSync(join(real, "b2.ts"), `throw new Error("boom");\n${tsRevision("b2", "a1")}`);
    const thrown = (await loadRevisions(linked, { cacheDir }).catch((caught: unknown) => caught)) as LambicError;
    expect(thrown.message).toMatch(/^Revision file \S+b2\.ts failed while loading, at line 1: boom\./);
  });

  it("returns no revisions for an empty folder", async () => {
    expect(await load()).toEqual([]);
  });

  it("records each file's path and the sha256 of its bytes (LF, no byte order mark)", async () => {
    const tsPath = write("a1.ts", tsRevision("a1", null));
    const sqlPath = write("b2.sql", sqlRevision("b2", "a1"));
    const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
    const revisions = await load();
    expect(revisions.map((revision) => revision.source)).toEqual([
      { file: tsPath, checksum: sha(tsPath) },
      { file: sqlPath, checksum: sha(sqlPath) },
    ]);
  });

  it("checksums a checkout with CRLF line endings or a byte order mark as the same file with LF (autocrlf is not an edit)", async () => {
    const lf = { ts: tsRevision("a1", null), sql: sqlRevision("b2", "a1") };
    const tsPath = write("a1.ts", lf.ts);
    const sqlPath = write("b2.sql", lf.sql);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const checksums = async () => (await load()).map((revision) => revision.source.checksum);
    expect(await checksums()).toEqual([sha(lf.ts), sha(lf.sql)]);
    edit("a1.ts", `\ufeff${lf.ts.replace(/\n/g, "\r\n")}`);
    edit("b2.sql", lf.sql.replace(/\n/g, "\r\n"));
    expect(readFileSync(tsPath).includes("\r\n")).toBe(true);
    expect(await checksums()).toEqual([sha(lf.ts), sha(lf.sql)]);
    // A lone CR is content, not a line ending.
    edit("b2.sql", `${lf.sql}-- a lone\rCR\n`);
    expect((await checksums())[1]).toBe(sha(`${lf.sql}-- a lone\rCR\n`));
    expect(readFileSync(sqlPath, "utf8")).toContain("\r");
  });

  it("checksums a module with the files it imports (an edit to a helper is an edit to the revisions that run it), not with their names", async () => {
    const helper = join(project, "revisions", "names.ts");
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    writeFileSync(helper, 'export { TABLE } from "./tables.ts";\n');
    writeFileSync(join(project, "revisions", "tables.ts"), 'export const TABLE = "invoice";\n');
    writeFileSync(join(project, "revisions", "types.ts"), "export type Name = string;\n");
    const a1 = `import { TABLE } from "../names.ts";\nimport type { Name } from "../types.ts";\n${tsRevision("a1", null, "\n    op.execute(TABLE as Name);")}`;
    write("a1.ts", a1);
    write("b2.ts", tsRevision("b2", "a1"));
    const checksums = async () => (await load()).map((revision) => revision.source.checksum);
    const own = sha(tsRevision("b2", "a1"));
    // The revision's own checksum, then each imported file's (followed through re-exports), sorted.
    const helpers = [sha('export { TABLE } from "./tables.ts";\n'), sha('export const TABLE = "invoice";\n')].sort();
    expect(await checksums()).toEqual([sha([sha(a1), ...helpers].join("\n")), own]);
    const before = await checksums();
    edit("../tables.ts", 'export const TABLE = "receipt";\n');
    const after = await checksums();
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).toBe(own);
    // A type-only import is erased: its file is not part of what runs.
    edit("../types.ts", "export type Name = `t_${string}`;\n");
    expect(await checksums()).toEqual(after);
  });

  it("strips `import type` from lambic without resolving the package", async () => {
    write("a1.ts", tsRevision("a1", null));
    // The temp project has no node_modules: resolving "lambic" would fail the build.
    expect((await load())[0]!.id).toBe("a1");
  });

  it("runs a TypeScript revision's upgrade and downgrade", async () => {
    write("a1.ts", tsRevision("a1", null));
    const [revision] = await load();
    expect(await run(revision!, "upgrade")).toEqual(["UP a1"]);
    expect(await run(revision!, "downgrade")).toEqual(["DOWN a1"]);
  });

  it("runs a SQL revision's sections", async () => {
    write("a1.sql", sqlRevision("a1", null));
    const [revision] = await load();
    expect(await run(revision!, "upgrade")).toEqual(["UP a1"]);
    expect(await run(revision!, "downgrade")).toEqual(["DOWN a1"]);
  });

  it("bundles helpers the revisions import", async () => {
    mkdirSync(join(project, "revisions", "lib"));
    writeFileSync(join(project, "revisions", "lib", "names.ts"), 'export const TABLE: string = "invoice";\n');
    write("a1.ts", `import { TABLE } from "../lib/names.ts";\n${tsRevision("a1", null, "\n    op.execute(`CREATE TABLE ${TABLE}`);")}`);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "CREATE TABLE invoice"]);
  });

  it("gives a revision the text of a data file it imports (.sql or .txt), covered by its checksum", async () => {
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "seed.sql"), "INSERT INTO t VALUES (1);\n");
    writeFileSync(join(dir, "data", "note.txt"), "-- seeded\n");
    write("a1.ts", `import seed from "./data/seed.sql";\nimport note from "./data/note.txt";\n${tsRevision("a1", null, "\n    op.execute(note + seed);")}`);
    const [revision] = await load();
    expect(await run(revision!, "upgrade")).toEqual(["UP a1", "-- seeded\nINSERT INTO t VALUES (1);\n"]);
    edit("data/seed.sql", "INSERT INTO t VALUES (2);\n");
    const [edited] = await load();
    expect(edited!.source.checksum).not.toBe(revision!.source.checksum);
    expect(await run(edited!, "upgrade")).toEqual(["UP a1", "-- seeded\nINSERT INTO t VALUES (2);\n"]);
  });

  it("lets a revision use `this`", async () => {
    write("a1.ts", tsRevision("a1", null, "\n    op.execute(this.message);"));
    const [cold] = await load();
    expect(await run(cold!, "upgrade")).toEqual(["UP a1", "revision a1"]);
    const [warm] = await load();
    expect(await run(warm!, "upgrade")).toEqual(["UP a1", "revision a1"]);
  });

  it("keeps revisions without a downgrade without one", async () => {
    write("a1.ts", 'export default { id: "a1", revises: null, upgrade() {} };\n');
    const [cold] = await load();
    const [warm] = await load();
    expect(cold!.downgrade).toBeUndefined();
    expect(warm!.downgrade).toBeUndefined();
  });
});

describe("loadRevisions cache", () => {
  it("writes one bundle, its index and the sha256 of the files it was built from under the cache folder", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    expect(cacheFiles().map((name) => name.replace(/^[0-9a-f]{12}-[0-9a-f]{64}/, "KEY"))).toEqual(["KEY.cjs", "KEY.cjs.map", "KEY.code", "KEY.json", "KEY.sums.json"]);
  });

  it("keeps revisions that read import.meta in an ES module bundle, where it is theirs", async () => {
    write("a1.ts", tsRevision("a1", null, "\n    op.execute(typeof import.meta.url);"));
    const [revision] = await load();
    expect(cacheFiles().map((name) => name.replace(/^[0-9a-f]{12}-[0-9a-f]{64}/, "KEY"))).toEqual(["KEY.json", "KEY.mjs", "KEY.mjs.map", "KEY.sums.json"]);
    expect(await run(revision!, "upgrade")).toEqual(["UP a1", "string"]);
  });

  it("keeps revisions that await at top level in an ES module bundle", async () => {
    write("a1.ts", `const table = await Promise.resolve("awaited");\n${tsRevision("a1", null, "\n    op.execute(table);")}`);
    const [revision] = await load();
    expect(cacheFiles().some((name) => name.endsWith(".mjs"))).toBe(true);
    expect(await run(revision!, "upgrade")).toEqual(["UP a1", "awaited"]);
  });

  it("runs a .js revision written as CommonJS that require()s an installed package (an ES module bundle)", () => {
    installPackage("lambic-test-cjs", 'exports.table = "from_package";\n');
    write("a1.js", 'const { table } = require("lambic-test-cjs");\nmodule.exports = { id: "a1", revises: null, upgrade(op) { op.execute(table); } };\n');
    expect(upgradeInNode()).toEqual({ executed: ["from_package"] });
  });

  it("gives a revision __dirname and __filename, the bundle's, in an ES module bundle as in the script bundle", () => {
    write("a1.ts", `const folder = __dirname;\n${tsRevision("a1", null, "\n    op.execute(folder);\n    op.execute(require('node:path').dirname(__filename));")}`);
    expect(upgradeInNode()).toEqual({ executed: ["UP a1", cacheDir, cacheDir] });
    // Another revision importing a package makes the bundle an ES module: a1 still loads.
    installPackage("lambic-test-cjs", 'exports.table = "from_package";\n');
    write("b2.ts", `import { table } from "lambic-test-cjs";\n${tsRevision("b2", "a1", "\n    op.execute(table);")}`);
    expect(upgradeInNode()).toEqual({ executed: ["UP a1", cacheDir, cacheDir, "UP b2", "from_package"] });
    expect(cacheFiles().some((name) => name.endsWith(".mjs"))).toBe(true);
  });

  it("leaves a revision's own __dirname (the ES module idiom) its own", () => {
    write("a1.ts", `import { dirname } from "node:path";\nimport { fileURLToPath } from "node:url";\nconst __dirname = dirname(fileURLToPath(import.meta.url)) + "/own";\n${tsRevision("a1", null, "\n    op.execute(__dirname);")}`);
    expect(upgradeInNode()).toEqual({ executed: ["UP a1", `${cacheDir}/own`] });
  });

  it("runs revisions that import Node's built-in modules from the script bundle", async () => {
    write("a1.ts", `import { basename } from "node:path";\n${tsRevision("a1", null, '\n    op.execute(basename("/x/y.sql"));')}`);
    await load();
    expect(cacheFiles().some((name) => name.endsWith(".cjs"))).toBe(true);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "y.sql"]);
  });

  it("runs revisions in strict mode, as in their own modules", async () => {
    write("a1.ts", tsRevision("a1", null, "\n    op.execute(String((function (this: unknown) { return this; })()));"));
    await load();
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "undefined"]);
  });

  it("writes the code cache again, with the revision functions, after a process ran them", () => {
    write("a1.ts", tsRevision("a1", null));
    write("b2.ts", tsRevision("b2", "a1"));
    // Separate processes, as the CLI runs: the cache is written when a process is about to exit.
    const index = new URL("../../dist/index.mjs", import.meta.url).href;
    const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
      for (const revision of await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} })) await revision.upgrade({ execute() {} }, {});`;
    const runAll = () => execFileSync(process.execPath, ["--input-type=module", "-e", script]);
    const compiled = () => {
      const bytes = readFileSync(join(cacheDir, cacheFiles().find((name) => name.endsWith(".code"))!));
      return [...bytes.subarray(4, 4 + bytes.readUInt32BE(0))];
    };
    runAll(); // builds, and runs what it has just compiled from the sources: nothing to record
    expect(compiled()).toEqual([0, 0, 0, 0]);
    runAll();
    expect(compiled()).toEqual([1, 0, 1, 0]);
  });

  it("runs a revision that import()s a Node built-in on every start, its code cache written or not", () => {
    write("a1.ts", tsRevision("a1", null, '\n    const { createHash } = await import("node:crypto");\n    op.execute(createHash("sha256").update("x").digest("hex").slice(0, 8));'));
    const index = new URL("../../dist/index.mjs", import.meta.url).href;
    const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
      const executed = [];
      for (const revision of await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} })) await revision.upgrade({ execute: (sql) => executed.push(sql) }, {});
      console.log(executed.join(","));`;
    const runAll = () => execFileSync(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
    // The second start writes the code cache with the revision's function; the third runs it from there.
    for (let start = 1; start <= 3; start++) expect(runAll(), `start ${start}`).toBe("UP a1,2d711642");
  });

  it("uses a code cache only with the build it was made from, as V8 would run the cached code of any bundle of the same length", async () => {
    const helper = join(project, "revisions", "names.ts");
    writeFileSync(helper, 'export const TABLE = "t1";\n');
    write("a1.ts", `import { TABLE } from "../names.ts";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    const index = new URL("../../dist/index.mjs", import.meta.url).href;
    const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
      const executed = [];
      for (const revision of await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} })) await revision.upgrade({ execute: (sql) => executed.push(sql) }, {});
      console.log(executed.join(","));`;
    const runAll = () => execFileSync(process.execPath, ["--input-type=module", "-e", script]).toString().trim();
    expect(runAll()).toBe("UP a1,t1");
    expect(runAll()).toBe("UP a1,t1"); // writes the code cache with the revision's function compiled
    const codeCache = () => join(cacheDir, cacheFiles().find((name) => name.endsWith(".code"))!);
    const old = readFileSync(codeCache());
    edit("../names.ts", 'export const TABLE = "t2";\n');
    expect(runAll()).toBe("UP a1,t2");
    // A command still running the old bundle writes its code cache as it exits, over the new one.
    writeFileSync(codeCache(), old);
    expect(runAll()).toBe("UP a1,t2");
  });

  it("still runs the revisions when the code cache is corrupt", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const codeCache = join(cacheDir, cacheFiles().find((name) => name.endsWith(".code"))!);
    writeFileSync(codeCache, "not V8's code cache");
    // (V8 rejects it in a new process, and the file is written again; in this one the source is
    // already compiled, so V8 does not read it at all.)
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1"]);
  });

  it("defaults the cache folder to <projectDir>/.lambic/cache", async () => {
    write("a1.ts", tsRevision("a1", null));
    await loadRevisions(dir, { projectDir: project });
    expect(readdirSync(join(project, ".lambic", "cache"))).toHaveLength(5);
  });

  it("returns the same revisions from a warm cache without rebuilding", async () => {
    write("a1.ts", tsRevision("a1", null));
    write("b2.ts", tsRevision("b2", "a1", "", "\n  dependsOn: [\"core\"],\n  branchLabels: [\"billing\"],\n  transactional: false,"));
    write("c3.sql", sqlRevision("c3", "b2"));
    const cold = await load();
    const builtAt = cacheFiles().map((name) => statSync(join(cacheDir, name)).mtimeMs);
    const warm = await load();
    expect(meta(warm)).toEqual(meta(cold));
    expect(cacheFiles().map((name) => statSync(join(cacheDir, name)).mtimeMs)).toEqual(builtAt);
    expect(await run(warm[1]!, "upgrade")).toEqual(["UP b2"]);
  });

  it("rebuilds when a revision file changes", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    edit("a1.ts", tsRevision("a1", null).replace("revision a1", "renamed"));
    const [revision] = await load();
    expect(revision!.message).toBe("renamed");
    expect(revision!.source.checksum).toBe(createHash("sha256").update(readFileSync(join(dir, "a1.ts"))).digest("hex"));
  });

  it("rebuilds when a .sql revision changes", async () => {
    write("a1.sql", sqlRevision("a1", null));
    await load();
    edit("a1.sql", sqlRevision("a1", null).replace("revision a1", "renamed"));
    const [revision] = await load();
    expect(revision!.message).toBe("renamed");
    expect(await run(revision!, "upgrade")).toEqual(["UP a1"]);
  });

  it("runs a .sql revision's SQL as loaded (what its checksum covers), even if the file changes meanwhile", async () => {
    write("a1.sql", sqlRevision("a1", null));
    await load();
    const [revision] = await load();
    write("a1.sql", sqlRevision("a1", null).replace("UP a1", "DROP TABLE important"));
    expect(await run(revision!, "upgrade")).toEqual(["UP a1"]);
    expect(await run(revision!, "downgrade")).toEqual(["DOWN a1"]);
  });

  it("reads a .sql revision from its file when the cached SQL is gone, refusing a file that changed", async () => {
    write("a1.sql", sqlRevision("a1", null));
    await load();
    rmSync(join(cacheDir, cacheFiles().find((name) => name.endsWith(".sql.json"))!));
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1"]);
    const [revision] = await load();
    write("a1.sql", sqlRevision("a1", null).replace("UP a1", "DROP TABLE important"));
    const error = await Promise.resolve()
      .then(() => revision!.upgrade({ execute: () => undefined } as never, {} as RevisionContext))
      .then(
        () => undefined,
        (failure: unknown) => failure,
      );
    expect(error).toBeInstanceOf(LambicError);
    expect((error as LambicError).code).toBe("REVISION_FILE_INVALID");
    expect((error as LambicError).message).toContain("changed while lambic was running");
  });

  it("rebuilds when an imported helper changes", async () => {
    const helper = join(project, "revisions", "names.ts");
    writeFileSync(helper, 'export const TABLE = "invoice";\n');
    write("a1.ts", `import { TABLE } from "../names.ts";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    await load();
    writeFileSync(helper, 'export const TABLE = "receipt";\n');
    const later = new Date(statSync(helper).mtimeMs + 5_000);
    utimesSync(helper, later, later);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "receipt"]);
  });

  it("rebuilds when a tsconfig.json that compiles the revisions changes, or one is added", async () => {
    mkdirSync(join(project, "lib"));
    writeFileSync(join(project, "lib", "v1.ts"), 'export const TABLE = "v1";\n');
    writeFileSync(join(project, "lib", "v2.ts"), 'export const TABLE = "v2";\n');
    const paths = (target: string) => JSON.stringify({ compilerOptions: { baseUrl: ".", paths: { "@names": [target] } } });
    writeFileSync(join(project, "tsconfig.json"), paths("lib/v1.ts"));
    write("a1.ts", `import { TABLE } from "@names";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "v1"]);
    // Through `extends`, as a project's shared settings often are.
    writeFileSync(join(project, "tsconfig.base.json"), paths("lib/v2.ts"));
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ extends: "./tsconfig.base.json" }));
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "v2"]);
    writeFileSync(join(project, "tsconfig.base.json"), paths("lib/v1.ts"));
    const later = new Date(statSync(join(project, "tsconfig.base.json")).mtimeMs + 5_000);
    utimesSync(join(project, "tsconfig.base.json"), later, later);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "v1"]);
    // A nearer one, where there was none, is the one esbuild now reads.
    writeFileSync(join(project, "revisions", "tsconfig.json"), JSON.stringify({ compilerOptions: { baseUrl: "..", paths: { "@names": ["lib/v2.ts"] } } }));
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1", "v2"]);
  });

  it("sees an edit that keeps the size and the mtime of a file written just before the build (the same clock tick)", async () => {
    const path = write("a1.sql", sqlRevision("a1", null));
    const helper = join(project, "revisions", "names.ts");
    writeFileSync(helper, 'export const TABLE = "invoice";\n');
    write("b2.ts", `import { TABLE } from "../names.ts";\n${tsRevision("b2", "a1", "\n    op.execute(TABLE);")}`);
    // A tick of whole milliseconds, which utimes can set again exactly.
    const tick = new Date();
    for (const file of [path, helper]) utimesSync(file, tick, tick);
    await load();
    const rewrite = (file: string, from: string, to: string) => {
      writeFileSync(file, readFileSync(file, "utf8").replace(from, to));
      utimesSync(file, tick, tick);
    };
    rewrite(path, "UP a1", "UP z9");
    rewrite(helper, "invoice", "receipt");
    const [a1, b2] = await load();
    expect(await run(a1!, "upgrade")).toEqual(["UP z9"]);
    expect(await run(b2!, "upgrade")).toEqual(["UP b2", "receipt"]);
  });

  it("sees an edit that keeps a file's size and its old mtime (cp -p, touch -r, rsync -t, tar), long after the build", async () => {
    const old = new Date(Date.now() - 3_600_000);
    const path = write("a1.sql", sqlRevision("a1", null));
    const revision = write("b2.ts", `import { TABLE } from "../names.ts";\n${tsRevision("b2", "a1", "\n    op.execute(TABLE);")}`);
    const helper = join(project, "revisions", "names.ts");
    writeFileSync(helper, 'export const TABLE = "invoice";\n');
    for (const file of [path, revision, helper]) utimesSync(file, old, old);
    await load();
    const rewrite = (file: string, from: string, to: string) => {
      writeFileSync(file, readFileSync(file, "utf8").replace(from, to));
      utimesSync(file, old, old);
    };
    rewrite(path, "UP a1", "UP z9");
    rewrite(revision, "UP b2", "UP y8");
    rewrite(helper, "invoice", "receipt");
    const [a1, b2] = await load();
    expect(await run(a1!, "upgrade")).toEqual(["UP z9"]);
    expect(await run(b2!, "upgrade")).toEqual(["UP y8", "receipt"]);
    expect(a1!.source.checksum).toBe(createHash("sha256").update(readFileSync(path)).digest("hex"));
  });

  it("sees a file replaced by another one of the same size and mtime (renamed over it)", async () => {
    const old = new Date(Date.now() - 3_600_000);
    const path = write("a1.sql", sqlRevision("a1", null));
    const other = join(project, "a1.sql.new");
    writeFileSync(other, sqlRevision("a1", null).replace("UP a1", "UP z9"));
    for (const file of [path, other]) utimesSync(file, old, old);
    await load();
    renameSync(other, path);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP z9"]);
  });

  it("reads a file whose status changed but not its content (chmod, a copy) once, without rebuilding", async () => {
    const old = new Date(Date.now() - 3_600_000);
    const path = write("a1.ts", tsRevision("a1", null));
    utimesSync(path, old, old);
    await load();
    const bundle = cacheFiles().find((name) => name.endsWith(".cjs"))!;
    const builtAt = statSync(join(cacheDir, bundle)).mtimeMs;
    chmodSync(path, 0o600);
    const [revision] = await load();
    expect(await run(revision!, "upgrade")).toEqual(["UP a1"]);
    expect(statSync(join(cacheDir, bundle)).mtimeMs).toBe(builtAt);
  });

  it("checks such files at every start when the cache cannot record that they were checked (a read-only copy made after the build)", async () => {
    const old = new Date(Date.now() - 3_600_000);
    const path = write("a1.ts", tsRevision("a1", null));
    utimesSync(path, old, old);
    await load();
    const index = join(cacheDir, cacheFiles().find((name) => /[0-9a-f]\.json$/.test(name) && !name.endsWith(".sql.json") && !name.endsWith(".sums.json"))!);
    const bundle = cacheFiles().find((name) => name.endsWith(".cjs"))!;
    // The index cannot be replaced: its temporary file's name is taken by a folder.
    mkdirSync(`${index}.${process.pid}.tmp`);
    chmodSync(path, 0o600);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1"]);
    expect(await run((await load())[0]!, "upgrade")).toEqual(["UP a1"]);
    expect(cacheFiles()).toContain(bundle);
  });

  it("stops reading such a file again once its tick has passed and it was found unchanged", async () => {
    const path = write("a1.sql", sqlRevision("a1", null));
    const almostSettled = new Date(Date.now() - 1_900);
    utimesSync(path, almostSettled, almostSettled);
    await load();
    const index = () => JSON.parse(readFileSync(join(cacheDir, cacheFiles().find((name) => /[0-9a-f]\.json$/.test(name) && !name.endsWith(".sql.json"))!), "utf8"));
    expect(index().racy).toEqual([[path, createHash("sha256").update(readFileSync(path)).digest("hex")]]);
    await new Promise((done) => setTimeout(done, 200));
    await load();
    expect(index().racy).toBeUndefined();
  });

  it("rebuilds when a revision file is added", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    write("b2.ts", tsRevision("b2", "a1"));
    expect((await load()).map((revision) => revision.id)).toEqual(["a1", "b2"]);
  });

  it("prunes the folder's stale cache entries on rebuild", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const first = cacheFiles();
    edit("a1.ts", tsRevision("a1", null).replace("revision a1", "renamed"));
    await load();
    expect(cacheFiles()).toHaveLength(5);
    expect(cacheFiles()).not.toEqual(first);
  });

  it("leaves a file another command is writing (a fresh .tmp) when it prunes, and removes an abandoned one", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const prefix = cacheFiles()[0]!.split("-")[0]!;
    const writing = join(cacheDir, `${prefix}-${"0".repeat(64)}.mjs.999999.tmp`);
    const abandoned = join(cacheDir, `${prefix}-${"1".repeat(64)}.mjs.999998.tmp`);
    writeFileSync(writing, "");
    writeFileSync(abandoned, "");
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    utimesSync(abandoned, twoHoursAgo, twoHoursAgo);
    edit("a1.ts", tsRevision("a1", null).replace("revision a1", "renamed"));
    await load();
    expect(cacheFiles()).toContain(writing.slice(cacheDir.length + 1));
    expect(cacheFiles()).not.toContain(abandoned.slice(cacheDir.length + 1));
  });

  it("keeps other folders' cache entries", async () => {
    write("a1.ts", tsRevision("a1", null));
    const other = join(project, "revisions", "analytics");
    mkdirSync(other);
    writeFileSync(join(other, "x1.ts"), tsRevision("x1", null));
    await load();
    await loadRevisions(other, { cacheDir });
    edit("a1.ts", tsRevision("a1", null).replace("revision a1", "renamed"));
    await load();
    expect(cacheFiles()).toHaveLength(10);
  });

  it("rebuilds an entry by replacing its files, never removing them first (another command may be about to read them)", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const bundle = cacheFiles().find((name) => name.endsWith(".cjs"))!;
    writeFileSync(join(cacheDir, bundle.replace(/\.cjs$/, ".json")), "{"); // torn: the same entry is built again
    // Stop the rebuild at its first write, after it pruned: a folder where its temporary file goes.
    mkdirSync(join(cacheDir, `${bundle}.${process.pid}.tmp`));
    expect((await loadError()).code).toBe("CONFIG_INVALID");
    expect(cacheFiles()).toContain(bundle);
    expect(cacheFiles()).toContain(`${bundle}.map`);
  });

  it("lets commands started at once on a cold cache all load, none removing the files another has just written", async () => {
    for (let i = 1; i <= 30; i++) write(`a${String(i).padStart(2, "0")}.ts`, tsRevision(`a${i}`, i === 1 ? null : `a${i - 1}`));
    const index = new URL("../../dist/index.mjs", import.meta.url).href;
    const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
      for (const revision of await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} })) await revision.upgrade({ execute() {} }, {});`;
    const runOne = () =>
      new Promise<string>((done) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("close", (code) => done(code === 0 ? "ok" : stderr));
      });
    for (let round = 0; round < 2; round++) {
      rmSync(cacheDir, { recursive: true, force: true });
      expect(await Promise.all(Array.from({ length: 4 }, runOne))).toEqual(Array(4).fill("ok"));
      // What they left is one build's bundle with that build's index: a later command loads it.
      expect(await runOne()).toBe("ok");
    }
  });

  it("runs the code another command rebuilt of the same files while this one ran (commands started at once on a cold cache)", async () => {
    write("a1.ts", tsRevision("a1", null));
    write("b2.ts", tsRevision("b2", "a1"));
    await load();
    // This command reads the warm index; its revisions' code is read at their first call.
    const [a1, b2] = await load();
    // Meanwhile another command builds the entry again from the same files, under its own build mark.
    rmSync(join(cacheDir, cacheFiles().find((name) => /^[0-9a-f]{12}-[0-9a-f]{64}\.json$/.test(name))!));
    await load();
    expect(await run(a1!, "upgrade")).toEqual(["UP a1"]);
    expect(await run(b2!, "upgrade")).toEqual(["UP b2"]);
  });

  it("takes over the lock on a cache entry that a command killed while writing it left behind", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const entry = join(cacheDir, cacheFiles().find((name) => /^[0-9a-f]{12}-[0-9a-f]{64}\.json$/.test(name))!.slice(0, -".json".length));
    rmSync(cacheDir, { recursive: true, force: true });
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${entry}.lock`, "99999999");
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(`${entry}.lock`, longAgo, longAgo);
    const [a1] = await load();
    expect(await run(a1!, "upgrade")).toEqual(["UP a1"]);
    expect(cacheFiles().some((name) => name.endsWith(".lock"))).toBe(false);
  });

  it("never runs another command's rebuild of a file it loaded with the old file's checksum", async () => {
    const old = new Date(Date.now() - 3_600_000);
    const sql = write("a1.sql", sqlRevision("a1", null));
    const module = write("b2.ts", tsRevision("b2", "a1"));
    for (const file of [sql, module]) utimesSync(file, old, old);
    await load();
    // This command reads the warm index; its revisions' code is read at their first call.
    const [a1, b2] = await load();
    // Meanwhile both files are rewritten keeping size and mtime, and another command rebuilds.
    for (const [file, from, to] of [[sql, "UP a1", "UP z9"], [module, "UP b2", "UP y8"]] as const) {
      writeFileSync(file, readFileSync(file, "utf8").replace(from, to));
      utimesSync(file, old, old);
    }
    const rebuilt = await load();
    expect(await run(rebuilt[0]!, "upgrade")).toEqual(["UP z9"]);
    const outcome = (revision: LoadedRevision) =>
      run(revision, "upgrade").then(
        (executed) => ({ executed, checksum: revision.source.checksum }),
        (error: LambicError) => error.code,
      );
    // What ran must be what its checksum covers: the old code, or a clear error, never the new code.
    for (const [revision, newText] of [[a1!, "UP z9"], [b2!, "UP y8"]] as const) {
      const result = await outcome(revision);
      if (typeof result === "string") expect(result).toBe("REVISION_FILE_INVALID");
      else expect(result.executed).not.toContain(newText);
    }
  });

  it("says the compiled revisions were removed while it ran when another command pruned them before they were first called", async () => {
    const removedMeanwhile = async () => {
      const [revision] = await load(); // warm: the bundle is read when a function is first called
      rmSync(cacheDir, { recursive: true, force: true });
      return run(revision!, "upgrade").then(() => "ran", (failure: unknown) => failure);
    };
    write("a1.ts", tsRevision("a1", null));
    await load();
    const fromScript = (await removedMeanwhile()) as LambicError;
    expect(fromScript).toBeInstanceOf(LambicError);
    expect(fromScript.message).toContain("were removed while lambic was running");
    expect(fromScript.message).toContain("run the command again");
    // An ES module bundle (top-level await) likewise, in a process that has not imported it yet.
    edit("a1.ts", `const ready = await Promise.resolve(true);\n${tsRevision("a1", null)}`);
    await load();
    const index = new URL("../../dist/index.mjs", import.meta.url).href;
    const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
      const { rmSync } = await import("node:fs");
      const [revision] = await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} });
      rmSync(${JSON.stringify(cacheDir)}, { recursive: true });
      await revision.upgrade({ execute() {} }, {}).catch((error) => console.log(error.message));`;
    expect(execFileSync(process.execPath, ["--input-type=module", "-e", script]).toString()).toContain("were removed while lambic was running");
  });

  it("reads a warm folder's compiled revisions when asked ahead of their first call, which then needs the files no more", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const [revision] = await load();
    preloadCode(revision);
    rmSync(cacheDir, { recursive: true, force: true });
    expect(await run(revision!, "upgrade").then(() => "ran", (failure: unknown) => failure)).toBe("ran");
  });

  it("leaves a read ahead that fails to the first call, which reports it", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const [revision] = await load();
    rmSync(cacheDir, { recursive: true, force: true });
    expect(() => preloadCode(revision)).not.toThrow();
    const failure = (await run(revision!, "upgrade").then(() => "ran", (error: unknown) => error)) as LambicError;
    expect(failure).toBeInstanceOf(LambicError);
    expect(failure.message).toContain("were removed while lambic was running");
  });

  it("rebuilds from a torn index", async () => {
    write("a1.ts", tsRevision("a1", null));
    await load();
    const index = cacheFiles().find((name) => name.endsWith(".json"))!;
    writeFileSync(join(cacheDir, index), "{");
    expect((await load())[0]!.id).toBe("a1");
  });
});

describe("loadRevisions errors", () => {
  it("reports a TypeScript syntax error with file, line and column", async () => {
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", 'export default {\n  id: "b2",\n  revises: "a1" oops,\n};\n');
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${path}:3:`);
    expect(error.details).toMatchObject({ file: path, line: 3 });
  });

  it("reports a module whose default export is invalid, naming the file and field", async () => {
    const path = write("a1.ts", 'export default { id: "a1", revises: null, message: "m" };\n');
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(path);
    expect(error.details).toMatchObject({ file: path, field: "upgrade" });
  });

  it("names the line of a field with the wrong type", async () => {
    const path = write("a1.ts", 'export default {\n  id: "a1",\n  revises: 5,\n  async upgrade() {},\n};\n');
    const error = await loadError();
    expect(error.message).toBe(`${path}:3: revises is number 5, expected null, a revision id or a non-empty array of ids.`);
    expect(error.details).toMatchObject({ file: path, field: "revises", line: 3 });
  });

  it("names the line of the default export when the missing field has none", async () => {
    const path = write("a1.ts", '// a revision\nexport default { id: "a1", revises: null, message: "m" };\n');
    const error = await loadError();
    expect(error.message).toContain(`${path}:2: `);
    expect(error.details).toMatchObject({ file: path, field: "upgrade", line: 2 });
  });

  it("reports a module without a default export, saying where a helper goes instead", async () => {
    const path = write("a1.ts", 'export const revision = { id: "a1" };\n');
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(path);
    expect(error.message).toContain("no default export");
    expect(error.message).toContain("If it is a helper, not a revision, move it to a sub-folder or name it __<name>.ts");
  });

  it("reports an import that does not resolve, with file and line", async () => {
    const path = write("a1.ts", `\nimport { x } from "./missing.ts";\n${tsRevision("a1", null, "\n    op.execute(x);")}`);
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${path}:2:`);
  });

  it("names the revision that imports a package which is not installed, and says to install it", async () => {
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", `import pad from "lambic-test-no-such-package/pad";\n${tsRevision("b2", "a1", "\n    op.execute(pad);")}`);
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.details).toMatchObject({ file: path, package: "lambic-test-no-such-package" });
    expect(error.message).toMatch(new RegExp(`^Revision file ${path} imports the package "lambic-test-no-such-package", which is not installed where lambic runs \\(.+\\)\\. Install it in the project \\(npm install lambic-test-no-such-package\\) and run again\\.$`));
  });

  it("names the revision that require()s a package which is not installed, and says to install it", async () => {
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", `const pad = require("lambic-test-no-such-package/pad");\n${tsRevision("b2", "a1", "\n    op.execute(pad);")}`);
    const error = await loadError();
    expect(error.details).toMatchObject({ file: path, package: "lambic-test-no-such-package" });
    expect(error.message).toMatch(new RegExp(`^Revision file ${path} imports the package "lambic-test-no-such-package", which is not installed where lambic runs \\(.+\\)\\. Install it in the project \\(npm install lambic-test-no-such-package\\) and run again\\.$`));
  });

  it("tells a revision importing a name Node cannot see in a CommonJS package to take it from the default export, without quoting the bundle", () => {
    installPackage("lambic-test-cjs", "const api = {};\napi.chunk = () => 'chunked';\nmodule.exports = api;\n");
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", `import { chunk } from "lambic-test-cjs";\n${tsRevision("b2", "a1", "\n    op.execute(chunk());")}`);
    const { error } = upgradeInNode();
    expect(error?.details).toMatchObject({ file: path, package: "lambic-test-cjs", export: "chunk" });
    expect(error?.message).toBe(
      `Revision file ${path} imports { chunk } from "lambic-test-cjs", a CommonJS module whose named exports Node cannot see (Node loads packages for the revisions as it loads them for any ES module). ` +
        'Import its default export and take the name from it: `import pkg from "lambic-test-cjs"; const { chunk } = pkg;`, and run again.',
    );
  });

  it("names the revision importing a name a package does not export", () => {
    installPackage("lambic-test-esm", "export const table = 'invoice';\n");
    writeFileSync(join(project, "node_modules", "lambic-test-esm", "package.json"), JSON.stringify({ name: "lambic-test-esm", type: "module", main: "index.js" }));
    const path = write("a1.ts", `import { tabel } from "lambic-test-esm";\n${tsRevision("a1", null, "\n    op.execute(tabel);")}`);
    const { error } = upgradeInNode();
    expect(error?.details).toMatchObject({ file: path, package: "lambic-test-esm", export: "tabel" });
    expect(error?.message).toBe(`Revision file ${path} imports { tabel } from "lambic-test-esm", which has no export of that name. Check the name (and the installed version of the package), and run again.`);
  });

  it("tells a revision that imports lambic's types with a plain import kept by verbatimModuleSyntax to use `import type`", async () => {
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { verbatimModuleSyntax: true } }));
    write("a1.ts", tsRevision("a1", null).replace("import type { Revision }", "import { Revision }"));
    const error = await loadError();
    expect(error.details).toMatchObject({ file: join(dir, "a1.ts"), package: "lambic" });
    expect(error.message).toContain('write `import type { Revision } from "lambic"`');
  });

  it("says a package whose code is TypeScript (a workspace package) is left to Node, which cannot run it, and what to import instead", async () => {
    const shared = join(project, "node_modules", "@org", "shared");
    mkdirSync(shared, { recursive: true });
    writeFileSync(join(shared, "package.json"), JSON.stringify({ name: "@org/shared", type: "module", exports: "./index.ts" }));
    writeFileSync(join(shared, "index.ts"), 'export const TABLE: string = "invoice";\n');
    const path = write("a1.ts", `import { TABLE } from "@org/shared";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    // In a process of its own: vitest's module runner would compile the package's TypeScript itself.
    const index = new URL("../../dist/index.mjs", import.meta.url).href;
    const script = `const { loadRevisions } = await import(${JSON.stringify(index)});
      await loadRevisions(${JSON.stringify(dir)}, { cacheDir: ${JSON.stringify(cacheDir)} }).catch((error) => console.log(JSON.stringify({ message: error.message, details: error.details })));`;
    const error = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script]).toString()) as { message: string; details: unknown };
    expect(error.details).toMatchObject({ file: path, package: "@org/shared" });
    expect(error.message).toBe(
      `Revision file ${path} imports the package "@org/shared", whose code is ${join(shared, "index.ts")}, which Node cannot run: lambic compiles the revisions and the files they import by relative path, ` +
        "and leaves packages (node_modules, workspaces) to Node. Import the package's built JavaScript, or the file by a relative path so it is compiled with the revisions, and run again.",
    );
  });

  it("reads the file Node cannot run from its error, as Node 20 and Node 22 word it", () => {
    expect(unrunnableFile('Unknown file extension ".ts" for /app/node_modules/@org/shared/index.ts')).toBe("/app/node_modules/@org/shared/index.ts");
    expect(unrunnableFile('Stripping types is currently unsupported for files under node_modules, for "/app/node_modules/@org/my shared/index.ts"')).toBe("/app/node_modules/@org/my shared/index.ts");
    expect(unrunnableFile('Stripping types is currently unsupported for files under node_modules, for "file:///app/node_modules/%40org/shared/index.ts"')).toBe("/app/node_modules/@org/shared/index.ts");
    expect(unrunnableFile("something else entirely")).toBeUndefined();
  });

  it("reports a revision that throws while it is imported, naming its file and line", async () => {
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", `const limit = 3;\n\nif (limit > 2) throw new Error("boom");\n${tsRevision("b2", "a1")}`);
    write("c3.ts", tsRevision("c3", "b2"));
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`Revision file ${path} failed while loading, at line 3: boom`);
    expect(error.details).toMatchObject({ file: path, line: 3 });
  });

  it("names a helper that throws while it is imported as the file a revision imports", async () => {
    const helper = join(project, "revisions", "names.ts");
    writeFileSync(helper, 'export const TABLE = "invoice";\nthrow new Error("helper boom");\n');
    write("a1.ts", `import { TABLE } from "../names.ts";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    const error = await loadError();
    expect(error.message).toMatch(/^File (.*)names\.ts, which a revision imports, failed while loading, at line 2: helper boom\./);
  });

  it("names the file whose source holds the text of a thrown value that is not an Error (it has no stack)", async () => {
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", `throw "no config for this stage";\n${tsRevision("b2", "a1")}`);
    write("c3.ts", tsRevision("c3", "b2"));
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(
      `A revision's top-level code (or what it imports) threw "no config for this stage" while loading, a value that is not an Error and so names no file or line (the text is in ${path}). Fix that throw (throw an Error to have its file and line named) and run again.`,
    );
    expect(error.details).toMatchObject({ file: path });
  });

  it("names the file and line of a revision that throws while loading from an ES module bundle", async () => {
    write("a1.ts", tsRevision("a1", null));
    const path = write("b2.ts", `await Promise.resolve();\nthrow new Error("late boom");\n${tsRevision("b2", "a1")}`);
    const error = await loadError();
    expect(error.message).toContain(`Revision file ${path} failed while loading, at line 2: late boom`);
  });

  it("keeps failing after a failed build instead of caching it", async () => {
    write("a1.ts", 'export default { id: "a1", revises: null };\n');
    await loadError();
    expect((await loadError()).code).toBe("REVISION_FILE_INVALID");
  });

  it("reports a SQL revision error with file and line", async () => {
    const path = write("a1.sql", "-- revision: a1\n-- revison: x\n-- +up\n");
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${path}:2:`);
  });

  it("refuses a .sql revision that is not UTF-8, naming its line, instead of running U+FFFD for the byte", async () => {
    const latin1 = Buffer.from(sqlRevision("a1", null).replace("UP a1", "INSERT INTO t VALUES ('caf\u00e9')"), "latin1");
    writeFileSync(join(dir, "a1.sql"), latin1);
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`${join(dir, "a1.sql")}:4: the file is not UTF-8 text`);
    expect(error.message).toContain("Save the file as UTF-8");
    expect(error.details).toMatchObject({ file: join(dir, "a1.sql"), line: 4 });
  });

  it("refuses a TypeScript revision, or a helper it imports, that is not UTF-8", async () => {
    writeFileSync(join(dir, "a1.ts"), Buffer.from(tsRevision("a1", null).replace("UP a1", "caf\u00e9"), "latin1"));
    expect((await loadError()).details).toMatchObject({ file: join(dir, "a1.ts"), line: 8 });
    const helper = join(project, "revisions", "names.ts");
    writeFileSync(helper, Buffer.from('export const TABLE = "caf\u00e9";\n', "latin1"));
    write("a1.ts", `import { TABLE } from "../names.ts";\n${tsRevision("a1", null, "\n    op.execute(TABLE);")}`);
    expect((await loadError()).details).toMatchObject({ file: helper, line: 1 });
  });

  it("rejects the same id in two files, naming both", async () => {
    const first = write("a1.ts", tsRevision("a1", null));
    const second = write("b1.sql", sqlRevision("a1", null));
    const error = await loadError();
    expect(error.code).toBe("DUPLICATE_REVISION");
    expect(error.message).toContain(first);
    expect(error.message).toContain(second);
    expect(error.details).toMatchObject({ id: "a1", files: [first, second] });
    expect(error.message).toContain(`in ${first}:${tsRevision("a1", null).split("\n").findIndex((line) => line.includes('"a1"')) + 1} and in ${second}:1.`);
  });

  it("says CONFIG_INVALID, naming the folder, when the compiled revisions cannot be written", async () => {
    write("a1.ts", tsRevision("a1", null));
    mkdirSync(join(project, ".lambic"), { recursive: true });
    writeFileSync(cacheDir, "a file where the cache folder should be");
    const error = await loadError();
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain(cacheDir);
    expect(error.message).toContain("make that folder writable");
    expect(error.message).toContain("fill the cache beforehand");
  });

  it("still loads .sql revisions when the cache cannot be written", async () => {
    write("a1.sql", sqlRevision("a1", null));
    mkdirSync(join(project, ".lambic"), { recursive: true });
    writeFileSync(cacheDir, "a file where the cache folder should be");
    const [revision] = await load();
    expect(revision!.id).toBe("a1");
    expect(await run(revision!, "upgrade")).toEqual(["UP a1"]);
  });

  it("names a symbolic link to nothing among the revisions, instead of failing as a lambic bug", async () => {
    write("a1.ts", tsRevision("a1", null));
    symlinkSync("nowhere.ts", join(dir, "b2.ts"));
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`${join(dir, "b2.ts")} is a symbolic link to nowhere.ts, which does not exist. Fix the link or remove it, and run again.`);
  });

  it.skipIf(process.getuid?.() === 0)("names a revision file it may not read", async () => {
    const path = write("a1.sql", sqlRevision("a1", null));
    chmodSync(path, 0o000);
    const error = await loadError();
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain(`Cannot read the revision file ${path} (EACCES). Give the user lambic runs as read access to it`);
  });

  it("says a revisions folder that is a file is not a folder", async () => {
    const file = join(project, "not-a-folder");
    writeFileSync(file, "");
    const error = (await loadRevisions(file, { cacheDir, configFile: join(project, "lambic.config.json") }).then(
      () => undefined,
      (caught: unknown) => caught,
    )) as LambicError;
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toBe(`Revisions folder ${file} is not a folder: it, or a folder above it, is a file. Move the file away or fix "revisions" in ${join(project, "lambic.config.json")}.`);
  });

  it("rejects a revisions folder that does not exist", async () => {
    const error = (await loadRevisions(join(project, "nope"), { cacheDir }).then(
      () => undefined,
      (caught: unknown) => caught,
    )) as LambicError;
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain(join(project, "nope"));
  });
});
