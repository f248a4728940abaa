import { describe, expect, it } from "vitest";
import { checkNewRevision, dependenciesOfNewRevision, parentsOfMerge, parentsOfNewRevision } from "../../../src/revision/new-revision.ts";
import { RevisionMap } from "../../../src/revision/revision-map.ts";
import type { RevisionMeta } from "../../../src/revision/types.ts";
import { failure } from "../../support/failure.ts";

const rev = (id: string, revises: RevisionMeta["revises"], extra: Partial<RevisionMeta> = {}): RevisionMeta => ({ id, revises, ...extra });

//   aaaa1 ── bbbb2 ─┬─ cccc3 ── dddd4          (head)
//                   └─ eeee5 (side)            (head)
//   ffff6 (other)                              (head, a second base)
const map = new RevisionMap([
  rev("aaaa1", null),
  rev("bbbb2", "aaaa1"),
  rev("cccc3", "bbbb2"),
  rev("dddd4", "cccc3"),
  rev("eeee5", "bbbb2", { branchLabels: ["side"] }),
  rev("ffff6", null, { branchLabels: ["other"] }),
]);

describe("parentsOfNewRevision (lambic revision --head, as alembic revision --head)", () => {
  it("refuses the default head while there are several heads, naming them", () => {
    const error = failure(() => parentsOfNewRevision(map, undefined, false));
    expect(error.code).toBe("MULTIPLE_HEADS");
    expect(error.details.heads).toEqual(["dddd4", "eeee5", "ffff6"]);
    expect(error.message).toContain('merge them first (lambic merge -m "merge" heads)');
  });

  it("refuses label@head while the branch has several heads, pointing at --head <id> or a merge of label@heads", () => {
    const forked = new RevisionMap([rev("aaaa1", null, { branchLabels: ["twin"] }), rev("bbbb2", "aaaa1"), rev("cccc3", "aaaa1")]);
    const error = failure(() => parentsOfNewRevision(forked, "twin@head", false));
    expect(error).toMatchObject({ code: "MULTIPLE_HEADS", details: { argument: "twin@head", heads: ["bbbb2", "cccc3"] } });
    expect(error.message).toBe('--head twin@head matches 2 heads (bbbb2, cccc3): say which one the new revision revises with --head <id>, or merge them first (lambic merge -m "merge" twin@heads).');
  });

  it("names every head in the merge it suggests when one is a head only through dependencies, which \"heads\" leaves out", () => {
    const plugin = new RevisionMap([rev("core1", null), rev("core2", "core1"), rev("plug1", null, { dependsOn: ["core1"] })]);
    expect(failure(() => parentsOfNewRevision(plugin, undefined, false)).message).toBe(
      'There are 2 heads (core2, plug1): say which one the new revision revises with --head <id or label@head>, or merge them first (lambic merge -m "merge" heads).',
    );
    const effective = new RevisionMap([rev("core1", null), rev("plug1", null, { dependsOn: ["core1"] }), rev("side1", null)]);
    expect(failure(() => parentsOfNewRevision(effective, undefined, false)).message).toContain('merge them first (lambic merge -m "merge" core1 plug1 side1)');
  });

  it("takes a head by id, prefix, label@head, or all of them with heads", () => {
    expect(parentsOfNewRevision(map, "dddd", false)).toEqual(["dddd4"]);
    expect(parentsOfNewRevision(map, "side@head", false)).toEqual(["eeee5"]);
    expect(parentsOfNewRevision(map, "heads", false)).toEqual(["dddd4", "eeee5", "ffff6"]);
  });

  it("makes a new base with base, or label@base", () => {
    expect(parentsOfNewRevision(map, "base", false)).toEqual([]);
    expect(parentsOfNewRevision(map, "other@base", false)).toEqual([]);
  });

  it("refuses a non-head without --splice, and starts a branch on it with --splice", () => {
    const error = failure(() => parentsOfNewRevision(map, "bbbb2", false));
    expect(error).toMatchObject({ code: "USAGE", details: { head: "bbbb2" } });
    expect(error.message).toContain("--splice");
    expect(parentsOfNewRevision(map, "bbbb2", true)).toEqual(["bbbb2"]);
  });

  it("says that label@head names a branch's head when a bare label names a revision below it", () => {
    const labelled = new RevisionMap([rev("aaaa1", null, { branchLabels: ["core"] }), rev("bbbb2", "aaaa1"), rev("cccc3", null)]);
    expect(failure(() => parentsOfNewRevision(labelled, "core", false)).message).toBe(
      'Revision aaaa1 is not a head; a new revision on it starts a branch. Pass --splice to do that on purpose; "core@head" names the head of branch core.',
    );
    expect(failure(() => parentsOfMerge(labelled, ["core", "cccc3"])).message).toContain('"heads" names them all; "core@head" names the head of branch core)');
  });

  it("takes a head with --splice too, as Alembic does", () => {
    expect(parentsOfNewRevision(map, "dddd4", true)).toEqual(["dddd4"]);
  });
});

