/**
 * The e2e tests run the BUILT handler (dist/lambda/handler.mjs) and CLI (dist/cli.cjs). When
 * they are missing or older than the sources, build once, under a lock, so parallel test files
 * do not build over each other.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const HANDLER_FILE = join(ROOT, "dist/lambda/handler.mjs");
export const CLI_FILE = join(ROOT, "dist/cli.cjs");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.(ts|mjs|sql)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  if (!existsSync(HANDLER_FILE) || !existsSync(CLI_FILE) || !existsSync(join(ROOT, "dist/bundles")) || !existsSync(join(ROOT, "dist/types/index.d.ts"))) return true;
  const built = Math.min(statSync(HANDLER_FILE).mtimeMs, statSync(CLI_FILE).mtimeMs);
  const sources = Math.max(...["src", "handler", "cli", "revisions"].map((dir) => newestSource(join(ROOT, dir))), statSync(join(ROOT, "build.mjs")).mtimeMs);
  return sources > built;
}

export async function ensureBuilt(): Promise<void> {
  if (!isStale()) return;
  const lock = join(ROOT, "dist/.e2e-build.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      execFileSync("mkdir", ["-p", join(ROOT, "dist")]);
      closeSync(openSync(lock, "wx"));
      break;
    } catch {
      if (attempt > 600) throw new Error(`${lock} has been held for a minute; remove it if no build is running.`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (isStale()) execFileSync(process.execPath, ["build.mjs"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  } finally {
    rmSync(lock, { force: true });
  }
}
