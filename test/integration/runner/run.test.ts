import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openConnection, type Connection, type OpenOptions } from "../../../src/db/connection.ts";
import { LambicError } from "../../../src/errors.ts";
import type { Operations } from "../../../src/operations/index.ts";
import type { RevisionSet } from "../../../src/revision/revision-set.ts";
import type { MigrationFunction } from "../../../src/revision/types.ts";
import { sqlMigration } from "../../../src/revision/sql-revision.ts";
import { checkDatabase, dryRunMigration, readCurrent, repairChecksums, runMigration, type MigrationCommand, type RunOptions } from "../../../src/runner/run.ts";
import { createTestDatabase, type TestDatabase } from "../../support/database.ts";
import { inlineRevisionSet, tableHistory } from "../../support/revisions.ts";
import { schemaSnapshot } from "../../support/schema-snapshot.ts";
import { startCuttingProxy, startStallingProxy } from "../../support/latency-proxy.ts";
import { neonTestOptions, startWsProxy, type WsProxy } from "../../support/ws-proxy.ts";

let proxy: WsProxy;
beforeAll(async () => {
  proxy = await startWsProxy();
});
afterAll(async () => {
  await proxy?.close();
});

const baseOptions = (): RunOptions => ({ versionTable: "lambic_version", lockTimeoutMs: 5_000, statementTimeoutMs: 0, actor: "test", runId: randomUUID() });

async function failure(promise: Promise<unknown>): Promise<LambicError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LambicError) return error;
    throw error;
  }
  throw new Error("expected the run to fail");
}

