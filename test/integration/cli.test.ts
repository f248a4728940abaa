import { isAscii } from "node:buffer";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { startHoldingProxy } from "../support/latency-proxy.ts";
import { tempDir } from "../support/temp-dir.ts";

/** The built command line (`dist/cli.cjs`), run as a user runs it, in a project folder of its own. */
const repo = resolve(import.meta.dirname, "../..");
const cli = join(repo, "dist/cli.cjs");

beforeAll(() => {
  if (!existsSync(cli)) execFileSync(process.execPath, ["build.mjs", "--cli"], { cwd: repo });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

function lambic(project: string, args: string[], env: Record<string, string | undefined> = {}): Run {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: project, encoding: "utf8", env: { ...process.env, DATABASE_URL: undefined, ...env } });
  let json: unknown;
  if (args.includes("--json")) json = JSON.parse(result.stdout);
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, json };
}

/** A project folder holding a copy of the sample revisions (lambic.config.json optional). */
function project(): string {
  const dir = tempDir("lambic-cli-");
  cpSync(join(repo, "revisions/main"), join(dir, "revisions/main"), { recursive: true });
  return dir;
}

describe("graph commands", () => {
  const dir = project();

  it("prints the heads as one JSON document", () => {
    expect(lambic(dir, ["heads", "--json"]).json).toEqual({ heads: ["8a5d0e6f7c97"] });
  });

  it("exits quietly when its reader closes the pipe early (lambic history | head -1)", async () => {
    // More output than a pipe holds, so that writing goes on after the reader is gone.
    const long = tempDir("lambic-cli-pipe-");
    mkdirSync(join(long, "revisions/main"), { recursive: true });
    for (let i = 0; i < 1500; i++) {
      const id = `p${String(i).padStart(11, "0")}`;
      const revises = i === 0 ? "" : `-- revises: p${String(i - 1).padStart(11, "0")}\n`;
      writeFileSync(join(long, "revisions/main", `${id}.sql`), `-- revision: ${id}\n${revises}-- message: ${"a long message ".repeat(4)}\n-- +up\nSELECT 1;\n`);
    }
    const child = spawn(process.execPath, [cli, "history", "--verbose"], { cwd: long, env: { ...process.env, DATABASE_URL: undefined } });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((done) => child.on("close", done));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });

  it("prints the bases and the branch points", () => {
    expect(lambic(dir, ["--json", "bases"]).json).toEqual({ bases: ["1f3a9c2e7b10"] });
    expect(lambic(dir, ["--json", "branches"]).json).toEqual({ branchpoints: ["3b9e5f1a2d42"] });
  });

  it("prints the history newest first with parents, dependencies, labels and messages", () => {
    const { revisions } = lambic(dir, ["--json", "history"]).json;
    expect(revisions.map((r: { id: string }) => r.id)).toEqual(["8a5d0e6f7c97", "7f4c9d5e6b86", "5d2a7b3c4f64", "4c1f6a2b3e53", "6e3b8c4d5a75", "3b9e5f1a2d42", "2a7d4e8f0c31", "1f3a9c2e7b10"]);
    expect(revisions[1]).toMatchObject({ id: "7f4c9d5e6b86", revises: ["5d2a7b3c4f64", "6e3b8c4d5a75"], dependsOn: [], branchLabels: ["billing"], message: "merge billing and the email index" });
  });

  it("limits the history to a range", () => {
    const { revisions } = lambic(dir, ["--json", "history", "-r", "3b9e5f1a2d42:billing@head"]).json;
    expect(revisions.map((r: { id: string }) => r.id)).toEqual(["8a5d0e6f7c97", "7f4c9d5e6b86", "5d2a7b3c4f64", "4c1f6a2b3e53", "6e3b8c4d5a75", "3b9e5f1a2d42"]);
  });

  it("prints history lines in Alembic's shape", () => {
    expect(lambic(dir, ["history"]).stdout.split("\n")[1]).toBe("5d2a7b3c4f64, 6e3b8c4d5a75 -> 7f4c9d5e6b86 (billing) (mergepoint), merge billing and the email index");
  });

  it("prints Alembic's full entries for heads --verbose and branches --verbose", () => {
    const heads = lambic(dir, ["heads", "--verbose"]).stdout;
    expect(heads).toMatch(/^Rev: 8a5d0e6f7c97 \(head\)\nParent: 7f4c9d5e6b86\nBranch names: billing\nPath: .*8a5d0e6f7c97_order_status\.ts\n\n    order status\n/);
    const branches = lambic(dir, ["branches", "--verbose"]).stdout;
    expect(branches).toContain("Rev: 3b9e5f1a2d42 (branchpoint)\nParent: 2a7d4e8f0c31\nBranches into: 4c1f6a2b3e53, 6e3b8c4d5a75\n");
    expect(branches).toContain("             -> 6e3b8c4d5a75, unique index on customer email");
  });

  it("prints branches as Alembic does: the branch point and each child with labels and indicators, messages only with --verbose", () => {
    expect(lambic(dir, ["branches"]).stdout).toBe("3b9e5f1a2d42 (branchpoint)\n             -> 4c1f6a2b3e53 (billing)\n             -> 6e3b8c4d5a75\n");
    expect(lambic(dir, ["branches", "--verbose"]).stdout).toContain("             -> 4c1f6a2b3e53 (billing), billing: invoice table\n");
  });

  it("shows one revision by a prefix", () => {
    expect(lambic(dir, ["show", "6e3b"]).stdout).toContain("Rev: 6e3b8c4d5a75");
  });

  it("refuses a range given to show as a usage error that points at history -r (exit 2)", () => {
    const run = lambic(dir, ["--json", "show", "2a7d:3b9e"]);
    expect(run.code).toBe(2);
    expect(run.json.error).toMatchObject({ code: "USAGE", target: "2a7d:3b9e" });
    expect(run.json.error.message).toContain("lambic history -r 2a7d:3b9e --verbose");
  });

  it("writes the offline upgrade script to stdout with Alembic's step comments", () => {
    const { stdout, code } = lambic(dir, ["upgrade", "head", "--sql"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^-- lambic offline SQL: upgrade head/);
    expect(stdout).toContain("-- Running upgrade  -> 1f3a9c2e7b10");
    expect(stdout).toContain("-- Running upgrade 5d2a7b3c4f64, 6e3b8c4d5a75 -> 7f4c9d5e6b86");
  });

  it("writes the script to --output", () => {
    const file = join(dir, "out.sql");
    expect(lambic(dir, ["upgrade", "2a7d:head", "--sql", "--output", file]).code).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("-- Running upgrade 2a7d4e8f0c31 -> 3b9e5f1a2d42");
    expect(readFileSync(file, "utf8")).not.toContain("-> 2a7d4e8f0c31\n");
  });

  it("renders a downgrade range", () => {
    expect(lambic(dir, ["downgrade", "head:3b9e5f1a2d42", "--sql"]).stdout).toContain("-- Running downgrade 7f4c9d5e6b86 -> 5d2a7b3c4f64, 6e3b8c4d5a75");
  });

  it("refuses downgrade --sql without a range as a usage error (exit 2)", () => {
    const run = lambic(dir, ["--json", "downgrade", "-1", "--sql"]);
    expect(run.code).toBe(2);
    expect(run.json.error.code).toBe("USAGE");
    expect(run.json.error.message).toContain("<from>:<to>");
  });

  it("refuses an --sql range without a target after the colon (A:) as a usage error naming one (exit 2)", () => {
    for (const [command, example] of [["upgrade", "3b9e5f1a2d42:head"], ["downgrade", "3b9e5f1a2d42:base"], ["stamp", "3b9e5f1a2d42:head"]]) {
      const run = lambic(dir, ["--json", command!, "3b9e5f1a2d42:", "--sql"]);
      expect(run.code).toBe(2);
      expect(run.json.error).toMatchObject({ code: "USAGE", range: "3b9e5f1a2d42:" });
      expect(run.json.error.message).toBe(`Range "3b9e5f1a2d42:" has no target after the ":", and an offline script runs to one: name it (${example}).`);
    }
  });

  it("exits 1 with a coded error for an unknown target", () => {
    const run = lambic(dir, ["--json", "upgrade", "nope", "--sql"]);
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "REVISION_NOT_FOUND", argument: "nope" });
    expect(run.stderr).toContain("REVISION_NOT_FOUND");
  });

  it("says that offline SQL cannot start at current, which needs the database", () => {
    for (const args of [["upgrade", "current:head", "--sql"], ["stamp", "current:head", "--sql"]]) {
      const run = lambic(dir, ["--json", ...args]);
      expect(run.code).toBe(1);
      expect(run.json.error).toMatchObject({ code: "REVISION_NOT_FOUND", target: "current" });
      expect(run.json.error.message).toContain("offline SQL does not read: start the range at a revision");
    }
  });

  it("exits 2 without a command, with the usage on stderr and, with --json, the error document on stdout", () => {
    const run = lambic(dir, ["--json"]);
    expect(run.code).toBe(2);
    expect(run.json.error).toMatchObject({ code: "USAGE" });
    expect(run.stderr).toContain("Usage: lambic");
  });

  it("prints its version with --version (package.json's), as alembic --version does, whatever else is given", () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
    expect(lambic(dir, ["--version"])).toMatchObject({ code: 0, stdout: `lambic ${version}\n`, stderr: "" });
    expect(lambic(dir, ["--json", "--version"]).json).toEqual({ version });
    expect(lambic(dir, ["heads", "--version"]).stdout).toBe(`lambic ${version}\n`);
  });

  it("prints its version with --version beside an unknown or malformed option too, as alembic --version does", () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
    expect(lambic(dir, ["heads", "--frobnicate", "--version"])).toMatchObject({ code: 0, stdout: `lambic ${version}\n`, stderr: "" });
    expect(lambic(dir, ["--json", "--version", "-x", "nokey"])).toMatchObject({ code: 0, json: { version }, stderr: "" });
  });

  it("names in --help the options merge takes (--branch-label, --rev-id, --sql), as revision's line does", () => {
    const mergeLine = lambic(dir, ["--help"]).stdout.split("\n").find((line) => line.trimStart().startsWith("merge "));
    expect(mergeLine).toContain("merge -m MSG [--branch-label L] [--rev-id ID] [--sql] HEAD...");
  });

  it("names in --help the --dry-run stamp takes", () => {
    const stampLine = lambic(dir, ["--help"]).stdout.split("\n").find((line) => line.trimStart().startsWith("stamp "));
    expect(stampLine).toContain("stamp [--purge] TARGET... [--sql [--output FILE]] [--dry-run]");
    expect(lambic(dir, ["--json", "stamp", "head", "--dry-run", "--sql"]).json.error).toMatchObject({ code: "USAGE", option: "dry-run" });
  });

  it("exits 2 for an unknown option or command", () => {
    expect(lambic(dir, ["heads", "--frobnicate"]).code).toBe(2);
    expect(lambic(dir, ["frobnicate"]).code).toBe(2);
  });

  it("says an Object.prototype name (hasOwnProperty, constructor) is an unknown command, with or without options", () => {
    for (const name of ["hasOwnProperty", "constructor", "__proto__"]) {
      const run = lambic(dir, ["--json", name, "--sql"]);
      expect(run.code).toBe(2);
      expect(run.json.error).toMatchObject({ code: "USAGE", command: name, message: `Unknown command "${name}". Run "lambic --help" for the commands.` });
    }
  });

  it("refuses an empty option value or argument (an unset shell variable) in its own words, naming the option", () => {
    const name = lambic(dir, ["--json", "--name", "", "heads"]);
    expect(name.code).toBe(2);
    expect(name.json.error).toMatchObject({ code: "USAGE", option: "name", message: '--name was given an empty value: give it a database name from the config (an unset shell variable?). Run "lambic --help".' });
    expect(lambic(dir, ["--json", "--config", "", "heads"]).json.error).toMatchObject({ code: "USAGE", option: "config" });
    expect(lambic(dir, ["--json", "history", "-r", ""]).json.error).toMatchObject({ code: "USAGE", option: "rev-range" });
    const target = lambic(dir, ["--json", "upgrade", "", "--sql"]);
    expect(target.code).toBe(2);
    expect(target.json.error).toMatchObject({ code: "USAGE", message: 'lambic upgrade was given an empty argument (an unset shell variable?): give one target. Run "lambic --help".' });
    expect(lambic(dir, ["--json", "stamp", "head", "", "--sql"]).json.error.message).toContain("lambic stamp was given an empty argument");
  });

  it("names an unknown option, and the option it looks like a typo of", () => {
    const typo = lambic(dir, ["--json", "heads", "--verbos"]);
    expect(typo.code).toBe(2);
    expect(typo.json.error).toMatchObject({ code: "USAGE", option: "--verbos", message: 'Unknown option --verbos (did you mean --verbose?). Run "lambic --help" for the commands and options.' });
    expect(lambic(dir, ["heads", "-q"]).stderr).toBe('lambic: USAGE: Unknown option -q. Run "lambic --help" for the commands and options.\n');
  });

  it("takes a relative range after -r as its value: -r -1: is -r-1:, -r=-1: and --rev-range=-1:", () => {
    const expected = lambic(dir, ["--json", "history", "-r-1:"]);
    expect(expected.code).toBe(0);
    expect(expected.json.revisions.map((r: { id: string }) => r.id)).toEqual(["8a5d0e6f7c97", "7f4c9d5e6b86"]);
    // "-r=-1:" as Python's argparse reads it (alembic history -r=-1:), not the value "=-1:".
    for (const args of [["-r", "-1:"], ["--rev-range", "-1:"], ["--rev-range=-1:"], ["-r=-1:"]]) {
      const run = lambic(dir, ["--json", "history", ...args]);
      expect(run.code).toBe(0);
      expect(run.json).toEqual(expected.json);
    }
  });

  it("says how to pass a value that starts with a dash, in one sentence per point", () => {
    const run = lambic(dir, ["--json", "revision", "-m", "-draft"]);
    expect(run.code).toBe(2);
    expect(run.json.error.message).toContain(`'-m-XYZ'. Run "lambic --help"`);
    expect(run.json.error.message).not.toContain("..");
  });

  it("runs npm run migrate:sql as upgrade --sql: to head by default, or the target or range given", () => {
    expect(JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).scripts["migrate:sql"]).toBe("node dist/cli.cjs upgrade --sql");
    const steps = (script: string) => script.split("\n").filter((line) => line.startsWith("-- Running"));
    const byDefault = lambic(dir, ["upgrade", "--sql"]);
    expect(byDefault.code).toBe(0);
    expect(steps(byDefault.stdout)).toEqual(steps(lambic(dir, ["upgrade", "head", "--sql"]).stdout));
    expect(steps(byDefault.stdout)).toHaveLength(8);
    const range = lambic(dir, ["upgrade", "--sql", "3b9e5f1a2d42:head"]);
    expect(range.code).toBe(0);
    expect(steps(range.stdout)).toHaveLength(5);
    expect(range.stdout).toContain("-- from: 3b9e5f1a2d42");
  });

  it("heads an offline script with where it starts and the version rows it leaves, the target resolved", () => {
    const header = (script: string) => script.split("\n").filter((line) => /^-- (from|to): /.test(line));
    expect(header(lambic(dir, ["upgrade", "head", "--sql"]).stdout)).toEqual(["-- from: base", "-- to: 8a5d0e6f7c97"]);
    expect(header(lambic(dir, ["upgrade", "1f3a:+2", "--sql"]).stdout)).toEqual(["-- from: 1f3a9c2e7b10", "-- to: 3b9e5f1a2d42"]);
    expect(header(lambic(dir, ["downgrade", "head:base", "--sql"]).stdout)).toEqual(["-- from: 8a5d0e6f7c97", "-- to: base"]);
    expect(header(lambic(dir, ["stamp", "5d2a7b3c4f64", "6e3b8c4d5a75", "--sql"]).stdout)).toEqual(["-- from: base", "-- to: 5d2a7b3c4f64, 6e3b8c4d5a75"]);
  });

  it("prints an offline script with --json as one document: the script, or with --output the file and its number of steps", () => {
    const inline = lambic(dir, ["--json", "upgrade", "head", "--sql"]);
    expect(inline.code).toBe(0);
    expect(Object.keys(inline.json)).toEqual(["script"]);
    expect(inline.json.script).toContain("-- Running upgrade 7f4c9d5e6b86 -> 8a5d0e6f7c97");
    const file = join(dir, "json-output.sql");
    const written = lambic(dir, ["--json", "upgrade", "head", "--sql", "--output", file]);
    expect(written.code).toBe(0);
    expect(written.json).toEqual({ file, steps: 8 });
    expect(readFileSync(file, "utf8")).toContain("-- Running upgrade 7f4c9d5e6b86 -> 8a5d0e6f7c97");
  });

  it("refuses arguments a command does not take, instead of dropping them (exit 2)", () => {
    for (const args of [["upgrade", "head", "extra"], ["show", "8a5d", "extra"], ["heads", "extra"], ["history", "base:head"]]) {
      const run = lambic(dir, ["--json", ...args]);
      expect(run.code).toBe(2);
      expect(run.json.error.code).toBe("USAGE");
      expect(run.json.error.message).toContain(`lambic ${args[0]} takes`);
    }
  });

  it("says a range is for --sql when given to an online command (exit 2)", () => {
    for (const command of ["upgrade", "downgrade", "stamp"]) {
      const run = lambic(dir, ["--json", command, "3b9e5f1a2d42:head"]);
      expect(run.code).toBe(2);
      expect(run.json.error.message).toContain(`add --sql (lambic ${command} 3b9e5f1a2d42:head --sql)`);
    }
  });

  it("refuses tenant options on a database without tenants, before touching its schema (exit 2)", () => {
    for (const args of [["upgrade", "head", "--tenant", "acme"], ["current", "--all-tenants"], ["check", "--concurrency", "2"]]) {
      const run = lambic(dir, ["--json", ...args], { DATABASE_URL: "postgres://nobody:secret@127.0.0.1:1/none" });
      expect(run.code).toBe(2);
      expect(run.json.error.code).toBe("USAGE");
      expect(run.json.error.message).toContain('database "main" has none');
    }
  });

  it("refuses stamp --purge with --sql, as Alembic does (exit 2)", () => {
    const run = lambic(dir, ["--json", "stamp", "--purge", "head", "--sql"]);
    expect(run.code).toBe(2);
    expect(run.json.error.message).toContain("--purge deletes whatever rows the version table holds");
  });

  it("says why --output cannot be written, as a usage error rather than a lambic bug", () => {
    const folder = lambic(dir, ["--json", "upgrade", "head", "--sql", "--output", dir]);
    expect(folder.code).toBe(2);
    expect(folder.json.error).toMatchObject({ code: "USAGE", errno: "EISDIR" });
    expect(folder.json.error.message).toContain(`Cannot write the script to --output ${dir}: it is a directory`);
    const missing = lambic(dir, ["--json", "upgrade", "head", "--sql", "--output", join(dir, "no/such/folder.sql")]);
    expect(missing.json.error).toMatchObject({ code: "USAGE", errno: "ENOENT" });
    expect(lambic(dir, ["upgrade", "head", "--sql", "--output", ""]).code).toBe(2);
  });

  it("caches the revisions under the config file's .lambic/ when --config names one in another folder", () => {
    const root = project();
    writeFileSync(join(root, "lambic.config.json"), JSON.stringify({ databases: { main: { revisions: "revisions/main" } } }));
    const sub = join(root, "sub");
    mkdirSync(sub);
    expect(lambic(sub, ["--config", "../lambic.config.json", "--json", "heads"]).json).toEqual({ heads: ["8a5d0e6f7c97"] });
    expect(readdirSync(join(root, ".lambic/cache")).length).toBeGreaterThan(0);
    expect(existsSync(join(sub, ".lambic"))).toBe(false);
  });
});

