// Shared helpers: whole-process timing, medians, formatting, machine info.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
export const WORK_DIR = join(BENCH_DIR, ".work");

export const ALEMBIC = "/usr/bin/alembic";
export const PYTHON = "/usr/bin/python3";
export const INSTALL_ALEMBIC = "apt-get install -y alembic python3-psycopg2";

export function ensureDir(path) {
  mkdirSync(path, { recursive: true });
  return path;
}

/**
 * The environment for child processes. Python's PYTHONDONTWRITEBYTECODE (set on some CI images)
 * would stop Alembic from writing __pycache__, so every run would be a cold one; and
 * PYTHONUNBUFFERED slows its --sql output. NODE_EXTRA_CA_CERTS (set on some sandboxes and CI
 * images to the system's CA bundle) makes Node 20 read and parse every certificate in it before
 * running any code: about 90 ms per process on the bench machine, more than Node's whole bare
 * start-up, for connections that use no TLS here. None is a normal user's setting: all are
 * removed, and the bench prints what the last one costs (`extraCaCertsCost`).
 */
export function childEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.PYTHONDONTWRITEBYTECODE;
  delete env.PYTHONUNBUFFERED;
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * `node -e 0` with and without this shell's NODE_EXTRA_CA_CERTS (medians, seconds), or
 * undefined when it is not set: the start-up cost childEnv takes off every Node process.
 */
export function extraCaCertsCost(runs = 9) {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  const bare = childEnv();
  const withCerts = { ...bare, NODE_EXTRA_CA_CERTS: file };
  const samples = interleaved(
    {
      without: () => timeProcess(process.execPath, ["-e", "0"], { env: bare }).seconds,
      with: () => timeProcess(process.execPath, ["-e", "0"], { env: withCerts }).seconds,
    },
    { runs, warmup: true },
  );
  return { file, ...samples };
}

/** Runs a command to completion and returns its wall time in seconds (whole process: spawn to exit). */
export function timeProcess(command, args, { cwd, env, check = true, input } = {}) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, {
    cwd,
    env: env ?? childEnv(),
    input,
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    maxBuffer: 1 << 30,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (check && (result.status !== 0 || result.error)) {
    const stderr = result.stderr?.toString("utf8").trim().split("\n").slice(-15).join("\n");
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed with ${result.error ?? `exit code ${result.status}`}:\n${stderr}`);
  }
  return { seconds, stdout: result.stdout?.toString("utf8") ?? "", stderr: result.stderr?.toString("utf8") ?? "", status: result.status };
}

/** Runs `fn` (which returns seconds) `runs` times, after `warmup` untimed calls; returns the median and all samples. */
export function measure(fn, { runs = 5, warmup = 1, before } = {}) {
  for (let i = 0; i < warmup; i++) {
    before?.();
    fn();
  }
  const samples = [];
  for (let i = 0; i < runs; i++) {
    before?.();
    samples.push(fn());
  }
  return { median: median(samples), samples };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const secs = (value) => (value === undefined || value === null ? "—" : `${value.toFixed(3)} s`);
export const ms = (value) => (value === undefined || value === null ? "—" : `${value.toFixed(1)} ms`);
export const ratio = (value) => (value === undefined || value === null ? "—" : `${value.toFixed(value >= 10 ? 1 : 2)}×`);

export function alembicAvailable() {
  if (!existsSync(ALEMBIC)) return { ok: false, why: `${ALEMBIC} not found` };
  const probe = spawnSync(PYTHON, ["-c", "import alembic, sqlalchemy, psycopg2; print(alembic.__version__, sqlalchemy.__version__, psycopg2.__version__.split()[0])"], {
    env: childEnv(),
    encoding: "utf8",
  });
  if (probe.status !== 0) return { ok: false, why: (probe.stderr || probe.error?.message || "import failed").trim().split("\n").pop() };
  const [alembic, sqlalchemy, psycopg2] = probe.stdout.trim().split(" ");
  return { ok: true, alembic, sqlalchemy, psycopg2 };
}

export function skipAlembicMessage(why) {
  return `Alembic is not available (${why}): skipping the Alembic comparison. To reproduce it on Debian/Ubuntu: ${INSTALL_ALEMBIC}`;
}

export function machineInfo() {
  const nproc = spawnSync("nproc", { encoding: "utf8" }).stdout?.trim() || String(cpus().length);
  return {
    nproc,
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** A check line: "name: figures → ratio (target …) OK|MISSED". */
export function verdict(ok) {
  return ok === undefined ? "n/a" : ok ? "OK" : "MISSED";
}

/** Deterministic PRNG (mulberry32), so every machine benchmarks the same graphs. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function log(line = "") {
  process.stdout.write(`${line}\n`);
}

/** Runs each tool `runs` times, interleaved (tool A, tool B, A, B, ...) so that a change in the machine's load hits all alike, resetting the database before each run; optionally one untimed warm-up each. */
export function interleaved(tools, { runs, reset, verify, warmup = true }) {
  const samples = Object.fromEntries(Object.keys(tools).map((name) => [name, []]));
  if (warmup) {
    for (const run of Object.values(tools)) {
      reset?.();
      run();
    }
  }
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of Object.entries(tools)) {
      reset?.();
      samples[name].push(run());
      if (i === 0) verify?.();
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}
