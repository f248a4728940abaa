/**
 * The CLI's database when none is configured: a real PostgreSQL per project, started on first
 * use and left running so that the next command reuses it (`lambic embedded stop` stops it).
 *
 * `.lambic/embedded.json` remembers where its data lives, its port and its password;
 * `.lambic/pgpass` lets psql connect without the password appearing on a command line.
 * The data is in `.lambic/postgres/data`, except as root: PostgreSQL then runs as the
 * "postgres" OS user, which cannot reach a project under /root, so the data goes to
 * `<tmpdir>/lambic-<hash of the project path>/data` (emptied when the temp dir is, e.g. at
 * reboot; the next command then creates a fresh cluster).
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LambicError } from "../errors.ts";
import {
  CLUSTER_USER,
  clusterUrl,
  initCluster,
  isInitialised,
  isPortFree,
  randomPassword,
  readyServer,
  runningServer,
  startCluster,
  stopCluster,
} from "./cluster.ts";
import { openConnection, quoteIdentifier } from "./connection.ts";

export interface EmbeddedPostgres {
  /** URL of the `lambic` database (contains the password: redact before printing). */
  readonly url: string;
  readonly dataDir: string;
  readonly port: number;
  /** False when a server from an earlier command was still running and is reused. */
  readonly started: boolean;
  /** A psql command line that connects to the `lambic` database (the password is in a pgpass file). */
  readonly psql: string;
  /** For the user: why a new, empty server was created where the project had one (its data folder gone, a copied project), or why its port changed. */
  readonly notice?: string;
}

interface EmbeddedState {
  dataDir: string;
  port: number;
  password: string;
  /** The project folder this state was written for (absent in states from older lambic versions). */
  project?: string;
}

const DATABASE = "lambic";
/** Ports are picked from here on, at an offset from a hash of the project path, so projects rarely collide. */
const PORT_BASE = 54_320;
const PORT_SPREAD = 1_000;
/** How many ports from the first one picked are tried. */
const PORTS_TRIED = 50;

/** How long a command waits while another one creates or starts the project's server (initdb on a slow disk takes a while). */
const LOCK_WAIT_MS = 120_000;

/** `lockWaitMs`: how long to wait for another command that is creating or starting the server. */
export async function ensureEmbeddedPostgres(projectDir: string, options: { lockWaitMs?: number } = {}): Promise<EmbeddedPostgres> {
  const project = resolve(projectDir);
  const lambicDir = join(project, ".lambic");
  return explainUnwritable(lambicDir, async () => {
    await mkdir(lambicDir, { recursive: true });
    // Commands started together on a fresh project would each run initdb on the same folder (all
    // but one fail) or each write its own password to embedded.json: one at a time, the others
    // then find the server running.
    return withProjectLock(lambicDir, options.lockWaitMs ?? LOCK_WAIT_MS, () => ensureLocked(project, lambicDir));
  });
}

/** A file-system error on `.lambic/` itself (read-only, full disk, wrong owner) said as such, not as a lambic bug. */
async function explainUnwritable<T>(lambicDir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    if (!code || !path || !["EROFS", "EACCES", "EPERM", "ENOSPC", "EDQUOT", "ENOTDIR", "EEXIST"].includes(code) || !resolve(path).startsWith(lambicDir)) throw error;
    throw new LambicError(
      "CONNECTION_FAILED",
      `Cannot write ${path} (${code}): the embedded PostgreSQL keeps its lock, port and password in ${lambicDir}. ` +
        `Make that folder writable (or free space on its disk), or set a database URL (DATABASE_URL or lambic.config.json).`,
      { path, errno: code },
      { cause: error },
    );
  }
}