describe("writing revisions", () => {
  let dir: string;
  beforeEach(() => {
    dir = project();
  });

  it("writes a TypeScript revision on the head, named <date>_<id>_<slug>.ts", () => {
    const run = lambic(dir, ["--json", "revision", "-m", "Add Coupons!", "--rev-id", "c0ffee000001"]);
    expect(run.code).toBe(0);
    expect(run.json.revision).toMatchObject({ id: "c0ffee000001", revises: ["8a5d0e6f7c97"], message: "Add Coupons!" });
    const file = readdirSync(join(dir, "revisions/main")).find((f) => f.includes("c0ffee000001"))!;
    expect(file).toMatch(/^\d{4}_\d{2}_\d{2}_\d{4}_c0ffee000001_add_coupons\.ts$/);
    expect(lambic(dir, ["--json", "heads"]).json).toEqual({ heads: ["c0ffee000001"] });
  });

  it("refuses a missing or empty message as a usage error saying which (exit 2)", () => {
    const missing = lambic(dir, ["--json", "revision"]);
    expect(missing.code).toBe(2);
    expect(missing.json.error).toMatchObject({ code: "USAGE", option: "message" });
    expect(missing.json.error.message).toContain('needs a message: -m "what it does"');
    const empty = lambic(dir, ["--json", "merge", "-m", " ", "heads"]);
    expect(empty.code).toBe(2);
    expect(empty.json.error).toMatchObject({ code: "USAGE", option: "message", value: " " });
    expect(empty.json.error.message).toContain('-m " " is empty');
  });

  it("refuses a --rev-id that cannot be an id as a usage error, writing nothing", () => {
    const before = readdirSync(join(dir, "revisions/main"));
    for (const id of ["bad id!", "head"]) {
      const run = lambic(dir, ["--json", "revision", "-m", "x", "--rev-id", id]);
      expect(run.code).toBe(2);
      expect(run.json.error).toMatchObject({ code: "USAGE", option: "rev-id", value: id });
      expect(run.json.error.message).toContain("Choose another --rev-id, or leave it out for a generated one.");
    }
    expect(readdirSync(join(dir, "revisions/main"))).toEqual(before);
  });

  it("refuses a --branch-label that loading would refuse as a usage error, writing nothing", () => {
    const before = readdirSync(join(dir, "revisions/main"));
    for (const sql of [[], ["--sql"]]) {
      const run = lambic(dir, ["--json", "revision", "-m", "x", "--branch-label", "bad label", ...sql]);
      expect(run.code).toBe(2);
      expect(run.json.error).toMatchObject({ code: "USAGE", option: "branch-label", value: "bad label" });
    }
    expect(readdirSync(join(dir, "revisions/main"))).toEqual(before);
    expect(lambic(dir, ["--json", "heads"]).code).toBe(0);
  });

  it("writes a SQL revision with --sql, and a new branch with --head and --branch-label", () => {
    const run = lambic(dir, ["--json", "revision", "-m", "reports", "--sql", "--head", "base", "--branch-label", "reports", "--rev-id", "ae0000000001"]);
    expect(run.code).toBe(0);
    const file = readdirSync(join(dir, "revisions/main")).find((f) => f.includes("ae0000000001"))!;
    expect(file.endsWith(".sql")).toBe(true);
    expect(readFileSync(join(dir, "revisions/main", file), "utf8")).toContain("-- branch-labels: reports");
    expect(lambic(dir, ["--json", "heads"]).json.heads.sort()).toEqual(["8a5d0e6f7c97", "ae0000000001"]);
  });

  it("a missing revisions folder names the config file that points at it (--config)", () => {
    const dir = tempDir("lambic-cli-config-");
    writeFileSync(join(dir, "other.json"), JSON.stringify({ databases: { main: { revisions: "missing" } } }));
    const run = lambic(dir, ["--config", "other.json", "--json", "heads"]);
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "CONFIG_INVALID", dir: join(dir, "missing"), configFile: join(dir, "other.json") });
    expect(run.json.error.message).toContain(`fix "revisions" in ${join(dir, "other.json")}`);
    const bare = lambic(tempDir("lambic-cli-bare-"), ["heads"]);
    expect(bare.stderr).toContain(`point "revisions" elsewhere in a lambic.config.json`);
  });

  it("says the revisions folder is a file, rather than reporting a lambic bug, when writing or reading revisions", () => {
    const dir = tempDir("lambic-cli-file-");
    writeFileSync(join(dir, "revisions"), "not a folder");
    for (const revisions of ["revisions", "revisions/main"]) {
      writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { main: { revisions } } }));
      const write = lambic(dir, ["--json", "revision", "-m", "x"]);
      expect(write.code).toBe(1);
      expect(write.json.error).toMatchObject({ code: "CONFIG_INVALID", dir: join(dir, revisions) });
      expect(write.json.error.message).toContain(`the revisions folder ${join(dir, revisions)} (or a folder above it) is a file`);
      const read = lambic(dir, ["--json", "heads"]);
      expect(read.code).toBe(1);
      expect(read.json.error).toMatchObject({ code: "CONFIG_INVALID", dir: join(dir, revisions) });
    }
  });

  it("writes the first revision of a project that has no revisions folder yet, creating it", () => {
    const empty = tempDir("lambic-cli-empty-");
    const run = lambic(empty, ["--json", "revision", "-m", "init", "--rev-id", "f1257000001a"]);
    expect(run.code).toBe(0);
    expect(run.json.revision).toMatchObject({ id: "f1257000001a", revises: [] });
    expect(lambic(empty, ["--json", "heads"]).json).toEqual({ heads: ["f1257000001a"] });
  });

  it("says a project has no revisions yet, and how to write the first, when show or merge names head or heads", () => {
    const empty = tempDir("lambic-cli-empty-");
    mkdirSync(join(empty, "revisions/main"), { recursive: true });
    const show = lambic(empty, ["--json", "show", "head"]);
    expect(show.code).toBe(1);
    expect(show.json.error).toMatchObject({ code: "REVISION_NOT_FOUND", target: "head" });
    expect(show.json.error.message).toBe('"head" names no revision: there are no revisions yet; lambic revision -m MESSAGE writes the first.');
    const merge = lambic(empty, ["--json", "merge", "-m", "x", "heads"]);
    expect(merge.code).toBe(2);
    expect(merge.json.error.message).toBe('lambic merge: "heads" names no revision: there are no revisions yet; lambic revision -m MESSAGE writes the first.');
  });

  it("refuses a new revision on a non-head without --splice", () => {
    const run = lambic(dir, ["--json", "revision", "-m", "x", "--head", "3b9e5f1a2d42"]);
    expect(run.code).toBe(2);
    expect(run.json.error.message).toContain("--splice");
  });

  it("merges heads into one", () => {
    lambic(dir, ["revision", "-m", "side", "--head", "3b9e5f1a2d42", "--splice", "--rev-id", "51de00000001"]);
    const run = lambic(dir, ["--json", "merge", "-m", "merge side", "heads", "--rev-id", "3e6e00000001"]);
    expect(run.json.revision.revises).toEqual(["8a5d0e6f7c97", "51de00000001"]);
    expect(lambic(dir, ["--json", "heads"]).json).toEqual({ heads: ["3e6e00000001"] });
  });

  it("merges each named revision once, though heads and an id name it both", () => {
    lambic(dir, ["revision", "-m", "side", "--head", "3b9e5f1a2d42", "--splice", "--rev-id", "51de00000001"]);
    const run = lambic(dir, ["--json", "merge", "-m", "merge side", "heads", "51de00000001", "--rev-id", "3e6e00000001"]);
    expect(run.json.revision.revises).toEqual(["8a5d0e6f7c97", "51de00000001"]);
    expect(lambic(dir, ["--json", "heads"]).json).toEqual({ heads: ["3e6e00000001"] });
  });

  it("refuses to merge a revision that is not a head, as alembic merge does: it would start a branch, not join two (exit 2)", () => {
    lambic(dir, ["revision", "-m", "side", "--head", "3b9e5f1a2d42", "--splice", "--rev-id", "51de00000001"]);
    const before = readdirSync(join(dir, "revisions/main"));
    for (const revisions of [["7f4c9d5e6b86", "51de00000001"], ["3b9e5f1a2d42", "8a5d0e6f7c97"]]) {
      const run = lambic(dir, ["--json", "merge", "-m", "merge", ...revisions]);
      expect(run.code).toBe(2);
      expect(run.json.error).toMatchObject({ code: "USAGE", revision: revisions[0] });
      expect(run.json.error.message).toContain(`start a branch on ${revisions[0]} with lambic revision --head ${revisions[0]} --splice`);
    }
    expect(readdirSync(join(dir, "revisions/main"))).toEqual(before);
  });

  it("refuses a --branch-label or --rev-id that another revision's label or id holds as a usage error naming the option, writing nothing", () => {
    const before = readdirSync(join(dir, "revisions/main"));
    const label = lambic(dir, ["--json", "revision", "-m", "x", "--branch-label", "billing"]);
    expect(label.code).toBe(2);
    expect(label.json.error).toMatchObject({ code: "USAGE", option: "branch-label", value: "billing" });
    const id = lambic(dir, ["--json", "revision", "-m", "x", "--rev-id", "billing"]);
    expect(id.code).toBe(2);
    expect(id.json.error).toMatchObject({ code: "USAGE", option: "rev-id", value: "billing" });
    const base = lambic(dir, ["--json", "revision", "-m", "x", "--depends-on", "base"]);
    expect(base.code).toBe(2);
    expect(base.json.error).toMatchObject({ code: "USAGE", option: "depends-on", value: "base" });
    expect(readdirSync(join(dir, "revisions/main"))).toEqual(before);
  });

  it("keeps a message exactly in a TypeScript revision, and shows its first paragraph in history as Alembic shows a docstring's", () => {
    const message = 'Add "coupons" — ça marche\nsecond line\n\n  details: it\'s `${long}` \\ ';
    const run = lambic(dir, ["--json", "revision", `--message=${message}`, "--rev-id", "c0ffee000002"]);
    expect(run.json.revision.message).toBe(message);
    expect(lambic(dir, ["--json", "show", "c0ffee000002"]).json.revisions[0].message).toBe(message);
    expect(lambic(dir, ["history", "-r", "8a5d0e6f7c97:"]).stdout).toBe('8a5d0e6f7c97 -> c0ffee000002 (billing) (head), Add "coupons" — ça marche\nsecond line\n7f4c9d5e6b86 -> 8a5d0e6f7c97 (billing), order status\n');
    lambic(dir, ["revision", "-m", "windows\r\n\r\nline ends", "--rev-id", "c0ffee000004"]);
    expect(lambic(dir, ["history", "-r", "c0ffee000002:"]).stdout.split("\n")[0]).toBe("c0ffee000002 -> c0ffee000004 (billing) (head), windows");
    expect(lambic(dir, ["show", "c0ffee000002"]).stdout).toContain('\n\n    Add "coupons" — ça marche\n    second line\n    \n      details: it\'s `${long}` \\\n');
  });

  it("writes a .sql revision's message on one header line, says so, and reports the message as the file keeps it", () => {
    const run = lambic(dir, ["--json", "revision", "--sql", "-m", "first line \n second\tline ", "--rev-id", "c0ffee000003"]);
    expect(run.code).toBe(0);
    expect(run.json.revision.message).toBe("first line second\tline");
    expect(run.stderr).toContain('written as "first line second\\tline"');
    expect(lambic(dir, ["--json", "show", "c0ffee000003"]).json.revisions[0].message).toBe("first line second\tline");
  });

  it("refuses a reserved --branch-label (head, heads, base) as a usage error, writing nothing", () => {
    const run = lambic(dir, ["--json", "revision", "-m", "x", "--branch-label", "heads"]);
    expect(run.code).toBe(2);
    expect(run.json.error).toMatchObject({ code: "USAGE", option: "branch-label", value: "heads" });
    expect(lambic(dir, ["--json", "heads"]).json).toEqual({ heads: ["8a5d0e6f7c97"] });
  });

  it("refuses a --branch-label given twice as a usage error, writing nothing", () => {
    const run = lambic(dir, ["--json", "revision", "-m", "x", "--branch-label", "a", "--branch-label", "a"]);
    expect(run.code).toBe(2);
    expect(run.json.error).toMatchObject({ code: "USAGE", option: "branch-label", value: "a" });
    expect(lambic(dir, ["--json", "heads"]).json).toEqual({ heads: ["8a5d0e6f7c97"] });
  });

  it("names the file and line of a broken revision file", () => {
    writeFileSync(join(dir, "revisions/main/2026_02_01_0000_bad.sql"), "-- revision: bad000000001\n-- revises: 8a5d0e6f7c97\n-- colour: blue\n-- +up\nSELECT 1;\n");
    const run = lambic(dir, ["--json", "heads"]);
    expect(run.code).toBe(1);
    expect(run.json.error.code).toBe("REVISION_FILE_INVALID");
    expect(run.json.error.message).toContain("2026_02_01_0000_bad.sql:3");
  });
});

