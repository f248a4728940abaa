/**
 * TLS as a libpq URL asks for it (sslmode, sslrootcert, sslcert, sslkey), against a cluster of
 * this file's own with ssl on: its certificate (test/fixtures/tls, signed by ca.crt) names
 * "localhost" only, so 127.0.0.1 passes verify-ca and fails verify-full. The role "tls_only" may
 * connect over TLS only, the role "plain_only" without TLS only.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, openConnection } from "../../../src/db/connection.ts";
import { clusterUrl, freePort, initCluster, randomPassword, startCluster, stopCluster } from "../../../src/db/cluster.ts";
import { isLambicError } from "../../../src/errors.ts";
import { createTestDatabase, type TestDatabase } from "../../support/database.ts";
import { tempDir } from "../../support/temp-dir.ts";
import { neonTestOptions, startWsProxy } from "../../support/ws-proxy.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/tls");
const fixture = (name: string) => join(FIXTURES, name);

let root: string;
let dataDir: string;
/** Where the cluster's Unix socket is (writable by the server's OS user). */
let socketDir: string;
let port: number;
let password: string;
let plainServer: TestDatabase;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "lambic-tls-"));
  await chmod(root, 0o755);
  dataDir = join(root, "data");
  password = randomPassword();
  port = await freePort();
  const [certificate, privateKey, clientCa] = await Promise.all(["server.crt", "server.key", "ca.crt"].map((name) => readFile(fixture(name), "utf8")));
  socketDir = join(root, "socket");
  await mkdir(socketDir);
  await chmod(socketDir, 0o777);
  await initCluster({
    dataDir,
    port,
    password,
    settings: { fsync: "off", synchronous_commit: "off", unix_socket_directories: `'${socketDir}'` },
    tls: { certificate, privateKey: privateKey!, clientCa },
    hba: ["hostnossl all tls_only all reject", "hostssl all plain_only all reject"],
  });
  await startCluster({ dataDir, port });
  const admin = await openConnection(clusterUrl(port, password, "postgres"), { connectTimeoutSeconds: 10 });
  try {
    await admin.query(`CREATE ROLE tls_only LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE ROLE plain_only LOGIN PASSWORD '${password}'`);
  } finally {
    await admin.close();
  }
  plainServer = await createTestDatabase("tls_plain");
}, 120_000);

afterAll(async () => {
  await plainServer?.drop();
  if (dataDir) await stopCluster(dataDir).catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
});

function url(parameters: string, host = "127.0.0.1", user = "postgres"): string {
  return `postgres://${user}:${encodeURIComponent(password)}@${host}:${port}/postgres${parameters ? `?${parameters}` : ""}`;
}

