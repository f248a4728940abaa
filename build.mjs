#!/usr/bin/env node
// Builds lambic with esbuild:
//   dist/cli.cjs, dist/cli/run.cjs  the command line (see cli/esbuild-options.mjs); the AWS SDK,
//                                   the Neon driver and esbuild load only for commands that use them
//   dist/index.mjs (+ dist/chunks/) the programmatic API; dependencies stay in node_modules
//   dist/types/                     its declarations (tsc, tsconfig.types.json): package.json's "types"
//   dist/lambda/handler.mjs         the Lambda handler, one self-contained file (infra/ ships the
//                                   folder); dist/handler.mjs re-exports it for `lambic/handler`
//   dist/bundles/<db>/              each database's revision bundle (revisions.mjs + manifest.json)
// `node build.mjs --cli` builds only the command line (fast path for tests of the CLI).
// The handler leaves the AWS SDK to the nodejs22.x runtime's copy (it halves the cold import;
// figures in the README); LAMBIC_HANDLER_SDK=bundled ships our pinned SDK instead.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { dirname, join, resolve } from "node:path";
import { handlerBuildOptions } from "./handler/esbuild-options.mjs";
import { buildCli } from "./cli/esbuild-options.mjs";

const only = process.argv.includes("--cli") ? "cli" : undefined;
const common = { bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning", legalComments: "none" };

rmSync("dist/chunks", { recursive: true, force: true });
rmSync("dist/cli", { recursive: true, force: true });
await buildCli({ build, outdir: "dist" });
await build({
  ...common,
  entryPoints: { index: "src/index.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  packages: "external",
});

if (only !== "cli") {
  // esbuild writes no declarations; tsc does (its command line, which every TypeScript version has).
  rmSync("dist/types", { recursive: true, force: true });
  const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.types.json"], { stdio: "inherit" });

  rmSync("dist/lambda", { recursive: true, force: true });
  const sdk = process.env.LAMBIC_HANDLER_SDK === "bundled" ? "bundled" : "external";
  await build(handlerBuildOptions({ sdk, outfile: "dist/lambda/handler.mjs" }));
  writeFileSync("dist/handler.mjs", 'export * from "./lambda/handler.mjs";\n');

  // The bundle builder runs from source through a throwaway build of itself (it needs the
  // engine's loader and config, and node cannot import .ts files here).
  const tool = resolve("dist/.build/build-bundles.mjs");
  mkdirSync("dist/.build", { recursive: true });
  await build({ ...common, entryPoints: ["src/bundle/build-bundles.ts"], outfile: tool, packages: "external" });
  const { buildAllBundles } = await import(pathToFileURL(tool).href);
  rmSync("dist/bundles", { recursive: true, force: true });
  for (const bundle of await buildAllBundles({ projectDir: process.cwd(), outDir: "dist/bundles" })) {
    console.log(`bundle ${bundle.database}: ${bundle.sha256} (${bundle.manifest.revisions.length} revisions)`);
  }
  rmSync("dist/.build", { recursive: true, force: true });
}
