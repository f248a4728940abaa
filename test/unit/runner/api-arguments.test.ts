import { describe, expect, it } from "vitest";
import { loadRevisions } from "../../../src/bundle/load-revisions.ts";
import { openRevisionSet } from "../../../src/bundle/open-revisions.ts";
import { loadConfig, resolveDatabase } from "../../../src/config.ts";
import { openConnection, type Connection } from "../../../src/db/connection.ts";
import { isLambicError } from "../../../src/errors.ts";
import { checkDatabase, readCurrent, renderScript, repairChecksums, runMigration, type RunOptions } from "../../../src/runner/run.ts";
import { describeStep, effectiveHeads, planDowngrade, planHistory, planStamp, planUpgrade } from "../../../src/revision/plan.ts";
import { RevisionMap } from "../../../src/revision/revision-map.ts";
import { createRevisionSet } from "../../../src/revision/revision-set.ts";
import { inlineRevisionSet, tableHistory } from "../../support/revisions.ts";

// Code importing lambic builds these values itself: a missing or wrong one is a USAGE error
// naming the function and the argument, before anything reaches the connection.
const set = inlineRevisionSet(tableHistory(2));
const sent: string[] = [];
const connection = {
  query: async (sql: string) => {
    sent.push(sql);
    return [];
  },
  capabilities: { cancelRequests: true, sessionLocks: true },
} as unknown as Connection;
const options: RunOptions = { versionTable: "lambic_version", lockTimeoutMs: 10_000, statementTimeoutMs: 0, actor: "test", runId: "run-1" };
const up = { kind: "upgrade", target: "head" } as const;

async function usage(promise: Promise<unknown>, argument: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLambicError(error, "USAGE"), String(error)).toBe(true);
  expect((error as { details: { argument: string } }).details.argument).toBe(argument);
  expect(sent).toEqual([]);
}