/** Whether this session runs over TLS, and the client certificate's name the server saw. */
async function tlsOf(target: string): Promise<{ ssl: boolean; client: string | null }> {
  const connection: Connection = await openConnection(target, { connectTimeoutSeconds: 10 });
  try {
    const [row] = await connection.query<{ ssl: boolean; client: string | null }>("SELECT ssl, client_dn AS client FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return row!;
  } finally {
    await connection.close();
  }
}

async function refusal(target: string): Promise<Error> {
  const error = await openConnection(target, { connectTimeoutSeconds: 10 }).then(
    async (connection) => {
      await connection.close();
      return undefined;
    },
    (error: unknown) => error,
  );
  expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
  expect((error as Error).message).not.toContain(password);
  return error as Error;
}

describe("TLS", () => {
  it("uses TLS when the server offers it and the URL has no sslmode (libpq's prefer)", async () => {
    expect(await tlsOf(url(""))).toEqual({ ssl: true, client: null });
  });

  it("connects without TLS to a server that does not offer it when the URL has no sslmode", async () => {
    const connection = await openConnection(plainServer.url, { connectTimeoutSeconds: 10 });
    try {
      expect(await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).toEqual([{ ssl: false }]);
    } finally {
      await connection.close();
    }
  });

  it("connects without TLS with sslmode=disable", async () => {
    expect((await tlsOf(url("sslmode=disable"))).ssl).toBe(false);
  });

  it("encrypts without checking the certificate with sslmode=require", async () => {
    expect((await tlsOf(url("sslmode=require"))).ssl).toBe(true);
  });

  it("connects over a Unix socket without TLS whatever the sslmode, as libpq does (it ignores sslmode there)", async () => {
    for (const mode of ["require", "verify-full", "prefer"]) {
      expect((await tlsOf(`postgres://postgres:${encodeURIComponent(password)}@/postgres?host=${socketDir}&port=${port}&sslmode=${mode}`)).ssl).toBe(false);
    }
  });

  it("checks the certificate and the host name with sslmode=verify-full and sslrootcert", async () => {
    expect((await tlsOf(url(`sslmode=verify-full&sslrootcert=${fixture("ca.crt")}`, "localhost"))).ssl).toBe(true);
  });

  it("checks who signed the certificate but not the host name with sslmode=verify-ca", async () => {
    expect((await tlsOf(url(`sslmode=verify-ca&sslrootcert=${fixture("ca.crt")}`))).ssl).toBe(true);
  });

  it("checks the chain when sslmode=require comes with sslrootcert, as libpq does", async () => {
    const error = await refusal(url(`sslmode=require&sslrootcert=${fixture("other-ca.crt")}`));
    expect(error.message).toMatch(/certificate failed verification \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE):/);
  });

  it("refuses a certificate that does not name the host under verify-full, pointing at verify-ca", async () => {
    const error = await refusal(url(`sslmode=verify-full&sslrootcert=${fixture("ca.crt")}`));
    expect(error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID.*does not name the host "127\.0\.0\.1".*sslmode=verify-ca/s);
  });

  it("refuses a certificate no trusted authority signed, pointing at sslrootcert", async () => {
    const error = await refusal(url("sslmode=verify-full", "localhost"));
    expect(error.message).toMatch(/failed verification \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE).*sslrootcert=FILE/s);
    const other = await refusal(url(`sslmode=verify-full&sslrootcert=${fixture("other-ca.crt")}`, "localhost"));
    expect(other.message).toMatch(/failed verification /);
  });

  it("connects the built command line over TLS, whose bundle loads Node's TLS only when a connection asks for it", () => {
    const repo = resolve(import.meta.dirname, "../../..");
    const cli = join(repo, "dist/cli.cjs");
    if (!existsSync(cli)) execFileSync(process.execPath, ["build.mjs", "--cli"], { cwd: repo });
    const project = tempDir("lambic-tls-cli-");
    cpSync(join(repo, "revisions/main"), join(project, "revisions/main"), { recursive: true });
    const result = spawnSync(process.execPath, [cli, "--json", "current"], {
      cwd: project,
      encoding: "utf8",
      // tls_only may connect over TLS only.
      env: { ...process.env, DATABASE_URL: url(`sslmode=verify-ca&sslrootcert=${fixture("ca.crt")}`, "127.0.0.1", "tls_only") },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ versions: [], heads: [] });
  });

  it("sends the client certificate of sslcert and sslkey", async () => {
    const seen = await tlsOf(url(`sslmode=require&sslcert=${fixture("client.crt")}&sslkey=${fixture("client.key")}`));
    expect(seen.ssl).toBe(true);
    expect(seen.client).toContain("lambic-client");
  });

  it("names an sslrootcert file that does not exist, before connecting", async () => {
    const error = await refusal(url("sslmode=verify-full&sslrootcert=/no/such/ca.pem", "localhost"));
    expect(error.message).toMatch(/sslrootcert=\/no\/such\/ca\.pem names a file that does not exist/);
  });

  it("names an sslrootcert file that holds no certificate", async () => {
    const error = await refusal(url(`sslmode=verify-full&sslrootcert=${fixture("client.key")}`, "localhost"));
    expect(error.message).toMatch(/client\.key does not hold a PEM certificate/);
  });

  it("says the server does not accept TLS when sslmode=require meets a server without it", async () => {
    const plain = new URL(plainServer.url);
    plain.search = "?sslmode=require";
    const error = await refusal(plain.toString());
    expect(error.message).toMatch(/does not accept TLS connections.*sslmode=require asks for TLS.*lower the URL's sslmode to prefer/s);
  });

  it("says a server that takes only encrypted connections refused a plain one, pointing at sslmode=require", async () => {
    const error = await refusal(url("sslmode=disable", "127.0.0.1", "tls_only"));
    expect(error.message).toMatch(/refused a connection without TLS \(28000: .*no encryption\).*Use sslmode=require/s);
    expect((await tlsOf(url("", "127.0.0.1", "tls_only"))).ssl).toBe(true);
  });

  it("says, through Neon's driver, that sslmode does not apply to the server refusing a plain connection, and what does", async () => {
    const proxy = await startWsProxy();
    try {
      const error = await openConnection(url("sslmode=require", "127.0.0.1", "tls_only"), { ...neonTestOptions(proxy.port), connectTimeoutSeconds: 10 }).then(
        async (connection) => void (await connection.close()),
        (error: unknown) => error,
      );
      expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toMatch(/refused a connection without TLS \(28000: .*no encryption\)\. Neon's driver sends PostgreSQL's protocol unencrypted inside its WebSocket/s);
      expect(message).not.toContain("Use sslmode=require");
      expect(message).not.toContain(password);
    } finally {
      await proxy.close();
    }
  });

  it("connects without TLS when the server turns the client away over TLS and the URL has no sslmode, as libpq's prefer does", async () => {
    expect(await tlsOf(url("", "127.0.0.1", "plain_only"))).toEqual({ ssl: false, client: null });
  });

  it("says the server turned the client away over TLS when sslmode=require, pointing at pg_hba.conf and prefer", async () => {
    const error = await refusal(url("sslmode=require", "127.0.0.1", "plain_only"));
    expect(error.message).toMatch(/refused this client over TLS \(28000: .*SSL encryption\)\. Its pg_hba\.conf has no hostssl line.*sslmode=require to prefer/s);
  });

  it("tries a plain connection first with sslmode=allow, and TLS when the server turns that away, as libpq does", async () => {
    expect((await tlsOf(url("sslmode=allow"))).ssl).toBe(false);
    expect((await tlsOf(url("sslmode=allow", "127.0.0.1", "tls_only"))).ssl).toBe(true);
  });
});
