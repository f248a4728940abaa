import { createServer } from "node:net";
import { userInfo } from "node:os";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, type OpenOptions, PipelineError, openConnection } from "../../../src/db/connection.ts";
import { redactUrl } from "../../../src/db/redact.ts";
import { isLambicError } from "../../../src/errors.ts";
import { adminUrl, createTestDatabase, type TestDatabase } from "../../support/database.ts";
import { startLatencyProxy } from "../../support/latency-proxy.ts";
import { WebSocket as WsWebSocket } from "ws";
import { neonTestOptions, startWsProxy, type WsProxy } from "../../support/ws-proxy.ts";

let database: TestDatabase;
let proxy: WsProxy;

beforeAll(async () => {
  [database, proxy] = await Promise.all([createTestDatabase("connection"), startWsProxy()]);
});
afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

/** Runs `work` with the environment variable `name` set to `value`, then restores it. */
async function withEnv<T>(name: string, value: string, work: () => Promise<T>): Promise<T> {
  const exported = process.env[name];
  process.env[name] = value;
  try {
    return await work();
  } finally {
    if (exported === undefined) delete process.env[name];
    else process.env[name] = exported;
  }
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

describe.each(["postgres", "neon"] as const)("%s driver", (driver) => {
  const options = (): OpenOptions => (driver === "neon" ? neonTestOptions(proxy.port) : { driver });
  const open = (url = database.url): Promise<Connection> => openConnection(url, { ...options(), connectTimeoutSeconds: 5 });
  let connection: Connection;

  beforeAll(async () => {
    connection = await open();
  });
  afterAll(async () => {
    await connection?.close();
  });

  it("runs a query with params and returns plain rows", async () => {
    const rows = await connection.query<{ n: number; s: string; ids: number[] }>(
      "select $1::int + 1 as n, $2::text as s, $3::int[] as ids",
      [41, "it's", [1, 2]],
    );
    expect(rows).toEqual([{ n: 42, s: "it's", ids: [1, 2] }]);
    expect(connection.driver).toBe(driver);
    expect(connection.capabilities.sessionLocks).toBe(true);
  });

  it("sends a JSON text given for a json or jsonb parameter as that JSON, not as a JSON string", async () => {
    const rows = await connection.query<{ b: unknown; bt: string; j: unknown; jt: string }>(
      "select $1::jsonb as b, jsonb_typeof($1::jsonb) as bt, $2::json as j, json_typeof($2::json) as jt",
      [JSON.stringify({ a: [1, 2] }), JSON.stringify([1, "two"])],
    );
    expect(rows).toEqual([{ b: { a: [1, 2] }, bt: "object", j: [1, "two"], jt: "array" }]);
  });

  it("sends a string or a number for a boolean parameter as that value, not as false", async () => {
    const rows = await connection.query("select $1::bool as t, $2::bool as yes, $3::bool as one, $4::bool as f", ["t", "yes", 1, "false"]);
    expect(rows).toEqual([{ t: true, yes: true, one: true, f: false }]);
  });

  it("sends a string for a bytea parameter as bytea's text form, as the server reads it", async () => {
    const rows = await connection.query<{ hex: string; bytes: string }>("select ($1::bytea)::text as hex, ($2::bytea)::text as bytes", ["\\x00ff", Buffer.from([0, 255])]);
    expect(rows).toEqual([{ hex: "\\x00ff", bytes: "\\x00ff" }]);
  });

  it("sends an object for a text parameter as its JSON, not as [object Object]", async () => {
    expect(await connection.query("select $1::text as t", [{ a: 1 }])).toEqual([{ t: '{"a":1}' }]);
  });

  it("sends NaN for a json parameter as NaN, which the server refuses, not as null", async () => {
    const failure = await connection.query("select $1::jsonb as j", [NaN]).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "22P02" });
    expect(await connection.query("select ($1::float8)::text as f, ($2::float8)::text as z", [NaN, -0])).toEqual([{ f: "NaN", z: "-0" }]);
  });

  it("sends a bigint beyond int8 to a numeric parameter exactly", async () => {
    const rows = await connection.query("select ($1::numeric)::text as n", [2n ** 64n]);
    expect(rows).toEqual([{ n: "18446744073709551616" }]);
  });

  it("sends an array of bigints, booleans, Dates or bytes as a PostgreSQL array of them", async () => {
    const rows = await connection.query("select ($1::int8[])::text as i, ($2::bool[])::text as b, ($3::timestamptz[])::text as d, ($4::bytea[])::text as x", [
      [1n, null],
      [true, false],
      [new Date(Date.UTC(2024, 0, 2, 3, 4, 5))],
      [Buffer.from([1])],
    ]);
    expect(rows).toEqual([{ i: "{1,NULL}", b: "{t,f}", d: '{"2024-01-02 03:04:05+00"}', x: '{"\\\\x01"}' }]);
  });

  it("sends an array for an enum array parameter", async () => {
    await connection.query("create type pipeline_mood as enum ('red', 'green')");
    try {
      const rows = await connection.query("select ($1::pipeline_mood[])::text as m", [["red", null, "green"]]);
      expect(rows).toEqual([{ m: "{red,NULL,green}" }]);
    } finally {
      await connection.query("drop type pipeline_mood");
    }
  });

  it("sends a Date as its UTC time: a date parameter takes its UTC date and a timestamp its UTC time, whatever the process's and the session's time zone", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      await connection.query("set timezone = 'Asia/Kolkata'");
      const rows = await connection.query("select ($1::date)::text as d, ($2::timestamp)::text as ts, ($3::timestamptz = '2024-01-02 23:30:00+00') as same", [
        new Date(Date.UTC(2024, 0, 2)),
        new Date(Date.UTC(2024, 0, 2, 23, 30)),
        new Date(Date.UTC(2024, 0, 2, 23, 30)),
      ]);
      expect(rows).toEqual([{ d: "2024-01-02", ts: "2024-01-02 23:30:00", same: true }]);
    } finally {
      process.env.TZ = zone;
      await connection.query("reset timezone");
    }
  });

  it("sends a Date before year 1 or after year 9999", async () => {
    const rows = await connection.query("select ($1::date)::text as bc, ($2::date)::text as late", [new Date(Date.UTC(-1, 0, 2)), new Date(Date.UTC(10000, 0, 2))]);
    expect(rows).toEqual([{ bc: "0002-01-02 BC", late: "10000-01-02" }]);
  });

  it("refuses an invalid Date, a NUL character or an unpaired surrogate before sending anything, naming the parameter", async () => {
    const before = connection.roundTrips;
    for (const [value, words] of [
      [new Date(NaN), /parameter \$2, an invalid Date/],
      ["a\0b", /parameter \$2, a string holding a NUL character \(at index 1\)/],
      [["ok", "\ud800"], /parameter \$2, a string holding an unpaired UTF-16 surrogate \(at index 0\)/],
    ] as const) {
      const error = await connection.pipeline([{ text: "select 1" }, { text: "select $1::int, $2::text", params: [1, value] }]).catch((error: unknown) => error);
      expect(isLambicError(error, "USAGE"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(words);
    }
    expect(connection.roundTrips).toBe(before);
  });

  it("sends any typed array, DataView or ArrayBuffer for a bytea parameter as its bytes", async () => {
    const rows = await connection.query("select ($1::bytea)::text as a, ($2::bytea)::text as b, ($3::bytea)::text as c", [new Uint16Array([1]), new DataView(new Uint8Array([7, 8]).buffer, 1), new Uint8Array([5]).buffer]);
    expect(rows).toEqual([{ a: "\\x0100", b: "\\x08", c: "\\x05" }]);
  });

  it("refuses a Map or a Set, which JSON would write as {}, naming the parameter", async () => {
    for (const [value, words] of [
      [new Map([["a", 1]]), /parameter \$1, a Map, which JSON writes as \{\} \(its entries lost\): pass Object\.fromEntries\(map\)/],
      [new Set([1]), /parameter \$1, a Set, .*pass \[\.\.\.set\]/],
    ] as const) {
      const error = await connection.query("select $1::jsonb", [value]).catch((error: unknown) => error);
      expect(isLambicError(error, "USAGE"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(words);
    }
  });

  it("sends every parameter untyped, so a $1 whose type the server cannot infer fails whatever the value (42P18)", async () => {
    for (const value of [true, 1n, new Date(0), Buffer.from([1])]) {
      const failure = await connection.query("select pg_typeof($1)::text as t", [value]).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: "42P18" });
    }
  });

  it("reads a timestamp without time zone as its wall-clock time in UTC, whatever the process's time zone, so that it is written back unchanged", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      // 02:30 on that day does not exist in New York: taken for local time it moved to 03:30.
      const [{ ts }] = await connection.query<{ ts: Date }>("select '2024-03-10 02:30:00'::timestamp as ts");
      expect(ts.toISOString()).toBe("2024-03-10T02:30:00.000Z");
      expect(await connection.query("select ($1::timestamp)::text as back", [ts])).toEqual([{ back: "2024-03-10 02:30:00" }]);
    } finally {
      process.env.TZ = zone;
    }
  });

  it("reads dates and timestamps before year 1 and after year 9999", async () => {
    const rows = await connection.query<Record<string, Date>>(
      "select '0044-03-15 BC'::date as d, '0002-01-02 03:04:05 BC'::timestamp as ts, '0002-01-02 03:04:05+00 BC'::timestamptz as tz, '10000-01-02'::date as late, array['0001-01-01 BC'::date] as ds",
    );
    expect(rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, [value].flat().map((date) => (date as Date).toISOString()).join()])))).toEqual([
      { d: "-000043-03-15T00:00:00.000Z", ts: "-000001-01-02T03:04:05.000Z", tz: "-000001-01-02T03:04:05.000Z", late: "+010000-01-02T00:00:00.000Z", ds: "0000-01-01T00:00:00.000Z" },
    ]);
  });

  it("reads infinity and -infinity dates and timestamps as Infinity and -Infinity", async () => {
    const rows = await connection.query("select 'infinity'::date as d, '-infinity'::timestamp as ts, 'infinity'::timestamptz as tz, array['-infinity'::date, null] as ds");
    expect(rows).toEqual([{ d: Infinity, ts: -Infinity, tz: Infinity, ds: [-Infinity, null] }]);
  });

  it("reads an array of any built-in type as an array", async () => {
    const rows = await connection.query("select array['<(1,2),3>'::circle] as circles, array['(1,1),(0,0)'::box, null] as boxes, array[B'101'] as bits, array['[1,5)'::int4range] as ranges, array[row(1, 'a b')] as records");
    expect(rows).toEqual([{ circles: ["<(1,2),3>"], boxes: ["(1,1),(0,0)", null], bits: ["101"], ranges: ["[1,5)"], records: ['(1,"a b")'] }]);
  });

  it("reads an array of an enum, a type that is not built in, as PostgreSQL's text, also when the type existed before the connection opened", async () => {
    await connection.query("create type array_mood as enum ('red', 'green')");
    const later = await open();
    try {
      for (const reader of [connection, later]) {
        expect(await reader.query("select array['red', null]::array_mood[] as moods, (array['red', null]::array_mood[])::text[] as texts")).toEqual([{ moods: "{red,NULL}", texts: ["red", null] }]);
      }
    } finally {
      await later.close();
      await connection.query("drop type array_mood");
    }
  });

  it("pipelines several statements in one round trip", async () => {
    const before = connection.roundTrips;
    const results = await connection.pipeline([
      { text: "create temp table pipelined (id int primary key, name text)" },
      { text: "insert into pipelined values (1, 'a'), (2, 'b')" },
      { text: "select name from pipelined where id = 2" },
      { text: "select count(*)::int as c from pipelined" },
      { text: "drop table pipelined" },
    ]);
    expect(connection.roundTrips - before).toBe(1);
    expect(results).toEqual([[], [], [{ name: "b" }], [{ c: 2 }], []]);
    // With params too (postgres.js then describes each first: see the latency test below).
    const withParams = await connection.pipeline([
      { text: "select $1::text as a", params: ["x"] },
      { text: "select $1::int * 2 as b", params: [21] },
    ]);
    expect(withParams).toEqual([[{ a: "x" }], [{ b: 42 }]]);
  });

  it("counts the round trips it really makes (seen through 50 ms of latency each way)", async () => {
    const server = new URL(database.url);
    const latency = await startLatencyProxy({ host: server.hostname, port: Number(server.port) }, 50);
    const slow = new URL(database.url);
    slow.port = String(latency.port);
    const far = await open(slow.toString());
    const rtt = 100;
    async function timed<T>(work: () => Promise<T>): Promise<{ value: T; trips: number; ms: number }> {
      const [trips, started] = [far.roundTrips, performance.now()];
      const value = await work();
      return { value, trips: far.roundTrips - trips, ms: performance.now() - started };
    }
    try {
      const plain = await timed(() => far.pipeline(Array.from({ length: 6 }, (_, i) => ({ text: `select ${i} as i` }))));
      expect(plain.value.map((rows) => rows[0].i)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(plain.trips).toBe(1);

      const mixed = await timed(() =>
        far.pipeline([
          { text: "select 1" },
          { text: "select $1::int", params: [2] },
          { text: "select 3" },
          { text: "select $1::int", params: [4] },
          { text: "select 5" },
        ]),
      );
      const withParams = await timed(() => far.query("select $1::int as n", [1]));
      // postgres.js describes each parameterized statement before binding it (two waits).
      expect([mixed.trips, withParams.trips]).toEqual(driver === "neon" ? [1, 1] : [5, 2]);
      // Elapsed time agrees with the count (the upper bound leaves room for a loaded machine,
      // but not for a whole uncounted round trip more).
      for (const { trips, ms } of [plain, mixed, withParams]) {
        expect(ms).toBeGreaterThanOrEqual(trips * rtt - 5);
        expect(ms).toBeLessThan((trips + 1) * rtt + 50);
      }
    } finally {
      await far.close();
      await latency.close();
    }
  });

  it("runs a multi-statement script as one statement", async () => {
    const [rows] = await connection.pipeline([
      { text: "create temp table script_t (x int);\ninsert into script_t values (1), (2);\nselect sum(x)::int as total from script_t;\n" },
    ]);
    expect(rows).toEqual([{ total: 3 }]);
    const viaQuery = await connection.query("drop table script_t; select 'dropped' as state");
    expect(viaQuery).toEqual([{ state: "dropped" }]);
  });

  it("lets the caller run BEGIN ... ROLLBACK on the one session", async () => {
    await connection.pipeline([
      { text: "BEGIN" },
      { text: "create table rolled_back (id int)" },
      { text: "insert into rolled_back values ($1)", params: [1] },
    ]);
    await connection.query("ROLLBACK");
    const rows = await connection.query("select to_regclass('rolled_back') as t");
    expect(rows).toEqual([{ t: null }]);
  });

  it("reports the failing statement's index, SQLSTATE and position", async () => {
    const failure = await connection
      .pipeline([
        { text: "BEGIN" },
        { text: "select 1 as ok" },
        { text: "select * from no_such_table" },
        { text: "select 2" },
        { text: "ROLLBACK" },
      ])
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PipelineError);
    const error = failure as PipelineError;
    expect(error.index).toBe(2);
    expect(error.failure).toMatchObject({ sqlstate: "42P01", position: 15 });
    expect(error.failure?.message).toContain("no_such_table");
    expect(error.message).toContain("Statement 3");
    // The ROLLBACK at the end of the pipeline left the session usable.
    expect(await connection.query("select 1 as ok")).toEqual([{ ok: 1 }]);
  });

  it("times out on advisory lock contention with SQLSTATE 55P03", async () => {
    const other = await open();
    try {
      await connection.pipeline([{ text: "BEGIN" }, { text: "select pg_advisory_xact_lock($1)", params: [4242] }]);
      const failure = await other
        .pipeline([
          { text: "BEGIN" },
          { text: "SET LOCAL lock_timeout = '100ms'" },
          { text: "select pg_advisory_xact_lock($1)", params: [4242] },
        ])
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PipelineError);
      expect((failure as PipelineError).index).toBe(2);
      expect((failure as PipelineError).failure?.sqlstate).toBe("55P03");
      await other.query("ROLLBACK");
      await connection.query("COMMIT");
      // Released at COMMIT: now the other session gets it at once.
      await other.pipeline([{ text: "BEGIN" }, { text: "select pg_advisory_xact_lock($1)", params: [4242] }, { text: "COMMIT" }]);
    } finally {
      await other.close();
    }
  });

  it("fails a statement given fewer parameters than it uses with 08P01 as a statement failure, not a lost connection, and the session goes on", async () => {
    const failure = await connection.query("select $1::text as a, $2::text as b", ["x"]).catch((error: unknown) => error);
    expect(isLambicError(failure)).toBe(false);
    expect(failure).toMatchObject({ code: "08P01" });
    expect((failure as Error).message).toMatch(/bind message supplies 1 parameters, but prepared statement "" requires 2/);
    const inPipeline = await connection.pipeline([{ text: "select 1" }, { text: "select $1::text, $2::text", params: ["x"] }]).catch((error: unknown) => error);
    expect(inPipeline).toBeInstanceOf(PipelineError);
    expect(inPipeline).toMatchObject({ index: 1, failure: { sqlstate: "08P01" } });
    expect(await connection.query("select 1 as ok")).toEqual([{ ok: 1 }]);
  });

  it("fails a statement given more parameters than it uses with 42P18, as postgres.js declares each one (of no type)", async () => {
    const failure = await connection.query("select 1 as one", [1]).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "42P18", message: "could not determine data type of parameter $1" });
    const inPipeline = await connection.pipeline([{ text: "select $1::int as a", params: [1, 2] }]).catch((error: unknown) => error);
    expect(inPipeline).toMatchObject({ index: 0, failure: { sqlstate: "42P18", message: "could not determine data type of parameter $2" } });
    expect(await connection.query("select $1::int as a", [5])).toEqual([{ a: 5 }]);
    expect(await connection.pipeline([{ text: "select $1::text as a, $2::int8 as b", params: ["x", 2n] }])).toEqual([[{ a: "x", b: "2" }]]);
  });

  it("refuses a statement of more than 65,533 parameters (USAGE) before sending anything, rather than hanging behind the statement before it, and the session goes on", async () => {
    const params = Array.from({ length: 65_534 }, () => 1);
    const text = `select cardinality(array[${params.map((_, i) => `$${i + 1}::int`).join(",")}]) as n`;
    const failure = await connection.pipeline([{ text: "select pg_sleep(0.05)" }, { text, params }]).catch((error: unknown) => error);
    expect(isLambicError(failure, "USAGE"), String(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/^A query was given 65534 parameters, more than the 65533 a statement can take/);
    expect(await connection.query(text.replace(",$65534::int", ""), params.slice(1))).toEqual([{ n: 65_533 }]);
  });

  it("fails, rather than hangs, when the server terminates the session", async () => {
    const victim = await open();
    const [{ pid }] = await victim.query<{ pid: number }>("select pg_backend_pid() as pid");
    await connection.query("select pg_terminate_backend($1)", [pid]);
    const first = await victim.query("select 1").catch((error: unknown) => error);
    expect(isLambicError(first, "CONNECTION_FAILED")).toBe(true);
    // And it stays failed: no silent reconnect onto a new session.
    const second = await victim.pipeline([{ text: "select 1" }]).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(Error);
    await victim.close();
  });

  it("takes the user, password and database name from libpq's URL parameters", async () => {
    const url = new URL(database.url);
    const { username, password, pathname } = url;
    url.username = "nobody";
    url.password = "";
    url.pathname = "/postgres";
    url.search = `?user=${username}&password=${password}&dbname=${pathname.slice(1)}&sslmode=disable`;
    const viaParameters = await open(url.toString());
    try {
      expect(await viaParameters.query("select current_user as u, current_database() as d")).toEqual([{ u: decodeURIComponent(username), d: decodeURIComponent(pathname.slice(1)) }]);
    } finally {
      await viaParameters.close();
    }
  });

  it("connects with the channel_binding parameter of Neon's connection strings, which neither driver can honour", async () => {
    const url = new URL(database.url);
    url.search = "?channel_binding=require";
    const withBinding = await open(url.toString());
    try {
      expect(await withBinding.query("select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await withBinding.close();
    }
  });

  it("takes libpq's host and port parameters over the URL's own", async () => {
    const url = new URL(database.url);
    const { hostname, port } = url;
    url.hostname = "ignored.invalid";
    url.port = "1";
    url.search = `?host=${hostname}&port=${port}`;
    const viaParameters = await open(url.toString());
    try {
      expect(await viaParameters.query("select 1 as one")).toEqual([{ one: 1 }]);
    } finally {
      await viaParameters.close();
    }
  });

  it("reads a URL whose host is empty after the user and password, taking the host parameter (user:password@/db?host=…, as Cloud SQL's socket URLs are written, which libpq reads)", async () => {
    const url = new URL(database.url);
    const credentials = `${url.username}:${url.password}`;
    for (const text of [`postgres://${credentials}@${url.pathname}?host=${url.hostname}&port=${url.port}`, `postgresql://${credentials}@:${url.port}${url.pathname}?host=${url.hostname}`]) {
      const connection = await open(text);
      try {
        expect(await connection.query("select current_database() as name")).toEqual([{ name: database.name }]);
      } finally {
        await connection.close();
      }
    }
  });

  /** What `select <expression>` answers on a connection to `url`, or the error that refused it. */
  const answerOrError = (url: string, expression: string): Promise<string | Error> =>
    open(url).then(
      async (connection) => {
        const [row] = await connection.query<{ value: string }>(`select ${expression} as value`);
        await connection.close();
        return row!.value;
      },
      (error: Error) => error,
    );

  it("takes the OS user's name for a URL without a user, as libpq does, not PGUSER", async () => {
    const url = new URL(adminUrl());
    const adminUser = decodeURIComponent(url.username);
    const osUser = userInfo().username;
    url.username = "";
    const outcome = await withEnv("PGUSER", adminUser, () => answerOrError(url.toString(), "current_user"));
    if (typeof outcome === "string") expect(outcome).toBe(osUser);
    else expect(outcome.message).toContain(`user "${osUser}"`);
  });

  it("takes the user's name for a URL without a database, as libpq does, not PGDATABASE", async () => {
    const url = new URL(adminUrl());
    const adminUser = decodeURIComponent(url.username);
    url.pathname = "";
    const outcome = await withEnv("PGDATABASE", "no_such_pgdatabase", () => answerOrError(url.toString(), "current_database()"));
    if (typeof outcome === "string") expect(outcome).toBe(adminUser);
    else {
      expect(outcome.message).toContain(`database "${adminUser}"`);
      expect(String((outcome.cause as Error | undefined)?.message)).not.toContain("no_such_pgdatabase");
    }
  });

  it("connects whatever libpq's PGTARGETSESSIONATTRS, PGSSLNEGOTIATION, PGSSLMODE and PGREPLICATION say, which lambic does not read (the URL's parameters do that)", async () => {
    for (const [name, value] of [["PGTARGETSESSIONATTRS", "standby"], ["PGTARGETSESSIONATTRS", "read-only"], ["PGTARGETSESSIONATTRS", "bogus"], ["PGSSLNEGOTIATION", "direct"], ["PGSSLMODE", "verify-full"], ["PGREPLICATION", "database"]] as const) {
      expect(await withEnv(name, value, () => answerOrError(database.url, "1::text")), `${name}=${value}`).toBe("1");
    }
  });

  it("sends no PGOPTIONS to the server, which lambic does not read (?options= in the URL does that)", async () => {
    expect(await withEnv("PGOPTIONS", "-c search_path=from_pgoptions", () => answerOrError(database.url, "current_setting('search_path')"))).toBe('"$user", public');
  });

  it("connects with libpq's target_session_attrs=any and client_encoding=UTF8, which are not server settings", async () => {
    const url = new URL(database.url);
    url.search = "?target_session_attrs=any&client_encoding=UTF8&application_name=deploy";
    const withAttributes = await open(url.toString());
    try {
      expect(await withAttributes.query("select current_setting('application_name') as name")).toEqual([{ name: driver === "postgres" ? "deploy" : expect.any(String) }]);
    } finally {
      await withAttributes.close();
    }
  });

  it("sends the URL's other parameters to the server as settings, as written (search_path, TimeZone, a statement_timeout with its unit)", async () => {
    const url = new URL(database.url);
    url.search = "?search_path=app,public&TimeZone=Asia/Tokyo&statement_timeout=5min&lock_timeout=2s&work_mem=7MB";
    const withSettings = await open(url.toString());
    try {
      const [settings] = await withSettings.query("select current_setting('search_path') as search_path, current_setting('TimeZone') as zone, current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock, current_setting('work_mem') as work_mem");
      expect(settings).toEqual({ search_path: "app,public", zone: "Asia/Tokyo", statement: "5min", lock: "2s", work_mem: "7MB" });
    } finally {
      await withSettings.close();
    }
  });

  describe("CONNECTION_FAILED", () => {
    const secret = "s3cret-Pa55";

    async function expectConnectionFailed(url: string, words: RegExp): Promise<void> {
      const error = await open(url).then(
        (connection) => {
          void connection.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toMatch(words);
      expect(message).not.toContain(secret);
      expect(JSON.stringify(error)).not.toContain(secret);
    }

    it("names an unreachable port", async () => {
      await expectConnectionFailed(`postgres://postgres:${secret}@127.0.0.1:1/postgres`, /127\.0\.0\.1:1/);
    });

    it("names an unresolvable host", async () => {
      await expectConnectionFailed(`postgres://postgres:${secret}@no-such-host.invalid:5432/postgres`, /no-such-host\.invalid/);
    });

    it("says the password is wrong", async () => {
      await expectConnectionFailed(withPassword(database.url, secret), /authentication failed.*password/s);
    });

    it("says the database does not exist", async () => {
      const url = new URL(adminUrl());
      url.pathname = "/no_such_database";
      await expectConnectionFailed(url.toString(), /"no_such_database" does not exist.*CREATE DATABASE/s);
    });

    it("refuses a password holding an unencoded #, / or ? without echoing it", async () => {
      for (const password of [`#${secret}`, `42#${secret}`, `7/${secret}`, `?${secret}`]) {
        await expectConnectionFailed(`postgres://admin:${password}@127.0.0.1:1/app`, /Percent-encode them/);
      }
    });

    it("refuses a broken percent-encoding in the password as CONNECTION_FAILED", async () => {
      await expectConnectionFailed(`postgres://admin:p%zz${secret}@127.0.0.1:1/app`, /broken percent-encoding in its password/);
    });

    it("says a password is needed when the URL has none and the server asks for one", async () => {
      const url = new URL(database.url);
      url.password = "";
      // Both drivers fall back to PGPASSWORD, as libpq does: one exported for another server is not this test's.
      const exported = process.env["PGPASSWORD"];
      delete process.env["PGPASSWORD"];
      try {
        await expectConnectionFailed(url.toString(), /authentication failed.*no password/s);
      } finally {
        if (exported !== undefined) process.env["PGPASSWORD"] = exported;
      }
    });

    it("refuses a value that is not a URL without echoing any of it", async () => {
      for (const value of [secret, `postgres:${secret}@host/db`, `host=h password=${secret}`]) {
        await expectConnectionFailed(value, /The database URL is not a URL: it has no ":\/\/" \(\d+ characters, not shown: it may hold a password\)/);
      }
    });

    it("says a URL with an empty host after the user and password and no host parameter names no host, without echoing the password", async () => {
      await expectConnectionFailed(`postgres://postgres:${secret}@/postgres`, /names no host/);
    });

    it("does not echo a password whose @host is missing (postgres://user:password/db)", async () => {
      await expectConnectionFailed(`postgres://postgres:${secret}/postgres`, /not a valid URL: postgres:\/\/postgres:\*\*\*\/postgres/);
    });

    it("says the port is out of range, not that the password needs encoding", async () => {
      await expectConnectionFailed(`postgres://postgres:${secret}@127.0.0.1:99999/postgres`, /port "99999" is not a port number/);
    });

    it("rejects a malformed URL without echoing it", async () => {
      await expectConnectionFailed(`postgres://postgres:${secret}@[bad host/db`, /not a valid URL/);
      await expectConnectionFailed(`mysql://root:${secret}@localhost/db`, /expected postgres:\/\//);
    });
  });
});

describe("the URL's server settings", () => {
  it.each(["postgres", "neon"] as const)("names them when the server refuses one, instead of suspecting the server (%s)", async (driver) => {
    const url = new URL(database.url);
    url.search = "?application_name=deploy&no_such_setting=1";
    const error = await openConnection(url.toString(), { ...(driver === "neon" ? neonTestOptions(proxy.port) : { driver }), connectTimeoutSeconds: 5 }).then(
      (connection) => (void connection.close(), undefined),
      (error: unknown) => error,
    );
    expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /the server refused a setting \(42704: unrecognized configuration parameter "no_such_setting"\)\. The URL's parameters application_name, no_such_setting go to the server as settings/,
    );
  });
});

describe("connect_timeout in the URL", () => {
  it("bounds the wait for a server that accepts and never answers", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    const started = performance.now();
    try {
      const error = await openConnection(`postgres://u:pw@127.0.0.1:${port}/x?connect_timeout=1`, { driver: "postgres" }).then(
        (connection) => (void connection.close(), undefined),
        (error: unknown) => error,
      );
      expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
      expect((error as Error).message).toContain("no answer within 1 s");
      expect(performance.now() - started).toBeLessThan(4_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe("a port that answers with something other than PostgreSQL", () => {
  it("is CONNECTION_FAILED within the connect timeout, not a reconnect loop", async () => {
    let accepted = 0;
    const sockets = new Set<Socket>();
    const http = createServer((socket) => {
      accepted++;
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as AddressInfo).port;
    const started = performance.now();
    try {
      const error = await openConnection(`postgres://u:pw@127.0.0.1:${port}/x`, { driver: "postgres", connectTimeoutSeconds: 2 }).then(
        (connection) => (void connection.close(), undefined),
        (error: unknown) => error,
      );
      expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
      expect((error as Error).message).toContain("no answer within 2 s. Check the host and port (that PostgreSQL listens there, not another service)");
      expect(performance.now() - started).toBeLessThan(5_000);
      const afterwards = accepted;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(accepted).toBeLessThanOrEqual(afterwards + 1); // at most the attempt in flight: no loop once it gave up
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});

describe("redactUrl", () => {
  it("hides the password, parseable or not", () => {
    expect(redactUrl("postgres://admin:#S3CRET@127.0.0.1:1/app")).toBe("postgres://admin:***@127.0.0.1:1/app");
    expect(redactUrl("postgres://admin:7/S3CRET@127.0.0.1:1/app")).toBe("postgres://admin:***@127.0.0.1:1/app");
    expect(redactUrl("postgres://u:p%40ss@h:5432/db?sslmode=require")).toBe("postgres://u:***@h:5432/db?sslmode=require");
    expect(redactUrl("postgres://u@h/db?password=x")).toBe("postgres://u@h/db?password=***");
    expect(redactUrl("postgres://u:pw@[bad/db")).toBe("postgres://u:***@[bad/db");
    expect(redactUrl("S3CRET")).toBe('(a value without "://", 6 characters, not shown)');
    // No "@host": what follows the ":" is a password, unless it is a port number.
    expect(redactUrl("postgres://admin:S3CRET/app")).toBe("postgres://admin:***/app");
    expect(redactUrl("postgres://admin:123456?sslmode=require")).toBe("postgres://admin:***?sslmode=require");
    expect(redactUrl("postgres://[::1]:S3CRET/app")).toBe("postgres://[::1]:***/app");
    expect(redactUrl("postgres://h:5432/app")).toBe("postgres://h:5432/app");
  });
});

describe("driver choice and pooled endpoints", () => {
  it("picks Neon for a *.neon.tech host and reports no session locks on a -pooler host, in any case", async () => {
    // The host does not resolve here: the proxy is told to ignore it and use the test server.
    const server = new URL(database.url);
    for (const hostname of ["ep-quiet-tree-123456-pooler.eu-central-1.aws.neon.tech", "EP-QUIET-TREE-123456-POOLER.eu-central-1.aws.NEON.TECH"]) {
      const url = new URL(database.url);
      url.hostname = hostname;
      const base = neonTestOptions(proxy.port);
      const connection = await openConnection(url.toString(), {
        neon: { ...base.neon, wsProxy: () => `127.0.0.1:${proxy.port}/v2?address=${server.hostname}:${server.port}` },
      });
      try {
        expect(connection.driver).toBe("neon");
        expect(connection.capabilities.sessionLocks).toBe(false);
        expect(await connection.query("select 1 as one")).toEqual([{ one: 1 }]);
      } finally {
        await connection.close();
      }
    }
  });
});

describe("the neon driver asked for a host that is not Neon's", () => {
  it("names the WebSocket endpoint it tried, the socket's error, and says to leave the driver to postgres for a PostgreSQL server", async () => {
    const error = await openConnection("postgres://app:s3cret@no-such-host.invalid:6432/app", { driver: "neon", connectTimeoutSeconds: 5 }).then(
      (connection) => (void connection.close(), undefined),
      (error: unknown) => error,
    );
    expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain("Could not connect to no-such-host.invalid over a WebSocket (wss://no-such-host.invalid/v2, port 443: Neon's driver)");
    expect(message).toContain('the host name "no-such-host.invalid" could not be resolved');
    expect(message).toContain('for a PostgreSQL server on no-such-host.invalid:6432, remove "driver": "neon" from lambic.config.json (or set "postgres")');
    expect(JSON.stringify(error)).not.toContain("s3cret");
  });
});

describe("the neon driver's WebSocket upgrade refused over HTTP", () => {
  /** `webSocket`: the `ws` package's (Node 20's), which gives the status, or Node's own (Node 22's). */
  const refusedWith = async (status: number, webSocket: unknown = WsWebSocket) => {
    const refusing = await startWsProxy({ refuseUpgrade: status });
    try {
      const url = withPassword(database.url, "s3cret-pass");
      const base = neonTestOptions(refusing.port);
      return await openConnection(url, { ...base, neon: { ...base.neon, webSocketConstructor: webSocket } as never, connectTimeoutSeconds: 5 }).then(
        (connection) => (void connection.close(), undefined),
        (error: unknown) => error,
      );
    } finally {
      await refusing.close();
    }
  };

  it.each([
    [401, "The database password is not checked there: an HTTP proxy, gateway or firewall between this client and the endpoint turned the request away."],
    [403, "The database password is not checked there: an HTTP proxy, gateway or firewall between this client and the endpoint turned the request away."],
    [404, "Nothing there serves Neon's WebSocket proxy: check the host in the database URL"],
    [502, "The endpoint's gateway could not reach its database (the endpoint may be starting, suspended or unavailable): run the command again in a moment"],
  ])("says HTTP %i refused the upgrade before PostgreSQL was reached, names the endpoint, and the next step", async (status, next) => {
    const error = await refusedWith(status);
    expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(`the WebSocket endpoint refused the upgrade with HTTP ${status}, before PostgreSQL was reached. ${next}`);
    expect(message).toMatch(/^Could not connect to 127\.0\.0\.1:\d+ through the WebSocket proxy ws:\/\/127\.0\.0\.1:\d+\/v2\?address=127\.0\.0\.1:\d+, database "/);
    expect(message).not.toMatch(/Unexpected server response|ErrorEvent|\[object|Check that the server is running/);
    expect(JSON.stringify(error)).not.toContain("s3cret-pass");
    expect(message).not.toContain("s3cret-pass");
  });

  // Node 22's WebSocket (the Lambda runtime's; Node 20 with --experimental-websocket) gives no status.
  it.runIf(typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function")("says through Node's own WebSocket that the connection failed before PostgreSQL, refused or answered with an HTTP error", async () => {
    const error = await refusedWith(401, (globalThis as { WebSocket?: unknown }).WebSocket);
    expect(isLambicError(error, "CONNECTION_FAILED"), String(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain("the WebSocket connection failed before PostgreSQL was reached: it was refused, or its upgrade answered with an HTTP error (Node's WebSocket does not say which). Check the host in the database URL, that the endpoint is up, and any HTTP proxy or firewall between this client and it.");
    expect(message).not.toMatch(/non-101|ErrorEvent|\[object|Check that the server is running/);
    expect(message).not.toContain("s3cret-pass");
  });
});