describe("parentsOfMerge (lambic merge, as alembic merge)", () => {
  it("merges the heads named, each once however often it is named", () => {
    expect(parentsOfMerge(map, ["heads"])).toEqual(["dddd4", "eeee5", "ffff6"]);
    expect(parentsOfMerge(map, ["side", "dddd"])).toEqual(["eeee5", "dddd4"]);
    expect(parentsOfMerge(map, ["heads", "eeee5"])).toEqual(["dddd4", "eeee5", "ffff6"]);
  });

  it("refuses a revision that is not a head, naming what revises it: a merge of it would start a branch", () => {
    const error = failure(() => parentsOfMerge(map, ["bbbb2", "ffff6"]));
    expect(error).toMatchObject({ code: "USAGE", details: { revision: "bbbb2", children: ["cccc3", "eeee5"] } });
    expect(error.message).toContain("lambic revision --head bbbb2 --splice");
  });

  it("refuses a revision with its own ancestor, which would join nothing", () => {
    expect(failure(() => parentsOfMerge(map, ["aaaa1", "dddd4"]))).toMatchObject({ code: "USAGE", details: { revision: "aaaa1" } });
  });

  it("refuses a single head, pointing at lambic revision --head", () => {
    const error = failure(() => parentsOfMerge(map, ["dddd4", "dddd4"]));
    expect(error).toMatchObject({ code: "USAGE", details: { revises: ["dddd4"] } });
    expect(error.message).toContain("lambic revision --head dddd4");
  });

  it('says, when "heads" names one head, which heads it leaves out (those only dependencies point at) and how to merge them', () => {
    // lambic heads lists core1 (effective head) and plug1 (head); "heads" is plug1 alone, as in Alembic.
    const plugin = new RevisionMap([rev("core1", null), rev("plug1", null, { dependsOn: ["core1"] })]);
    const error = failure(() => parentsOfMerge(plugin, ["heads"]));
    expect(error).toMatchObject({ code: "USAGE", details: { revises: ["plug1"], effectiveHeads: ["core1"] } });
    expect(error.message).toBe(
      'lambic merge needs at least two heads to merge; heads names one (plug1). "heads" leaves out core1, a head only through dependencies (lambic heads marks it "effective head"): lambic merge -m MESSAGE plug1 core1 merges it too. A revision on one head is lambic revision --head plug1.',
    );
  });

  it("refuses base, which names no revision", () => {
    expect(failure(() => parentsOfMerge(map, ["base", "dddd4"]))).toMatchObject({ code: "USAGE", details: { argument: "base" } });
  });

  it("refuses an unknown revision", () => {
    expect(failure(() => parentsOfMerge(map, ["zzzz9", "dddd4"])).code).toBe("REVISION_NOT_FOUND");
  });
});

describe("dependenciesOfNewRevision (--depends-on, as Alembic resolves depends_on)", () => {
  it("keeps a branch label as a label, so the dependency follows the branch", () => {
    expect(dependenciesOfNewRevision(map, ["other", "side"])).toEqual(["other", "side"]);
  });

  it("writes the full id for a prefix or label@head", () => {
    expect(dependenciesOfNewRevision(map, ["cccc", "side@head"])).toEqual(["cccc3", "eeee5"]);
  });

  it("refuses base, and an unknown name", () => {
    expect(failure(() => dependenciesOfNewRevision(map, ["base"]))).toMatchObject({ code: "USAGE", details: { option: "depends-on", value: "base" } });
    expect(failure(() => dependenciesOfNewRevision(map, ["zzzz9"])).code).toBe("REVISION_NOT_FOUND");
  });
});

describe("checkNewRevision", () => {
  const meta = (extra: Partial<RevisionMeta>): RevisionMeta => rev("1234abcd", "dddd4", extra);

  it("accepts a revision the graph takes", () => {
    expect(() => checkNewRevision(map, meta({ branchLabels: ["fresh"] }), { revIdGiven: false })).not.toThrow();
  });

  it("reports a --branch-label used elsewhere as the option, not as a clash to rename in a file", () => {
    for (const [label, usedBy] of [["other", "ffff6"], ["aaaa1", "aaaa1"]]) {
      const error = failure(() => checkNewRevision(map, meta({ branchLabels: [label!] }), { revIdGiven: false }));
      expect(error).toMatchObject({ code: "USAGE", details: { option: "branch-label", value: label, usedBy } });
      expect(error.message).toContain("choose another label. Nothing was written.");
    }
  });

  it("reports a --rev-id that is a branch label elsewhere as the option", () => {
    const error = failure(() => checkNewRevision(map, rev("side", "dddd4"), { revIdGiven: true }));
    expect(error).toMatchObject({ code: "USAGE", details: { option: "rev-id", value: "side", labelOf: "eeee5" } });
  });

  it("reports a --branch-label equal to the new revision's own --rev-id", () => {
    const error = failure(() => checkNewRevision(map, rev("mine", "dddd4", { branchLabels: ["mine"] }), { revIdGiven: true }));
    expect(error).toMatchObject({ code: "USAGE", details: { option: "branch-label", value: "mine" } });
  });
});