describe("a database URL set to the empty string", () => {
  // A CI secret that is missing reads as "": a run that "succeeded" on a throwaway embedded
  // server would leave the real database behind. (Unset, the embedded server is the default.)
  it("is refused without a config file, before the embedded PostgreSQL is started", () => {
    const dir = project();
    const run = lambic(dir, ["--json", "upgrade", "head"], { DATABASE_URL: "" });
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "CONFIG_INVALID", database: "main" });
    expect(run.json.error.message).toContain("The database URL is set but empty (DATABASE_URL, or the \"url\" of database \"main\" in lambic.config.json: a secret that is missing?)");
    expect(existsSync(join(dir, ".lambic/embedded.json"))).toBe(false);
  });

  it("is refused from a config url that is only that variable, while graph commands still run", () => {
    const dir = project();
    writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { main: { url: "${APP_DB_URL}" } } }));
    const run = lambic(dir, ["--json", "current"], { APP_DB_URL: "" });
    expect(run.code).toBe(1);
    expect(run.json.error.code).toBe("CONFIG_INVALID");
    expect(existsSync(join(dir, ".lambic/embedded.json"))).toBe(false);
    expect(lambic(dir, ["--json", "heads"], { APP_DB_URL: "" }).json).toEqual({ heads: ["8a5d0e6f7c97"] });
  });
});

