import { describe, expect, it } from "vitest";
import { eventDefaultsFromEnv, parseEvent } from "../../../handler/event.ts";
import { LambicError } from "../../../src/errors.ts";

const defaults = { databases: ["main", "billing"], defaultDatabase: "main" };
const SHA = "0123456789abcdef".repeat(4);

function rejects(event: unknown): LambicError {
  try {
    parseEvent(event, defaults);
  } catch (error) {
    expect(error).toBeInstanceOf(LambicError);
    expect((error as LambicError).code).toBe("INVALID_EVENT");
    return error as LambicError;
  }
  throw new Error(`accepted ${JSON.stringify(event)}`);
}

describe("parseEvent", () => {
  it("accepts DESIGN.md's example and fills the defaults", () => {
    expect(parseEvent({ command: "upgrade", target: "head", database: "main", bundle: { sha256: SHA }, x: { data: "true" }, dryRun: false }, defaults)).toEqual({
      command: "upgrade",
      database: "main",
      bundleSha256: SHA,
      targets: ["head"],
      x: { data: "true" },
      dryRun: false,
      allowChanged: false,
      perRevision: false,
      purge: false,
      range: undefined,
      direction: "upgrade",
      tenants: undefined,
      operation: undefined,
      batchSize: 25,
      concurrency: 4,
    });
  });

  it("takes tenants on upgrade, downgrade, stamp and current", () => {
    expect(parseEvent({ command: "upgrade", target: "head", tenants: ["acme", "globex_2"] }, defaults)).toMatchObject({ tenants: ["acme", "globex_2"] });
    expect(parseEvent({ command: "downgrade", target: "-1", tenants: ["acme"] }, defaults)).toMatchObject({ tenants: ["acme"] });
    expect(parseEvent({ command: "stamp", target: "head", tenants: ["_t"] }, defaults)).toMatchObject({ tenants: ["_t"] });
    expect(parseEvent({ command: "current", tenants: ["acme"] }, defaults)).toMatchObject({ command: "current", tenants: ["acme"] });
    expect(parseEvent({ command: "upgrade", target: "head" }, defaults).tenants).toBeUndefined();
  });

  it("fanout takes an operation, its target(s), batchSize, concurrency and optional tenants", () => {
    expect(parseEvent({ command: "fanout", operation: "upgrade", target: "head", database: "billing", batchSize: 10, concurrency: 8 }, defaults)).toMatchObject({
      command: "fanout",
      operation: "upgrade",
      targets: ["head"],
      database: "billing",
      batchSize: 10,
      concurrency: 8,
      tenants: undefined,
    });
    expect(parseEvent({ command: "fanout", operation: "stamp", target: ["ae10", "27c6"], purge: true, tenants: ["a"] }, defaults)).toMatchObject({ operation: "stamp", targets: ["ae10", "27c6"], purge: true, tenants: ["a"] });
    expect(parseEvent({ command: "fanout", operation: "downgrade", target: "base", x: { k: "v" }, allowChanged: true }, defaults)).toMatchObject({ batchSize: 25, concurrency: 4, x: { k: "v" } });
    expect(parseEvent({ command: "tenants", batchSize: 50 }, defaults)).toMatchObject({ command: "tenants", batchSize: 50, targets: [] });
  });

  it("a batch's operation takes deadline, epoch milliseconds its coordinator sets", () => {
    expect(parseEvent({ command: "upgrade", target: "head", tenants: ["a"], deadline: 1795347840254 }, defaults)).toMatchObject({ deadline: 1795347840254 });
    expect(parseEvent({ command: "stamp", target: "head", deadline: 1795347840254 }, defaults)).toMatchObject({ deadline: 1795347840254 });
    expect(parseEvent({ command: "downgrade", target: "-1" }, defaults).deadline).toBeUndefined();
  });

  it("accepts the infra test events", () => {
    expect(parseEvent({ command: "downgrade", target: "-1" }, defaults)).toMatchObject({ command: "downgrade", targets: ["-1"], database: "main" });
    expect(parseEvent({ command: "current" }, defaults)).toMatchObject({ command: "current", targets: [] });
    expect(parseEvent({ command: "sql", target: "base:head" }, defaults)).toMatchObject({ command: "sql", targets: ["base:head"], direction: "upgrade" });
    expect(parseEvent({ command: "sql" }, defaults)).toMatchObject({ targets: ["head"] });
  });

  it("stamp takes one target or a list, and purge", () => {
    expect(parseEvent({ command: "stamp", target: ["ae10", "27c6"], purge: true }, defaults)).toMatchObject({ targets: ["ae10", "27c6"], purge: true });
    expect(parseEvent({ command: "stamp", target: "head" }, defaults)).toMatchObject({ targets: ["head"], purge: false });
  });

  it("history takes a range, sql a direction, other databases by name", () => {
    expect(parseEvent({ command: "history", range: "ae10:" }, defaults)).toMatchObject({ range: "ae10:" });
    expect(parseEvent({ command: "sql", target: "head:base", direction: "downgrade" }, defaults)).toMatchObject({ direction: "downgrade" });
    expect(parseEvent({ command: "heads", database: "billing" }, defaults)).toMatchObject({ database: "billing" });
  });

  const cases: [string, unknown, string, RegExp][] = [
    ["not an object", "upgrade", "(event)", /must be a JSON object/],
    ["null", null, "(event)", /must be a JSON object/],
    ["an array", [{ command: "upgrade" }], "(event)", /must be a JSON object/],
    ["missing command", {}, "command", /has no "command"/],
    ["unknown command", { command: "upgrad", target: "head" }, "command", /Did you mean "upgrade"/],
    ["ill-typed command", { command: ["upgrade"] }, "command", /expected one of upgrade, downgrade/],
    ["missing target (upgrade)", { command: "upgrade" }, "target", /needs a "target"/],
    ["missing target (downgrade)", { command: "downgrade" }, "target", /"target": "-1"/],
    ["missing target (stamp)", { command: "stamp" }, "target", /needs a "target"/],
    ["numeric target", { command: "downgrade", target: -1 }, "target", /number -1/],
    ["empty target", { command: "upgrade", target: "" }, "target", /an empty string/],
    ["target with spaces", { command: "upgrade", target: "head head" }, "target", /no spaces/],
    ["target list outside stamp", { command: "upgrade", target: ["head"] }, "target", /an array/],
    ["empty stamp list", { command: "stamp", target: [] }, "target", /empty list/],
    ["ill-typed stamp item", { command: "stamp", target: ["head", 3] }, "target[1]", /number 3/],
    ["a range as an online target", { command: "upgrade", target: "base:head" }, "target", /starts where the database is.*\{"command": "sql", "target": "base:head"\}/],
    ["a range among stamp targets", { command: "stamp", target: ["head", "a:b"] }, "target[1]", /is the range "a:b"/],
    ["a range as a fan-out target", { command: "fanout", operation: "downgrade", target: "head:base" }, "target", /is the range "head:base"/],
    ["unknown database", { command: "current", database: "mainn" }, "database", /Did you mean "main"/],
    ["ill-typed database", { command: "current", database: 1 }, "database", /number 1/],
    ["empty database", { command: "current", database: "" }, "database", /empty string/],
    ["extra top-level key", { command: "upgrade", target: "head", force: true }, "force", /Unknown field "force"/],
    ["misspelt key", { command: "upgrade", target: "head", dryrun: true }, "dryrun", /Did you mean "dryRun"/],
    ["key of another command", { command: "current", target: "head" }, "target", /not used by command "current"/],
    ["dryRun on current", { command: "current", dryRun: true }, "dryRun", /not used by command "current"/],
    ["bundle not an object", { command: "current", bundle: SHA }, "bundle", /expected \{"sha256"/],
    ["bundle without sha256", { command: "current", bundle: {} }, "bundle.sha256", /has no "sha256"/],
    ["bundle extra key", { command: "current", bundle: { sha256: SHA, key: "x" } }, "bundle.key", /takes only "sha256"/],
    ["short sha256", { command: "current", bundle: { sha256: "abc" } }, "bundle.sha256", /64 lowercase hex/],
    ["uppercase sha256", { command: "current", bundle: { sha256: SHA.toUpperCase() } }, "bundle.sha256", /64 lowercase hex/],
    ["x not an object", { command: "upgrade", target: "head", x: "data=true" }, "x", /object of strings/],
    ["x value not a string", { command: "upgrade", target: "head", x: { data: true } }, "x.data", /write "true"/],
    ["x with an empty key", { command: "upgrade", target: "head", x: { "": "v" } }, "x", /"x" has an empty key \(with the value "v"\); give each user argument a name/],
    ["dryRun not a boolean", { command: "upgrade", target: "head", dryRun: "false" }, "dryRun", /true or false/],
    ["allowChanged not a boolean", { command: "upgrade", target: "head", allowChanged: 1 }, "allowChanged", /true or false/],
    ["purge not a boolean", { command: "stamp", target: "head", purge: "yes" }, "purge", /true or false/],
    ["range not a string", { command: "history", range: 5 }, "range", /number 5/],
    ["bad direction", { command: "sql", direction: "up" }, "direction", /"upgrade" or "downgrade"/],
    ["a downgrade script without a range", { command: "sql", direction: "downgrade", target: "base" }, "target", /"target" is "base", and a downgrade script starts from revisions the event must name: give a range <from>:<to>, e.g. "head:base"/],
    ["a downgrade script with the default target", { command: "sql", direction: "downgrade" }, "target", /"target" is missing \(default "head"\), and a downgrade script starts from revisions the event must name/],
    ["a script range without its end", { command: "sql", target: "ae10:" }, "target", /"target" is the range "ae10:", which names no revision after the ":", and a script runs to one: e.g. "ae10:head"/],
    ["a script range with two colons", { command: "sql", target: "a:b:c" }, "target", /"target" is "a:b:c"; expected a target or a range <from>:<to> with one ":"/],
    ["a history range without a colon", { command: "history", range: "head" }, "range", /"range" is "head"; expected a range with one ":", like "base:head", "ae10:" or ":head"/],
    ["a history range with two colons", { command: "history", range: "a:b:c" }, "range", /"range" is "a:b:c"; expected a range with one ":"/],
    ["tenants not a list", { command: "upgrade", target: "head", tenants: "acme" }, "tenants", /non-empty list of tenant schema names/],
    ["empty tenants", { command: "upgrade", target: "head", tenants: [] }, "tenants", /non-empty list/],
    ["hostile tenant", { command: "upgrade", target: "head", tenants: ["acme", "x; DROP SCHEMA public"] }, "tenants[1]", /is not a plain schema name.*It was not used/],
    ["quoted tenant", { command: "current", tenants: ['a"b'] }, "tenants[0]", /not a plain schema name/],
    ["tenant starting with a digit", { command: "current", tenants: ["1acme"] }, "tenants[0]", /not starting with a digit/],
    ["tenant too long", { command: "current", tenants: ["t".repeat(64)] }, "tenants[0]", /at most 63/],
    ["tenant not a string", { command: "current", tenants: [7] }, "tenants[0]", /Tenant 7/],
    ["duplicate tenant", { command: "current", tenants: ["a", "a"] }, "tenants[1]", /twice/],
    ["tenant named like a system schema", { command: "upgrade", target: "head", tenants: ["pg_acme"] }, "tenants[0]", /PostgreSQL reserves the prefix "pg_"/],
    ["tenant information_schema", { command: "current", tenants: ["information_schema"] }, "tenants[0]", /left out of pg_dump's backups/],
    ["too many tenants", { command: "current", tenants: Array.from({ length: 1001 }, (_, i) => `t${i}`) }, "tenants", /at most 1000.*fanout/],
    ["tenants on heads", { command: "heads", tenants: ["a"] }, "tenants", /not used by command "heads"/],
    ["tenants on history", { command: "history", tenants: ["a"] }, "tenants", /not used by command "history"/],
    ["fanout without operation", { command: "fanout", target: "head" }, "operation", /one of upgrade, downgrade, stamp/],
    ["fanout with a bad operation", { command: "fanout", operation: "current", target: "head" }, "operation", /one of upgrade, downgrade, stamp/],
    ["fanout without target", { command: "fanout", operation: "upgrade" }, "target", /needs a "target"/],
    ["fanout target list outside stamp", { command: "fanout", operation: "upgrade", target: ["head"] }, "target", /an array/],
    ["batchSize zero", { command: "fanout", operation: "upgrade", target: "head", batchSize: 0 }, "batchSize", /from 1 to 1000/],
    ["batchSize fractional", { command: "tenants", batchSize: 2.5 }, "batchSize", /whole number/],
    ["batchSize as a string", { command: "tenants", batchSize: "25" }, "batchSize", /the string "25"/],
    ["concurrency too high", { command: "fanout", operation: "upgrade", target: "head", concurrency: 1000 }, "concurrency", /from 1 to 100/],
    ["concurrency outside fanout", { command: "upgrade", target: "head", concurrency: 2 }, "concurrency", /not used by command "upgrade"/],
    ["batchSize outside fanout", { command: "upgrade", target: "head", batchSize: 2 }, "batchSize", /not used by command "upgrade"/],
    ["dryRun on fanout", { command: "fanout", operation: "upgrade", target: "head", dryRun: true }, "dryRun", /not used by command "fanout"/],
    ["target on tenants", { command: "tenants", target: "head" }, "target", /not used by command "tenants"/],
    ["deadline as a date string", { command: "upgrade", target: "head", deadline: "2026-11-22T12:00:00Z" }, "deadline", /the string "2026-11-22T12:00:00Z"; expected a time in epoch milliseconds/],
    ["deadline fractional", { command: "upgrade", target: "head", deadline: 1795347840254.5 }, "deadline", /epoch milliseconds \(a whole number/],
    ["deadline negative", { command: "upgrade", target: "head", deadline: -1 }, "deadline", /epoch milliseconds/],
    ["deadline on fanout", { command: "fanout", operation: "upgrade", target: "head", deadline: 1795347840254 }, "deadline", /not used by command "fanout"/],
  ];

  it.each(cases)("rejects %s, naming the field", (_name, event, field, message) => {
    const error = rejects(event);
    expect(error.details.field).toBe(field);
    expect(error.message).toMatch(/^Invalid event: /);
    expect(error.message).toMatch(message);
  });
});

describe("eventDefaultsFromEnv", () => {
  it("serves LAMBIC_DATABASE, a LAMBIC_DATABASES list, or main", () => {
    expect(eventDefaultsFromEnv({ LAMBIC_DATABASE: "app" })).toEqual({ databases: ["app"], defaultDatabase: "app" });
    expect(eventDefaultsFromEnv({ LAMBIC_DATABASES: "a, b", LAMBIC_DATABASE: "b" })).toEqual({ databases: ["a", "b"], defaultDatabase: "b" });
    expect(eventDefaultsFromEnv({ LAMBIC_DATABASES: "a,b" })).toEqual({ databases: ["a", "b"], defaultDatabase: "a" });
    expect(eventDefaultsFromEnv({})).toEqual({ databases: ["main"], defaultDatabase: "main" });
  });
});

describe("huge strings in an event", () => {
  it("are clipped in the error and refused at once, whatever field carries them", () => {
    const huge = "k".repeat(1_000_000);
    for (const event of [
      { command: "heads", [huge]: 1 },
      { command: "heads", database: huge },
      { command: "upgrade", target: "head", x: { [huge]: 1 } },
      { command: "current", tenants: [huge] },
      { command: "current", tenants: ["acme", { name: huge }] },
      { command: "upgrade", target: "head", bundle: { sha256: "a".repeat(64), [huge]: 1 } },
    ]) {
      const started = performance.now();
      const error = rejects(event);
      expect(performance.now() - started).toBeLessThan(200);
      expect(error.code).toBe("INVALID_EVENT");
      expect(error.message.length).toBeLessThan(500);
      expect(JSON.stringify(error.details).length).toBeLessThan(500);
    }
  });

  it("show a long list's start as JSON, not as JSON of its JSON", () => {
    const message = rejects({ command: "upgrade", target: ["k".repeat(300)] }).message;
    expect(message).toContain('"target" is an array (["kkk');
    expect(message).not.toContain('\\"');
  });

  it("keeps an x key named __proto__ and gives x nothing inherited", () => {
    const event = parseEvent(JSON.parse('{"command": "upgrade", "target": "head", "x": {"__proto__": "p"}}'), defaults) as { x: Record<string, string> };
    expect(Object.keys(event.x)).toEqual(["__proto__"]);
    expect(event.x["__proto__"]).toBe("p");
    expect(event.x.constructor).toBeUndefined();
  });

  it("says a nested x value must be a string of JSON", () => {
    expect(rejects({ command: "upgrade", target: "head", x: { a: { b: 1 } } }).message).toContain("a nested value is not one; pass it as a string of JSON");
  });
});

describe("fanout", () => {
  it("refuses a field its operation does not take", () => {
    const purge = rejects({ command: "fanout", operation: "upgrade", target: "head", purge: true });
    expect(purge.details).toMatchObject({ field: "purge" });
    expect(purge.message).toContain('"purge" is not used by fanout operation "upgrade"');
    expect(rejects({ command: "fanout", operation: "stamp", target: "head", x: { a: "b" } }).details).toMatchObject({ field: "x" });
    expect(rejects({ command: "fanout", operation: "stamp", target: "head", allowChanged: true }).details).toMatchObject({ field: "allowChanged" });
    expect(parseEvent({ command: "fanout", operation: "stamp", target: "head", purge: true }, defaults)).toMatchObject({ command: "fanout", purge: true });
  });

  it("names only fields a fanout event takes when it refuses one its operation does not", () => {
    expect(rejects({ command: "fanout", operation: "stamp", target: "head", x: { a: "b" } }).message).toContain('which takes: target, purge, tenants. Remove it.');
    expect(rejects({ command: "fanout", operation: "upgrade", target: "head", purge: true }).message).toContain('which takes: target, x, allowChanged, perRevision, tenants. Remove it.');
  });

  it("takes more tenants than one invocation runs, since it splits them into batches", () => {
    const tenants = Array.from({ length: 2500 }, (_, i) => `t${i}`);
    expect(parseEvent({ command: "fanout", operation: "upgrade", target: "head", tenants, batchSize: 100 }, defaults)).toMatchObject({ command: "fanout", tenants, batchSize: 100 });
    // Each name is still checked, and named by its index.
    expect(rejects({ command: "fanout", operation: "upgrade", target: "head", tenants: [...tenants, "bad name"] }).details).toMatchObject({ field: "tenants[2500]" });
  });

  it("passes perRevision to upgrade and downgrade batches, and refuses it for stamp", () => {
    expect(parseEvent({ command: "fanout", operation: "downgrade", target: "base", perRevision: true }, defaults)).toMatchObject({ operation: "downgrade", perRevision: true });
    expect(rejects({ command: "fanout", operation: "stamp", target: "head", perRevision: true }).details).toMatchObject({ field: "perRevision" });
  });
});

describe("perRevision", () => {
  it("takes perRevision on upgrade and downgrade, as the CLI's --per-revision: false unless given", () => {
    expect(parseEvent({ command: "upgrade", target: "head", perRevision: true }, defaults)).toMatchObject({ perRevision: true });
    expect(parseEvent({ command: "downgrade", target: "-1", perRevision: true }, defaults)).toMatchObject({ perRevision: true });
    expect(parseEvent({ command: "upgrade", target: "head" }, defaults).perRevision).toBe(false);
  });

  it("refuses perRevision that is not a boolean, or on a command that takes none", () => {
    expect(rejects({ command: "upgrade", target: "head", perRevision: "yes" }).details).toMatchObject({ field: "perRevision" });
    expect(rejects({ command: "stamp", target: "head", perRevision: true }).message).toContain('"perRevision" is not used by command "stamp"');
    expect(rejects({ command: "sql", perRevision: true }).details).toMatchObject({ field: "perRevision" });
  });
});

it("refuses a null database instead of taking the default", () => {
  expect(rejects({ command: "heads", database: null }).details).toMatchObject({ field: "database" });
});
