/**
 * Revision bundles: reproducible, self-contained, and round-tripped through a real S3 server
 * with the sha256 checked on the way back.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle, readBuiltBundle } from "../../src/bundle/build-bundles.ts";
import { importBundle } from "../../src/bundle/import-bundle.ts";
import { bundlePrefix, createS3Client, downloadBundle, getObject, pointerKey, publishBundle, readPointer, s3SettingsFromEnv, sqlKey } from "../../src/bundle/s3-bundles.ts";
import { loadConfig, resolveDatabase } from "../../src/config.ts";
import { ROOT } from "./support/build.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

let work: string;
let s3: TestS3;

beforeAll(async () => {
  [work, s3] = await Promise.all([mkdtemp(join(tmpdir(), "lambic-bundles-")), startS3()]);
});
afterAll(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const mainDatabase = () => resolveDatabase(loadConfig({ cwd: ROOT, env: {} }), "main");

describe("buildBundle", () => {
  it("is reproducible: the same sources give the same sha256, wherever the project is", async () => {
    const first = await buildBundle(mainDatabase(), { projectDir: ROOT, outDir: join(work, "a"), now: new Date(0) });
    const second = await buildBundle(mainDatabase(), { projectDir: ROOT, outDir: join(work, "b") });
    expect(second.sha256).toBe(first.sha256);
    // A copy of the revisions folder somewhere else, with new mtimes.
    const copy = join(work, "elsewhere/revisions/main");
    cpSync(join(ROOT, "revisions/main"), copy, { recursive: true });
    const moved = await buildBundle({ ...mainDatabase(), revisions: copy }, { projectDir: join(work, "elsewhere"), outDir: join(work, "c") });
    expect(moved.sha256).toBe(first.sha256);
    expect(readFileSync(join(work, "c/main/revisions.mjs"))).toEqual(readFileSync(join(work, "a/main/revisions.mjs")));
  });

  it("writes the manifest and a module that imports nothing (not the engine)", async () => {
    const built = await buildBundle(mainDatabase(), { projectDir: ROOT, outDir: join(work, "d") });
    const { manifest, code } = readBuiltBundle(built.dir);
    expect(manifest).toMatchObject({ formatVersion: 1, database: "main", sha256: built.sha256, heads: ["8a5d0e6f7c97"], settings: { versionTable: "lambic_version" } });
    expect(manifest.builtAt).toMatch(/^\d{4}-/);
    expect(manifest.gitCommit === null || /^[0-9a-f]{40}$/.test(manifest.gitCommit)).toBe(true);
    expect(manifest.revisions.find((r) => r.id === "6e3b8c4d5a75")).toMatchObject({ parents: ["3b9e5f1a2d42"], transactional: false, downgrade: true, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest.revisions.find((r) => r.id === "4c1f6a2b3e53")).toMatchObject({ branchLabels: ["billing"], file: "2026_01_12_0930_4c1f6a2b3e53_billing_invoice.sql" });
    const text = code.toString("utf8");
    expect(text).not.toMatch(/^\s*import\s/m);
    expect(text).not.toMatch(/\bimport\(/);
    expect(text).not.toContain("/work/");

    const opened = await importBundle(code, built.sha256, "main", join(work, "cache"));
    expect(opened.set.map.heads).toEqual(["8a5d0e6f7c97"]);
    expect(opened.set.revisions.size).toBe(8);
    expect(opened.set.bundleSha256).toBe(built.sha256);
    await expect(importBundle(code, built.sha256, "billing", join(work, "cache"))).rejects.toMatchObject({ code: "BUNDLE_DATABASE_MISMATCH" });
  });

  it("bundles a CommonJS package a revision imports, whose require() of a Node built-in then works in the Lambda", async () => {
    const project = join(work, "cjs-package");
    const dir = join(project, "revisions/main");
    const pkg = join(project, "node_modules/needs-builtin");
    mkdirSync(dir, { recursive: true });
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), `{"name":"needs-builtin","version":"1.0.0","main":"index.js"}\n`);
    writeFileSync(join(pkg, "index.js"), `const os = require("os");\nmodule.exports = function eol() { return JSON.stringify(os.EOL); };\n`);
    writeFileSync(
      join(dir, "01_a.ts"),
      `import eol from "needs-builtin";\nexport default { id: "a1", revises: null, async upgrade(op: any) { op.execute("SELECT " + eol()); } };\n`,
    );
    const built = await buildBundle({ ...mainDatabase(), revisions: dir }, { projectDir: project, outDir: join(project, "dist") });
    // Imported by plain Node (vitest's loader would lend the module a require()), from a folder
    // without node_modules above it, as the Lambda imports it from /tmp.
    const lambdaTmp = join(work, "cjs-package-tmp");
    mkdirSync(lambdaTmp);
    const file = join(lambdaTmp, `${built.sha256}.mjs`);
    writeFileSync(file, readBuiltBundle(built.dir).code);
    const script = `const { revisions } = await import(${JSON.stringify(pathToFileURL(file).href)});
const executed = [];
await revisions[0].revision.upgrade({ execute: (sql) => executed.push(sql) }, {});
console.log(JSON.stringify(executed));`;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: lambdaTmp, encoding: "utf8" });
    expect(JSON.parse(output)).toEqual(['SELECT "\\n"']);
  });

  it("gives a revision __dirname and __filename in the Lambda, the bundle's, as the CLI's cache does", async () => {
    const project = join(work, "dirname");
    const dir = join(project, "revisions/main");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "01_a.ts"), `const folder = __dirname;\nexport default { id: "a1", revises: null, async upgrade(op: any) { op.execute(folder); op.execute(__filename); } };\n`);
    const built = await buildBundle({ ...mainDatabase(), revisions: dir }, { projectDir: project, outDir: join(project, "dist") });
    const lambdaTmp = join(work, "dirname-tmp");
    mkdirSync(lambdaTmp);
    const file = join(lambdaTmp, `${built.sha256}.mjs`);
    writeFileSync(file, readBuiltBundle(built.dir).code);
    const script = `const { revisions } = await import(${JSON.stringify(pathToFileURL(file).href)});
const executed = [];
await revisions[0].revision.upgrade({ execute: (sql) => executed.push(sql) }, {});
console.log(JSON.stringify(executed));`;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: lambdaTmp, encoding: "utf8" });
    expect(JSON.parse(output)).toEqual([lambdaTmp, file]);
  });

  it("names the revision, or the file it imports, whose top-level code throws when the Lambda imports the bundle", async () => {
    const project = join(work, "throws-at-import");
    const dir = join(project, "revisions/main");
    mkdirSync(join(project, "revisions/helpers"), { recursive: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(project, "revisions/helpers/bucket.ts"), `export const bucket = () => process.env.LAMBIC_TEST_BUCKET ?? "";\nif (process.env.LAMBIC_TEST_HELPER_THROWS) throw new Error("helper refused");\n`);
    writeFileSync(join(dir, "01_a.ts"), `export default { id: "a1", revises: null, async upgrade(op: any) { op.execute("SELECT 1"); } };\n`);
    writeFileSync(
      join(dir, "02_b.ts"),
      `import { bucket } from "../helpers/bucket.ts";\nif (!bucket()) throw new Error("LAMBIC_TEST_BUCKET is not set");\nexport default { id: "b2", revises: "a1", async upgrade(op: any) { op.execute(bucket()); } };\n`,
    );
    // Built where the variable is set (the CLI loads the revisions first), imported where it is not.
    process.env.LAMBIC_TEST_BUCKET = "seeds";
    const built = await buildBundle({ ...mainDatabase(), revisions: dir }, { projectDir: project, outDir: join(project, "dist") }).finally(() => delete process.env.LAMBIC_TEST_BUCKET);
    const { code } = readBuiltBundle(built.dir);
    await expect(importBundle(code, built.sha256, "main", join(work, "throws-cache"))).rejects.toMatchObject({
      code: "REVISION_FILE_INVALID",
      message: `Importing bundle ${built.sha256} failed: LAMBIC_TEST_BUCKET is not set. Revision file 02_b.ts threw while its module loaded; fix it, build and publish again.`,
      details: { sha256: built.sha256, file: "02_b.ts" },
    });
    process.env.LAMBIC_TEST_HELPER_THROWS = "1";
    await expect(importBundle(code, built.sha256, "main", join(work, "throws-cache-2"))).rejects.toMatchObject({
      message: `Importing bundle ${built.sha256} failed: helper refused. File ../helpers/bucket.ts, which a revision imports, threw while its module loaded; fix it, build and publish again.`,
      details: { file: "../helpers/bucket.ts" },
    }).finally(() => delete process.env.LAMBIC_TEST_HELPER_THROWS);
  });

  it("refuses a revision that imports lambic at run time", async () => {
    const dir = join(work, "engine-import/revisions/main");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "01_a.ts"), `import { LambicError } from "lambic";\nexport default { id: "a1", revises: null, async upgrade() { throw new LambicError("USAGE", "x"); } };\n`);
    // Outside a project that installs lambic the loader already fails to import it; inside
    // one, the bundler's own check refuses it. Either way: coded, and nothing is written.
    await expect(buildBundle({ ...mainDatabase(), revisions: dir }, { projectDir: join(work, "engine-import"), outDir: join(work, "e") })).rejects.toMatchObject({
      code: "REVISION_FILE_INVALID",
      message: expect.stringMatching(/for types only|lambic/),
    });
  });
});

describe("S3", () => {
  it("says a 403 may be a denied read, not only a missing bundle", async () => {
    const denying = createServer((_req, res) => {
      res.writeHead(403, { "Content-Type": "application/xml" });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    await new Promise<void>((resolve) => denying.listen(0, "127.0.0.1", resolve));
    const client = await createS3Client({ region: "us-east-1", endpoint: `http://127.0.0.1:${(denying.address() as AddressInfo).port}`, forcePathStyle: true });
    try {
      const error = await getObject(client, "bucket", "lambic/main/current.json").then(() => undefined, (e: unknown) => e as { code?: string; message?: string });
      expect(error).toMatchObject({ code: "BUNDLE_NOT_FOUND" });
      expect(error!.message).toContain("check the function's s3:GetObject on it (and kms:Decrypt on its key)");
    } finally {
      client.destroy();
      denying.close();
    }
  });

  it("takes the region from the AWS profile when AWS_REGION is not set, as the aws CLI does", async () => {
    const config = join(work, "aws-config");
    writeFileSync(config, "[profile lambic-test]\nregion = eu-west-1\n");
    const saved = { ...process.env };
    for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION"]) delete process.env[name];
    Object.assign(process.env, { AWS_PROFILE: "lambic-test", AWS_CONFIG_FILE: config });
    try {
      const client = await createS3Client(s3SettingsFromEnv({}));
      expect(await client.config.region()).toBe("eu-west-1");
      client.destroy();
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });

  it("reads a blank prefix (a CI variable left empty) as the default, as the function does", () => {
    expect([undefined, "", "/", "//"].map(bundlePrefix)).toEqual(["lambic", "lambic", "lambic", "lambic"]);
    expect(bundlePrefix("/team/lambic/")).toBe("team/lambic");
  });

  it("needs the s3rver settings by configuration only", () => {
    expect(s3SettingsFromEnv({})).toEqual({ region: undefined, endpoint: undefined, forcePathStyle: false, checksums: undefined, requestHandler: { connectionTimeout: 3000, requestTimeout: 10000, throwOnRequestTimeout: true } });
    expect(s3SettingsFromEnv({ LAMBIC_AWS_REQUEST_TIMEOUT_MS: "2500" }).requestHandler).toMatchObject({ requestTimeout: 2500 });
    expect(() => s3SettingsFromEnv({ LAMBIC_AWS_REQUEST_TIMEOUT_MS: "soon" })).toThrow(/LAMBIC_AWS_REQUEST_TIMEOUT_MS/);
    expect(s3SettingsFromEnv(s3.env)).toMatchObject({ endpoint: s3.endpoint, forcePathStyle: true, checksums: "WHEN_REQUIRED" });
    expect(() => s3SettingsFromEnv({ LAMBIC_S3_CHECKSUMS: "NEVER" })).toThrow(/LAMBIC_S3_CHECKSUMS/);
  });

  it("publishes, follows the pointer and downloads byte-identical, verified content", async () => {
    const built = await buildBundle(mainDatabase(), { projectDir: ROOT, outDir: join(work, "f") });
    const location = { bucket: s3.bucket, prefix: "team/lambic", database: "main" };
    const published = await publishBundle(s3.client, { bucket: s3.bucket, prefix: "team/lambic" }, readBuiltBundle(built.dir));
    expect(published).toMatchObject({ sha256: built.sha256, key: `team/lambic/main/${built.sha256}/revisions.mjs`, pointerKey: pointerKey(location), uploaded: true, previous: null });
    expect((await readPointer(s3.client, location)).sha256).toBe(built.sha256);
    const bytes = await downloadBundle(s3.client, location, built.sha256);
    expect(Buffer.from(bytes)).toEqual(readBuiltBundle(built.dir).code);
    await expect(downloadBundle(s3.client, { ...location, database: "other" }, built.sha256)).rejects.toMatchObject({ code: "BUNDLE_NOT_FOUND" });
  });

  it("publishing again writes the manifest when only the module is in S3", async () => {
    const built = await buildBundle(mainDatabase(), { projectDir: ROOT, outDir: join(work, "m") });
    const at = { bucket: s3.bucket, prefix: "half-published" };
    const first = await publishBundle(s3.client, at, readBuiltBundle(built.dir));
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: first.manifestKey }));
    const again = await publishBundle(s3.client, at, readBuiltBundle(built.dir));
    expect(again).toMatchObject({ uploaded: false, manifestKey: first.manifestKey });
    const manifest = JSON.parse(Buffer.from(await getObject(s3.client, s3.bucket, again.manifestKey)).toString("utf8"));
    expect(manifest).toMatchObject({ sha256: built.sha256, database: "main" });
  });

  it("a read S3 refuses for bad credentials is AWS_FAILED quoting S3's own sentence with one full stop", async () => {
    const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "NOT-A-KEY", secretAccessKey: "nope" } });
    try {
      const error = await getObject(client, s3.bucket, "lambic/main/current.json").catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "AWS_FAILED", details: { awsError: "InvalidAccessKeyId" } });
      expect((error as Error).message).toMatch(/does not exist in our records\. Check /);
    } finally {
      client.destroy();
    }
  });

  it("a publish S3 refuses says what the publisher needs, not the function's permissions", async () => {
    const built = await buildBundle(mainDatabase(), { projectDir: ROOT, outDir: join(work, "p") });
    const error = await publishBundle(s3.client, { bucket: "no-such-bucket", prefix: "lambic" }, readBuiltBundle(built.dir)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "AWS_FAILED", details: { awsError: "NoSuchBucket" } });
    expect((error as Error).message).toContain("may s3:GetObject and s3:PutObject on s3://no-such-bucket/lambic/main/*.");
    expect((error as Error).message).not.toContain("function's permissions");
  });

  it("names SQL scripts <prefix>/<db>/sql/<from>__<to>__<request id>.sql", () => {
    const location = { bucket: "b", prefix: "lambic", database: "main" };
    expect(sqlKey(location, [], ["ae10"], "req-1")).toBe("lambic/main/sql/base__ae10__req-1.sql");
    expect(sqlKey(location, ["b2", "a1"], [], "r/2")).toBe("lambic/main/sql/a1+b2__base__r_2.sql");
  });
});
