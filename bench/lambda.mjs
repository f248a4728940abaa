#!/usr/bin/env node
// The Lambda handler's figures (issue 4): node bench/lambda.mjs [--runs N]
//   1. dist/lambda/handler.mjs size, minified and gzipped, with the AWS SDK bundled vs external;
//   2. cold import() of each vs bare `node -e 0` (separate processes, interleaved, median);
//   3. warm no-op invocations (`upgrade head` at head, bundle sha256 in the event) against a local
//      PostgreSQL 17 and s3rver: database round trips, S3 requests and handler ms.
// Builds into bench/.work/lambda with the same esbuild options as build.mjs (handler/esbuild-options.mjs).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir, cpus } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { handlerBuildOptions } from "../handler/esbuild-options.mjs";

const REPO = resolve(import.meta.dirname, "..");
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const WORK = join(REPO, "bench/.work/lambda");
const runsAt = process.argv.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 15;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kb = (bytes) => `${(bytes / 1024).toFixed(0)} KB`;
const log = (line = "") => process.stdout.write(`${line}\n`);

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
process.chdir(REPO);
log(`lambic Lambda bench: ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}, ${RUNS} runs per figure`);

// 1. Size.
const variants = {};
for (const sdk of ["bundled", "external"]) {
  const outfile = join(WORK, sdk, "handler.mjs");
  await build(handlerBuildOptions({ sdk, outfile }));
  const bytes = readFileSync(outfile);
  variants[sdk] = { outfile, size: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}
log();
log("handler.mjs size (minified / gzip -9):");
for (const [sdk, v] of Object.entries(variants)) log(`  AWS SDK ${sdk.padEnd(8)} ${kb(v.size).padStart(8)} / ${kb(v.gzip)}`);

// 2. Cold import, whole process, interleaved so load changes hit all three alike.
function wall(args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: REPO, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } });
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}
const importScript = (file) => ["--input-type=module", "-e", `await import(${JSON.stringify(pathToFileURL(file).href)})`];
const samples = { bare: [], bundled: [], external: [] };
for (let i = 0; i < RUNS + 1; i++) {
  const bare = wall(["-e", "0"]);
  const bundled = wall(importScript(variants.bundled.outfile));
  const external = wall(importScript(variants.external.outfile));
  if (i === 0) continue; // warm the file system cache
  samples.bare.push(bare);
  samples.bundled.push(bundled);
  samples.external.push(external);
}
const bare = median(samples.bare);
log();
log(`cold import() of handler.mjs, whole process, median of ${RUNS} (target: <= 100 ms over bare node):`);
log(`  bare node -e 0          ${bare.toFixed(0).padStart(5)} ms`);
for (const sdk of ["bundled", "external"]) {
  const value = median(samples[sdk]);
  log(`  SDK ${sdk.padEnd(8)} import()  ${value.toFixed(0).padStart(5)} ms  (+${(value - bare).toFixed(0)} ms over bare node) ${value - bare <= 100 ? "OK" : "over target"}`);
}