describe.each(["postgres", "neon"] as const)("runner over the %s driver", (driver) => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  const connections: Connection[] = [];

  const options = (): OpenOptions => (driver === "neon" ? neonTestOptions(proxy.port) : { driver: "postgres" });
  async function connect(): Promise<Connection> {
    const connection = await openConnection(db.url, options());
    connections.push(connection);
    return connection;
  }
  async function run(set: RevisionSet, command: MigrationCommand, extra: Partial<RunOptions> = {}) {
    const connection = await connect();
    try {
      return await runMigration(connection, set, command, { ...baseOptions(), ...extra });
    } finally {
      await connection.close();
    }
  }
  const versions = async () => (await sql`SELECT version_num FROM lambic_version ORDER BY ctid`).map((r) => r.version_num as string);
  const tables = async () => (await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'lambic%' ORDER BY 1`).map((r) => r.tablename as string);
  /** Runs `attempt` while another session holds the run lock (or LOCK TABLE `table`) in an open transaction. */
  async function whileLocked<T>(lock: { runLock: true } | { table: string }, attempt: () => Promise<T>): Promise<T> {
    const holder = await sql.reserve();
    try {
      await holder`BEGIN`;
      if ("runLock" in lock) await holder`SELECT pg_advisory_xact_lock(hashtextextended('lambic:public.lambic_version', 0))`;
      else await holder.unsafe(`LOCK TABLE ${lock.table} IN ACCESS EXCLUSIVE MODE`);
      return await attempt();
    } finally {
      await holder`ROLLBACK`.catch(() => undefined);
      holder.release();
    }
  }

  beforeEach(async () => {
    db = await createTestDatabase(`runner_${driver}`);
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    return async () => {
      for (const c of connections.splice(0)) await c.close().catch(() => undefined);
      await sql.end({ timeout: 5 });
      await db.drop();
    };
  });

  it("upgrades to head in one run and records versions and history", async () => {
    const set = inlineRevisionSet(tableHistory(3));
    const result = await run(set, { kind: "upgrade", target: "head" });
    expect(result.from).toEqual([]);
    expect(result.to).toEqual(["r0003"]);
    expect(result.steps.map((s) => [s.revision, s.direction])).toEqual([["r0001", "up"], ["r0002", "up"], ["r0003", "up"]]);
    expect(result.steps.every((s) => s.ms >= 0)).toBe(true);
    expect(await tables()).toEqual(["t1", "t2", "t3"]);
    expect(await versions()).toEqual(["r0003"]);
    const history = await sql`SELECT revision, direction, checksum, actor FROM lambic_history ORDER BY id`;
    expect(history.map((h) => h.revision)).toEqual(["r0001", "r0002", "r0003"]);
    expect(history[0]!.checksum).toBe(set.revisions.get("r0001")!.source.checksum);
  });

  // Neon's socket copied all it had gathered at each statement's write (≈ 12 s for these; ≈ 1 s
  // since a pipeline hands it one write): a figure for the bench, not a timed assertion here.
  it("runs a revision of 60,000 statements in one pipeline, every one of them applied", async () => {
    const set = inlineRevisionSet([{ id: "r0001", revises: null, upgrade: (op) => { op.execute("CREATE TABLE t (id int)"); for (let i = 0; i < 60_000; i++) op.execute(`INSERT INTO t VALUES (${i})`); } }]);
    await run(set, { kind: "upgrade", target: "head" });
    expect(await sql`SELECT count(*)::int AS n FROM t`).toEqual([{ n: 60_000 }]);
  });

  it("reports each step as it completes, in order, with its duration", async () => {
    const seen: string[] = [];
    const result = await run(inlineRevisionSet(tableHistory(4)), { kind: "upgrade", target: "head" }, { onStep: (step) => seen.push(`${step.revision}:${step.direction}:${step.ms >= 0}`) });
    expect(seen).toEqual(["r0001:up:true", "r0002:up:true", "r0003:up:true", "r0004:up:true"]);
    expect(result.steps.map((s) => s.revision)).toEqual(["r0001", "r0002", "r0003", "r0004"]);
  });

  it.each([false, true])("reports each step's own duration as it completes, the first one too (perRevision %s)", async (perRevision) => {
    const seen: [string, number][] = [];
    const sleepy = tableHistory(3, () => ({ upgrade: (op) => op.execute("SELECT pg_sleep(0.1)") }));
    const result = await run(inlineRevisionSet(sleepy), { kind: "upgrade", target: "head" }, { perRevision, onStep: (step) => seen.push([step.revision, step.ms]) });
    expect(seen.map(([revision]) => revision)).toEqual(["r0001", "r0002", "r0003"]);
    // Times are the client's reading of when each reply came: on a busy machine a reply can be
    // read some milliseconds late, which moves the boundary between two steps by that much.
    for (const [, ms] of seen) expect(ms).toBeGreaterThanOrEqual(75);
    expect(result.steps.map((s) => s.ms)).toEqual(seen.map(([, ms]) => ms));
  });

  it("reports each step when it has run, while the later steps still run", async () => {
    const reportedAt: number[] = [];
    const sleepy = tableHistory(4, () => ({ upgrade: (op) => op.execute("SELECT pg_sleep(0.2)") }));
    const started = performance.now();
    await run(inlineRevisionSet(sleepy), { kind: "upgrade", target: "head" }, { onStep: () => reportedAt.push(performance.now() - started) });
    expect(reportedAt).toHaveLength(4);
    // One step's time apart (200 ms), not all at once when the last has run.
    for (let i = 1; i < reportedAt.length; i++) expect(reportedAt[i]! - reportedAt[i - 1]!).toBeGreaterThanOrEqual(150);
  });

  it("reports a step that reads data with ctx.query and writes nothing after, the read included in its time", async () => {
    const seen: [string, number][] = [];
    const history = tableHistory(3, (i) => (i === 1 ? { upgrade: async (_op, ctx) => void (await ctx.query("SELECT pg_sleep(0.1)")) } : {}));
    await run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }, { onStep: (step) => seen.push([step.revision, step.ms]) });
    expect(seen.map(([revision]) => revision)).toEqual(["r0001", "r0002", "r0003"]);
    expect(seen[1]![1]).toBeGreaterThanOrEqual(75);
  });

  it("downgrades one step with -1", async () => {
    const set = inlineRevisionSet(tableHistory(3));
    await run(set, { kind: "upgrade", target: "head" });
    const result = await run(set, { kind: "downgrade", target: "-1" });
    expect(result.steps.map((s) => s.revision)).toEqual(["r0003"]);
    expect(await tables()).toEqual(["t1", "t2"]);
    expect(await versions()).toEqual(["r0002"]);
  });

  it("refuses a downgrade through a revision without a downgrade before any step runs, a non-transactional one above it included", async () => {
    const history = tableHistory(3, (i) => (i === 1 ? { downgrade: null } : i === 2 ? { transactional: false } : {}));
    const set = inlineRevisionSet(history);
    await run(set, { kind: "upgrade", target: "head" });
    const error = await failure(run(set, { kind: "downgrade", target: "base" }));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toContain("The downgrade to base would undo revision r0002, which has no downgrade (inline/r0002.ts); nothing was run.");
    expect(error.message).toContain('downgrade to r0002, undo what it did by hand and "lambic stamp r0001"');
    expect(error.details).toMatchObject({ revision: "r0002", revisions: ["r0002"], target: "base" });
    expect(await tables()).toEqual(["t1", "t2", "t3"]);
    expect(await versions()).toEqual(["r0003"]);
  });

  it("refuses a perRevision downgrade through a revision without a downgrade before committing any step", async () => {
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 1 ? { downgrade: null } : {})));
    await run(set, { kind: "upgrade", target: "head" });
    const error = await failure(run(set, { kind: "downgrade", target: "r0001" }, { perRevision: true }));
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.details.revisions).toEqual(["r0002"]);
    expect(await tables()).toEqual(["t1", "t2", "t3"]);
    expect(await versions()).toEqual(["r0003"]);
    expect((await sql`SELECT count(*)::int AS n FROM lambic_history WHERE direction = 'down'`)[0]!.n).toBe(0);
  });

  it("says to undo by hand and stamp, without a downgrade to it first, when the revision without a downgrade is the first step", async () => {
    const set = inlineRevisionSet(tableHistory(2, (i) => (i === 1 ? { downgrade: null } : {})));
    await run(set, { kind: "upgrade", target: "head" });
    const error = await failure(run(set, { kind: "downgrade", target: "-1" }));
    expect(error.message).toContain('nothing was run. Add a downgrade function (one that does nothing when there is nothing to undo), or undo what it did by hand and "lambic stamp r0001" (the {"command": "stamp", "target": "r0001"} event).');
    expect(await versions()).toEqual(["r0002"]);
  });

  it("downgrades to just above a revision without a downgrade", async () => {
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 1 ? { downgrade: null } : {})));
    await run(set, { kind: "upgrade", target: "head" });
    await run(set, { kind: "downgrade", target: "r0002" });
    expect(await tables()).toEqual(["t1", "t2"]);
    expect(await versions()).toEqual(["r0002"]);
  });

  it("sends a whole upgrade in three round trips, whatever the number of revisions", async () => {
    const set = inlineRevisionSet(tableHistory(40));
    const connection = await connect();
    const before = connection.roundTrips;
    await runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions());
    expect(connection.roundTrips - before).toBe(3);
  });

  it("finds nothing to do at head in at most 3 round trips", async () => {
    const set = inlineRevisionSet(tableHistory(5));
    await run(set, { kind: "upgrade", target: "head" });
    const connection = await connect();
    const before = connection.roundTrips;
    const result = await runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions());
    expect(result.steps).toEqual([]);
    expect(connection.roundTrips - before).toBeLessThanOrEqual(3);
  });

  it("rolls everything back when the last of several revisions fails, naming revision, statement and SQLSTATE", async () => {
    const history = tableHistory(3, (i) => (i === 2 ? { upgrade: (op) => op.execute("CREATE TABLE t1 (id int)") } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.details).toMatchObject({ revision: "r0003", direction: "up", sqlstate: "42P07", statement: "CREATE TABLE t1 (id int)" });
    expect(error.message).toContain('Revision r0003 (upgrade) failed: relation "t1" already exists [SQLSTATE 42P07] in: CREATE TABLE t1 (id int).');
    expect(error.message).toContain("The run was rolled back: the database is as it was before. Fix the revision and run again.");
    expect(await tables()).toEqual([]);
    expect((await sql`SELECT to_regclass('lambic_version') AS t`)[0]!.t).toBeNull();
  });

  it("reports the position PostgreSQL gives for a syntax error", async () => {
    const set = inlineRevisionSet([{ id: "aaaa0001", revises: null, upgrade: (op) => op.execute("SELECT * FROMM nowhere") }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ sqlstate: "42601", position: 10 });
  });

  it("leaves nothing behind when the backend is terminated after any statement", async () => {
    const count = 3;
    const before = await schemaSnapshot(db.url);
    for (let killAfter = 0; killAfter < count; killAfter++) {
      const history = tableHistory(count, (i) =>
        i === killAfter
          ? { upgrade: (op) => { op.createTable(`t${i + 1}`, { id: "bigint primary key" }); op.execute("SELECT pg_terminate_backend(pg_backend_pid())"); } }
          : {},
      );
      const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }));
      expect(["CONNECTION_FAILED", "STATEMENT_FAILED"]).toContain(error.code);
      if (error.code === "CONNECTION_FAILED") {
        expect(error.message).toMatch(new RegExp(`^The database connection was lost while running revision r000${killAfter + 1} \\(upgrade\\) \\([^)]+\\), at: SELECT pg_terminate_backend\\(pg_backend_pid\\(\\)\\)\\. The run was rolled back: the database is as it was before\\. Check the server, then run again\\. Should the server not have noticed`));
      }
      expect(await schemaSnapshot(db.url)).toEqual(before);
    }
  });

  it("fails with LOCK_TIMEOUT while another run holds the lock, changing nothing", async () => {
    const set = inlineRevisionSet(tableHistory(2));
    const error = await whileLocked({ runLock: true }, () => failure(run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 200 })));
    expect(error.code).toBe("LOCK_TIMEOUT");
    expect(error.message).toContain("Another migration run holds the lock");
    expect(await tables()).toEqual([]);
  });

  it("waits for the same run lock whether the schema is configured or taken from the search_path", async () => {
    const set = inlineRevisionSet(tableHistory(1));
    const error = await whileLocked({ runLock: true }, () => failure(run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 200, schema: "public" })));
    expect(error.code).toBe("LOCK_TIMEOUT");
    expect(await tables()).toEqual([]);
  });

  it("is LOCK_TIMEOUT too when statement_timeout ends the wait for the run lock first", async () => {
    const set = inlineRevisionSet(tableHistory(1));
    const error = await whileLocked({ runLock: true }, () => failure(run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 5_000, statementTimeoutMs: 200 })));
    expect(error.code).toBe("LOCK_TIMEOUT");
    expect(error.message).toContain("Another migration run holds the lock");
    expect(error.message).toContain("cut by statement_timeout");
    expect(await tables()).toEqual([]);
  });

  /** Waits until `count` other sessions wait for a lock (a run queued behind a lock this test holds). */
  async function lockWaiters(count: number): Promise<void> {
    for (let tries = 0; ; tries++) {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`;
      if (n >= count) return;
      if (tries > 200) throw new Error(`expected ${count} session(s) waiting for a lock, found ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("creates the shared history table once when first runs over two version tables of one schema meet", async () => {
    // Run A creates lambic_history, then waits in its revision on a table this test holds; run B,
    // over another version table of the schema, must wait for A, not fail on pg_type's unique index.
    await sql`CREATE TABLE gate (id int)`;
    const holder = await sql.reserve();
    let a: Promise<unknown> | undefined;
    let b: Promise<unknown> | undefined;
    try {
      await holder`BEGIN`;
      await holder`LOCK TABLE gate IN ACCESS EXCLUSIVE MODE`;
      a = run(inlineRevisionSet([{ id: "a0001", revises: null, upgrade: (op) => op.execute("LOCK TABLE gate IN SHARE MODE") }]), { kind: "upgrade", target: "head" });
      await lockWaiters(1);
      b = run(inlineRevisionSet([{ id: "b0001", revises: null }], "other"), { kind: "upgrade", target: "head" }, { versionTable: "other_version" });
      await lockWaiters(2);
    } finally {
      await holder`ROLLBACK`;
      holder.release();
    }
    await Promise.all([a, b]);
    expect(await versions()).toEqual(["a0001"]);
    expect((await sql`SELECT version_num FROM other_version`).map((r) => r.version_num)).toEqual(["b0001"]);
    expect((await sql`SELECT version_table, revision FROM lambic_history ORDER BY version_table`).map((r) => `${r.version_table}:${r.revision}`)).toEqual(["lambic_version:a0001", "other_version:b0001"]);
  });

  it("says another run holds the run lock, not that it creates the history table, when waiting behind a first run of the same version table", async () => {
    await sql`CREATE TABLE gate (id int)`;
    const holder = await sql.reserve();
    let a: Promise<unknown> | undefined;
    try {
      await holder`BEGIN`;
      await holder`LOCK TABLE gate IN ACCESS EXCLUSIVE MODE`;
      // A's first run holds the run lock and, until it commits, the lock on creating lambic's tables.
      a = run(inlineRevisionSet([{ id: "a0001", revises: null, upgrade: (op) => op.execute("LOCK TABLE gate IN SHARE MODE") }]), { kind: "upgrade", target: "head" });
      await lockWaiters(1);
      const error = await failure(run(inlineRevisionSet([{ id: "a0001", revises: null }]), { kind: "upgrade", target: "head" }, { lockTimeoutMs: 300 }));
      expect(error.code).toBe("LOCK_TIMEOUT");
      expect(error.message).toContain('Another migration run holds the lock on "lambic_version"; waited 300 ms (lock_timeout).');
    } finally {
      await holder`ROLLBACK`;
      holder.release();
    }
    await a;
    expect(await versions()).toEqual(["a0001"]);
  });

  it("does not wait for a run over another version table once the history table exists", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
    const result = await whileLocked({ runLock: true }, () => run(inlineRevisionSet([{ id: "b0001", revises: null }], "other"), { kind: "upgrade", target: "head" }, { versionTable: "other_version", lockTimeoutMs: 200 }));
    expect(result.to).toEqual(["b0001"]);
  });

  it("ends a revision's SET with the run, so the next run on the connection (the next tenant's) starts from the connection's settings", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => op.execute("SET statement_timeout = '123ms'") }]);
    const connection = await connect();
    await runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions());
    expect(await connection.query("SELECT current_setting('statement_timeout') AS value")).toEqual([{ value: "0" }]);
  });

  it("ends the session settings a failed non-transactional revision leaves, its own and the run's", async () => {
    const set = inlineRevisionSet([
      { id: "r0001", revises: null, transactional: false, upgrade: (op) => { op.execute("SET work_mem = '77MB'"); op.execute("SELECT 1/0"); } },
    ]);
    const connection = await connect();
    const settings = () => connection.query("SELECT current_setting('work_mem') AS work_mem, current_setting('lock_timeout') AS lock_timeout");
    const before = await settings();
    const error = await failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), lockTimeoutMs: 1234 }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(await settings()).toEqual(before);
  });

  it("fails with LOCK_TIMEOUT when a revision waits on a table locked elsewhere", async () => {
    const set = inlineRevisionSet(tableHistory(1));
    await run(set, { kind: "upgrade", target: "head" });
    const next = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => op.addColumn("t1", "extra", "text") }]);
    const holder = await sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`LOCK TABLE t1 IN ACCESS EXCLUSIVE MODE`;
      const error = await failure(run(next, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 200 }));
      expect(error.code).toBe("LOCK_TIMEOUT");
      expect(error.details).toMatchObject({ revision: "r0002" });
      await holder`ROLLBACK`;
    } finally {
      holder.release();
    }
    expect(await versions()).toEqual(["r0001"]);
  });

  it("fails with STATEMENT_TIMEOUT when a statement runs too long, changing nothing", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => op.execute("SELECT pg_sleep(5)") }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }, { statementTimeoutMs: 200 }));
    expect(error.code).toBe("STATEMENT_TIMEOUT");
    expect(error.details).toMatchObject({ revision: "r0002" });
    expect(await tables()).toEqual([]);
  });

  it("keeps statement_timeout in every transaction of a perRevision run", async () => {
    const history = tableHistory(3, (i) => (i === 1 ? { upgrade: (op) => op.execute("SELECT pg_sleep(5)") } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }, { perRevision: true, statementTimeoutMs: 300 }));
    expect(error.code).toBe("STATEMENT_TIMEOUT");
    expect(error.details).toMatchObject({ revision: "r0002", committed: ["r0001"] });
    expect(await versions()).toEqual(["r0001"]);
  });

  it("keeps lock_timeout for a non-transactional revision's statements and the transaction after them", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
    const nonTransactional = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.addColumn("t1", "extra", "text") }]);
    const after = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.execute("SELECT 1") },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.addColumn("t1", "extra", "text") },
    ]);
    const holder = await sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`LOCK TABLE t1 IN ACCESS EXCLUSIVE MODE`;
      for (const [set, revision] of [[nonTransactional, "r0002"], [after, "r0003"]] as const) {
        const started = performance.now();
        const error = await failure(run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 300 }));
        expect(error.code).toBe("LOCK_TIMEOUT");
        expect(error.details).toMatchObject({ revision });
        expect(performance.now() - started).toBeLessThan(4_000);
      }
      await holder`ROLLBACK`;
    } finally {
      holder.release();
    }
    // r0002's version row committed before r0003 ran.
    expect(await versions()).toEqual(["r0002"]);
  });

  it("cuts each later transaction's timeouts to the time the run has left when it begins (the Lambda's deadline)", async () => {
    // The Lambda's remaining time: 60 s when the run starts, 1.5 s once r0001 has run; r0002 runs
    // outside a transaction after r0001's commit.
    let left = 60_000;
    const seen: unknown[] = [];
    const read = async (ctx: { query: <Row>(sql: string) => Promise<Row[]> }) => {
      seen.push((await ctx.query<{ s: string; l: string }>("SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l"))[0]);
    };
    const set = inlineRevisionSet([
      { id: "r0001", revises: null, upgrade: async (_op, ctx) => { await read(ctx); left = 1_500; } },
      { id: "r0002", revises: "r0001", transactional: false, upgrade: async (_op, ctx) => void (await read(ctx)) },
    ]);
    await run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 10_000, statementTimeoutMs: 0, perRevision: true, remainingMs: () => left });
    expect(seen).toEqual([
      { s: "1min", l: "10s" },
      { s: "1500ms", l: "1500ms" },
    ]);
  });

  it("has the server probe the run's connection after a minute of silence, in and outside its transactions, so a vanished client's locks go within two minutes", async () => {
    const seen: unknown[] = [];
    const read = async (ctx: { query: <Row>(sql: string) => Promise<Row[]> }) => {
      seen.push((await ctx.query("SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS every, current_setting('tcp_keepalives_count') AS probes"))[0]);
    };
    const set = inlineRevisionSet([
      { id: "r0001", revises: null, upgrade: (_op, ctx) => read(ctx) },
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (_op, ctx) => read(ctx) },
    ]);
    await run(set, { kind: "upgrade", target: "head" });
    expect(seen).toEqual([
      { idle: "60", every: "10", probes: "6" },
      { idle: "60", every: "10", probes: "6" },
    ]);
  });

  it("keeps statement_timeout for a non-transactional revision's statements", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.execute("SELECT pg_sleep(5)") }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }, { statementTimeoutMs: 300 }));
    expect(error.code).toBe("STATEMENT_TIMEOUT");
    expect(error.details).toMatchObject({ revision: "r0002", committed: ["r0001"] });
  });

  it.runIf(driver === "postgres")("says the outcome is unknown when the connection is lost after COMMIT was sent", async () => {
    const server = new URL(db.url);
    const proxy = await startCuttingProxy({ host: server.hostname, port: Number(server.port) }, Buffer.from("COMMIT\0"), 300);
    const through = new URL(db.url);
    through.port = String(proxy.port);
    try {
      const connection = await openConnection(through.toString(), { driver: "postgres" });
      const error = await failure(runMigration(connection, inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }, baseOptions()));
      await connection.close().catch(() => undefined);
      expect(error.code).toBe("CONNECTION_FAILED");
      expect(error.message).toContain("COMMIT had been sent when the connection was lost, so whether it took effect is unknown: the version table says either r0002 (committed) or base (rolled back); \"lambic current\" tells which.");
      expect(error.message).not.toContain("as it was before");
    } finally {
      await proxy.close();
    }
    // Here the server did commit: the message could not have said otherwise.
    expect(await versions()).toEqual(["r0002"]);
  });

  it.runIf(driver === "neon")("says the outcome is unknown when the WebSocket is closed after COMMIT was sent", async () => {
    const cutting = await startWsProxy({ cutOn: { marker: Buffer.from("COMMIT\0"), how: "close" } });
    try {
      const connection = await openConnection(db.url, neonTestOptions(cutting.port));
      connections.push(connection);
      const error = await failure(runMigration(connection, inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }, baseOptions()));
      expect(error.code).toBe("CONNECTION_FAILED");
      expect(error.message).toContain("COMMIT had been sent when the connection was lost, so whether it took effect is unknown: the version table says either r0002 (committed) or base (rolled back); \"lambic current\" tells which.");
      expect(error.message).not.toContain("as it was before");
    } finally {
      await cutting.close();
    }
    // The server had the COMMIT when the socket went: it committed.
    await expect.poll(versions).toEqual(["r0002"]);
  });

  it.runIf(driver === "neon")("says the run was rolled back when the WebSocket is dropped under a revision's statement", async () => {
    const cutting = await startWsProxy({ cutOn: { marker: Buffer.from("pg_sleep(0.2)"), how: "terminate" } });
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 1 ? { upgrade: async (op, ctx) => { op.createTable("t2", { id: "bigint" }); await ctx.query("SELECT pg_sleep(0.2)"); } } : {})));
    try {
      const connection = await openConnection(db.url, neonTestOptions(cutting.port));
      connections.push(connection);
      const error = await failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions()));
      expect(error.code).toBe("CONNECTION_FAILED");
      expect(error.message).toMatch(/The database connection was lost while running [^(]+\(Connection terminated unexpectedly\), at: /);
      expect(error.message.split("The run was rolled back: the database is as it was before.")).toHaveLength(2);
    } finally {
      await cutting.close();
    }
    // The server rolls back once it notices the closed socket.
    await expect.poll(tables).toEqual([]);
    await expect.poll(async () => (await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${db.name} AND application_name LIKE 'lambic%'`)[0]!.n).toBe(0);
  });

  it("says the connection was lost under the revision's statement when the server ends the session (pg_terminate_backend) during a pipeline", async () => {
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 1 ? { upgrade: (op) => { op.createTable("t2", { id: "bigint" }); op.execute("SELECT pg_sleep(30)"); op.execute("SELECT 1"); } } : {})));
    const terminated = (async () => {
      for (;;) {
        const ended = await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${db.name} AND query = 'SELECT pg_sleep(30)' AND state = 'active'`;
        if (ended.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    await terminated;
    expect(error.code).toBe("CONNECTION_FAILED");
    // postgres.js reports the socket closing; Neon's driver the server's FATAL.
    expect(error.message).toMatch(/^The database connection was lost while running revision r0002 \(upgrade\) \((write CONNECTION_CLOSED [^)]+|57P01: terminating connection due to administrator command)\), at: SELECT pg_sleep\(30\)\. The run was rolled back: the database is as it was before\./);
    expect(error.details).toMatchObject({ revision: "r0002", statement: "SELECT pg_sleep(30)" });
    expect(await tables()).toEqual([]);
  });

  it.runIf(driver === "postgres")("names the version rows the run started from as the rolled-back outcome when the connection is lost after COMMIT was sent", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
    const server = new URL(db.url);
    const proxy = await startCuttingProxy({ host: server.hostname, port: Number(server.port) }, Buffer.from("COMMIT\0"), 300);
    const through = new URL(db.url);
    through.port = String(proxy.port);
    try {
      const connection = await openConnection(through.toString(), { driver: "postgres" });
      const error = await failure(runMigration(connection, inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }, baseOptions()));
      await connection.close().catch(() => undefined);
      expect(error.code).toBe("CONNECTION_FAILED");
      expect(error.message).toContain("the version table says either r0002 (committed) or r0001 (rolled back)");
    } finally {
      await proxy.close();
    }
  });

  it("ends with CONNECTION_FAILED within statementTimeoutMs plus the connect timeout when the network stalls, instead of waiting forever", async () => {
    const server = new URL(db.url);
    const stalling = await startStallingProxy({ host: server.hostname, port: Number(server.port) }, Buffer.from("pg_sleep(0.3)"));
    const through = new URL(db.url);
    through.port = String(stalling.port);
    // The read's reply is the one withheld: nothing after it is sent, COMMIT included.
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 1 ? { upgrade: async (op, ctx) => { op.createTable("t2", { id: "bigint primary key" }); await ctx.query("SELECT pg_sleep(0.3)"); } } : {})));
    try {
      const connection = await openConnection(through.toString(), { ...options(), statementTimeoutMs: 1000, connectTimeoutSeconds: 1 });
      connections.push(connection);
      const started = Date.now();
      const error = await failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), statementTimeoutMs: 1000 }));
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(error.code).toBe("CONNECTION_FAILED");
      expect(error.message).toMatch(/^Revision r0002 \(upgrade, inline\/r0002\.ts\): The database connection was lost while running [^(]+\(no reply from the server within 2 s, longer than statement_timeout allows \(statementTimeoutMs plus the connect timeout\): the network stalled or the server stopped answering, and lambic closed the connection\), at: /);
      expect(error.message.split("The run was rolled back: the database is as it was before.")).toHaveLength(2);
    } finally {
      await stalling.close();
    }
    expect(await tables()).toEqual([]);
  });

  it("reads a 30 MB value and 100,000 rows through ctx.query, past RAISE NOTICE and WARNING, as the same rows through both drivers", async () => {
    const read: { big?: number; rows?: number; last?: unknown } = {};
    const set = inlineRevisionSet(tableHistory(1, () => ({
      upgrade: async (op, ctx) => {
        await ctx.query("DO $$BEGIN RAISE NOTICE 'a notice'; RAISE WARNING 'a warning'; END$$");
        const [row] = await ctx.query<{ big: string }>("SELECT repeat('x', 30000000) AS big");
        read.big = row!.big.length;
        const rows = await ctx.query<{ n: number; s: string }>("SELECT n, repeat('y', 200) AS s FROM generate_series(1, $1::int) AS n", [100_000]);
        read.rows = rows.length;
        read.last = rows.at(-1);
        op.createTable("t1", { id: "bigint" });
      },
    })));
    await run(set, { kind: "upgrade", target: "head" });
    expect(read).toEqual({ big: 30_000_000, rows: 100_000, last: { n: 100_000, s: "y".repeat(200) } });
    expect(await tables()).toEqual(["t1"]);
  });

  it("names the revision and what stays when the connection went while the revision ran its own code, between statements", async () => {
    const connection = await connect();
    // The revision's session is ended from outside while the revision's code runs, and the
    // driver has noticed (an empty pipeline checks the session and sends nothing) before it goes on.
    const endOwnSession = async (pid: number) => {
      await sql`SELECT pg_terminate_backend(${pid}, 5000)`;
      while (await connection.pipeline([]).then(() => true, () => false)) await new Promise((resolve) => setImmediate(resolve));
    };
    const set = inlineRevisionSet([
      ...tableHistory(1),
      {
        id: "r0002",
        revises: "r0001",
        transactional: false,
        upgrade: async (op, ctx) => {
          op.createTable("t2", { id: "bigint" });
          const [row] = await ctx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          await endOwnSession(row!.pid);
          op.createTable("t3", { id: "bigint" });
        },
      },
    ]);
    const error = await failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions()));
    expect(error.code).toBe("CONNECTION_FAILED");
    expect(error.message).toMatch(/^The database connection was lost while running revision r0002 \(upgrade\) \([^)]+\), at: CREATE TABLE "t3"/);
    expect(error.message).toContain("Revision r0002 runs outside a transaction, so what it did before the failure stays, but its version row was not written: the version table says r0001.");
    expect(error.details).toMatchObject({ revision: "r0002", committed: ["r0001"], outsideTransaction: "r0002" });
    expect(await tables()).toEqual(["t1", "t2"]);
    expect(await versions()).toEqual(["r0001"]);
  });

  it("waits statementTimeoutMs for each statement of a script, sent as one message, before taking the network for stalled", async () => {
    // statement_timeout bounds each statement of a message; the reply comes when all have run.
    const set = inlineRevisionSet(tableHistory(1, () => ({ upgrade: (op) => op.execute("SELECT pg_sleep(0.8); SELECT pg_sleep(0.8); SELECT pg_sleep(0.8)") })));
    const connection = await openConnection(db.url, { ...options(), statementTimeoutMs: 1000, connectTimeoutSeconds: 1 });
    connections.push(connection);
    const result = await runMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), statementTimeoutMs: 1000 });
    expect(result.to).toEqual(["r0001"]);
  });

  it("applies each revision exactly once when 10 runners start at once", async () => {
    await sql`CREATE TABLE applied (revision text)`;
    const history = tableHistory(3, (i) => ({ upgrade: (op) => { op.createTable(`t${i + 1}`, { id: "bigint" }); op.execute(`INSERT INTO applied VALUES ('r${i + 1}')`); } }));
    const set = inlineRevisionSet(history);
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 20_000 })));
    const applied = (await sql`SELECT revision, count(*)::int AS n FROM applied GROUP BY 1 ORDER BY 1`).map((r) => [r.revision, r.n]);
    expect(applied).toEqual([["r1", 1], ["r2", 1], ["r3", 1]]);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") expect((outcome.reason as LambicError).code).toBe("LOCK_TIMEOUT");
    }
    const ran = outcomes.filter((o) => o.status === "fulfilled" && o.value.steps.length > 0);
    expect(ran).toHaveLength(1);
    expect(await versions()).toEqual(["r0003"]);
  });

  it("has runners that wait for the run lock find the revisions applied, also through a transaction pooler with a repeatable read default", async () => {
    // A transaction's snapshot is taken by its first statement: one that waits for the lock takes it before the other run commits.
    await sql.unsafe(`ALTER DATABASE "${db.name}" SET default_transaction_isolation = 'repeatable read'`);
    await sql`CREATE TABLE applied (revision text)`;
    const set = inlineRevisionSet(tableHistory(3, (i) => ({ upgrade: (op) => { op.createTable(`t${i + 1}`, { id: "bigint" }); op.execute(`INSERT INTO applied VALUES ('r${i + 1}')`); op.execute("SELECT pg_sleep(0.1)"); } })));
    for (const pooled of [false, true]) {
      const outcomes = await Promise.allSettled(Array.from({ length: 3 }, async () => {
        const connection = await connect();
        // Stands for a "-pooler" host, which these tests cannot resolve; everything else is the real server.
        const through: Connection = pooled ? Object.create(connection, { capabilities: { value: { ...connection.capabilities, sessionLocks: false } } }) : connection;
        return runMigration(through, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), lockTimeoutMs: 20_000 });
      }));
      for (const outcome of outcomes) expect(outcome.status === "rejected" ? (outcome.reason as Error).message : "ran").toBe("ran");
      expect(outcomes.map((o) => (o as PromiseFulfilledResult<{ steps: readonly unknown[] }>).value.steps.length).sort()).toEqual([0, 0, 3]);
      expect((await sql`SELECT revision, count(*)::int AS n FROM applied GROUP BY 1 ORDER BY 1`).map((r) => [r.revision, r.n])).toEqual([["r1", 1], ["r2", 1], ["r3", 1]]);
      await sql`DROP TABLE t1, t2, t3, lambic_version`;
      await sql`TRUNCATE applied, lambic_history`;
    }
    const connection = await connect();
    const pooled: Connection = Object.create(connection, { capabilities: { value: { ...connection.capabilities, sessionLocks: false } } });
    const error = await whileLocked({ runLock: true }, () => failure(runMigration(pooled, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), lockTimeoutMs: 300 })));
    expect(error.code).toBe("LOCK_TIMEOUT");
    expect(error.message).toContain("Another migration run holds the lock");
    expect(await tables()).toEqual(["applied"]);
  });

  it("refuses version rows that no revision defines with UNKNOWN_VERSION", async () => {
    await sql`CREATE TABLE lambic_version (version_num varchar(32) PRIMARY KEY)`;
    await sql`INSERT INTO lambic_version VALUES ('f00dfeed')`;
    const error = await failure(run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("UNKNOWN_VERSION");
    expect(error.message).toContain("f00dfeed");
    expect(error.message).toContain("stamp --purge");
  });

  it("says, when no version row is one of its revisions, that the table may be another database's and to give this one its own versionTable before any stamp --purge", async () => {
    await sql`CREATE TABLE lambic_version (version_num varchar(32) PRIMARY KEY)`;
    await sql`INSERT INTO lambic_version VALUES ('f00dfeed'), ('0badcafe')`;
    const error = await failure(run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("UNKNOWN_VERSION");
    expect(error.message).toMatch(/None of its rows is a revision of "\w+": if the table belongs to another database on this server .*give "\w+" a "versionTable" \(or "schema"\) of its own in lambic\.config\.json.* Only if these revisions were removed on purpose, "lambic stamp --purge <revision>"/);
    expect((await sql`SELECT version_num FROM lambic_version ORDER BY 1`).map((r) => r.version_num)).toEqual(["0badcafe", "f00dfeed"]);
  });

  it("says which version rows overlap, and how to repair them, when one row is an ancestor of another", async () => {
    const set = inlineRevisionSet(tableHistory(3));
    await run(set, { kind: "stamp", targets: ["r0002"] });
    await sql`INSERT INTO lambic_version VALUES ('r0001')`;
    for (const attempt of [() => run(set, { kind: "upgrade", target: "head" }), async () => checkDatabase(await connect(), set, baseOptions())]) {
      const error = await failure(attempt());
      expect(error.code).toBe("OVERLAPPING_VERSIONS");
      expect(error.message).toContain("The version rows r0002, r0001 overlap");
      expect(error.message).toContain('"lambic stamp --purge <revision>..."');
    }
  });

  it("refuses to upgrade when an applied revision's source changed, unless allowed", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
    const edited = inlineRevisionSet([{ ...tableHistory(1)[0]!, source: "edited" }, ...tableHistory(2).slice(1)]);
    const error = await failure(run(edited, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("CHECKSUM_MISMATCH");
    expect(error.message).toContain("r0001");
    expect(error.message).toContain("--allow-changed");
    const allowed = await run(edited, { kind: "upgrade", target: "head" }, { allowChanged: true });
    expect(allowed.changed.map((c) => c.revision)).toEqual(["r0001"]);
    expect(await versions()).toEqual(["r0002"]);
  });

  async function repair(set: RevisionSet, extra: Partial<RunOptions> = {}) {
    const connection = await connect();
    try {
      return await repairChecksums(connection, set, { ...baseOptions(), ...extra });
    } finally {
      await connection.close();
    }
  }
  const editedFirst = (count: number) => inlineRevisionSet([{ ...tableHistory(count)[0]!, source: "edited" }, ...tableHistory(count).slice(1)]);

  it("repair records an edited applied revision's checksum, after which check and upgrade accept it", async () => {
    await run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" });
    const edited = editedFirst(2);
    const result = await repair(edited);
    expect(result.versions).toEqual(["r0002"]);
    expect(result.repaired).toEqual([expect.objectContaining({ revision: "r0001", currentChecksum: edited.revisions.get("r0001")!.source.checksum })]);
    const rows = await sql`SELECT revision, direction, checksum, actor FROM lambic_history WHERE direction = 'repair'`;
    expect(rows).toEqual([{ revision: "r0001", direction: "repair", checksum: edited.revisions.get("r0001")!.source.checksum, actor: "test" }]);
    expect((await checkDatabase(await connect(), edited, baseOptions())).upToDate).toBe(true);
    expect((await run(editedFirst(3), { kind: "upgrade", target: "head" })).to).toEqual(["r0003"]);
    expect((await repair(editedFirst(3))).repaired).toEqual([]);
  });

  it("repair of an unchanged or new database records nothing and creates nothing", async () => {
    expect(await repair(inlineRevisionSet(tableHistory(2)))).toEqual({ versions: [], repaired: [], recorded: [] });
    expect((await sql`SELECT to_regclass('lambic_history') AS t`)[0]!.t).toBeNull();
    await run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" });
    expect(await repair(inlineRevisionSet(tableHistory(2)))).toEqual({ versions: ["r0002"], repaired: [], recorded: [] });
    expect((await sql`SELECT count(*)::int AS n FROM lambic_history WHERE direction = 'repair'`)[0]!.n).toBe(0);
  });

  it("repair records the checksums of applied revisions that have none (an adopted Alembic database), so later edits are caught", async () => {
    await sql`CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)`;
    await sql`INSERT INTO alembic_version VALUES ('r0002')`;
    const set = inlineRevisionSet(tableHistory(3));
    expect((await checkDatabase(await connect(), editedFirst(3), { versionTable: "alembic_version" })).changed).toEqual([]);
    const result = await repair(set, { versionTable: "alembic_version" });
    expect(result.repaired).toEqual([]);
    expect(result.recorded.map((r) => r.revision)).toEqual(["r0001", "r0002"]);
    expect(result.recorded[0]!.checksum).toBe(set.revisions.get("r0001")!.source.checksum);
    expect((await repair(set, { versionTable: "alembic_version" })).recorded).toEqual([]);
    const check = await checkDatabase(await connect(), editedFirst(3), { versionTable: "alembic_version" });
    expect(check.changed.map((c) => c.revision)).toEqual(["r0001"]);
  });

  it("repair records the checksum of a revision stamped back after a downgrade", async () => {
    const set = inlineRevisionSet(tableHistory(2));
    await run(set, { kind: "upgrade", target: "head" });
    await run(set, { kind: "downgrade", target: "r0001" });
    await run(set, { kind: "stamp", targets: ["r0002"] });
    expect((await repair(set)).recorded.map((r) => r.revision)).toEqual(["r0002"]);
  });

  it("repair ignores an edited revision that is not applied, or was downgraded", async () => {
    await run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" });
    await run(inlineRevisionSet(tableHistory(2)), { kind: "downgrade", target: "r0001" });
    const edited = inlineRevisionSet([...tableHistory(1), { ...tableHistory(2)[1]!, source: "edited" }]);
    expect((await repair(edited)).repaired).toEqual([]);
    expect((await run(edited, { kind: "upgrade", target: "head" })).to).toEqual(["r0002"]);
  });

  it("repair waits for the run lock: LOCK_TIMEOUT while a migration holds it, recording nothing", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
    const error = await whileLocked({ runLock: true }, () => failure(repair(editedFirst(1), { lockTimeoutMs: 200 })));
    expect(error.code).toBe("LOCK_TIMEOUT");
    expect(error.message).toContain("Another migration run holds the lock");
    expect((await sql`SELECT count(*)::int AS n FROM lambic_history WHERE direction = 'repair'`)[0]!.n).toBe(0);
  });

  it("reports pending and changed revisions in check", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
    const connection = await connect();
    const result = await checkDatabase(connection, inlineRevisionSet(tableHistory(3)), { versionTable: "lambic_version" });
    expect(result).toMatchObject({ versions: ["r0001"], pending: ["r0002", "r0003"], changed: [], upToDate: false });
  });

  it("runs a non-transactional revision outside the transaction (CREATE INDEX CONCURRENTLY)", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }) },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.addColumn("t1", "later", "int") },
    ]);
    const result = await run(set, { kind: "upgrade", target: "head" });
    expect(result.to).toEqual(["r0003"]);
    expect((await sql`SELECT indexname FROM pg_indexes WHERE indexname = 't1_note_idx'`).length).toBe(1);
  });

  it("builds an index concurrently while another run waits for the run lock, without a deadlock or an INVALID index", async () => {
    // CREATE INDEX CONCURRENTLY waits for every transaction with an older snapshot; a run waiting
    // for the lock in a statement holds one, and waits for the run building the index.
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => { op.execute("SELECT pg_sleep(1)"); op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }); } },
    ]);
    const first = run(set, { kind: "upgrade", target: "head" });
    for (let tries = 0; ; tries++) {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'`;
      if (n > 0) break;
      if (tries > 200) throw new Error("the first run never reached its non-transactional revision");
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 20_000 });
    const [a, b] = await Promise.all([first, second]);
    expect(a.to).toEqual(["r0002"]);
    expect(b).toMatchObject({ from: ["r0002"], steps: [] });
    expect(b.lockWaitMs).toBeGreaterThan(0);
    expect(await sql`SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't1_note_idx'`).toEqual([{ relname: "t1_note_idx", indisvalid: true }]);
  });

  it("says a deferred constraint failing at the run's COMMIT is a revision's, not lambic's bookkeeping", async () => {
    const set = inlineRevisionSet([
      { id: "r0001", revises: null, upgrade: (op) => { op.execute("CREATE TABLE p (id int PRIMARY KEY)"); op.execute("CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED)"); op.execute("INSERT INTO c VALUES (42)"); } },
      ...tableHistory(2).slice(1),
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.message).toMatch(/^The COMMIT of the run's transaction failed: insert or update on table "c" violates foreign key constraint "c_pid_fkey" \[SQLSTATE 23503\] \(Key \(pid\)=\(42\) is not present in table "p"\.\)\. The run was rolled back: the database is as it was before\. A deferred constraint or constraint trigger is checked at COMMIT/);
    expect(await tables()).toEqual([]);
  });

  it("does not blame a non-transactional revision for a deferred constraint failing at the COMMIT before it", async () => {
    const set = inlineRevisionSet([
      { id: "r0001", revises: null, upgrade: (op) => { op.execute("CREATE TABLE p (id int PRIMARY KEY)"); op.execute("CREATE TABLE c (pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED)"); op.execute("INSERT INTO c VALUES (42)"); } },
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.createIndex("c_pid_idx", "c", ["pid"], { concurrently: true }) },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.message).toMatch(/^The COMMIT of the run's transaction failed: insert or update on table "c" violates foreign key constraint "c_pid_fkey"/);
    expect(error.message).not.toContain("r0002");
    expect(error.details.revision).toBeUndefined();
    expect(await tables()).toEqual([]);
  });

  it("says a serialization failure at the run's COMMIT is a conflict with another transaction, to run again, not a deferred constraint to fix", async () => {
    await sql.unsafe(`ALTER DATABASE "${db.name}" SET default_transaction_isolation = 'serializable'`);
    await sql`CREATE TABLE a (id int)`;
    await sql`CREATE TABLE b (id int)`;
    const sessions = postgres(db.url, { max: 3, onnotice: () => {} });
    const [other, gate] = [await sessions.reserve(), await sessions.reserve()];
    try {
      await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" });
      // The run's last statement before COMMIT (its history rows) waits at a gate, held here.
      await sql.unsafe(`CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$`);
      await sql.unsafe(`CREATE TRIGGER gate AFTER INSERT ON lambic_history FOR EACH STATEMENT EXECUTE FUNCTION gate()`);
      await gate`SELECT pg_advisory_lock(4242)`;
      // Write skew: the run reads a and writes b, another serializable transaction reads b and writes a.
      const set = inlineRevisionSet([
        ...tableHistory(1),
        { id: "r0002", revises: "r0001", upgrade: async (op, ctx) => {
          await ctx.query("SELECT count(*) FROM a");
          await other`BEGIN ISOLATION LEVEL SERIALIZABLE`;
          await other`SELECT count(*) FROM b`;
          await other`INSERT INTO a VALUES (1)`;
          op.execute("INSERT INTO b VALUES (1)");
        } },
      ]);
      const running = failure(run(set, { kind: "upgrade", target: "head" }));
      for (let tries = 0; ; tries++) {
        const [{ n }] = await sessions`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted`;
        if (n > 0) break;
        if (tries > 500) throw new Error("the run never reached its history rows");
        await new Promise((r) => setTimeout(r, 10));
      }
      // The other transaction commits first: the run, now the pivot of a dangerous structure, fails at COMMIT.
      await other`COMMIT`;
      await gate`SELECT pg_advisory_unlock(4242)`;
      const error = await running;
      expect(error.code).toBe("STATEMENT_FAILED");
      expect(error.details).toMatchObject({ sqlstate: "40001", statement: "COMMIT" });
      expect(error.message).toMatch(/^The COMMIT of the run's transaction failed: could not serialize access due to read\/write dependencies among transactions \[SQLSTATE 40001\]/);
      expect(error.message).toContain("The run was rolled back: the database is as it was before.");
      expect(error.message).toContain("conflicted with a concurrent transaction");
      expect(error.message).toContain("run again");
      expect(error.message).not.toContain("deferred constraint");
      expect(await versions()).toEqual(["r0001"]);
      expect(await sql`SELECT count(*)::int AS n FROM b`).toEqual([{ n: 0 }]);
    } finally {
      await other`ROLLBACK`.catch(() => undefined);
      other.release();
      gate.release();
      await sessions.end({ timeout: 5 });
    }
  });

  it("repairs while a migration builds an index concurrently, waiting for the run lock without a deadlock", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => { op.execute("SELECT pg_sleep(1)"); op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }); } },
    ]);
    const migrating = run(set, { kind: "upgrade", target: "head" });
    for (let tries = 0; ; tries++) {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(1)' AND state = 'active'`;
      if (n > 0) break;
      if (tries > 200) throw new Error("the migration never reached its non-transactional revision");
      await new Promise((r) => setTimeout(r, 20));
    }
    const [migrated, repaired] = await Promise.all([migrating, repair(set, { lockTimeoutMs: 20_000 })]);
    expect(migrated.to).toEqual(["r0002"]);
    expect(repaired).toEqual({ versions: ["r0002"], repaired: [], recorded: [] });
    expect(await sql`SELECT indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't1_note_idx'`).toEqual([{ indisvalid: true }]);
  });

  it("names at most the first 200 characters of a long failing statement", async () => {
    const long = `SELECT 1/0 AS ${"x".repeat(300)}`;
    const error = await failure(run(inlineRevisionSet(tableHistory(1, () => ({ upgrade: (op) => op.execute(long) }))), { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ sqlstate: "22012", statement: long.slice(0, 200) });
    expect(error.message).toContain(`in: ${long.slice(0, 200)}.`);
    expect(error.message).not.toContain(long.slice(0, 201));
  });

  it("refuses --per-revision on a pooled endpoint before changing anything, and runs one transaction there", async () => {
    const set = inlineRevisionSet(tableHistory(2));
    const connection = await connect();
    const pooled: Connection = Object.create(connection, { capabilities: { value: { sessionLocks: false, overlappingPipelines: connection.capabilities.overlappingPipelines } } });
    const error = await failure(runMigration(pooled, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), perRevision: true }));
    expect(error.code).toBe("SESSION_LOCK_UNAVAILABLE");
    expect(await tables()).toEqual([]);
    const result = await runMigration(pooled, set, { kind: "upgrade", target: "head" }, baseOptions());
    expect(result.to).toEqual(["r0002"]);
    expect(await tables()).toEqual(["t1", "t2"]);
  });

  it("refuses a plan that needs a session lock on a pooled endpoint before changing anything", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }) }]);
    const connection = await connect();
    // Stands for a "-pooler" host, which these tests cannot resolve; everything else is the real server.
    const pooled: Connection = Object.create(connection, { capabilities: { value: { sessionLocks: false } } });
    const error = await failure(runMigration(pooled, set, { kind: "upgrade", target: "head" }, baseOptions()));
    expect(error.code).toBe("SESSION_LOCK_UNAVAILABLE");
    expect(error.message).toContain("direct (non-pooled) endpoint");
    expect(await tables()).toEqual([]);
  });

  it("refuses in a dry run, as the run does, a plan that needs a session lock on a pooled endpoint", async () => {
    const set = inlineRevisionSet(tableHistory(2));
    const connection = await connect();
    const pooled: Connection = Object.create(connection, { capabilities: { value: { sessionLocks: false, overlappingPipelines: connection.capabilities.overlappingPipelines } } });
    const options = { ...baseOptions(), generatedAt: new Date(), range: "head" };
    const error = await failure(dryRunMigration(pooled, set, { kind: "upgrade", target: "head" }, { ...options, perRevision: true }));
    expect(error.code, error.message).toBe("SESSION_LOCK_UNAVAILABLE");
    expect((await dryRunMigration(pooled, set, { kind: "upgrade", target: "head" }, options)).to).toEqual(["r0002"]);
    expect(await tables()).toEqual([]);
  });

  it("commits after each revision with perRevision, keeping what succeeded", async () => {
    const history = tableHistory(3, (i) => (i === 2 ? { upgrade: (op) => op.execute("SELECT 1/0") } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }, { perRevision: true }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.message).toContain("This transaction was rolled back; the revisions committed before it stay, so the database is at r0002.");
    expect(error.details.committed).toEqual(["r0002"]);
    expect(await tables()).toEqual(["t1", "t2"]);
    expect(await versions()).toEqual(["r0002"]);
  });

  it.each([
    ["an op refuses its arguments", "INVALID_OPERATION", (op: Operations) => op.execute("COPY t1 TO STDOUT")],
    ["the revision throws", "REVISION_FAILED", () => { throw new Error("boom"); }],
  ] as const)("gives the version rows committed before the failure in the error's details whatever failed: %s", async (_case, code, upgrade) => {
    const history = tableHistory(3, (i) => (i === 2 ? { upgrade } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }, { perRevision: true }));
    expect(error).toMatchObject({ code, details: { revision: "r0003", committed: ["r0002"] } });
    expect(await versions()).toEqual(["r0002"]);
  });

  it("names the revision to run again to when a relative downgrade committed part of its plan, since -2 would now go further", async () => {
    const history = tableHistory(3);
    await run(inlineRevisionSet(history), { kind: "upgrade", target: "head" });
    const failing = inlineRevisionSet(history.map((r) => (r.id === "r0002" ? { ...r, downgrade: (op: Operations) => op.execute("SELECT 1/0") } : r)));
    const error = await failure(run(failing, { kind: "downgrade", target: "-2" }, { perRevision: true }));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0002", committed: ["r0002"], rerunTarget: "r0001" } });
    expect(error.message).toMatch(/the database is at r0002\. Fix the revision and run again\. "-2" counts from the version rows a run starts at, and this run moved them: to finish its plan, run again with the target r0001, not "-2"\.$/);
  });

  it("names the revision to run again to when a relative upgrade committed part of its plan", async () => {
    const history = tableHistory(3, (i) => (i === 1 ? { upgrade: (op) => op.execute("SELECT 1/0") } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "+2" }, { perRevision: true }));
    expect(error).toMatchObject({ details: { revision: "r0002", committed: ["r0001"], rerunTarget: "r0002" } });
    expect(error.message).toContain('to finish its plan, run again with the target r0002, not "+2".');
  });

  it("names the branch with the revision to run again to when a relative downgrade of one branch committed part of its plan", async () => {
    const history = [
      { id: "b0001", revises: null, upgrade: (op: Operations) => op.createTable("b", { id: "int" }) },
      { id: "a0001", revises: "b0001", branchLabels: ["left"], upgrade: (op: Operations) => op.createTable("a1", { id: "int" }), downgrade: (op: Operations) => op.execute("SELECT 1/0") },
      { id: "a0002", revises: "a0001", upgrade: (op: Operations) => op.createTable("a2", { id: "int" }), downgrade: (op: Operations) => op.dropTable("a2") },
      { id: "c0001", revises: "b0001", branchLabels: ["right"], upgrade: (op: Operations) => op.createTable("c1", { id: "int" }) },
    ];
    await run(inlineRevisionSet(history), { kind: "upgrade", target: "heads" });
    const error = await failure(run(inlineRevisionSet(history), { kind: "downgrade", target: "left@-2" }, { perRevision: true }));
    // A bare b0001 would undo the right branch too.
    expect(error).toMatchObject({ details: { revision: "a0001", rerunTarget: "left@b0001" } });
    expect(error.message).toContain('run again with the target left@b0001, not "left@-2".');
    const fixed = history.map((r) => (r.id === "a0001" ? { ...r, downgrade: (op: Operations) => op.dropTable("a1") } : r));
    const rerun = await run(inlineRevisionSet(fixed), { kind: "downgrade", target: "left@b0001" }, { allowChanged: true });
    expect(rerun.steps.map((s) => s.revision)).toEqual(["a0001"]);
    expect(rerun.to).toEqual(["c0001"]);
  });

  it("says nothing of the target when a relative run fails before it committed any step of its plan", async () => {
    const history = tableHistory(3, (i) => (i === 0 ? { upgrade: (op) => op.execute("SELECT 1/0") } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "+2" }, { perRevision: true }));
    expect(error.details.rerunTarget).toBeUndefined();
    expect(error.message).not.toContain("run again with the target");
  });

  it("says what the database user lacks when it may not create the version table", async (context) => {
    const role = `lambic_limited_${driver}`;
    await sql.unsafe(`DROP ROLE IF EXISTS ${role}`);
    // A DATABASE_URL whose user may not create roles cannot run this one.
    const created = await sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'limited'`).then(() => true, () => false);
    if (!created) context.skip();
    await sql.unsafe(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    try {
      const url = new URL(db.url);
      url.username = role;
      url.password = "limited";
      const connection = await openConnection(url.href, options());
      connections.push(connection);
      const error = await failure(runMigration(connection, inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" }, baseOptions()));
      expect(error.code).toBe("STATEMENT_FAILED");
      expect(error.details).toMatchObject({ sqlstate: "42501" });
      expect(error.message).toContain(`The database user needs CREATE on the schema (the first time) and SELECT, INSERT, UPDATE and DELETE on "lambic_version" and "lambic_history"`);
      expect(error.message).not.toContain("Fix the revision");
      await connection.close();
    } finally {
      await sql.unsafe(`DROP OWNED BY ${role}`).catch(() => undefined);
      await sql.unsafe(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it("says to mark a revision non-transactional when its statement cannot run in a transaction", async () => {
    // CLUSTER without a table is one lambic does not refuse before it runs (CREATE INDEX CONCURRENTLY is): the server's 25001 says it.
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => op.execute("CLUSTER") }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ revision: "r0002", sqlstate: "25001" });
    expect(error.message).toContain(`mark revision r0002 non-transactional (transactional: false; "-- transactional: false" in a .sql file)`);
  });

  it("gives PostgreSQL's hint with a failed statement: a type change without USING says which USING to write", async () => {
    const set = inlineRevisionSet([
      { id: "h0001", revises: null, upgrade: (op) => op.createTable("h", { a: "text" }) },
      { id: "h0002", revises: "h0001", upgrade: (op) => op.alterColumn("h", "a", { type: "integer" }) },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ revision: "h0002", sqlstate: "42804", hint: 'You might need to specify "USING a::integer".' });
    expect(error.message).toContain(`in: ALTER TABLE "h" ALTER COLUMN "a" TYPE integer (hint: You might need to specify "USING a::integer"). `);
  });

  it("says to give alterColumn the new default when a type change fails on converting the old one", async () => {
    const set = inlineRevisionSet([
      { id: "d0001", revises: null, upgrade: (op) => op.createTable("d", { status: { type: "text", default: "new" } }) },
      { id: "d0002", revises: "d0001", upgrade: (op) => op.alterColumn("d", "status", { type: "integer", using: "length(status)" }) },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ revision: "d0002", sqlstate: "42804" });
    expect(error.message).toContain("op.alterColumn's default: the new default, or null to drop it");
    expect(error.message).not.toContain("Fix the revision and run again");
  });

  it("says an enum label added in the run cannot be used before it commits, even by a later revision, and how to commit it first", async () => {
    const set = inlineRevisionSet([
      { id: "e0001", revises: null, upgrade: (op) => { op.createEnum("mood", ["sad"]); op.createTable("p", { m: "mood" }); } },
      { id: "e0002", revises: "e0001", upgrade: (op) => op.addEnumValue("mood", "happy") },
      { id: "e0003", revises: "e0002", upgrade: (op) => op.alterColumn("p", "m", { default: "happy" }) },
    ]);
    // A label added to a type created in the same transaction is usable: the type comes from an earlier run.
    await run(set, { kind: "upgrade", target: "e0001" });
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ revision: "e0003", sqlstate: "55P04" });
    expect(error.message).toContain("cannot be used until the transaction that added it commits, and a run is one transaction, later revisions included");
    expect(error.message).toContain("or run with --per-revision");
    expect(error.message).not.toContain("Fix the revision and run again");
    await run(set, { kind: "upgrade", target: "head" }, { perRevision: true });
    expect(await versions()).toEqual(["e0003"]);
  });

  it("says to create the configured schema of the version table when it does not exist", async () => {
    const error = await failure(run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" }, { schema: "nowhere" }));
    expect(error.details).toMatchObject({ sqlstate: "3F000" });
    expect(error.message).toContain(`The schema "nowhere" that holds the version table does not exist: create it, or fix "schema" in lambic.config.json, then run again.`);
    expect(await tables()).toEqual([]);
  });

  it("refuses a dry run whose configured schema of the version table does not exist, as the run does, instead of showing a script that would fail", async () => {
    const connection = await connect();
    const set = inlineRevisionSet(tableHistory(1));
    const error = await failure(dryRunMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), schema: "nowhere", generatedAt: new Date(), range: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.details).toMatchObject({ sqlstate: "3F000" });
    expect(error.message).toContain(`The schema "nowhere" that holds the version table does not exist: create it, or fix "schema" in lambic.config.json, then run again.`);
    await sql`CREATE SCHEMA nowhere`;
    expect((await dryRunMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), schema: "nowhere", generatedAt: new Date(), range: "head" })).to).toEqual(["r0001"]);
  });

  it("creates a version table whose name is 63 bytes, which <name>_pkc truncated would collide with", async () => {
    const versionTable = "v".repeat(63);
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" }, { versionTable });
    expect((await sql`SELECT version_num FROM ${sql(versionTable)}`).map((r) => r.version_num)).toEqual(["r0001"]);
    const [key] = await sql`SELECT conname FROM pg_constraint WHERE conrelid = ${versionTable}::regclass AND contype = 'p'`;
    expect(key?.conname).not.toBe(versionTable);
  });

  it("releases the session lock of a perRevision run as a lock key, not SQL, on a server with standard_conforming_strings off", async () => {
    await sql.unsafe(`ALTER DATABASE "${db.name}" SET standard_conforming_strings = off`);
    await sql`CREATE TABLE y (id int)`;
    const versionTable = "v\\', 0)); DROP TABLE y; --";
    const result = await run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }, { versionTable, perRevision: true });
    expect(result.to).toEqual(["r0002"]);
    expect((await sql`SELECT to_regclass('y') IS NOT NULL AS kept`)[0]!.kept).toBe(true);
    expect(await sql`SELECT 1 FROM pg_locks WHERE locktype = 'advisory'`).toHaveLength(0);
  });

  it("reads current of a version table whose name holds a backslash and a quote on a server with standard_conforming_strings off", async () => {
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" }, { versionTable: "v\\', 0)); DROP TABLE y; --" });
    await sql.unsafe(`ALTER DATABASE "${db.name}" SET standard_conforming_strings = off`);
    await sql`CREATE TABLE y (id int)`;
    const connection = await connect();
    const state = await readCurrent(connection, inlineRevisionSet(tableHistory(1)), { versionTable: "v\\', 0)); DROP TABLE y; --" });
    expect(state.versions).toEqual(["r0001"]);
    expect((await sql`SELECT to_regclass('y') IS NOT NULL AS kept`)[0]!.kept).toBe(true);
  });

  it("checks a version table whose name holds a backslash and a quote on a server with standard_conforming_strings off", async () => {
    const versionTable = "v\\'; DROP TABLE y; --";
    await run(inlineRevisionSet(tableHistory(1)), { kind: "upgrade", target: "head" }, { versionTable });
    await sql.unsafe(`ALTER DATABASE "${db.name}" SET standard_conforming_strings = off`);
    await sql`CREATE TABLE y (id int)`;
    const connection = await connect();
    const result = await checkDatabase(connection, inlineRevisionSet(tableHistory(1)), { versionTable });
    expect(result).toMatchObject({ versions: ["r0001"], pending: [], changed: [], upToDate: true });
    expect((await sql`SELECT to_regclass('y') IS NOT NULL AS kept`)[0]!.kept).toBe(true);
  });

  it("says what stays when a non-transactional revision fails after running some of its statements", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => { op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }); op.execute("SELECT 1/0"); } },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.message).toContain("Revision r0002 runs outside a transaction, so what it did before the failure stays, but its version row was not written: the version table says r0001.");
    expect(error.message).not.toContain("as it was before");
    expect(error.message).toMatch(/Undo what it left, or make its statements idempotent \(IF NOT EXISTS\), so that running it again succeeds\. Fix the revision and run again\.$/);
    expect(error.details).toMatchObject({ committed: ["r0001"], outsideTransaction: "r0002" });
    expect(await versions()).toEqual(["r0001"]);
    expect((await sql`SELECT indexname FROM pg_indexes WHERE indexname = 't1_note_idx'`).length).toBe(1);
  });

  it("names the INVALID index a failed CREATE INDEX CONCURRENTLY left, which IF NOT EXISTS would skip, and says to drop it", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1, () => ({ upgrade: (op) => { op.createTable("t1", { id: "bigint primary key", note: "text" }); op.execute("INSERT INTO t1 VALUES (1, 'x'), (2, 'x')"); } })),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.execute("CREATE UNIQUE INDEX CONCURRENTLY t1_note_key ON t1 (note)") },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0002", sqlstate: "23505", invalidIndexes: ["t1_note_key"] } });
    expect(error.message).toMatch(/The failed build left index t1_note_key behind, INVALID \(unused, but kept up to date by every write\), and IF NOT EXISTS would skip it: drop it with DROP INDEX CONCURRENTLY t1_note_key before running again\.$/);
    expect(await sql`SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't1_note_key'`).toEqual([{ relname: "t1_note_key", indisvalid: false }]);
  });

  it("says to send a statement on its own, not to mark the revision non-transactional, when a non-transactional revision's ctx.query of several statements meets 25001", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: async (_op, ctx) => void (await ctx.query("CREATE INDEX CONCURRENTLY a_idx ON t1 (note); CREATE INDEX CONCURRENTLY b_idx ON t1 (id)")) },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0002", sqlstate: "25001" } });
    expect(error.message).not.toContain("mark revision r0002 non-transactional");
    expect(error.message).toMatch(/Revision r0002 runs outside a transaction already, but PostgreSQL runs the statements of one message \(a ctx\.query of several\) as one transaction, and a function or DO block as part of its statement's: give this statement a ctx\.query \(or op\.execute\) of its own, outside any function, then run again\.$/);
  });

  it.each([
    ["a later revision fails", (op: Operations) => op.execute("SELECT 1/0")],
    ["its own statement fails", undefined],
  ])("releases the session lock of a failed non-transactional plan while its connection stays open, so the next run does not wait: %s", async (_case, later) => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.execute(later ? "CREATE INDEX CONCURRENTLY t1_note_idx ON t1 (note)" : "SELECT 1/0") },
      ...(later ? [{ id: "r0003", revises: "r0002", upgrade: later }] : []),
    ]);
    const kept = await connect();
    await failure(runMigration(kept, set, { kind: "upgrade", target: "head" }, baseOptions()));
    expect(await sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).toEqual([{ n: 0 }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }, { lockTimeoutMs: 200 }));
    expect(error.code).not.toBe("LOCK_TIMEOUT");
  });

  it.each([
    ["its statement fails", "SELECT 1/0", "STATEMENT_FAILED"],
    ["its op refuses its arguments", "COPY t1 TO STDOUT", "INVALID_OPERATION"],
  ])("commits a non-transactional revision's version and history rows before the next revision, so a later failure leaves the database at it: %s", async (_case, statement, code) => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }) },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.execute(statement) },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code, details: { revision: "r0003" } });
    expect(error.message).toContain("This transaction was rolled back; the revisions committed before it stay, so the database is at r0002.");
    expect(error.message).not.toContain("outside a transaction");
    expect(await versions()).toEqual(["r0002"]);
    expect((await sql`SELECT revision FROM lambic_history ORDER BY id`).map((r) => r.revision)).toEqual(["r0001", "r0002"]);
  });

  it("goes on from a non-transactional revision that completed when the run is repeated after a later revision failed", async () => {
    const history = [
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op: Operations) => op.execute("CREATE INDEX CONCURRENTLY t1_note_idx ON t1 (note)") },
    ];
    await failure(run(inlineRevisionSet([...history, { id: "r0003", revises: "r0002", upgrade: (op) => op.execute("SELECT 1/0") }]), { kind: "upgrade", target: "head" }));
    const result = await run(inlineRevisionSet([...history, { id: "r0003", revises: "r0002", upgrade: (op) => op.addColumn("t1", "later", "int") }]), { kind: "upgrade", target: "head" });
    expect(result).toMatchObject({ from: ["r0002"], to: ["r0003"] });
    expect(result.steps.map((s) => s.revision)).toEqual(["r0003"]);
  });

  it("commits a downgrade's non-transactional revision before the next step, so a later failure leaves the database below it", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1, () => ({ downgrade: (op) => op.execute("SELECT 1/0") })),
      { id: "r0002", revises: "r0001", transactional: false, upgrade: (op) => op.createIndex("t1_note_idx", "t1", ["note"], { concurrently: true }), downgrade: (op) => op.dropIndex("t1_note_idx", { concurrently: true }) },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.addColumn("t1", "later", "int"), downgrade: (op) => op.dropColumn("t1", "later") },
    ]);
    await run(set, { kind: "upgrade", target: "head" });
    const error = await failure(run(set, { kind: "downgrade", target: "base" }));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0001", direction: "down", committed: ["r0001"] } });
    expect(error.message).toContain("the database is at r0001.");
    expect(await versions()).toEqual(["r0001"]);
    expect((await sql`SELECT indexname FROM pg_indexes WHERE indexname = 't1_note_idx'`).length).toBe(0);
    expect((await sql`SELECT revision, direction FROM lambic_history WHERE direction = 'down' ORDER BY id`).map((r) => `${r.revision} ${r.direction}`)).toEqual(["r0003 down", "r0002 down"]);
  });

  it("gives revisions ctx.x and ctx.query for data migrations", async () => {
    const set = inlineRevisionSet([
      { id: "aaaa0001", revises: null, upgrade: (op) => { op.createTable("item", { n: "int" }); op.bulkInsert("item", [{ n: 1 }, { n: 2 }]); } },
      {
        id: "bbbb0002",
        revises: "aaaa0001",
        upgrade: async (op, ctx) => {
          const [row] = await ctx.query<{ total: number }>("SELECT sum(n)::int AS total FROM item WHERE n >= $1", [1]);
          op.createTable("summary", { total: "int", tag: "text" });
          op.bulkInsert("summary", [{ total: row!.total, tag: ctx.x.tag ?? null }]);
        },
      },
    ]);
    await run(set, { kind: "upgrade", target: "head" }, { x: { tag: "from-x" } });
    expect(await sql`SELECT total, tag FROM summary`).toEqual([{ total: 3, tag: "from-x" }]);
  });

  it("reads the NULL elements of an array as null with ctx.query, not the string \"NULL\"", async () => {
    let read: unknown;
    const set = inlineRevisionSet([
      {
        id: "aaaa0001",
        revises: null,
        upgrade: async (_op, ctx) => {
          read = await ctx.query("SELECT ARRAY['a', NULL, 'NULL']::text[] AS texts, ARRAY[1, NULL]::int[] AS ints, '{{1,NULL},{3,4}}'::int[] AS nested, '[0:1]={5,6}'::int[] AS bounded");
        },
      },
    ]);
    await run(set, { kind: "upgrade", target: "head" });
    expect(read).toEqual([{ texts: ["a", null, "NULL"], ints: [1, null], nested: [[1, null], [3, 4]], bounded: [5, 6] }]);
  });

  /** Runs r0002's upgrade (over t1's revision) expecting ctx.query to refuse before sending: INVALID_OPERATION, nothing left behind. */
  async function refusedRead(upgrade: MigrationFunction): Promise<LambicError> {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "INVALID_OPERATION", details: { revision: "r0002", direction: "up" } });
    expect(await tables()).toEqual([]);
    return error;
  }

  it("refuses an undefined ctx.query parameter before sending it, naming the revision and the parameter", async () => {
    const row: { id?: number } = {};
    const error = await refusedRead(async (_op, ctx) => void (await ctx.query("SELECT * FROM t1 WHERE id = $1", [row.id])));
    expect(error.message).toBe(
      "Revision r0002 (upgrade): ctx.query() was given undefined as parameter $1 (a property that is not there reads as undefined): pass null for SQL NULL, for: SELECT * FROM t1 WHERE id = $1. The run was rolled back: the database is as it was before.",
    );
  });

  it("dry-runs a revision that reads data with ctx.query: the script shows what it queued before the read and marks the read, changing nothing", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      {
        id: "r0002",
        revises: "r0001",
        upgrade: async (op, ctx) => {
          op.createTable("before_read", { id: "int" });
          const rows = await ctx.query<{ n: number }>("SELECT count(*)::int AS n FROM t1");
          op.createTable(`after_read_${rows[0]!.n}`, { id: "int" });
        },
      },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.createTable("t3", { id: "int" }) },
    ]);
    await run(set, { kind: "upgrade", target: "r0001" });
    const connection = await connect();
    const plan = await dryRunMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), generatedAt: new Date(), range: "head" });
    expect(plan).toMatchObject({ from: ["r0001"], to: ["r0003"] });
    expect(plan.script).toContain(
      'CREATE TABLE "before_read" (\n    "id" int\n);\n\n-- revision r0002 reads data here with ctx.query (SELECT count(*)::int AS n FROM t1); a dry run reads nothing, so what the revision does after the read, which depends on the data, is not shown\n',
    );
    expect(plan.script).not.toContain("after_read");
    expect(plan.readsNotRun).toEqual([{ revision: "r0002", statement: "SELECT count(*)::int AS n FROM t1" }]);
    expect(plan.script).toContain('CREATE TABLE "t3"');
    expect(await versions()).toEqual(["r0001"]);
    expect(await tables()).toEqual(["t1"]);
    expect((await sql`SELECT count(*)::int AS n FROM lambic_history`)[0]!.n).toBe(1);
  });

  it("dry-runs a revision that catches its read's error as one stopped at the read: neither its fallback nor a failure on the rows it did not get is shown", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      {
        id: "r0002",
        revises: "r0001",
        upgrade: async (op, ctx) => {
          op.createTable("before_read", { id: "int" });
          try {
            await ctx.query("SELECT count(*)::int AS n FROM t1");
          } catch {
            op.createTable("fallback", { id: "int" });
          }
          await ctx.query("SELECT 2");
          op.createTable("after_read", { id: "int" });
        },
      },
      {
        id: "r0003",
        revises: "r0002",
        upgrade: async (op, ctx) => {
          let rows: { n: number }[] = [];
          try {
            rows = await ctx.query<{ n: number }>("SELECT 3 AS n");
          } catch {
            // (a revision that logs and goes on)
          }
          op.createTable(`t3_${rows[0]!.n}`, { id: "int" });
        },
      },
    ]);
    await run(set, { kind: "upgrade", target: "r0001" });
    const connection = await connect();
    const plan = await dryRunMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), generatedAt: new Date(), range: "head" });
    expect(plan).toMatchObject({ from: ["r0001"], to: ["r0003"] });
    expect(plan.script).toContain('CREATE TABLE "before_read" (\n    "id" int\n);\n\n-- revision r0002 reads data here with ctx.query (SELECT count(*)::int AS n FROM t1);');
    expect(plan.script).toContain("-- revision r0003 reads data here with ctx.query (SELECT 3 AS n);");
    expect(plan.script).not.toMatch(/fallback|after_read|t3_/);
    expect(plan.readsNotRun).toEqual([
      { revision: "r0002", statement: "SELECT count(*)::int AS n FROM t1" },
      { revision: "r0003", statement: "SELECT 3 AS n" },
    ]);
    expect(await tables()).toEqual(["t1"]);
  });

  it("dry-runs stamp --purge as the run does: the script deletes the rows and `to` is the stamped revision alone", async () => {
    const set = inlineRevisionSet(tableHistory(3));
    await run(set, { kind: "upgrade", target: "r0001" });
    const connection = await connect();
    const plan = await dryRunMigration(connection, set, { kind: "stamp", targets: ["r0003"], purge: true }, { ...baseOptions(), generatedAt: new Date(), range: "r0003" });
    expect(plan).toMatchObject({ from: ["r0001"], to: ["r0003"] });
    expect(plan.script).toContain('DELETE FROM "lambic_version"');
    expect(await versions()).toEqual(["r0001"]);
  });

  it("dry-runs stamp --purge over a version row no revision defines (a removed revision), as the run stamps it", async () => {
    const set = inlineRevisionSet(tableHistory(2));
    await run(set, { kind: "upgrade", target: "head" });
    await sql`UPDATE lambic_version SET version_num = 'removed0001'`;
    const connection = await connect();
    const plan = await dryRunMigration(connection, set, { kind: "stamp", targets: ["r0002"], purge: true }, { ...baseOptions(), generatedAt: new Date(), range: "r0002" });
    expect(plan).toMatchObject({ from: ["removed0001"], to: ["r0002"] });
    expect(plan.script).toContain('DELETE FROM "lambic_version"');
    expect(await versions()).toEqual(["removed0001"]);
    expect(await run(set, { kind: "stamp", targets: ["r0002"], purge: true })).toMatchObject({ from: ["removed0001"], to: ["r0002"] });
    // Without --purge the stamp starts from the rows, which the run refuses, and so does its dry run.
    await sql`UPDATE lambic_version SET version_num = 'removed0001'`;
    const stamp = await failure(dryRunMigration(connection, set, { kind: "stamp", targets: ["r0001"] }, { ...baseOptions(), generatedAt: new Date(), range: "r0001" }));
    expect(stamp.code).toBe("UNKNOWN_VERSION");
  });

  it("runs a non-transactional revision's statements before its ctx.query one at a time, stopping at the first failure and saying what stays", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      {
        id: "r0002",
        revises: "r0001",
        transactional: false,
        upgrade: async (op, ctx) => {
          op.execute("CREATE TABLE nt1 (id int)");
          op.execute("SELECT 1/0");
          op.execute("CREATE TABLE nt2 (id int)");
          await ctx.query("SELECT 1");
        },
      },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0002", statement: "SELECT 1/0" } });
    expect(error.message).toContain("Revision r0002 runs outside a transaction, so what it did before the failure stays, but its version row was not written: the version table says r0001.");
    expect(await tables()).toEqual(["nt1", "t1"]);
    expect(await versions()).toEqual(["r0001"]);
  });

  async function readInRevision(statement: string): Promise<unknown> {
    let read: unknown;
    await run(inlineRevisionSet([{ id: "aaaa0001", revises: null, upgrade: async (_op, ctx) => void (read = await ctx.query(statement)) }]), { kind: "upgrade", target: "head" });
    return read;
  }

  it("reads a numeric[] through ctx.query as exact strings, as it reads a numeric", async () => {
    const read = await readInRevision("SELECT 0.1000000000000000055::numeric AS one, ARRAY[0.1000000000000000055, 12345678901234567890.5, NULL]::numeric[] AS many");
    expect(read).toEqual([{ one: "0.1000000000000000055", many: ["0.1000000000000000055", "12345678901234567890.5", null] }]);
  });

  it("reads interval, point and circle through ctx.query as PostgreSQL's text, and a date as UTC midnight whatever the process's time zone", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      const read = await readInRevision("SELECT '1 day 02:00'::interval AS span, ARRAY['1 day'::interval] AS spans, '(1,2)'::point AS at, ARRAY['(1,2)'::point] AS ats, '<(1,2),3>'::circle AS round, '2024-01-02'::date AS day, ARRAY['2024-01-02'::date] AS days");
      expect(read).toEqual([
        { span: "1 day 02:00:00", spans: ["1 day"], at: "(1,2)", ats: ["(1,2)"], round: "<(1,2),3>", day: new Date("2024-01-02T00:00:00Z"), days: [new Date("2024-01-02T00:00:00Z")] },
      ]);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("names the failed ctx.query, not the next statement, when the revision caught its error and went on", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      {
        id: "r0002",
        revises: "r0001",
        upgrade: async (op, ctx) => {
          await ctx.query("SELECT * FROM maybe_missing").catch(() => []);
          op.createTable("after_read", { id: "int" });
        },
      },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0002", statement: "SELECT * FROM maybe_missing", sqlstate: "42P01", caught: true } });
    expect(error.message).toMatch(/^Revision r0002 caught the failure of its ctx\.query and went on, but a failed statement aborts the transaction, so nothing after it can run \(the next statement, in revision r0002 \(upgrade\), got "current transaction is aborted.*The failure: Revision r0002 \(upgrade\) failed: relation "maybe_missing" does not exist/);
    expect(await tables()).toEqual([]);
  });

  it("lets a revision recover from a failed ctx.query with a savepoint", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      {
        id: "r0002",
        revises: "r0001",
        upgrade: async (op, ctx) => {
          op.execute("SAVEPOINT maybe");
          const found = await ctx.query("SELECT * FROM maybe_missing").then(() => true, () => false);
          op.execute(found ? "RELEASE SAVEPOINT maybe" : "ROLLBACK TO SAVEPOINT maybe");
          op.createTable("after_read", { id: "int" });
        },
      },
    ]);
    await run(set, { kind: "upgrade", target: "head" });
    expect(await tables()).toEqual(["after_read", "t1"]);
  });

  it("gives ctx.x exactly the keys given, \"__proto__\" included, and nothing inherited", async () => {
    let seen: unknown;
    const set = inlineRevisionSet([{ id: "aaaa0001", revises: null, upgrade: (_op, ctx) => void (seen = { keys: Object.keys(ctx.x), proto: ctx.x["__proto__"], constructor: ctx.x.constructor, toString: ctx.x.toString }) }]);
    await run(set, { kind: "upgrade", target: "head" }, { x: JSON.parse('{"__proto__": "p", "tag": "t"}') as Record<string, string> });
    expect(seen).toEqual({ keys: ["__proto__", "tag"], proto: "p", constructor: undefined, toString: undefined });
  });

  it("fails a ctx.query given fewer parameters than its statement uses as STATEMENT_FAILED (08P01) naming it, changing nothing, and the connection stays usable", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: async (_op, ctx) => void (await ctx.query("SELECT $1::text, $2::text", ["x"])) }]);
    const connection = await connect();
    const error = await failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions()));
    expect(error).toMatchObject({ code: "STATEMENT_FAILED", details: { revision: "r0002", statement: "SELECT $1::text, $2::text", sqlstate: "08P01" } });
    expect(error.message).toContain('bind message supplies 1 parameters, but prepared statement "" requires 2');
    expect(await tables()).toEqual([]);
    expect(await readCurrent(connection, set, { versionTable: "lambic_version" })).toMatchObject({ versions: [] });
  });

  it("refuses a ctx.query parameter that cannot be sent as JSON (a circular object) before sending it, instead of losing the connection", async () => {
    const node: Record<string, unknown> = { name: "a" };
    node.parent = node;
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: async (_op, ctx) => void (await ctx.query("SELECT $1::jsonb AS v", [node])) }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "INVALID_OPERATION", details: { revision: "r0002" } });
    expect(error.message).toMatch(/^Revision r0002 \(upgrade\): ctx\.query\(\) was given parameter \$1, an object that cannot be sent as JSON \(Converting circular structure to JSON\): pass plain JSON data/);
    expect(await tables()).toEqual([]);
  });

  it("refuses a ctx.query of more parameters than postgres.js can send (65,534) before sending it, instead of hanging, and reads 65,533", async () => {
    const sum = (count: number) => [`SELECT cardinality(ARRAY[${Array.from({ length: count }, (_, i) => `$${i + 1}::int`).join(",")}]) AS n`, Array.from({ length: count }, () => 1)] as const;
    const read: unknown[] = [];
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", upgrade: async (_op, ctx) => void read.push(await ctx.query(...sum(65_533))) },
      { id: "r0003", revises: "r0002", upgrade: async (op, ctx) => { op.createTable("t3", { id: "int" }); await ctx.query(...sum(65_534)); } },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "INVALID_OPERATION", details: { revision: "r0003", direction: "up" } });
    expect(error.message).toMatch(/^Revision r0003 \(upgrade\): ctx\.query\(\) was given 65534 parameters, more than the 65533 a statement can take \(postgres\.js's limit; the protocol's is 65535\): pass the values as one array parameter \(\$1::int\[\], unnest\(\$1::int\[\]\)\) or read in batches, for: SELECT cardinality/);
    expect(error.message).toMatch(/The run was rolled back: the database is as it was before\.$/);
    expect(read).toEqual([[{ n: 65_533 }]]);
    expect(await tables()).toEqual([]);
  });

  it("refuses an invalid Date as a ctx.query parameter before sending it, naming the parameter", async () => {
    const error = await refusedRead(async (_op, ctx) => void (await ctx.query("SELECT $1::int, $2::timestamptz AS v", [1, new Date("not a date")])));
    expect(error.message).toMatch(/^Revision r0002 \(upgrade\): ctx\.query\(\) was given parameter \$2, an invalid Date \(its time is NaN\), which is no timestamp: pass a valid Date, or null/);
  });

  it("refuses ctx.query called as a tagged template (ctx.query`...`) before sending it, saying how to call it, rather than reporting a lost connection", async () => {
    const id = 1;
    const error = await refusedRead(async (_op, ctx) => void (await (ctx.query as unknown as (...args: unknown[]) => Promise<unknown>)`SELECT * FROM t1 WHERE id = ${[id]}`));
    expect(error.message).toBe(
      "Revision r0002 (upgrade): ctx.query() was given a tagged template (ctx.query`...`) instead of the SQL text: call it as ctx.query(sql, [a, b]), the values as $1 and $2. The run was rolled back: the database is as it was before.",
    );
  });

  it("refuses a ctx.query whose SQL is not a string (undefined, an object) before sending it, naming the revision, rather than reporting a lost connection", async () => {
    for (const given of [undefined, { text: "SELECT 1" }]) {
      const error = await refusedRead(async (_op, ctx) => void (await ctx.query(given as unknown as string)));
      expect(error.message).toBe(
        `Revision r0002 (upgrade): ctx.query() was given ${given === undefined ? "undefined" : "an object"} as its SQL, which is no text: pass the statement as a string. The run was rolled back: the database is as it was before.`,
      );
    }
  });

  it("refuses a ctx.query whose SQL holds a NUL character or an unpaired surrogate before sending it, as op.execute does, naming where", async () => {
    for (const [text, words] of [["SELECT 1 AS a\0", "SQL holding a NUL character (at index 13), which PostgreSQL cannot receive"], ["SELECT 'a\ud800' AS a", "SQL holding an unpaired UTF-16 surrogate (at index 9), which UTF-8 cannot encode"]] as const) {
      const error = await refusedRead(async (_op, ctx) => void (await ctx.query(text)));
      expect(error.details).toMatchObject({ statement: text });
      expect(error.message).toContain(`Revision r0002 (upgrade): ctx.query() was given ${words}`);
    }
  });

  it("runs a ctx.query before the statements the revision queues while the read is pending", async () => {
    let read: unknown;
    const set = inlineRevisionSet([
      {
        id: "aaaa0001",
        revises: null,
        upgrade: async (op, ctx) => {
          op.createTable("item", { n: "int" });
          op.bulkInsert("item", [{ n: 1 }]);
          const pending = ctx.query<{ n: number }>("SELECT count(*)::int AS n FROM item");
          op.bulkInsert("item", [{ n: 2 }]);
          const [later] = await ctx.query<{ n: number }>("SELECT count(*)::int AS n FROM item");
          read = [(await pending)[0]!.n, later!.n];
        },
      },
    ]);
    await run(set, { kind: "upgrade", target: "head" });
    expect(read).toEqual([1, 2]);
  });

  it("refuses a ctx.query of COPY … TO STDOUT before sending it, changing nothing", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: async (_op, ctx) => void (await ctx.query("COPY t1 TO STDOUT")) }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("INVALID_OPERATION");
    expect(error.message).toContain("ctx.query(): the statement is COPY … TO STDOUT");
    expect(error.message).toContain("The run was rolled back: the database is as it was before.");
    expect(await tables()).toEqual([]);
  });

  it("refuses a COMMIT in a transactional revision before sending it, so a later failure still rolls everything back", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", upgrade: (op) => op.execute("CREATE TABLE t2 (id int); COMMIT") },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.execute("SELECT 1/0") },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("INVALID_OPERATION");
    expect(error.details).toMatchObject({ revision: "r0002", statement: "COMMIT" });
    expect(error.message).toContain("the statement COMMIT controls a transaction, which is lambic's to do");
    expect(error.message).toContain("The run was rolled back: the database is as it was before.");
    expect(await tables()).toEqual([]);
  });

  it("names the revision whose op refuses its arguments, changing nothing", async () => {
    const name = "n".repeat(70);
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => op.createTable(name, { id: "int" }) }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ revision: "r0002", direction: "up" });
    expect(error.message).toMatch(/^Revision r0002 \(upgrade, .+\): /);
    expect(error.message).toContain(name);
    expect(await tables()).toEqual([]);
  });

  it("stops when its signal is aborted: the running statement is cancelled (through Neon the connection is closed), INTERRUPTED, nothing committed", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => op.execute("SELECT pg_sleep(30)") }]);
    const controller = new AbortController();
    const connection = await connect();
    const running = failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), signal: controller.signal }));
    for (let tries = 0; ; tries++) {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()`;
      if (n > 0) break;
      if (tries > 200) throw new Error("the slow revision never started");
      await new Promise((r) => setTimeout(r, 50));
    }
    const aborted = Date.now();
    controller.abort();
    const error = await running;
    expect(Date.now() - aborted).toBeLessThan(10_000);
    expect(error.code).toBe("INTERRUPTED");
    expect(error.message).toContain(
      driver === "postgres"
        ? "Interrupted while running revision r0002; the running statement was cancelled. The run was rolled back"
        : "Interrupted while running revision r0002; the connection was closed (Neon's driver cannot cancel a statement): the server rolls back when it notices, at the latest when the running statement ends, and until then holds the run lock",
    );
    expect(error.message).toContain("The run was rolled back: the database is as it was before.");
    expect(await tables()).toEqual([]);
  });

  it.runIf(driver === "postgres")("says a COMMIT its signal cancelled (running a deferred trigger) was rolled back, where the run started", async () => {
    const slowAtCommit = inlineRevisionSet([
      ...tableHistory(1, () => ({
        upgrade: (op) => {
          op.createTable("t1", { id: "bigint primary key" });
          op.execute("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$");
          op.execute("CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON t1 DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow()");
        },
      })),
      { id: "r0002", revises: "r0001", upgrade: (op) => op.execute("INSERT INTO t1 VALUES (1)") },
    ]);
    await run(slowAtCommit, { kind: "upgrade", target: "r0001" });
    const controller = new AbortController();
    const connection = await connect();
    const running = failure(runMigration(connection, slowAtCommit, { kind: "upgrade", target: "head" }, { ...baseOptions(), signal: controller.signal }));
    for (let tries = 0; ; tries++) {
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'COMMIT' AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()`;
      if (n > 0) break;
      if (tries > 200) throw new Error("the COMMIT never reached the deferred trigger");
      await new Promise((r) => setTimeout(r, 50));
    }
    controller.abort();
    const error = await running;
    expect(error.code).toBe("INTERRUPTED");
    expect(error.message).toBe("Interrupted during COMMIT, while it ran the transaction's deferred constraints or constraint triggers; the COMMIT was cancelled. The run was rolled back: the database is as it was before.");
    expect(await versions()).toEqual(["r0001"]);
  });

  it("says it was waiting for the run lock, not that a statement was cancelled, when its signal is aborted during that wait", async () => {
    const set = inlineRevisionSet(tableHistory(1));
    const controller = new AbortController();
    const connection = await connect();
    const error = await whileLocked({ runLock: true }, async () => {
      const running = failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), lockTimeoutMs: 30_000, signal: controller.signal }));
      await new Promise((r) => setTimeout(r, 400));
      controller.abort();
      return running;
    });
    expect(error.code).toBe("INTERRUPTED");
    expect(error.message).toContain("Interrupted while waiting for the run lock (another run holds it); nothing had started.");
    expect(error.message).not.toContain("running statement");
    expect(await tables()).toEqual([]);
  });

  it("ends INTERRUPTED, changing nothing, when its signal is aborted in the tick the run was called (before the driver sent anything)", async () => {
    const set = inlineRevisionSet(tableHistory(1));
    const controller = new AbortController();
    const connection = await connect();
    const running = failure(runMigration(connection, set, { kind: "upgrade", target: "head" }, { ...baseOptions(), signal: controller.signal }));
    controller.abort();
    const error = await running;
    expect(error.code).toBe("INTERRUPTED");
    expect(await tables()).toEqual([]);
  });

  it("refuses a statement over PostgreSQL's 1 GB message limit before sending it, naming the revision, instead of losing the connection", async () => {
    // 357,913,939 euro signs are 1,073,741,817 bytes of UTF-8: with the quotes and SELECT, past the limit.
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: (op) => { op.createTable("t2", { id: "int" }); op.execute(`SELECT '${"€".repeat(357_913_939)}'`); } }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "INVALID_OPERATION", details: { revision: "r0002", direction: "up", bytes: 1_073_741_826 } });
    expect(error.message).toMatch(/^Revision r0002 \(upgrade, inline\/r0002\.ts\): the statement SELECT '€€€/);
    expect(error.message).toContain("is 1073741826 bytes long in UTF-8, more than the 1073741817 PostgreSQL takes in one message (1 GB): split it into several statements (bulkInsert: rows in batches; data too large for one: COPY it outside lambic).");
    expect(error.message).toMatch(/The run was rolled back: the database is as it was before\.$/);
    expect(await tables()).toEqual([]);
  });

  it("wraps an exception thrown by a revision as REVISION_FAILED and changes nothing", async () => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: () => { throw new Error("boom"); } }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("REVISION_FAILED");
    expect(error.message).toContain("r0002");
    expect(error.message).toContain("boom");
    expect(await tables()).toEqual([]);
  });

  it.each([
    ["a plain object", () => ({ code: 42, detail: "3 orphan rows" }), 'threw: a value that is not an Error, {"code":42,"detail":"3 orphan rows"}.'],
    ["a string", () => "no config for this stage", "threw: no config for this stage."],
    ["an object without a prototype", () => Object.create(null), "threw: a value that is not an Error ([object Object])."],
  ])("names what a revision threw that is not an Error (%s), and changes nothing", async (_case, value, text) => {
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: () => { throw value(); } }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "REVISION_FAILED", details: { revision: "r0002", direction: "up" } });
    expect(error.message).toContain(`Revision r0002 (upgrade) ${text}`);
    expect(await tables()).toEqual([]);
  });

  it("fails the run, changing nothing, when a revision calls an op after its upgrade returned (a timer it did not await)", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", upgrade: (op) => void setTimeout(() => op.createTable("late", { id: "int" }), 10) },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.execute("SELECT pg_sleep(0.3)") },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "REVISION_FAILED", details: { revision: "r0002", direction: "up" } });
    expect(error.message).toContain('Revision r0002 (upgrade) called op (CREATE TABLE "late"');
    expect(error.message).toContain("The run was rolled back: the database is as it was before. Await every promise in the revision");
    expect(await tables()).toEqual([]);
  });

  it("fails the run, changing nothing, when a revision reads with ctx.query after its upgrade returned (a promise it did not await)", async () => {
    const set = inlineRevisionSet([
      ...tableHistory(1),
      { id: "r0002", revises: "r0001", upgrade: (op, ctx) => void new Promise((resolve) => setTimeout(resolve, 10)).then(() => ctx.query("SELECT 1")) },
      { id: "r0003", revises: "r0002", upgrade: (op) => op.execute("SELECT pg_sleep(0.3)") },
    ]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error).toMatchObject({ code: "REVISION_FAILED", details: { revision: "r0002", direction: "up" } });
    expect(error.message).toContain('Revision r0002 (upgrade) called ctx.query("SELECT 1")');
    expect(error.message).toContain("The run was rolled back: the database is as it was before.");
    expect(await tables()).toEqual([]);
  });

  it("stamps without running revisions, and purges", async () => {
    const set = inlineRevisionSet(tableHistory(3));
    const stamped = await run(set, { kind: "stamp", targets: ["r0002"] });
    expect(stamped.to).toEqual(["r0002"]);
    expect(await tables()).toEqual([]);
    await run(set, { kind: "stamp", targets: ["r0001"], purge: true });
    expect(await versions()).toEqual(["r0001"]);
  });

  it("stamps a revision named twice (the same id, or an id and its branch label) once, where Alembic fails on an assertion", async () => {
    const set = inlineRevisionSet(tableHistory(3, (i) => (i === 1 ? { branchLabels: ["mid"] } : {})));
    expect((await run(set, { kind: "stamp", targets: ["r0002", "r0002"] })).to).toEqual(["r0002"]);
    expect((await run(set, { kind: "stamp", targets: ["r0003", "r0003"] })).to).toEqual(["r0003"]);
    expect((await run(set, { kind: "stamp", targets: ["mid", "r0002"] })).to).toEqual(["r0002"]);
    expect(await versions()).toEqual(["r0002"]);
    expect(await tables()).toEqual([]);
  });

  it("reports the rows stamp --purge deleted as where it started, as its dry run does", async () => {
    const set = inlineRevisionSet(tableHistory(3));
    await run(set, { kind: "stamp", targets: ["r0002"] });
    const purged = await run(set, { kind: "stamp", targets: ["r0001"], purge: true });
    expect(purged).toMatchObject({ from: ["r0002"], to: ["r0001"] });
  });

  it("reads current versions and effective heads without creating tables", async () => {
    const connection = await connect();
    expect(await readCurrent(connection, inlineRevisionSet(tableHistory(1)), { versionTable: "lambic_version" })).toEqual({ versions: [], heads: [] });
    expect((await sql`SELECT to_regclass('lambic_version') AS t`)[0]!.t).toBeNull();
  });

  it("sends an upgrade of more steps than one message holds in three round trips", async () => {
    const set = inlineRevisionSet(tableHistory(150, () => ({ upgrade: (op) => op.execute("SELECT 1") })));
    const connection = await connect();
    const before = connection.roundTrips;
    const result = await runMigration(connection, set, { kind: "upgrade", target: "head" }, baseOptions());
    expect(connection.roundTrips - before).toBe(3);
    expect(result.steps).toHaveLength(150);
    expect(await versions()).toEqual(["r0150"]);
  });

  it("reports every step in order when many steps are sent together", async () => {
    const seen: string[] = [];
    await run(inlineRevisionSet(tableHistory(150, () => ({ upgrade: (op) => op.execute("SELECT 1") }))), { kind: "upgrade", target: "head" }, { onStep: (step) => seen.push(step.revision) });
    expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => `r${String(i + 1).padStart(4, "0")}`));
  });

  it("lets a revision's read see every earlier step, including those already sent in full messages", async () => {
    const history = tableHistory(80, (i) => {
      if (i === 0) return { upgrade: (op) => op.createTable("item", { n: "int" }) };
      if (i < 70) return { upgrade: (op) => op.bulkInsert("item", [{ n: i }]) };
      if (i === 70) {
        return {
          upgrade: async (op, ctx) => {
            const [row] = await ctx.query<{ total: number }>("SELECT count(*)::int AS total FROM item");
            op.createTable("summary", { total: "int" });
            op.bulkInsert("summary", [{ total: row!.total }]);
          },
        };
      }
      return { upgrade: (op) => op.execute("SELECT 1") };
    });
    await run(inlineRevisionSet(history), { kind: "upgrade", target: "head" });
    expect(await sql`SELECT total FROM summary`).toEqual([{ total: 69 }]);
    expect(await versions()).toEqual(["r0080"]);
  });

  it("lets a revision's read see the version row its previous step wrote", async () => {
    const history = tableHistory(4, (i) =>
      i === 2
        ? {
            upgrade: async (op, ctx) => {
              const rows = await ctx.query<{ version_num: string }>("SELECT version_num FROM lambic_version");
              op.createTable("seen", { version_num: "text" });
              op.bulkInsert("seen", rows);
            },
          }
        : {},
    );
    await run(inlineRevisionSet(history), { kind: "upgrade", target: "head" });
    expect(await sql`SELECT version_num FROM seen`).toEqual([{ version_num: "r0002" }]);
    expect(await versions()).toEqual(["r0004"]);
  });

  it("fails with UNKNOWN_VERSION, changing nothing, when a revision deletes the version rows", async () => {
    const history = tableHistory(4, (i) => (i === 2 ? { upgrade: (op) => op.execute("DELETE FROM lambic_version") } : {}));
    await run(inlineRevisionSet(history), { kind: "upgrade", target: "r0001" });
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("UNKNOWN_VERSION");
    expect(error.message).toContain("lambic_version no longer holds the rows the plan started from (found 0 of 1");
    expect(error.message).toContain("The run was rolled back");
    expect(await versions()).toEqual(["r0001"]);
    expect(await tables()).toEqual(["t1"]);
  });

  it("leaves no prepared statement in the session after a run", async () => {
    const connection = await connect();
    await runMigration(connection, inlineRevisionSet(tableHistory(5)), { kind: "upgrade", target: "head" }, baseOptions());
    expect(await connection.query("SELECT name FROM pg_prepared_statements")).toEqual([]);
  });

  it("leaves no prepared statement in the session after a failed run", async () => {
    const connection = await connect();
    const history = tableHistory(5, (i) => (i === 3 ? { upgrade: (op) => op.execute("SELECT 1/0") } : {}));
    await failure(runMigration(connection, inlineRevisionSet(history), { kind: "upgrade", target: "head" }, baseOptions()));
    expect(await connection.query("SELECT name FROM pg_prepared_statements")).toEqual([]);
  });

  it("ignores a revision's own row that happens to have a lambic_step column", async () => {
    const seen: string[] = [];
    const history = tableHistory(4, (i) => (i === 1 ? { upgrade: (op) => op.execute("SELECT 3 AS lambic_step") } : {}));
    const result = await run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }, { onStep: (step) => seen.push(step.revision) });
    expect(seen).toEqual(["r0001", "r0002", "r0003", "r0004"]);
    expect(result.to).toEqual(["r0004"]);
  });

  it("names the failing revision and statement for an error without a position in the middle of a message", async () => {
    const history = tableHistory(100, (i) => (i === 69 ? { upgrade: (op) => { op.createTable("t70", { id: "int" }); op.execute("SELECT 1/0"); op.execute("SELECT 2"); } } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.details).toMatchObject({ revision: "r0070", sqlstate: "22012", statement: "SELECT 1/0" });
    expect(await tables()).toEqual([]);
  });

  it("names the failing statement of a .sql revision's several statements", async () => {
    const up = "CREATE TABLE a1 (id int);\n-- the second\nCREATE TABLE a1 (id int);\nCREATE TABLE a2 (id int);";
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", upgrade: sqlMigration(up) }]);
    const error = await failure(run(set, { kind: "upgrade", target: "head" }));
    expect(error.code).toBe("STATEMENT_FAILED");
    expect(error.details).toMatchObject({ revision: "r0002", sqlstate: "42P07", statement: "-- the second\nCREATE TABLE a1 (id int)" });
    expect(await tables()).toEqual([]);
  });

  it("runs a non-transactional .sql revision's statements one by one (two concurrent index builds)", async () => {
    const up = "CREATE INDEX CONCURRENTLY t1_note_idx ON t1 (note);\nCREATE INDEX CONCURRENTLY t1_id_note_idx ON t1 (id, note);";
    const set = inlineRevisionSet([...tableHistory(1), { id: "r0002", revises: "r0001", transactional: false, upgrade: sqlMigration(up) }]);
    const result = await run(set, { kind: "upgrade", target: "head" });
    expect(result.to).toEqual(["r0002"]);
    expect((await sql`SELECT indexname FROM pg_indexes WHERE tablename = 't1' AND indexname LIKE 't1_%note_idx' ORDER BY 1`).map((r) => r.indexname)).toEqual(["t1_id_note_idx", "t1_note_idx"]);
  });

  it("points at the statement and position of a syntax error in a later step of a message", async () => {
    const history = tableHistory(10, (i) => (i === 6 ? { upgrade: (op) => { op.execute("SELECT 1"); op.execute("SELECT * FROMM nowhere"); } } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }));
    expect(error.details).toMatchObject({ revision: "r0007", sqlstate: "42601", statement: "SELECT * FROMM nowhere", position: 10 });
  });

  it("reports a syntax error's position in characters, as PostgreSQL counts them (one per character outside the BMP)", async () => {
    const smiles = "\u{1F600}".repeat(12);
    const history = tableHistory(3, (i) => (i === 1 ? { upgrade: (op) => { op.execute(`SELECT '${smiles}' AS smiles`); op.execute(`SELECT '${smiles}' FROMM nowhere`); } } : {}));
    const error = await failure(run(inlineRevisionSet(history), { kind: "upgrade", target: "head" }));
    // "nowhere": FROMM is read as a column alias.
    expect(error.details).toMatchObject({ revision: "r0002", sqlstate: "42601", statement: `SELECT '${smiles}' FROMM nowhere`, position: 29 });
    expect(error.message).toContain("at character 29");
  });

  it("records each step's server-clock start and duration in the history, in step order", async () => {
    await run(inlineRevisionSet(tableHistory(80)), { kind: "upgrade", target: "head" });
    const rows = await sql`SELECT revision, started_at, duration_ms FROM lambic_history ORDER BY id`;
    expect(rows.map((r) => r.revision)).toEqual(Array.from({ length: 80 }, (_, i) => `r${String(i + 1).padStart(4, "0")}`));
    for (const [index, row] of rows.entries()) {
      expect(row.duration_ms).toBeGreaterThanOrEqual(0);
      if (index > 0) expect((row.started_at as Date).getTime()).toBeGreaterThanOrEqual((rows[index - 1]!.started_at as Date).getTime());
    }
  });

  it("adopts an Alembic database through versionTable alembic_version", async () => {
    await sql`CREATE TABLE alembic_version (version_num varchar(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`;
    await sql`INSERT INTO alembic_version VALUES ('r0001')`;
    const result = await run(inlineRevisionSet(tableHistory(2)), { kind: "upgrade", target: "head" }, { versionTable: "alembic_version" });
    expect(result.steps.map((s) => s.revision)).toEqual(["r0002"]);
    expect((await sql`SELECT version_num FROM alembic_version`).map((r) => r.version_num)).toEqual(["r0002"]);
  });
});