describe("programmatic API arguments", () => {
  it("runMigration refuses a missing or wrong option, naming it", async () => {
    const call = (o: unknown) => runMigration(connection, set, up, o as RunOptions);
    await usage(call(undefined), "options");
    await usage(call({ ...options, versionTable: undefined }), "options.versionTable");
    await usage(call({ ...options, lockTimeoutMs: undefined }), "options.lockTimeoutMs");
    await usage(call({ ...options, lockTimeoutMs: -5 }), "options.lockTimeoutMs");
    await usage(call({ ...options, statementTimeoutMs: "5s" }), "options.statementTimeoutMs");
    await usage(call({ ...options, actor: undefined }), "options.actor");
    await usage(call({ ...options, runId: undefined }), "options.runId");
    await usage(call({ ...options, x: { n: 1 } }), "options.x.n");
  });

  it("refuses lambic_history as the version table, the name of lambic's own history table, before sending anything", async () => {
    await usage(runMigration(connection, set, up, { ...options, versionTable: "lambic_history" }), "options.versionTable");
    await usage(readCurrent(connection, set, { versionTable: "lambic_history" }), "options.versionTable");
  });

  it("runMigration refuses a malformed command", async () => {
    const call = (c: unknown) => runMigration(connection, set, c as typeof up, options);
    await usage(call(undefined), "command");
    await usage(call({ kind: "upgrad", target: "head" }), "command.kind");
    await usage(call({ kind: "upgrade" }), "command.target");
    await usage(call({ kind: "stamp", targets: "head" }), "command.targets");
  });

  it("the readers and repair refuse missing options; renderScript its own", async () => {
    await usage(readCurrent(connection, set, undefined as never), "options");
    await usage(checkDatabase(connection, set, {} as never), "options.versionTable");
    await usage(repairChecksums(connection, set, { versionTable: "v" } as never), "options.lockTimeoutMs");
    await usage(runMigration(undefined as never, set, up, options), "connection");
    await usage(readCurrent(connection, undefined as never, options), "set");
    await usage(renderScript(set, up, undefined as never, { ...options, generatedAt: new Date(), range: "base:head" }), "startRows");
    await usage(renderScript(set, up, [], { ...options, range: "base:head" } as never), "options.generatedAt");
    await usage(renderScript(set, up, [], { ...options, generatedAt: new Date() } as never), "options.range");
  });

  it("accepts what the CLI and the handler pass", async () => {
    const { script } = await renderScript(set, up, [], { ...options, generatedAt: new Date(0), range: "base:head", perRevision: false, x: { a: "b" } });
    expect(script).toContain("-- Running upgrade  -> r0001");
  });

  it("the graph and plan functions refuse a missing or wrong argument, naming it", async () => {
    const sync = (f: () => unknown) => Promise.resolve().then(f);
    await usage(sync(() => new RevisionMap(undefined as never)), "metas");
    await usage(sync(() => new RevisionMap([null] as never)), "metas[0]");
    await usage(sync(() => createRevisionSet("main", undefined as never, "")), "revisions");
    await usage(sync(() => planUpgrade(set.map, [], undefined as never)), "target");
    await usage(sync(() => planUpgrade(set.map, undefined as never, "head")), "current");
    await usage(sync(() => planDowngrade({} as never, [], "base")), "map");
    await usage(sync(() => planStamp(set.map, [], "head" as never)), "targets");
    await usage(sync(() => planHistory(set.map, 42 as never)), "range");
    expect(planUpgrade(set.map, [], "head").map((step) => step.revision)).toEqual(["r0001", "r0002"]);
  });

  it("new RevisionMap refuses revises, dependsOn or branchLabels of the wrong type, naming the revision's field, instead of a TypeError or a string read letter by letter", async () => {
    const sync = (f: () => unknown) => Promise.resolve().then(f);
    const map = (meta: Record<string, unknown>) => sync(() => new RevisionMap([{ id: "aaaa0001", revises: null }, { id: "bbbb0002", ...meta }] as never));
    await usage(map({ revises: { id: "aaaa0001" } }), "metas[1].revises");
    await usage(map({ revises: 1 }), "metas[1].revises");
    await usage(map({ revises: ["aaaa0001", 2] }), "metas[1].revises");
    // A string would be read as a list of its letters: dependsOn "aaaa0001" as a, a, a, a, 0, 0, 0, 1.
    await usage(map({ revises: null, dependsOn: "aaaa0001" }), "metas[1].dependsOn");
    await usage(map({ revises: null, dependsOn: {} }), "metas[1].dependsOn");
    await usage(map({ revises: null, branchLabels: "main" }), "metas[1].branchLabels");
    await usage(map({ revises: null, branchLabels: [7] }), "metas[1].branchLabels");
    // What the types allow is taken, as before.
    expect(new RevisionMap([{ id: "aaaa0001", revises: null, dependsOn: [], branchLabels: ["main"] }, { id: "bbbb0002", revises: ["aaaa0001"] }]).heads).toEqual(["bbbb0002"]);
  });

  it("new RevisionMap names the two positions of a duplicate id when the revisions have no messages", () => {
    const error = (() => {
      try {
        new RevisionMap([{ id: "aaaa0001", revises: null }, { id: "bbbb0002", revises: "aaaa0001" }, { id: "aaaa0001", revises: null }]);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toMatchObject({ code: "DUPLICATE_REVISION", details: { revision: "aaaa0001" } });
    expect((error as Error).message).toBe("Revision id aaaa0001 is used by two revisions (metas[0] and metas[2]). Give one of them a new id (lambic revision generates unique ids).");
  });

  it("createRevisionSet refuses a revision without its code or source, and a checksum that is neither a string nor a function, naming them", async () => {
    const sync = (f: () => unknown) => Promise.resolve().then(f);
    const revision = { id: "aaaa0001", revises: null, upgrade: () => {}, source: { file: "a.ts", checksum: "c0ffee" } };
    const create = (changes: Record<string, unknown>, checksum: unknown = "sum") => sync(() => createRevisionSet("main", [{ ...revision, ...changes }] as never, checksum as never));
    await usage(create({ upgrade: undefined }), "revisions[0].upgrade");
    await usage(create({ downgrade: "drop table t" }), "revisions[0].downgrade");
    await usage(create({ source: undefined }), "revisions[0].source");
    await usage(create({ source: { file: "a.ts", checksum: 5 } }), "revisions[0].source.checksum");
    await usage(create({ source: { checksum: "c0ffee" } }), "revisions[0].source.file");
    await usage(create({}, 5), "sourceChecksum");
    await usage(sync(() => createRevisionSet("main", [revision], undefined as never)), "sourceChecksum");
    expect(createRevisionSet("main", [revision], () => "lazy").sourceChecksum).toBe("lazy");
  });

  it("effectiveHeads and describeStep refuse a missing argument, naming it", async () => {
    const sync = (f: () => unknown) => Promise.resolve().then(f);
    await usage(sync(() => effectiveHeads(set.map, undefined as never)), "rows");
    await usage(sync(() => effectiveHeads(undefined as never, [])), "map");
    await usage(sync(() => describeStep(undefined as never)), "step");
    await usage(sync(() => describeStep({} as never)), "step");
    expect(effectiveHeads(set.map, ["r0001"])).toEqual(["r0001"]);
    expect(describeStep(planUpgrade(set.map, [], "head")[0]!)).toBe("upgrade  -> r0001");
  });

  it("openConnection refuses a wrong option before connecting, naming it, instead of ignoring it", async () => {
    const url = "postgres://user:secret@127.0.0.1:1/db";
    await usage(openConnection(url, { driver: "mysql" } as never), "options.driver");
    await usage(openConnection(url, { connectTimeoutSeconds: "5" } as never), "options.connectTimeoutSeconds");
    await usage(openConnection(url, { connectTimeoutSeconds: -1 }), "options.connectTimeoutSeconds");
    await usage(openConnection(url, { connectTimeoutSeconds: Number.NaN }), "options.connectTimeoutSeconds");
    await usage(openConnection(url, { applicationName: 5 } as never), "options.applicationName");
    await usage(openConnection(url, { statementTimeoutMs: "5000" } as never), "options.statementTimeoutMs");
    await usage(openConnection(url, { replyDeadline: new Date() } as never), "options.replyDeadline");
  });

  it("the loaders and openConnection refuse a missing argument, naming it", async () => {
    const sync = (f: () => unknown) => Promise.resolve().then(f);
    await usage(sync(() => loadConfig(undefined as never)), "options");
    await usage(sync(() => loadConfig({ env: {} } as never)), "options.cwd");
    await usage(sync(() => loadConfig({ cwd: "." } as never)), "options.env");
    await usage(sync(() => resolveDatabase(undefined as never)), "config");
    await usage(openRevisionSet(undefined as never, "."), "database");
    await usage(loadRevisions(undefined as never), "dir");
    await usage(openConnection(undefined as never), "url");
  });
});