// 3. Warm no-op invocations, in this process, against real PostgreSQL and s3rver.
const lib = join(WORK, "lib");
await build({
  entryPoints: ["src/db/cluster.ts", "src/bundle/build-bundles.ts", "src/bundle/s3-bundles.ts"],
  outdir: lib,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
const cluster = await import(pathToFileURL(join(lib, "db/cluster.mjs")).href);
const bundles = await import(pathToFileURL(join(lib, "bundle/build-bundles.mjs")).href);
const s3lib = await import(pathToFileURL(join(lib, "bundle/s3-bundles.mjs")).href);
const { loadConfig } = await import(pathToFileURL(join(REPO, "dist/index.mjs")).href).catch(() => ({}));
if (!loadConfig) throw new Error("Run `node build.mjs` first (the bench reads the config through dist/index.mjs).");

const root = mkdtempSync(join(tmpdir(), "lambic-bench-lambda-"));
spawnSync("chmod", ["755", root]);
const dataDir = join(root, "data");
const password = cluster.randomPassword();
const port = await cluster.freePort();
await cluster.initCluster({ dataDir, port, password, settings: { fsync: "off", synchronous_commit: "off" } });
await cluster.startCluster({ dataDir, port });
const S3rver = (await import("s3rver")).default;
const s3server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: join(root, "s3"), configureBuckets: [{ name: "bench", configs: [] }] });
const { port: s3port } = await s3server.run();
try {
  const s3env = {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    LAMBIC_S3_ENDPOINT: `http://127.0.0.1:${s3port}`,
    LAMBIC_S3_FORCE_PATH_STYLE: "true",
    LAMBIC_S3_CHECKSUMS: "WHEN_REQUIRED",
  };
  Object.assign(process.env, s3env, {
    LAMBIC_BUCKET: "bench",
    LAMBIC_PREFIX: "lambic",
    LAMBIC_DATABASE: "main",
    LAMBIC_DATABASE_URL: cluster.clusterUrl(port, password, "postgres"),
    LAMBIC_CACHE_DIR: join(root, "cache"),
    POWERTOOLS_SERVICE_NAME: "lambic",
    POWERTOOLS_METRICS_NAMESPACE: "Lambic",
  });
  const config = loadConfig({ cwd: REPO, env: {} });
  const built = await bundles.buildBundle(config.databases.main, { projectDir: REPO, outDir: join(root, "bundles") });
  const client = await s3lib.createS3Client(s3lib.s3SettingsFromEnv(s3env));
  await s3lib.publishBundle(client, { bucket: "bench", prefix: "lambic" }, bundles.readBuiltBundle(built.dir));
  client.destroy();

  // Capture the handler's log lines (Powertools writes to stdout/stderr) to read its own figures.
  let captured = "";
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const { handler } = await import(pathToFileURL(variants.external.outfile).href);
  const invoke = async (event) => {
    captured = "";
    process.stdout.write = (chunk) => ((captured += chunk), true);
    process.stderr.write = (chunk) => ((captured += chunk), true);
    const started = performance.now();
    try {
      const context = { awsRequestId: `bench-${Math.random()}`, functionName: "lambic", getRemainingTimeInMillis: () => 60_000 };
      const result = await handler(event, context);
      return { result, ms: performance.now() - started, done: captured.split("\n").filter((l) => l.includes('"message":"done"')).map((l) => JSON.parse(l))[0] };
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
  };
  const first = await invoke({ command: "upgrade", target: "head", bundle: { sha256: built.sha256 } });
  const warm = [];
  for (let i = 0; i < RUNS; i++) warm.push(await invoke({ command: "upgrade", target: "head", bundle: { sha256: built.sha256 } }));
  const pointer = await invoke({ command: "upgrade", target: "head" });
  // The floor: connecting and the same two round trips, straight from postgres.js.
  const postgres = (await import("postgres")).default;
  const floor = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const sql = postgres(process.env.LAMBIC_DATABASE_URL, { max: 1, prepare: false, onnotice: () => {} });
    await sql.unsafe("select 1");
    await Promise.all([sql.unsafe("BEGIN"), sql.unsafe("SELECT version_num FROM lambic_version")]);
    await sql.unsafe("COMMIT");
    await sql.end();
    floor.push(performance.now() - started);
  }
  const warmMs = median(warm.map((w) => w.ms));
  const floorMs = median(floor);
  log();
  log(`invocations of the built handler (SDK external), local PostgreSQL 17 + s3rver, median of ${RUNS}:`);
  log(`  first (cold bundle: S3 GET, verify, import; ${first.result.steps.length} revisions applied)  ${first.ms.toFixed(1)} ms, S3 requests ${first.done.s3Requests}`);
  log(`  warm no-op, sha256 in the event      ${warmMs.toFixed(1)} ms; bundle from ${warm[0].done.bundleFrom}, S3 requests ${Math.max(...warm.map((w) => w.done.s3Requests))}, database round trips ${Math.max(...warm.map((w) => w.done.roundTrips))} (+ connect) (target <= 3)`);
  log(`  floor: connect + the same 2 round trips with postgres.js  ${floorMs.toFixed(1)} ms`);
  log(`  handler time besides the database    ${(warmMs - floorMs).toFixed(1)} ms (target <= 10)`);
  log(`  warm no-op, following current.json   ${pointer.ms.toFixed(1)} ms; S3 requests ${pointer.done.s3Requests} (the pointer GET), bundle from ${pointer.done.bundleFrom}`);
} finally {
  await s3server.close();
  await cluster.stopCluster(dataDir).catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