describe("database commands", () => {
  let db: TestDatabase;
  let dir: string;
  const env = () => ({ DATABASE_URL: db.url });

  beforeEach(async () => {
    db = await createTestDatabase("cli");
    dir = project();
    return () => db.drop();
  });

  it("loads Node's TLS stack only for a connection that uses TLS (not for one over plain TCP)", () => {
    // sslmode=disable: plain TCP even where DATABASE_URL points the suite at a server offering TLS.
    const plain = new URL(db.url);
    plain.searchParams.set("sslmode", "disable");
    const loaded = join(dir, "modules.txt");
    const preload = join(dir, "record-modules.cjs");
    writeFileSync(preload, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(loaded)}, process.moduleLoadList.join("\\n")));\n`);
    const result = spawnSync(process.execPath, ["--require", preload, cli, "--json", "upgrade", "head"], { cwd: dir, encoding: "utf8", env: { ...process.env, DATABASE_URL: plain.href } });
    expect(result.status, result.stderr).toBe(0);
    const modules = readFileSync(loaded, "utf8").split("\n");
    expect(modules).toContain("NativeModule net");
    expect(modules).not.toContain("NativeModule tls");
  });

  it("upgrades to head and reports from, to and steps", () => {
    const run = lambic(dir, ["--json", "upgrade", "head"], env());
    expect(run.code).toBe(0);
    expect(run.json.from).toEqual([]);
    expect(run.json.to).toEqual(["8a5d0e6f7c97"]);
    expect(run.json.steps).toHaveLength(8);
    expect(run.json.steps[0]).toMatchObject({ revision: "1f3a9c2e7b10", direction: "up" });
    expect(typeof run.json.steps[0].ms).toBe("number");
  });

  /** Starts `upgrade head` onto a revision that sleeps 60 s, sends `signal` once it sleeps, and returns what the command did. */
  async function interruptSlowUpgrade(signal: NodeJS.Signals) {
    expect(lambic(dir, ["upgrade", "head"], env()).code).toBe(0);
    writeFileSync(join(dir, "revisions/main/2026_03_01_0000_f00d00000001_slow.sql"), "-- revision: f00d00000001\n-- revises: 8a5d0e6f7c97\n-- message: slow\n-- +up\nSELECT pg_sleep(60);\n");
    const child = spawn(process.execPath, [cli, "upgrade", "head"], { cwd: dir, env: { ...process.env, ...env() } });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((done) => child.on("close", done));
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const sleeping = async () => (await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%SELECT pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()`)[0]!.n as number;
      for (let tries = 0; (await sleeping()) === 0; tries++) {
        if (tries > 200) throw new Error(`the slow revision never started: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const interrupted = Date.now();
      child.kill(signal);
      const code = await exited;
      return { code, stderr, ms: Date.now() - interrupted, stillSleeping: await sleeping(), versions: await sql`SELECT version_num FROM lambic_version`, locks: (await sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)[0]!.n };
    } finally {
      child.kill("SIGKILL");
      await sql.end({ timeout: 5 });
    }
  }

  it.each([["SIGINT", 130, "Interrupted"], ["SIGTERM", 143, "Terminated (SIGTERM)"]] as const)(
    "quits at once on %s while connecting (a server that does not answer), saying nothing had started: INTERRUPTED, exit %i, one JSON document",
    async (signal, status, words) => {
      const silent = createNetServer(() => {});
      const connected = new Promise<void>((resolve) => silent.once("connection", () => resolve()));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const url = `postgres://app:s3cret@127.0.0.1:${(silent.address() as AddressInfo).port}/app?sslmode=disable&connect_timeout=60`;
      const child = spawn(process.execPath, [cli, "--json", "upgrade", "head"], { cwd: dir, env: { ...process.env, DATABASE_URL: url } });
      let [stdout, stderr] = ["", ""];
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const exited = new Promise<number | null>((done) => child.on("close", done));
      try {
        await connected;
        child.kill(signal);
        expect(await exited).toBe(status);
        expect(JSON.parse(stdout)).toEqual({ error: { code: "INTERRUPTED", message: `${words} while connecting to the database: nothing had started, and nothing was sent to the database.`, signal } });
        expect(stderr).toContain(`lambic: INTERRUPTED: ${words} while connecting to the database`);
      } finally {
        child.kill("SIGKILL");
        silent.close();
      }
    },
  );

  it("cancels the running statement on Ctrl-C and rolls back: INTERRUPTED, exit 130", async () => {
    const run = await interruptSlowUpgrade("SIGINT");
    expect(run.code).toBe(130);
    expect(run.ms).toBeLessThan(10_000);
    expect(run.stderr).toContain("Interrupted: cancelling the running statement and rolling back");
    expect(run.stderr).toContain("lambic: INTERRUPTED: Interrupted while running revision f00d00000001; the running statement was cancelled. The run was rolled back: the database is as it was before.");
    expect(run.stillSleeping).toBe(0);
    expect(run.versions).toEqual([{ version_num: "8a5d0e6f7c97" }]);
  });

  it("cancels the running statement on SIGTERM (docker stop, a cancelled CI job) as on Ctrl-C, leaving no statement running and no lock held: INTERRUPTED, exit 143", async () => {
    const run = await interruptSlowUpgrade("SIGTERM");
    expect(run.code).toBe(143);
    expect(run.ms).toBeLessThan(10_000);
    expect(run.stderr).toContain("Terminated (SIGTERM): cancelling the running statement and rolling back");
    expect(run.stderr).toContain("lambic: INTERRUPTED: Interrupted while running revision f00d00000001; the running statement was cancelled. The run was rolled back: the database is as it was before.");
    expect(run.stillSleeping).toBe(0);
    expect(run.locks).toBe(0);
    expect(run.versions).toEqual([{ version_num: "8a5d0e6f7c97" }]);
  });

  /**
   * Starts `upgrade head --json` onto a revision that sleeps 60 s, through a proxy that holds the
   * cancel request's connection; sends SIGINT once it sleeps and again once the cancel request is
   * held. With `release`, lets the cancel request through once the command says it waits for it.
   */
  async function interruptTwice(release: boolean) {
    expect(lambic(dir, ["upgrade", "head"], env()).code).toBe(0);
    writeFileSync(join(dir, "revisions/main/2026_03_01_0000_f00d00000001_slow.sql"), "-- revision: f00d00000001\n-- revises: 8a5d0e6f7c97\n-- message: slow\n-- +up\nSELECT pg_sleep(60);\n");
    const server = new URL(db.url);
    const proxy = await startHoldingProxy({ host: server.hostname, port: Number(server.port) });
    const through = new URL(db.url);
    through.port = String(proxy.port);
    const child = spawn(process.execPath, [cli, "--json", "upgrade", "head"], { cwd: dir, env: { ...process.env, DATABASE_URL: through.href } });
    let stdout = "";
    let stderr = "";
    let told: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (told = resolve));
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      if (stderr.includes("Waiting at most")) told();
    });
    const exited = new Promise<number | null>((done) => child.on("close", done));
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const sleeping = async () => (await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%SELECT pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()`)[0]!.n as number;
    try {
      for (let tries = 0; (await sleeping()) === 0; tries++) {
        if (tries > 200) throw new Error(`the slow revision never started: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill("SIGINT");
      await proxy.held;
      child.kill("SIGINT");
      // Before the command ends: a cancel request let through after it quit would not have been sent.
      if (release && (await Promise.race([waiting.then(() => true), exited.then(() => false)]))) proxy.release();
      const code = await exited;
      // The server ends the statement once it has the cancel request.
      let still = await sleeping();
      for (let tries = 0; release && still > 0 && tries < 200; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        still = await sleeping();
      }
      return { code, stdout, stderr, stillSleeping: still, versions: await sql`SELECT version_num FROM lambic_version` };
    } finally {
      child.kill("SIGKILL");
      await sql.end({ timeout: 5 });
      await proxy.close();
    }
  }

  it("on a second Ctrl-C waits for the cancel request to reach the server before quitting, so the statement does not run on", async () => {
    const run = await interruptTwice(true);
    expect(run.stillSleeping).toBe(0);
    expect(run.code).toBe(130);
    expect(run.stderr).toContain("Waiting at most 5 s for the cancel to take effect (again to quit now).");
    expect(JSON.parse(run.stdout).error).toMatchObject({ code: "INTERRUPTED", revision: "f00d00000001" });
    expect(run.stderr).toContain("lambic: INTERRUPTED: Interrupted while running revision f00d00000001; the running statement was cancelled. The run was rolled back: the database is as it was before.");
    expect(run.versions).toEqual([{ version_num: "8a5d0e6f7c97" }]);
  });

  it("on a second Ctrl-C quits after 5 s when the cancel request cannot reach the server, saying the statement may run on and how to end it (one JSON error document)", async () => {
    const run = await interruptTwice(false);
    expect(run.code).toBe(130);
    const { error } = JSON.parse(run.stdout);
    expect(error).toMatchObject({ code: "INTERRUPTED", quit: true, signal: "SIGINT" });
    expect(error.message).toMatch(/^Quit before the cancel took effect .* the running statement may run on to its end, holding the run lock .* pg_cancel_backend\(pid\)/);
    expect(run.stderr).toContain(`lambic: INTERRUPTED: ${error.message}`);
  });

  it("prints one line per revision and a summary", () => {
    const run = lambic(dir, ["upgrade", "head"], env());
    expect(run.stdout).toMatch(/upgrade 1f3a9c2e7b10 \(create customer table\) [\d.]+ ms/);
    expect(run.stdout).toMatch(/Upgraded main: base -> 8a5d0e6f7c97, 8 revision\(s\)/);
  });

  it("reports current versions and heads", () => {
    lambic(dir, ["upgrade", "billing@head"], env());
    expect(lambic(dir, ["--json", "current"], env()).json).toEqual({ versions: ["8a5d0e6f7c97"], heads: ["8a5d0e6f7c97"] });
  });

  it("prints current as Alembic does: the revision with its head and tree indicators, without branch labels", () => {
    lambic(dir, ["upgrade", "7f4c9d5e6b86"], env());
    expect(lambic(dir, ["current"], env()).stdout.trim()).toBe("7f4c9d5e6b86 (mergepoint)");
    lambic(dir, ["upgrade", "head"], env());
    expect(lambic(dir, ["current"], env()).stdout.trim()).toBe("8a5d0e6f7c97 (head)");
  });

  it("current --verbose puts (implied by dependencies) on the Rev: line of the revision it is about", () => {
    writeFileSync(join(dir, "revisions/main/2026_03_01_0000_d0d000000001_dep.sql"), "-- revision: d0d000000001\n-- depends-on: 3b9e5f1a2d42\n-- message: needs 3b9e\n-- +up\nSELECT 1;\n-- +down\nSELECT 1;\n");
    lambic(dir, ["upgrade", "d0d000000001"], env());
    expect(lambic(dir, ["current"], env()).stdout.trim()).toBe("d0d000000001 (head)\n3b9e5f1a2d42 (branchpoint) (implied by dependencies)");
    const verbose = lambic(dir, ["current", "--verbose"], env()).stdout;
    expect(verbose).toContain("Rev: 3b9e5f1a2d42 (branchpoint) (implied by dependencies)\nParent: 2a7d4e8f0c31\n");
    expect(verbose.trimEnd()).toMatch(/\n    create orders and order lines$/);
  });

  it("show current shows the revisions of the database's version rows, as alembic show current does", () => {
    expect(lambic(dir, ["--json", "show", "current"], env()).json).toEqual({ revisions: [] });
    lambic(dir, ["upgrade", "6e3b8c4d5a75"], env());
    expect(lambic(dir, ["--json", "show", "current"], env()).json.revisions.map((r: { id: string }) => r.id)).toEqual(["6e3b8c4d5a75"]);
    expect(lambic(dir, ["show", "current"], env()).stdout).toMatch(/^Rev: 6e3b8c4d5a75\nParent: 3b9e5f1a2d42\n/);
  });

  it("check exits 1 with the pending list, then 0 at head", () => {
    lambic(dir, ["upgrade", "3b9e5f1a2d42"], env());
    const behind = lambic(dir, ["--json", "check"], env());
    expect(behind.code).toBe(1);
    expect(behind.json.pending).toEqual(["6e3b8c4d5a75", "4c1f6a2b3e53", "5d2a7b3c4f64", "7f4c9d5e6b86", "8a5d0e6f7c97"]);
    lambic(dir, ["upgrade", "head"], env());
    expect(lambic(dir, ["check"], env()).code).toBe(0);
  });

  it("downgrades with -1, to a revision, and stamps", () => {
    lambic(dir, ["upgrade", "head"], env());
    expect(lambic(dir, ["--json", "downgrade", "-1"], env()).json.to).toEqual(["7f4c9d5e6b86"]);
    expect(lambic(dir, ["--json", "downgrade", "5d2a"], env()).json.to.sort()).toEqual(["5d2a7b3c4f64", "6e3b8c4d5a75"]);
    expect(lambic(dir, ["--json", "downgrade", "-1"], env()).json.error.code).toBe("AMBIGUOUS_RELATIVE");
    expect(lambic(dir, ["--json", "downgrade", "billing@-1"], env()).json.to.sort()).toEqual(["4c1f6a2b3e53", "6e3b8c4d5a75"]);
    expect(lambic(dir, ["--json", "stamp", "--purge", "1f3a9c2e7b10"], env()).json).toEqual({ versions: ["1f3a9c2e7b10"] });
  });

  it("a stamp whose second target needs a row the first one moved says so, and how to set the rows instead", () => {
    lambic(dir, ["upgrade", "7f4c"], env());
    const run = lambic(dir, ["--json", "stamp", "5d2a", "6e3b"], env());
    expect(run.code).toBe(1);
    expect(run.json.error).toMatchObject({ code: "UNKNOWN_VERSION", rows: ["5d2a7b3c4f64"] });
    expect(run.json.error.message).toContain("An earlier target of the same stamp may have moved that row already");
    expect(run.json.error.message).toContain('"lambic stamp --purge <targets>"');
    expect(lambic(dir, ["--json", "current"], env()).json.versions).toEqual(["7f4c9d5e6b86"]);
    expect(lambic(dir, ["--json", "stamp", "--purge", "5d2a", "6e3b"], env()).json).toEqual({ versions: ["5d2a7b3c4f64", "6e3b8c4d5a75"] });
  });

  it("changes nothing with --dry-run and prints the plan and SQL", async () => {
    const run = lambic(dir, ["--json", "upgrade", "head", "--dry-run"], env());
    expect(run.json).toMatchObject({ dryRun: true, from: [], to: ["8a5d0e6f7c97"] });
    expect(run.json.steps).toHaveLength(8);
    expect(run.json.sql).toContain("CREATE TABLE");
    expect(lambic(dir, ["--json", "current"], env()).json.versions).toEqual([]);
  });

  it("reports an applied revision whose file changed: check lists it, upgrade and --dry-run refuse it unless --allow-changed", () => {
    lambic(dir, ["upgrade", "3b9e5f1a2d42"], env());
    const file = readdirSync(join(dir, "revisions/main")).find((f) => f.includes("2a7d4e8f0c31"))!;
    writeFileSync(join(dir, "revisions/main", file), `${readFileSync(join(dir, "revisions/main", file), "utf8")}\n// edited after it ran\n`);
    const check = lambic(dir, ["--json", "check"], env());
    expect(check.code).toBe(1);
    expect(check.json.changed).toEqual([expect.objectContaining({ revision: "2a7d4e8f0c31" })]);
    for (const args of [["upgrade", "head"], ["upgrade", "head", "--dry-run"]]) {
      const refused = lambic(dir, ["--json", ...args], env());
      expect(refused.code).toBe(1);
      expect(refused.json.error).toMatchObject({ code: "CHECKSUM_MISMATCH" });
      expect(refused.json.error.message).toContain("2a7d4e8f0c31");
    }
    const dryRun = lambic(dir, ["--json", "upgrade", "head", "--dry-run", "--allow-changed"], env());
    expect(dryRun.code).toBe(0);
    expect(dryRun.stderr).toContain("warning: applied revision 2a7d4e8f0c31 changed since it ran");
    const allowed = lambic(dir, ["--json", "upgrade", "head", "--allow-changed"], env());
    expect(allowed.code).toBe(0);
    expect(allowed.json.to).toEqual(["8a5d0e6f7c97"]);
    expect(allowed.stderr).toContain("warning: applied revision 2a7d4e8f0c31 changed since it ran");
  });

  it("names in upgrade --allow-changed --json (and its --dry-run) the edited applied revisions it ran past, as the Lambda's result does", () => {
    lambic(dir, ["upgrade", "3b9e5f1a2d42"], env());
    const file = join(dir, "revisions/main", readdirSync(join(dir, "revisions/main")).find((f) => f.includes("2a7d4e8f0c31"))!);
    writeFileSync(file, `${readFileSync(file, "utf8")}\n-- edited after it ran\n`);
    const changed = [{ revision: "2a7d4e8f0c31", appliedChecksum: expect.stringMatching(/^[0-9a-f]{64}$/), currentChecksum: expect.stringMatching(/^[0-9a-f]{64}$/), file }];
    expect(lambic(dir, ["--json", "upgrade", "head", "--dry-run", "--allow-changed"], env()).json.changed).toEqual(changed);
    const run = lambic(dir, ["--json", "upgrade", "head", "--allow-changed"], env());
    expect(run.code).toBe(0);
    expect(run.json.changed).toEqual(changed);
    expect(lambic(dir, ["--json", "downgrade", "-1", "--allow-changed"], env()).json.changed).toEqual(changed);
    // Nothing edited, nothing to name: the key is left out, as before.
    writeFileSync(file, readFileSync(join(repo, "revisions/main", file.split("/").pop()!)));
    expect(lambic(dir, ["--json", "upgrade", "head", "--allow-changed"], env()).json).not.toHaveProperty("changed");
  });

  it("reports an applied revision whose imported helper changed since it ran, though its own file did not", () => {
    const file = join(dir, "revisions/main", readdirSync(join(dir, "revisions/main")).find((f) => f.includes("1f3a9c2e7b10"))!);
    writeFileSync(join(dir, "revisions/comment.ts"), 'export const COMMENT = "customers";\n');
    writeFileSync(file, readFileSync(file, "utf8").replace("async upgrade(op) {", 'async upgrade(op) {\n    op.execute(`COMMENT ON SCHEMA public IS \'${COMMENT}\'`);').replace(/^/, 'import { COMMENT } from "../comment.ts";\n'));
    expect(lambic(dir, ["upgrade", "1f3a9c2e7b10"], env()).code).toBe(0);
    expect(lambic(dir, ["check"], env()).code).toBe(1); // pending revisions only
    expect(lambic(dir, ["--json", "check"], env()).json.changed).toEqual([]);
    writeFileSync(join(dir, "revisions/comment.ts"), 'export const COMMENT = "clients";\n');
    const check = lambic(dir, ["check"], env());
    expect(check.stdout).toContain("changed since applied: 1f3a9c2e7b10");
    expect(check.stdout).toContain("or the project file it imports that changed");
  });

  it("repair accepts an edited applied revision: check passes and upgrade runs without --allow-changed", () => {
    lambic(dir, ["upgrade", "3b9e5f1a2d42"], env());
    expect(lambic(dir, ["repair"], env()).stdout).toContain("Nothing to repair: no applied revision of main changed since it ran, and each has its checksum on record.");
    const file = readdirSync(join(dir, "revisions/main")).find((f) => f.includes("2a7d4e8f0c31"))!;
    writeFileSync(join(dir, "revisions/main", file), `${readFileSync(join(dir, "revisions/main", file), "utf8")}\n// a comment added after it ran\n`);
    const check = lambic(dir, ["check"], env());
    expect(check.stdout).toContain(`changed since applied: 2a7d4e8f0c31`);
    expect(check.stdout).toContain("accept an edit that changes nothing the database needs with lambic repair");
    const repaired = lambic(dir, ["--json", "repair"], env());
    expect(repaired.code).toBe(0);
    expect(repaired.json).toMatchObject({ versions: ["3b9e5f1a2d42"], repaired: [{ revision: "2a7d4e8f0c31", file: expect.stringContaining(file) }] });
    expect(lambic(dir, ["check"], env()).stdout).toContain("pending revision(s)");
    expect(lambic(dir, ["--json", "check"], env()).json.changed).toEqual([]);
    expect(lambic(dir, ["upgrade", "head"], env()).code).toBe(0);
    expect(lambic(dir, ["check"], env()).code).toBe(0);
    expect(lambic(dir, ["repair", "extra"], env()).code).toBe(2);
  });

  it("reads the version rows for a history range that names current", () => {
    lambic(dir, ["upgrade", "3b9e5f1a2d42"], env());
    const ids = (range: string) => lambic(dir, ["--json", "history", "-r", range], env()).json.revisions.map((r: { id: string }) => r.id);
    expect(ids("current:")).toEqual(["8a5d0e6f7c97", "7f4c9d5e6b86", "5d2a7b3c4f64", "4c1f6a2b3e53", "6e3b8c4d5a75", "3b9e5f1a2d42"]);
    expect(ids(":current")).toEqual(["3b9e5f1a2d42", "2a7d4e8f0c31", "1f3a9c2e7b10"]);
  });

  it("history -i marks the revisions of the version rows (current), as alembic history -i does", () => {
    lambic(dir, ["upgrade", "6e3b8c4d5a75"], env());
    expect(lambic(dir, ["history", "-i", "-r", "3b9e5f1a2d42:"], env()).stdout).toContain("3b9e5f1a2d42 -> 6e3b8c4d5a75 (current), ");
    const { revisions } = lambic(dir, ["--json", "history", "--indicate-current"], env()).json;
    expect(revisions.filter((r: { current: boolean }) => r.current).map((r: { id: string }) => r.id)).toEqual(["6e3b8c4d5a75"]);
  });

  it("passes -x key=value to revisions as ctx.x", async () => {
    writeFileSync(
      join(dir, "revisions/main/2026_03_01_0000_dada00000001_x.ts"),
      `export default { id: "dada00000001", revises: "8a5d0e6f7c97", message: "x", async upgrade(op, ctx) { op.createTable("seen", { value: "text" }); op.bulkInsert("seen", [{ value: ctx.x.region ?? null }]); }, async downgrade(op) { op.dropTable("seen"); } };\n`,
    );
    expect(lambic(dir, ["-x", "region=eu-west-1", "upgrade", "head"], env()).code).toBe(0);
    const sql = postgres(db.url, { max: 1 });
    expect(await sql`SELECT value FROM seen`).toEqual([{ value: "eu-west-1" }]);
    await sql.end();
  });

  it("uses the named database of lambic.config.json with ${ENV} interpolation", () => {
    writeFileSync(join(dir, "lambic.config.json"), JSON.stringify({ databases: { app: { url: "${APP_DB}", revisions: "revisions/main", versionTable: "app_version" } } }));
    const run = lambic(dir, ["--name", "app", "--json", "upgrade", "head"], { APP_DB: db.url });
    expect(run.code).toBe(0);
    expect(lambic(dir, ["--name", "app", "--json", "current"], { APP_DB: db.url }).json.versions).toEqual(["8a5d0e6f7c97"]);
  });

  it("says CONNECTION_FAILED, without the password, for a wrong password", () => {
    const url = new URL(db.url);
    url.password = "wrong-secret";
    const run = lambic(dir, ["--json", "current"], { DATABASE_URL: url.toString() });
    expect(run.code).toBe(1);
    expect(run.json.error.code).toBe("CONNECTION_FAILED");
    expect(run.stdout + run.stderr).not.toContain("wrong-secret");
  });
});

