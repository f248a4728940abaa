import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openConnection, type Connection } from "../../src/db/connection.ts";
import { LambicError } from "../../src/errors.ts";
import { RevisionMap } from "../../src/revision/revision-map.ts";
import { readCurrent, runMigration, type MigrationCommand } from "../../src/runner/run.ts";
import { expectationFor, GENERATED_DIR, isAmbiguousDowngrade, loadCases, pick, toMetas, type Query } from "../conformance/harness.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { inlineRevisionSet } from "../support/revisions.ts";

/**
 * Every upgrade, downgrade, stamp, current and sequence answer recorded from Alembic, run online
 * against the real server: the version table is set to the query's rows, the command runs
 * through the runner, and the revisions that ran and the rows left must match.
 */
const ONLINE_KINDS = new Set(["upgrade", "downgrade", "stamp", "current", "sequence"]);

const cases = [...loadCases(), ...loadCases(GENERATED_DIR)].filter((c) => {
  try {
    new RevisionMap(toMetas(c.revisions));
    return c.queries.some((q) => ONLINE_KINDS.has(q.kind));
  } catch {
    return false; // invalid graphs are refused at load; the unit conformance suite covers them
  }
});

let db: TestDatabase;
let sql: postgres.Sql;
let connection: Connection;

beforeAll(async () => {
  db = await createTestDatabase("conformance");
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  connection = await openConnection(db.url, { driver: "postgres" });
  await sql`CREATE TABLE lambic_version (version_num varchar(32) NOT NULL, CONSTRAINT lambic_version_pkc PRIMARY KEY (version_num))`;
});

afterAll(async () => {
  await connection?.close();
  await sql?.end({ timeout: 5 });
  await db?.drop();
});

async function setRows(rows: readonly string[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`TRUNCATE lambic_version`;
    for (const row of rows) await tx`INSERT INTO lambic_version VALUES (${row})`;
  });
}

async function answerOnline(set: ReturnType<typeof inlineRevisionSet>, query: Query): Promise<Record<string, unknown> | { error: LambicError }> {
  const options = { versionTable: "lambic_version", lockTimeoutMs: 5_000, statementTimeoutMs: 0, actor: "conformance", runId: randomUUID() };
  try {
    if (query.kind === "current") {
      const state = await readCurrent(connection, set, options);
      return { versions: [...state.versions].sort(), display: [...state.heads].sort() };
    }
    const target = query.target as string | string[];
    const command: MigrationCommand =
      query.kind === "stamp"
        ? { kind: "stamp", targets: Array.isArray(target) ? target : [target], purge: query.purge }
        : { kind: query.kind as "upgrade" | "downgrade", target: target as string };
    const result = await runMigration(connection, set, command, options);
    const rows = (await sql`SELECT version_num FROM lambic_version`).map((r) => r.version_num as string).sort();
    if (query.kind === "stamp") return { versions: rows };
    return { ran: result.steps.map((s) => s.revision), versions: rows };
  } catch (error) {
    if (error instanceof LambicError) return { error };
    throw error;
  }
}

function check(kind: string, got: Record<string, unknown> | { error: LambicError }, expected: any, alternatives?: any[]): void {
  const expectation = expectationFor(expected, alternatives);
  if (expectation.kind === "no-crash") return;
  if (expectation.kind === "error") {
    expect("error" in got ? (got.error as LambicError).code : got).toSatisfy((code: unknown) => expectation.codes.includes(code as never));
    return;
  }
  if ("error" in got) throw new Error(`expected ${JSON.stringify(pick(kind, expected))}, got ${(got.error as LambicError).code}: ${(got.error as LambicError).message}`);
  const fields = Object.keys(got);
  const accepted = expectation.accepted.map((a) => Object.fromEntries(fields.map((f) => [f, a[f]])));
  expect(accepted).toContainEqual(got);
}

describe.each(cases)("Alembic conformance online: $file", (testCase) => {
  const set = inlineRevisionSet(testCase.revisions.map((r) => ({ id: r.id, revises: r.down, dependsOn: r.depends_on ?? [], branchLabels: r.branch_labels ?? [], message: r.message })));
  testCase.queries.forEach((query, index) => {
    if (!ONLINE_KINDS.has(query.kind)) return;
    it(`#${index} ${query.kind} ${JSON.stringify(query.target ?? "")} from [${(query.current ?? []).join(",")}]`, async () => {
      await setRows(query.current ?? []);
      if (query.kind !== "sequence") {
        const before = (await sql`SELECT version_num FROM lambic_version`).map((r) => r.version_num as string).sort();
        const got = await answerOnline(set, query);
        if (isAmbiguousDowngrade(query.expected)) {
          // Refused by lambic (Alembic warns and uses whichever row comes first).
          expect("error" in got && (got.error as LambicError).code).toBe("AMBIGUOUS_RELATIVE");
          return;
        }
        check(query.kind, got, query.expected, query.raw_alternatives);
        if ("error" in got) expect((await sql`SELECT version_num FROM lambic_version`).map((r) => r.version_num as string).sort()).toEqual(before);
        return;
      }
      for (const [stepIndex, step] of query.steps!.entries()) {
        const got = await answerOnline(set, step);
        if (isAmbiguousDowngrade(query.expected[stepIndex])) {
          expect("error" in got && (got.error as LambicError).code).toBe("AMBIGUOUS_RELATIVE");
          // Carry on from the rows Alembic left, as if the user had named the branch.
          await setRows(query.expected[stepIndex].versions);
          continue;
        }
        try {
          check(step.kind, got, query.expected[stepIndex], query.raw_alternatives?.map((alt) => alt[stepIndex]));
        } catch (error) {
          throw new Error(`sequence step ${stepIndex} (${step.kind} ${JSON.stringify(step.target ?? "")}): ${(error as Error).message}`);
        }
        // Where Alembic crashed and lambic answered, carry on from the rows the crash left.
        const crashed = query.expected[stepIndex];
        if (expectationFor(crashed).kind === "no-crash" && Array.isArray(crashed.versions)) await setRows(crashed.versions);
      }
    });
  });
});
