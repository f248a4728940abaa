// Builds the CLI and the programmatic API exactly as build.mjs does (same esbuild options), but into
// bench/.work/dist, so a bench run never races another build of dist/ in the same checkout.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { REPO_DIR, WORK_DIR } from "./util.mjs";

export const BENCH_DIST = join(WORK_DIR, "dist");
export const CLI = join(BENCH_DIST, "cli.cjs");
export const INDEX = join(BENCH_DIST, "index.mjs");

let built;

export async function buildLambic() {
  if (built) return built;
  const { build } = await import("esbuild");
  rmSync(BENCH_DIST, { recursive: true, force: true });
  const { buildCli } = await import("../../cli/esbuild-options.mjs");
  await buildCli({ build, outdir: BENCH_DIST, absWorkingDir: REPO_DIR });
  await build({
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    legalComments: "none",
    absWorkingDir: REPO_DIR,
    entryPoints: { index: "src/index.ts" },
    outdir: BENCH_DIST,
    outExtension: { ".js": ".mjs" },
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    packages: "external",
  });
  // The embedded cluster helpers (not part of the public API) for the online bench.
  await build({
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    absWorkingDir: REPO_DIR,
    entryPoints: { cluster: "src/db/cluster.ts" },
    outdir: BENCH_DIST,
    outExtension: { ".js": ".mjs" },
    packages: "external",
  });
  built = { cli: CLI, index: INDEX, cluster: join(BENCH_DIST, "cluster.mjs") };
  return built;
}
