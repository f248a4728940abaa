/**
 * One PostgreSQL cluster for the whole test run (each test file makes its own database in it,
 * see test/support/database.ts). With DATABASE_URL set, that server is used instead and
 * nothing is started.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { clusterUrl, freePort, initCluster, randomPassword, startCluster, stopCluster } from "../../src/db/cluster.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser URL to the `postgres` database of the test server. */
    adminDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.DATABASE_URL;
  if (external) {
    project.provide("adminDatabaseUrl", external);
    return;
  }
  const started = performance.now();
  // Under the OS temp dir: as root the server runs as the "postgres" OS user, which cannot
  // reach anything under /root.
  const root = await mkdtemp(join(tmpdir(), "lambic-test-"));
  await chmod(root, 0o755);
  const dataDir = join(root, "data");
  const password = randomPassword();
  const port = await freePort();
  await initCluster({
    dataDir,
    port,
    password,
    // Durability is worthless for a throwaway cluster; these make CREATE DATABASE ~20 ms.
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "200" },
  });
  await startCluster({ dataDir, port });
  if (process.env.LAMBIC_TEST_TIMINGS) {
    console.log(`[global-setup] PostgreSQL 17 on 127.0.0.1:${port} ready in ${Math.round(performance.now() - started)} ms (${dataDir})`);
  }
  project.provide("adminDatabaseUrl", clusterUrl(port, password, "postgres"));
  return async () => {
    await stopCluster(dataDir).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
}
