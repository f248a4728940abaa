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
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CLUSTER_USER,
  clusterUrl,
  initCluster,
  isInitialised,
  isPortFree,
  randomPassword,
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
}

interface EmbeddedState {
  dataDir: string;
  port: number;
  password: string;
}

const DATABASE = "lambic";
/** Ports are picked from here on, at an offset from a hash of the project path, so projects rarely collide. */
const PORT_BASE = 54_320;
const PORT_SPREAD = 1_000;

export async function ensureEmbeddedPostgres(projectDir: string): Promise<EmbeddedPostgres> {
  const project = resolve(projectDir);
  const lambicDir = join(project, ".lambic");
  await mkdir(lambicDir, { recursive: true });
  let state = await readState(lambicDir);

  if (!state || !(await isInitialised(state.dataDir))) {
    const dataDir = await defaultDataDir(project);
    state = { dataDir, port: await choosePort(project), password: randomPassword() };
    if (!(await isInitialised(dataDir))) await initCluster({ dataDir, port: state.port, password: state.password });
    await writeState(lambicDir, state);
  }

  let started = false;
  const running = await runningServer(state.dataDir);
  if (running) {
    state.port = running.port;
  } else {
    if (!(await isPortFree(state.port))) state.port = await choosePort(project, state.port + 1);
    try {
      await startCluster(state);
      started = true;
    } catch (error) {
      // Another lambic command may have started it in the meantime.
      const now = await runningServer(state.dataDir);
      if (!now) throw error;
      state.port = now.port;
    }
  }
  await writeState(lambicDir, state);
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
  };
}

function psqlCommand(lambicDir: string, port: number): string {
  return `PGPASSFILE=${shellQuote(join(lambicDir, "pgpass"))} psql -h 127.0.0.1 -p ${port} -U ${CLUSTER_USER} ${DATABASE}`;
}

/** Where the project's embedded PostgreSQL is, and whether it runs (nothing is started). */
export async function embeddedStatus(projectDir: string): Promise<{ exists: boolean; running: boolean; port?: number; dataDir?: string; psql?: string }> {
  const lambicDir = join(resolve(projectDir), ".lambic");
  const state = await readState(lambicDir);
  if (!state || !(await isInitialised(state.dataDir))) return { exists: false, running: false };
  const running = await runningServer(state.dataDir);
  const port = running?.port ?? state.port;
  return { exists: true, running: running !== undefined, port, dataDir: state.dataDir, psql: psqlCommand(lambicDir, port) };
}

/** Stops the project's embedded PostgreSQL (its data stays). Resolves false when it was not running. */
export async function stopEmbedded(projectDir: string): Promise<boolean> {
  const state = await readState(join(resolve(projectDir), ".lambic"));
  if (!state) return false;
  return stopCluster(state.dataDir);
}

async function defaultDataDir(project: string): Promise<string> {
  if (process.getuid?.() !== 0) return join(project, ".lambic", "postgres", "data");
  const hash = createHash("sha256").update(project).digest("hex").slice(0, 12);
  const root = join(tmpdir(), `lambic-${hash}`);
  await mkdir(root, { recursive: true });
  await chmod(root, 0o755); // the postgres OS user must be able to enter it
  return join(root, "data");
}

async function choosePort(project: string, from?: number): Promise<number> {
  const hash = createHash("sha256").update(project).digest().readUInt32BE(0);
  const first = from ?? PORT_BASE + (hash % PORT_SPREAD);
  for (let port = first; port < first + 50; port++) {
    if (await isPortFree(port)) return port;
  }
  throw new Error(`no free port for the embedded PostgreSQL in ${first}-${first + 49}`);
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

async function readState(lambicDir: string): Promise<EmbeddedState | undefined> {
  try {
    const state = JSON.parse(await readFile(join(lambicDir, "embedded.json"), "utf8")) as Partial<EmbeddedState>;
    if (typeof state.dataDir === "string" && typeof state.port === "number" && typeof state.password === "string") {
      return state as EmbeddedState;
    }
  } catch {
    // missing or unreadable: start afresh
  }
  return undefined;
}

async function writeState(lambicDir: string, state: EmbeddedState): Promise<void> {
  await writeFile(join(lambicDir, "embedded.json"), JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
}

function escapePgpass(value: string): string {
  return value.replace(/[\\:]/g, "\\$&");
}

function shellQuote(value: string): string {
  return /^[\w./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