afterAll(() => undefined);

describe("the command line's own code cache", () => {
  const copies: string[] = [];
  afterAll(() => {
    for (const copy of copies) rmSync(copy, { recursive: true, force: true });
  });
  /** A copy of the built command line (in dist/, so packages resolve as from the original), with no cache yet. */
  function builtCopy(): { cli: string; cache: string } {
    const dir = join(repo, "dist", `.code-cache-test-${process.pid}-${Math.random().toString(36).slice(2)}`);
    copies.push(dir);
    mkdirSync(join(dir, "cli"), { recursive: true });
    cpSync(cli, join(dir, "cli.cjs"));
    cpSync(join(repo, "dist/cli/run.cjs"), join(dir, "cli/run.cjs"));
    return { cli: join(dir, "cli.cjs"), cache: join(dir, "cli/run.cjs.code") };
  }
  const run = (copy: string, dir: string, args: string[]) => spawnSync(process.execPath, [copy, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, DATABASE_URL: undefined } });
  const header = (cache: string) => JSON.parse(readFileSync(cache, "utf8").slice(0, readFileSync(cache).indexOf(10)));
  const dir = project();

  it("writes V8's code cache beside the bundle, and adds a command it has not seen to it, using what it read", () => {
    const copy = builtCopy();
    expect(run(copy.cli, dir, ["heads"]).stdout).toContain("8a5d0e6f7c97");
    const built = readFileSync(join(repo, "dist/cli/run.cjs"), "utf8").match(/\/\/lambic-cli-build:(\w+)\s*$/)![1];
    expect(header(copy.cache)).toEqual({ build: built, node: `${process.version} ${process.arch}`, commands: ["heads"] });
    // A command the cache holds leaves it as it is.
    const written = readFileSync(copy.cache);
    expect(run(copy.cli, dir, ["heads"]).status).toBe(0);
    expect(readFileSync(copy.cache).equals(written)).toBe(true);
    // "heads" kept: the cache was accepted, and the new one holds both commands' functions.
    expect(run(copy.cli, dir, ["bases"]).stdout).toContain("1f3a9c2e7b10");
    expect(header(copy.cache).commands).toEqual(["heads", "bases"]);
  });

  it("builds the bundle as ASCII, comments included, so that it is read as a one-byte string", () => {
    expect(isAscii(readFileSync(join(repo, "dist/cli/run.cjs")))).toBe(true);
  });

  it("keys the cache on the command, not on an option's value before it (--name main heads is heads)", () => {
    const copy = builtCopy();
    expect(run(copy.cli, dir, ["--name", "main", "heads"]).status).toBe(0);
    expect(run(copy.cli, dir, ["--name", "main", "bases"]).status).toBe(0);
    expect(header(copy.cache).commands).toEqual(["heads", "bases"]);
  });

  it("starts without a cache that is damaged or from another build, and replaces it", () => {
    const copy = builtCopy();
    expect(run(copy.cli, dir, ["heads"]).status).toBe(0);
    const bytes = readFileSync(copy.cache);
    // Cut short: V8 refuses it.
    writeFileSync(copy.cache, bytes.subarray(0, bytes.length - 1000));
    expect(run(copy.cli, dir, ["bases"]).stdout).toContain("1f3a9c2e7b10");
    expect(header(copy.cache).commands).toEqual(["bases"]);
    // Another build's cache, whatever V8 would say of it, is not read.
    const other = readFileSync(copy.cache, "utf8").replace(/"build":"\w+"/, '"build":"0000000000000000"');
    writeFileSync(copy.cache, other);
    expect(run(copy.cli, dir, ["heads"]).stdout).toContain("8a5d0e6f7c97");
    expect(header(copy.cache).commands).toEqual(["heads"]);
    // Not a cache at all.
    writeFileSync(copy.cache, "garbage");
    expect(run(copy.cli, dir, ["heads"]).stdout).toContain("8a5d0e6f7c97");
    expect(header(copy.cache).commands).toEqual(["heads"]);
  });
});