async function ensureLocked(project: string, lambicDir: string): Promise<EmbeddedPostgres> {
  let state = await projectState(project);
  // For the user: why a new server, or another port (see EmbeddedPostgres.notice).
  const notices: string[] = [];

  if (!state || !(await hasCluster(state.dataDir))) {
    const dataDir = await defaultDataDir(project);
    if (await hasCluster(dataDir)) throw await unknownPassword(dataDir, lambicDir);
    if (state) {
      // Its server may outlive the folder (deleted by hand, or by a temp cleaner): it holds the
      // port, and rewrites global/pg_control by its absolute path, over a new cluster's there.
      const stopped = await stopOrphanedServer(state.dataDir);
      const there = await stat(state.dataDir).then(() => true, () => false);
      notices.push(
        `The data folder ${state.dataDir} named in ${join(lambicDir, "embedded.json")} ` +
        (there ? `holds no PostgreSQL cluster (no PG_VERSION, no global/pg_control, no server running on it)` : `is gone (a temporary folder emptied at reboot, or deleted), and its data with it`) +
        `, so this is a new, empty server${state.dataDir === dataDir ? "" : ` in ${dataDir}`}` +
        (stopped === undefined ? "." : `; its old server, still running on the deleted folder (process ${stopped}), was stopped.`),
      );
    } else {
      const recorded = await readState(lambicDir);
      if (recorded?.project !== undefined && recorded.project !== project) {
        notices.push(`This project was copied from ${recorded.project}, whose embedded PostgreSQL (data: ${recorded.dataDir}) stays with it: this copy gets its own, empty server.`);
      }
    }
    // .lambic/ removed with the data inside it (git clean -fdx, rm -rf .lambic) while its server ran.
    const orphan = state?.dataDir === dataDir ? undefined : await stopOrphanedServer(dataDir);
    if (orphan !== undefined) {
      notices.push(`An embedded PostgreSQL was still running on the deleted folder ${dataDir} (process ${orphan}), its data gone with the folder: it was stopped, and this is a new, empty server.`);
    }
    await removePartials(dataDir);
    state = { dataDir, port: await choosePort(project), password: randomPassword(), project };
    await createCluster(lambicDir, state);
  } else {
    await removePartials(state.dataDir);
  }

  let started = false;
  const running = await readyServer(state.dataDir);
  if (running) {
    state.port = running.port;
  } else {
    if (!(await isPortFree(state.port))) {
      const taken = state.port;
      state.port = await choosePort(project, state.port + 1);
      // A psql session or a GUI set up for the old port would otherwise fail without a word why.
      notices.push(`Port ${taken}, where this server ran before, is taken by another process, so it now runs on port ${state.port}.`);
    }
    try {
      await startCluster(state);
      started = true;
    } catch (error) {
      // Another lambic command may have started it in the meantime.
      const now = await readyServer(state.dataDir);
      if (!now) throw error;
      state.port = now.port;
    }
  }
  await writeState(lambicDir, { ...state, project });
  await createDatabaseIfMissing(clusterUrl(state.port, state.password, "postgres"));

  const passFile = join(lambicDir, "pgpass");
  await writeFile(passFile, `127.0.0.1:${state.port}:*:${CLUSTER_USER}:${escapePgpass(state.password)}\n`, { mode: 0o600 });
  await chmod(passFile, 0o600); // libpq ignores a pgpass file others can read
  return {
    url: clusterUrl(state.port, state.password, DATABASE),
    dataDir: state.dataDir,
    port: state.port,
    started,
    psql: psqlCommand(lambicDir, state.port),
    ...(notices.length > 0 && { notice: notices.join(" ") }),
  };
}

/**
 * Stops the postmaster still running on a deleted `dataDir` (its working folder, which /proc
 * shows as "<dataDir> (deleted)"), and waits for it to exit; its pid, or undefined when there is
 * none (or no /proc to tell). A fast shutdown, then SIGKILL if it lingers: its data is gone.
 */
