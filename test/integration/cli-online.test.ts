import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { tempDir } from "../support/temp-dir.ts";

/** The command line in-process, with every write to stdout and stderr recorded as it was made. */
async function lambic(cwd: string, args: string[], env: Record<string, string | undefined>) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(args, { stdout: (text) => void stdout.push(text), stderr: (text) => void stderr.push(text), cwd, env });
  return { code, stdout, stderr };
}

/** A project of `count` linear .sql revisions, each `SELECT 1`. */
function trivialProject(count: number): string {
  const dir = tempDir("lambic-cli-online-");
  mkdirSync(join(dir, "revisions/main"), { recursive: true });
  for (let i = 1; i <= count; i++) {
    const id = `s${String(i).padStart(4, "0")}`;
    const revises = i === 1 ? "" : `-- revises: s${String(i - 1).padStart(4, "0")}\n`;
    writeFileSync(join(dir, "revisions/main", `${id}.sql`), `-- revision: ${id}\n${revises}-- message: step ${i}\n-- +up\nSELECT 1;\n-- +down\nSELECT 1;\n`);
  }
  return dir;
}

describe("online commands in-process", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("cli_online");
  });
  afterAll(async () => {
    await db?.drop();
  });

  // How lines are grouped into writes depends on how the replies arrive; test/unit/cli/progress-lines.test.ts pins the grouping.
  it("writes a progress line per step, in order, before the summary", async () => {
    const { code, stdout } = await lambic(trivialProject(120), ["upgrade", "head"], { DATABASE_URL: db.url });
    expect(code).toBe(0);
    const lines = stdout.join("").trimEnd().split("\n");
    expect(lines.slice(0, 120).map((line) => line.split(" ")[3])).toEqual(Array.from({ length: 120 }, (_, i) => `s${String(i + 1).padStart(4, "0")}`));
    expect(lines[120]).toMatch(/^Upgraded main: base -> s0120, 120 revision\(s\)/);
  });

  it("prints each revision's progress on one line: the message's first line, control characters escaped, a long one cut", async () => {
    const dir = tempDir("lambic-cli-online-messages-");
    mkdirSync(join(dir, "revisions/main"), { recursive: true });
    const messages = ["add users\n\nA longer description\nover lines.", "colour \u001b[31mred\u001b[0m\tand a tab", `${"long ".repeat(30)}end`];
    messages.forEach((message, i) => {
      writeFileSync(join(dir, "revisions/main", `m${i + 1}.ts`), `export default { id: "m000${i + 1}", revises: ${i === 0 ? "null" : `"m000${i}"`}, message: ${JSON.stringify(message)}, upgrade() {} };\n`);
    });
    const own = await createTestDatabase("cli_online_messages");
    const { code, stdout, stderr } = await lambic(dir, ["upgrade", "head"], { DATABASE_URL: own.url }).finally(() => own.drop());
    expect(code, stderr.join("")).toBe(0);
    const lines = stdout.join("").trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^ {2}upgrade m0001 \(add users…\) [\d.]+ ms$/);
    expect(lines[1]).toMatch(/^ {2}upgrade m0002 \(colour \\u001b\[31mred\\u001b\[0m and a tab\) [\d.]+ ms$/);
    expect(lines[2]).toMatch(new RegExp(`^ {2}upgrade m0003 \\(${"long ".repeat(20).trimEnd()}…\\) [\\d.]+ ms$`));
    expect(lines[3]).toMatch(/^Upgraded main: base -> m0003, 3 revision\(s\)/);
  });

  it("names in --dry-run --json, and warns on stderr, each revision the dry run stopped at its read", async () => {
    const dir = trivialProject(1);
    writeFileSync(
      join(dir, "revisions/main", "s0002.ts"),
      'export default { id: "s0002", revises: "s0001", async upgrade(op, ctx) { const rows = await ctx.query("SELECT 2 AS n"); op.execute(`SELECT ${rows[0].n}`); } };\n',
    );
    // A database of its own: the one of this block holds another test's version rows.
    const own = await createTestDatabase("cli_online_dry_read");
    const { code, stdout, stderr } = await lambic(dir, ["--json", "upgrade", "head", "--dry-run"], { DATABASE_URL: own.url }).finally(() => own.drop());
    expect(code, stderr.join("")).toBe(0);
    expect(JSON.parse(stdout.join(""))).toMatchObject({ dryRun: true, to: ["s0002"], readsNotRun: [{ revision: "s0002", statement: "SELECT 2 AS n" }] });
    expect(stderr.join("")).toContain("warning: revision s0002 reads data with ctx.query (SELECT 2 AS n); a dry run reads nothing, so the script stops that revision at its read\n");
  });

  it("refuses a downgrade through a .sql revision without a -- +down section before undoing the revisions above it, online and with --sql", async () => {
    const dir = tempDir("lambic-cli-online-");
    mkdirSync(join(dir, "revisions/main"), { recursive: true });
    const file = (id: string, revises: string, extra: string, down: string) =>
      writeFileSync(join(dir, "revisions/main", `${id}.sql`), `-- revision: ${id}\n${revises ? `-- revises: ${revises}\n` : ""}${extra}-- +up\nCREATE TABLE ${id} (id int);\n${down}`);
    file("k0001", "", "", "-- +down\nDROP TABLE k0001;\n");
    file("k0002", "k0001", "", "");
    file("k0003", "k0002", "-- transactional: false\n", "-- +down\nDROP TABLE k0003;\n");
    const own = await createTestDatabase("cli_online_no_down");
    try {
      const env = { DATABASE_URL: own.url };
      expect((await lambic(dir, ["upgrade", "head"], env)).code).toBe(0);
      const online = await lambic(dir, ["downgrade", "base"], env);
      expect(online.code).toBe(1);
      expect(online.stderr.join("")).toContain(
        `lambic: REVISION_FILE_INVALID: The downgrade to base would undo revision k0002, which has no downgrade (${join(dir, "revisions/main", "k0002.sql")}); nothing was run. Add a "-- +down" section (an empty one when there is nothing to undo), or downgrade to k0002, undo what it did by hand and "lambic stamp k0001" (the {"command": "stamp", "target": "k0001"} event).`,
      );
      const offline = await lambic(dir, ["downgrade", "k0003:base", "--sql", "--output", "down.sql"], env);
      expect(offline.code).toBe(1);
      expect(offline.stderr.join("")).toContain("would undo revision k0002, which has no downgrade");
      expect(existsSync(join(dir, "down.sql"))).toBe(false);
      const current = await lambic(dir, ["--json", "current"], env);
      expect(JSON.parse(current.stdout.join(""))).toMatchObject({ versions: ["k0003"] });
      const upgrade = await lambic(dir, ["--json", "upgrade", "head"], env);
      expect(JSON.parse(upgrade.stdout.join(""))).toMatchObject({ steps: [] });
      const sql = postgres(own.url, { max: 1, onnotice: () => {} });
      const tables = await sql`SELECT tablename FROM pg_tables WHERE tablename LIKE 'k000%' ORDER BY 1`.finally(() => sql.end());
      expect(tables.map((r) => r.tablename)).toEqual(["k0001", "k0002", "k0003"]);
    } finally {
      await own.drop();
    }
  });

  it("reports a broken revision file rather than the database it could not reach meanwhile", async () => {
    const dir = trivialProject(2);
    writeFileSync(join(dir, "revisions/main", "s0003.sql"), "-- revision: s0003\n-- revises: s0002\n-- colour: blue\n-- +up\nSELECT 1;\n");
    const { code, stderr } = await lambic(dir, ["upgrade", "head"], { DATABASE_URL: "postgres://nobody:secret@127.0.0.1:1/none" });
    expect(code).toBe(1);
    expect(stderr.join("")).toContain("REVISION_FILE_INVALID");
  });
});

