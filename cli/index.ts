/**
 * The `lambic` command (dist/cli.cjs): loads the command line's bundle (dist/cli/run.cjs, built
 * by cli/esbuild-options.mjs) with V8's code cache of it, kept beside it. Node 20 cannot
 * `import()` in a script run with a code cache, so this module lends its own (src/import-module.ts).
 *
 * Node 20 keeps no compiled code between runs of an ES module, and a command compiles a few
 * thousand of the bundle's functions as it first calls them: ≈ 60–75 ms of a 300 ms `upgrade`
 * of 1,000 small revisions (bench/, README). A CommonJS bundle run as a `vm.Script` can take V8's code cache
 * instead. The cache holds what had been compiled when it was written, so a process that ran a
 * command the cache has not seen yet writes it again at exit, with what it compiled added.
 *
 * Nothing here may fail a command: a cache that is missing, unreadable, from another build or
 * another Node is compiled without, and one that cannot be written is left alone.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as vm from "node:vm";
import { IMPORT_HOOK } from "../src/import-module.ts";
import { readText } from "../src/read-text.ts";
import { isCommandName } from "./command-names.ts";

/** Ends the bundle, naming its build: a code cache is used only with the build it was made from. */
const BUILD_MARK = "\n//lambic-cli-build:";

interface CacheHeader {
  readonly build: string;
  readonly node: string;
  /** The commands whose functions the cache holds (see commandKey). */
  readonly commands: readonly string[];
}

const bundleFile = fileURLToPath(new URL("./cli/run.cjs", import.meta.url));
const cacheFile = `${bundleFile}.code`;
const nodeBuild = `${process.version} ${process.arch}`;

/** What a run compiles depends mostly on its command, and whether it renders SQL or connects. */
function commandKey(argv: readonly string[]): string {
  const command = argv.find(isCommandName) ?? "";
  return argv.includes("--sql") ? `${command} --sql` : command;
}

function readCache(build: string): { header: CacheHeader; data: Buffer } | undefined {
  try {
    const bytes = readFileSync(cacheFile);
    const end = bytes.indexOf(10);
    const header = JSON.parse(bytes.toString("utf8", 0, end)) as CacheHeader;
    if (header.build !== build || header.node !== nodeBuild || !Array.isArray(header.commands)) return undefined;
    return { header, data: bytes.subarray(end + 1) };
  } catch {
    return undefined;
  }
}

function writeCache(script: vm.Script, header: CacheHeader): void {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), script.createCachedData()]));
    renameSync(temporary, cacheFile);
  } catch {
    // A read-only install: every start compiles what it runs, as without a cache.
  }
}

function load(): { run: () => Promise<void> } {
  const source = readText(bundleFile);
  const markAt = source.lastIndexOf(BUILD_MARK);
  const build = markAt === -1 ? "" : source.slice(markAt + BUILD_MARK.length).trim();
  const cache = build === "" ? undefined : readCache(build);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundleFile,
    cachedData: cache?.data,
  });
  const command = commandKey(process.argv.slice(2));
  const known = cache !== undefined && !script.cachedDataRejected ? cache.header.commands : [];
  if (build !== "" && !known.includes(command)) {
    process.once("beforeExit", () => writeCache(script, { build, node: nodeBuild, commands: [...known, command] }));
  }
  const module = { exports: {} as { run: () => Promise<void> } };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundleFile), module, bundleFile, dirname(bundleFile));
  return module.exports;
}

(globalThis as { [IMPORT_HOOK]?: (specifier: string) => Promise<unknown> })[IMPORT_HOOK] = (specifier) => import(specifier);
// Built as CommonJS (see cli/esbuild-options.mjs), which has no top-level await; run() reports its own errors.
void load().run();