async function stopOrphanedServer(dataDir: string): Promise<number | undefined> {
  const gone = `${dataDir} (deleted)`;
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
  const inFolder = new Set<number>();
  for (const pid of pids) {
    if ((await readlink(`/proc/${pid}/cwd`).catch(() => undefined)) === gone) inFolder.add(pid);
  }
  // The postmaster is the one whose parent is not in the folder too (its children are).
  let postmaster: number | undefined;
  for (const pid of inFolder) {
    const parent = Number((await procStat(pid))?.[1]);
    if (!inFolder.has(parent)) postmaster = pid;
  }
  if (postmaster === undefined) return undefined;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(postmaster, name);
    } catch {
      // gone already
    }
  };
  signal("SIGINT"); // PostgreSQL's fast shutdown
  // A zombie has exited (where pid 1 does not reap, it stays one).
  const exited = async () => !isAlive(postmaster) || (await procStat(postmaster))?.[0] === "Z";
  for (let waited = 0; !(await exited()) && waited < 15_000; waited += 100) {
    if (waited === 10_000) signal("SIGKILL");
    await sleep(100);
  }
  return postmaster;
}

/**
 * initdb into a folder beside the data folder, then the state (with the password), then the
 * rename: a command interrupted at any point (Ctrl-C also stops initdb) leaves either no data
 * folder, so the next command starts afresh, or a data folder whose password embedded.json holds.
 */