describe("an unexpected failure", () => {
  const failingStdout = () => {
    throw Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
  };

  it("is INTERNAL_ERROR, exit 1, saying it is a lambic bug, with the stack on stderr", async () => {
    const stderr: string[] = [];
    const code = await main(["heads"], { stdout: failingStdout, stderr: (text) => void stderr.push(text), cwd: trivialProject(1), env: {} });
    expect(code).toBe(1);
    const text = stderr.join("");
    expect(text).toMatch(/^lambic: INTERNAL_ERROR: Unexpected failure: write EPIPE\. This is a lambic bug, not a problem with your revisions/);
    expect(text).toContain("\nError: write EPIPE\n    at ");
    expect(text).toMatch(/the versions \(lambic \d+\.\d+\.\d+, Node v\d+\.\d+\.\d+\)\./);
  });

  it("still reaches stderr with --json when stdout cannot be written", async () => {
    const stderr: string[] = [];
    const code = await main(["heads", "--json"], { stdout: failingStdout, stderr: (text) => void stderr.push(text), cwd: trivialProject(1), env: {} });
    expect(code).toBe(1);
    expect(stderr.join("")).toContain("lambic: INTERNAL_ERROR: Unexpected failure: write EPIPE.");
  });
});

describe("stamp --sql", () => {
  const unreachable = { DATABASE_URL: "postgres://nobody:secret@127.0.0.1:1/none" };

  it("prints the stamp as a script from base, without connecting (as alembic stamp --sql)", async () => {
    const { code, stdout } = await lambic(trivialProject(3), ["stamp", "s0002", "--sql"], unreachable);
    expect(code).toBe(0);
    const script = stdout.join("");
    expect(script).toContain("-- lambic offline SQL: stamp s0002");
    expect(script).toContain(`INSERT INTO "lambic_version" (version_num) VALUES ('s0002')`);
    expect(script).not.toContain("SELECT 1");
  });

  it("starts from the revision a from:to target names", async () => {
    const { code, stdout } = await lambic(trivialProject(3), ["stamp", "s0001:s0003", "--sql"], unreachable);
    expect(code).toBe(0);
    expect(stdout.join("")).toContain(`UPDATE "lambic_version" SET version_num = 's0003' WHERE version_num = 's0001'`);
  });
});

describe("options a command does not take", () => {
  it("are refused as usage errors naming the option and what the command takes", async () => {
    const { code, stderr } = await lambic(trivialProject(1), ["heads", "--dry-run"], {});
    expect(code).toBe(2);
    expect(stderr.join("")).toBe('lambic: USAGE: --dry-run does not apply to lambic heads (it takes --resolve-dependencies, --verbose). Run "lambic --help".\n');
  });

  it("refuses --output without --sql, and --sql with --dry-run, before connecting", async () => {
    const unreachable = { DATABASE_URL: "postgres://nobody:secret@127.0.0.1:1/none" };
    const output = await lambic(trivialProject(1), ["upgrade", "head", "--output", "up.sql"], unreachable);
    expect(output.code).toBe(2);
    expect(output.stderr.join("")).toContain("--output writes the offline script: it goes with --sql");
    const both = await lambic(trivialProject(1), ["upgrade", "head", "--sql", "--dry-run"], unreachable);
    expect(both.code).toBe(2);
    expect(both.stderr.join("")).toContain("use one of them");
  });
});