async function createCluster(lambicDir: string, state: EmbeddedState): Promise<void> {
  await mkdir(dirname(state.dataDir), { recursive: true });
  const partial = `${state.dataDir}${PARTIAL}${randomBytes(4).toString("hex")}`;
  try {
    await initCluster({ dataDir: partial, port: state.port, password: state.password });
    await writeState(lambicDir, state);
    // A data folder without a cluster (see hasCluster) is an older lambic's interrupted initdb.
    await rm(state.dataDir, { recursive: true, force: true });
    await rename(partial, state.dataDir);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

const PARTIAL = ".partial-";

/**
 * Whether `dataDir` holds a cluster, which lambic must never replace: PG_VERSION alone does not
 * tell, a temp cleaner deleting files by age may take it (the server reads it only as it starts)
 * while the server runs on, and a new cluster would then be made over the live one. Without
 * PG_VERSION, pg_control or a running server, it is initdb's unfinished work.
 */
async function hasCluster(dataDir: string): Promise<boolean> {
  if (await isInitialised(dataDir)) return true;
  if (await stat(join(dataDir, "global", "pg_control")).then(() => true, () => false)) return true;
  return (await runningServer(dataDir)) !== undefined;
}

/**
 * Removes what killed commands left beside the data folder. Best effort: an orphaned initdb may
 * still be writing to one (no lambic command is: this one holds the lock); a later command
 * removes it then.
 */
async function removePartials(dataDir: string): Promise<void> {
  const names = await readdir(dirname(dataDir)).catch(() => [] as string[]);
  const prefix = `${basename(dataDir)}${PARTIAL}`;
  for (const name of names) {
    if (name.startsWith(prefix)) await rm(join(dirname(dataDir), name), { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A cluster without a readable embedded.json, which holds its password (deleted, edited, or from another run). */
async function unknownPassword(dataDir: string, lambicDir: string): Promise<LambicError> {
  const running = await runningServer(dataDir);
  const stateFile = join(lambicDir, "embedded.json");
  const { problem } = await readStateFile(lambicDir);
  const passFile = join(lambicDir, "pgpass");
  // Every command that connected wrote the password there too: the data can be kept.
  const inPassFile = await stat(passFile).then(() => true, () => false);
  return new LambicError(
    "CONNECTION_FAILED",
    `The embedded PostgreSQL's data in ${dataDir} ${problem === undefined ? `has no ${stateFile} beside it` : `cannot be used: ${stateFile} ${problem}`}, which holds its password, so lambic cannot connect to it. ` +
      (inPassFile
        ? `To keep its data, write ${stateFile} as {"dataDir": "${dataDir}", "port": <port>, "password": "<password>"}, with the port and password of the line in ${passFile} (127.0.0.1:<port>:*:postgres:<password>). Otherwise ${running ? `stop its server (kill ${running.pid}), then delete` : "delete"}`
        : `${running ? `Stop its server (kill ${running.pid}), then delete` : "Delete"}`) +
      ` ${dataDir} to let the next command create a fresh one (its data is lost), or set a database URL.`,
    { dataDir, stateFile, ...(problem !== undefined && { problem }), ...(running ? { pid: running.pid } : {}) },
  );
}

/**
 * `PGPASSWORD=` first: libpq prefers a PGPASSWORD the user has exported (for another server) to
 * any password file, and reads the file when the password is empty.
 */
function psqlCommand(lambicDir: string, port: number): string {
  return `PGPASSWORD= PGPASSFILE=${shellQuote(join(lambicDir, "pgpass"))} psql -h 127.0.0.1 -p ${port} -U ${CLUSTER_USER} ${DATABASE}`;
}

/**
 * Where the project's embedded PostgreSQL is, and whether it runs (nothing is started).
 * `usable` is false when its embedded.json is missing or not valid: commands cannot connect.
 */
export async function embeddedStatus(projectDir: string): Promise<{ exists: boolean; running: boolean; port?: number; dataDir?: string; psql?: string; usable?: boolean }> {
  const lambicDir = join(resolve(projectDir), ".lambic");
  const found = await projectDataDir(resolve(projectDir));
  if (!found) return { exists: false, running: false };
  const running = await runningServer(found.dataDir);
  const port = running?.port ?? found.state?.port;
  return {
    exists: true,
    running: running !== undefined,
    ...(port !== undefined && { port }),
    dataDir: found.dataDir,
    ...(port !== undefined && { psql: psqlCommand(lambicDir, port) }),
    usable: found.state !== undefined,
  };
}

/** Stops the project's embedded PostgreSQL (its data stays). Resolves false when it was not running. */
export async function stopEmbedded(projectDir: string): Promise<boolean> {
  const lambicDir = join(resolve(projectDir), ".lambic");
  const found = await projectDataDir(resolve(projectDir));
  if (!found) return false;
  return explainUnwritable(lambicDir, () =>
    withProjectLock(lambicDir, LOCK_WAIT_MS, async () => {
      const running = await runningServer(found.dataDir);
      if (running && found.state) await refuseWhileCommandsRun(clusterUrl(running.port, found.state.password, "postgres"), found.dataDir);
      return stopCluster(found.dataDir);
    }),
  );
}

/**
 * A fast shutdown ends every session: a lambic command running on the server (an upgrade in
 * another terminal) would be cut off mid-run, a non-transactional revision half done. Its
 * sessions are the ones named "lambic" (see cli/main.ts); psql and other clients are ended.
 */
async function refuseWhileCommandsRun(adminUrl: string, dataDir: string): Promise<void> {
  let sessions: { pid: number; datname: string; seconds: number; state: string | null }[];
  try {
    const connection = await openConnection(adminUrl, { driver: "postgres", applicationName: "lambic-embedded" });
    try {
      sessions = (await connection.query(
        `select pid, datname, coalesce(extract(epoch from now() - backend_start), 0)::int as seconds, state
           from pg_stat_activity where application_name = 'lambic' and pid <> pg_backend_pid() order by backend_start`,
      )) as typeof sessions;
    } finally {
      await connection.close();
    }
  } catch {
    return; // not answering (starting, a password changed by hand): nothing to protect, stop it
  }
  if (sessions.length === 0) return;
  const [first] = sessions as [(typeof sessions)[0]];
  throw new LambicError(
    "CONNECTION_FAILED",
    `The embedded PostgreSQL in ${dataDir} was not stopped: ${sessions.length === 1 ? "a lambic command is" : `${sessions.length} lambic commands are`} using it ` +
      `(server process ${first.pid}, database ${first.datname}, connected ${first.seconds} s ago${first.state ? `, ${first.state}` : ""}), and stopping it would cut ${sessions.length === 1 ? "that command" : "them"} off mid-run. ` +
      `Let ${sessions.length === 1 ? "it" : "them"} finish (or interrupt ${sessions.length === 1 ? "it" : "them"} with Ctrl-C), then run lambic embedded stop again.`,
    { dataDir, sessions: sessions.map((session) => session.pid) },
  );
}

/**
 * The project's data folder: embedded.json's, or, when that file is missing or not valid, the
 * folder a command would create (a server there can be found and stopped without its password).
 */
async function projectDataDir(project: string): Promise<{ dataDir: string; state?: EmbeddedState } | undefined> {
  const state = await projectState(project);
  if (state && (await hasCluster(state.dataDir))) return { dataDir: state.dataDir, state };
  const dataDir = dataDirPath(project);
  if (state === undefined && (await hasCluster(dataDir))) return { dataDir };
  return undefined;
}

/**
 * Runs `work` while this process holds `.lambic/embedded.lock` (a file made with O_EXCL, holding
 * the holder's pid). A lock whose process has died, or whose pid is now a process started after
 * the lock was written, is taken over; waiting longer than `waitMs` is an error naming the
 * process and the file.
 */
async function withProjectLock<T>(lambicDir: string, waitMs: number, work: () => Promise<T>): Promise<T> {
  const lock = join(lambicDir, "embedded.lock");
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = await lockHolder(lock);
    // Read twice before removing: a lock removed and taken meanwhile holds another pid.
    if (holder !== undefined && !(await isHolder(holder, lock)) && (await lockHolder(lock)) === holder) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new LambicError(
        "CONNECTION_FAILED",
        `Another lambic command${holder === undefined ? "" : ` (process ${holder})`} has been creating or starting the embedded PostgreSQL for over ${waitMs / 1000} s. Wait for it to finish; if no lambic command is running, delete ${lock}.`,
        { lock, pid: holder },
      );
    }
    await sleep(100);
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/** The pid in a lock file; undefined while its holder has not written it yet, or once it is gone. */
async function lockHolder(lock: string): Promise<number | undefined> {
  const pid = Number(await readFile(lock, "utf8").catch(() => ""));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether the process `pid` may be the one that wrote `lock`: alive, and not started after the
 * lock was written. A command killed while holding the lock (kill -9, a CI timeout, a power
 * loss) leaves its pid behind, which after a reboot, or in a container run again (where the
 * command gets the same small pid run after run, this process's own), is another process's.
 */
async function isHolder(pid: number, lock: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  const [started, written] = await Promise.all([processStartedMs(pid), stat(lock).then((s) => s.mtimeMs, () => undefined)]);
  // Where /proc does not tell (not Linux), a live pid is trusted. The margin covers clock ticks.
  return started === undefined || written === undefined || started <= written + 2_000;
}

/** When `pid` started (epoch ms), from /proc; undefined where /proc does not tell. */
async function processStartedMs(pid: number): Promise<number | undefined> {
  const [fields, system] = await Promise.all([procStat(pid), readFile("/proc/stat", "utf8").catch(() => undefined)]);
  const bootSeconds = Number(/^btime (\d+)$/m.exec(system ?? "")?.[1]);
  if (fields === undefined || !Number.isFinite(bootSeconds)) return undefined;
  // starttime (field 22) is in clock ticks since boot (USER_HZ, 100 on Linux).
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? (bootSeconds + ticks / 100) * 1000 : undefined;
}

/**
 * The fields of /proc/<pid>/stat after "pid (comm)", whose comm may hold spaces and parentheses:
 * [0] the state (Z: a zombie), [1] the parent's pid, [19] starttime. Undefined where /proc does not tell.
 */
async function procStat(pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // it exists, as another user's process
  }
}

/** Where a new cluster of `project` goes (see the top of this file). */
function dataDirPath(project: string): string {
  if (process.getuid?.() !== 0) return join(project, IN_PROJECT_DATA);
  const hash = createHash("sha256").update(project).digest("hex").slice(0, 12);
  return join(tmpdir(), `lambic-${hash}`, "data");
}

async function defaultDataDir(project: string): Promise<string> {
  const dataDir = dataDirPath(project);
  if (dataDir.startsWith(project)) return dataDir;
  await mkdir(dirname(dataDir), { recursive: true });
  await chmod(dirname(dataDir), 0o755); // the postgres OS user must be able to enter it
  return dataDir;
}

async function choosePort(project: string, from?: number): Promise<number> {
  const hash = createHash("sha256").update(project).digest().readUInt32BE(0);
  const first = from ?? PORT_BASE + (hash % PORT_SPREAD);
  for (let port = first; port < first + PORTS_TRIED; port++) {
    if (await isPortFree(port)) return port;
  }
  throw new LambicError(
    "CONNECTION_FAILED",
    `No free port for the embedded PostgreSQL: ports ${first}-${first + PORTS_TRIED - 1} on 127.0.0.1 are all taken by other processes (other servers?). ` +
      `Free one of them (lambic embedded stop, in another project, stops its server), or set a database URL.`,
    { ports: [first, first + PORTS_TRIED - 1] },
  );
}

async function createDatabaseIfMissing(adminUrl: string): Promise<void> {
  const connection = await openConnection(adminUrl, { driver: "postgres", applicationName: "lambic-embedded" });
  try {
    const rows = await connection.query("select 1 from pg_database where datname = $1", [DATABASE]);
    if (rows.length === 0) await connection.query(`CREATE DATABASE ${quoteIdentifier(DATABASE)}`);
  } catch (error) {
    // Two commands racing to create it: the loser sees 42P04 (duplicate_database), which is fine.
    if ((error as { code?: string }).code !== "42P04") throw error;
  } finally {
    await connection.close();
  }
}

const IN_PROJECT_DATA = join(".lambic", "postgres", "data");

/**
 * The project's embedded.json, for the folder the project is in now. The file travels with the
 * folder when it is moved or copied, naming the data folder of the path it was written at:
 * - data inside the project (not root) travelled too: use the copy here;
 * - data in the temp dir (root): a moved project keeps using it, but a copy, whose original still
 *   names it, gets its own server (undefined: create one) instead of sharing the original's.
 */
async function projectState(project: string): Promise<EmbeddedState | undefined> {
  const state = await readState(join(project, ".lambic"));
  if (!state) return undefined;
  const origin = state.project ?? (state.dataDir.endsWith(`/${IN_PROJECT_DATA}`) ? state.dataDir.slice(0, -IN_PROJECT_DATA.length - 1) : undefined);
  if (origin === undefined || origin === project) return state;
  if (state.dataDir === join(origin, IN_PROJECT_DATA)) return { ...state, dataDir: join(project, IN_PROJECT_DATA), project };
  const original = await readState(join(origin, ".lambic"));
  return original?.dataDir === state.dataDir ? undefined : { ...state, project };
}

async function readState(lambicDir: string): Promise<EmbeddedState | undefined> {
  return (await readStateFile(lambicDir)).state;
}

/** embedded.json's state, or what is wrong with it (`problem`, said after the file's name); neither when there is none. */
async function readStateFile(lambicDir: string): Promise<{ state?: EmbeddedState; problem?: string }> {
  let text: string;
  try {
    text = await readFile(join(lambicDir, "embedded.json"), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? {} : { problem: `cannot be read (${code ?? (error as Error).message})` };
  }
  let state: Partial<EmbeddedState> | null;
  try {
    state = JSON.parse(text) as Partial<EmbeddedState> | null;
  } catch (error) {
    return { problem: `is not valid JSON (${(error as Error).message})` };
  }
  if (typeof state?.dataDir === "string" && Number.isInteger(state.port) && typeof state.password === "string") return { state: state as EmbeddedState };
  return { problem: `lacks a string "dataDir", a whole number "port" or a string "password"` };
}

/**
 * Written aside and renamed over: a command killed while writing (each command writes it) would
 * otherwise leave a truncated file, and the password with it lost.
 */
async function writeState(lambicDir: string, state: EmbeddedState): Promise<void> {
  const file = join(lambicDir, "embedded.json");
  const aside = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(aside, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
    await rename(aside, file);
  } catch (error) {
    await rm(aside, { force: true });
    throw error;
  }
}

function escapePgpass(value: string): string {
  return value.replace(/[\\:]/g, "\\$&");
}

function shellQuote(value: string): string {
  return /^[\w./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
