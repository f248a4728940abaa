import { describe, expect, it } from "vitest";
import { LambicError } from "../../../src/errors.ts";
import { describeStep, planDowngrade, planHistory, planStamp, planUpgrade, VersionRows } from "../../../src/revision/plan.ts";
import { RevisionMap } from "../../../src/revision/revision-map.ts";
import type { RevisionMeta } from "../../../src/revision/types.ts";
import { failure } from "../../support/failure.ts";

const rev = (id: string, revises: RevisionMeta["revises"], extra: Partial<RevisionMeta> = {}): RevisionMeta => ({ id, revises, ...extra });

function refusal(metas: RevisionMeta[]): LambicError {
  try {
    new RevisionMap(metas);
  } catch (error) {
    if (error instanceof LambicError) return error;
    throw error;
  }
  throw new Error("the graph was accepted");
}

//   a ── b ─┬─ c1 (left) ── d1
//           └─ c2 (right)
const branched = new RevisionMap([rev("aaaa1111", null), rev("bbbb2222", "aaaa1111"), rev("cccc1111", "bbbb2222", { branchLabels: ["left"] }), rev("dddd1111", "cccc1111"), rev("cccc2222", "bbbb2222", { branchLabels: ["right"] })]);

describe("graph shape", () => {
  it("lists heads in file order", () => {
    expect(branched.heads).toEqual(["dddd1111", "cccc2222"]);
  });

  it("counts a revision only depended upon as a head, but not as a real head", () => {
    const map = new RevisionMap([rev("core0001", null), rev("plug0001", null, { dependsOn: ["core0001"] })]);
    expect(map.heads).toEqual(["core0001", "plug0001"]);
    expect(map.realHeads).toEqual(["plug0001"]);
  });

  it("spreads a branch label to the revisions above it", () => {
    expect(branched.node("dddd1111").branchLabels).toEqual(new Set(["left"]));
  });
});

describe("graph errors are refused at load", () => {
  it("refuses a cycle with CYCLE_DETECTED naming the revisions", () => {
    const error = refusal([rev("aaaa0001", null), rev("bbbb0002", "cccc0003"), rev("cccc0003", "bbbb0002")]);
    expect(error.code).toBe("CYCLE_DETECTED");
    expect(error.message).toContain("bbbb0002, cccc0003");
  });

  it("refuses a cycle that hangs below a merge, naming only the revisions on it", () => {
    // Alembic's test (below a head and above a base) passes this graph; walking it would not end.
    const error = refusal([rev("rrrr0001", null), rev("aaaa0002", ["rrrr0001", "bbbb0003"]), rev("bbbb0003", "aaaa0002"), rev("cccc0004", "aaaa0002")]);
    expect(error.code).toBe("CYCLE_DETECTED");
    expect(error.details).toEqual({ revisions: ["aaaa0002", "bbbb0003"] });
  });

  it("refuses a dependency cycle with DEPENDENCY_CYCLE_DETECTED", () => {
    const error = refusal([rev("aaaa0001", null, { dependsOn: ["bbbb0002"] }), rev("bbbb0002", "aaaa0001")]);
    expect(error.code).toBe("DEPENDENCY_CYCLE_DETECTED");
  });

  it("refuses a revision that revises itself with SELF_LOOP", () => {
    const error = refusal([rev("aaaa0001", "aaaa0001")]);
    expect(error.code).toBe("SELF_LOOP");
    expect(error.message).toContain("aaaa0001 revises itself");
  });

  it("refuses an unknown parent with UNKNOWN_PARENT naming both revisions", () => {
    const error = refusal([rev("aaaa0001", null), rev("bbbb0002", "nope0000")]);
    expect(error.code).toBe("UNKNOWN_PARENT");
    expect(error.message).toMatch(/bbbb0002 revises nope0000/);
  });

  it("refuses an unknown dependency with UNKNOWN_PARENT", () => {
    const error = refusal([rev("aaaa0001", null), rev("bbbb0002", "aaaa0001", { dependsOn: ["ghost"] })]);
    expect(error.code).toBe("UNKNOWN_PARENT");
    expect(error.message).toContain('"ghost"');
  });

  it("refuses a branch label used twice with DUPLICATE_BRANCH_LABEL", () => {
    const error = refusal([rev("aaaa0001", null, { branchLabels: ["core"] }), rev("bbbb0002", null, { branchLabels: ["core"] })]);
    expect(error.code).toBe("DUPLICATE_BRANCH_LABEL");
    expect(error.details).toMatchObject({ label: "core", revision: "bbbb0002", usedBy: "aaaa0001" });
  });

  it.each(["head", "heads", "base"])("refuses the target symbol %s as a branch label", (label) => {
    const error = refusal([rev("aaaa0001", null, { branchLabels: [label] })]);
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`Branch label "${label}" on revision aaaa0001 is reserved: it is a target symbol, so "${label}" would never name the branch. Choose another label.`);
  });

  it("refuses a revision id longer than the 32 characters version_num holds", () => {
    const id = "a".repeat(33);
    const error = refusal([rev(id, null)]);
    expect(error.code).toBe("REVISION_FILE_INVALID");
    expect(error.message).toBe(`Revision id "${id}" is 33 characters; the version table's version_num column (varchar(32), as in Alembic) holds at most 32. Choose another id.`);
  });

  it("refuses a revision id used twice with DUPLICATE_REVISION", () => {
    expect(refusal([rev("aaaa0001", null), rev("aaaa0001", null)]).code).toBe("DUPLICATE_REVISION");
  });

  it("refuses an id with characters that targets give meaning to", () => {
    expect(refusal([rev("a-b", null)]).code).toBe("REVISION_FILE_INVALID");
  });
});

describe("file order", () => {
  // base ── a ── b ── c, where b depends on core (declared again by c) and a on nothing.
  const metas = [
    rev("core0001", null),
    rev("base0001", null),
    rev("aaaa0002", "base0001"),
    rev("bbbb0003", "aaaa0002", { dependsOn: ["core0001"] }),
    rev("cccc0004", "bbbb0003", { dependsOn: ["core0001"] }),
  ];

  it("drops a dependency an ancestor already declares, whether or not parents come first in file order", () => {
    for (const order of [metas, [...metas].reverse()]) {
      const map = new RevisionMap(order);
      expect(map.node("cccc0004").normalizedDown).toEqual(["bbbb0003"]);
      expect(map.node("bbbb0003").normalizedDown).toEqual(["aaaa0002", "core0001"]);
    }
  });

  it("normalizes every dependency of a branchy history alike, and plans by it, whether or not parents come first in file order", () => {
    // Forks, merges, dependencies on ids and on labels, some already declared below: written in
    // the normalizing pass in file order, patched afterwards otherwise.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const history: RevisionMeta[] = [rev("root0000", null, { branchLabels: ["trunk"] })];
    for (let i = 1; i < 400; i++) {
      const earlier = () => history[Math.floor(random() * i)]!.id;
      const revises = random() < 0.1 && i > 2 ? [...new Set([earlier(), earlier()])] : earlier();
      const dependsOn = random() < 0.25 ? [...new Set([earlier(), random() < 0.2 ? "trunk" : earlier()])] : [];
      history.push(rev(`r${String(i).padStart(7, "0")}`, revises, { dependsOn }));
    }
    const normalized = (order: RevisionMeta[]) => {
      const map = new RevisionMap(order);
      // The plan follows the normalized rows: each revision after the parents it keeps.
      const position = new Map(planUpgrade(map, [], "heads").map((step, index) => [step.revision, index]));
      for (const meta of history) for (const parent of map.node(meta.id).normalizedDown) expect(position.get(parent)).toBeLessThan(position.get(meta.id)!);
      return Object.fromEntries(history.map((meta) => [meta.id, [map.node(meta.id).normalizedDown, map.node(meta.id).normalizedDependencies]]));
    };
    const forward = normalized(history);
    const map = new RevisionMap(history);
    // Some dependencies kept, some dropped as already declared below.
    expect(history.some((meta) => map.node(meta.id).normalizedDependencies.length > 0)).toBe(true);
    expect(history.some((meta) => map.node(meta.id).normalizedDependencies.length < map.node(meta.id).resolvedDependencies.length)).toBe(true);
    expect(normalized([...history].reverse())).toEqual(forward);
  });

  it("plans the same revisions whether or not parents come first in file order", () => {
    const forward = planUpgrade(new RevisionMap(metas), [], "heads").map((step) => step.revision);
    const backward = planUpgrade(new RevisionMap([...metas].reverse()), [], "heads").map((step) => step.revision);
    expect(new Set(backward)).toEqual(new Set(forward));
    for (const steps of [forward, backward]) {
      expect(steps.indexOf("core0001")).toBeLessThan(steps.indexOf("bbbb0003"));
      expect(steps.indexOf("bbbb0003")).toBeLessThan(steps.indexOf("cccc0004"));
    }
  });
});

describe("targets", () => {
  it("says MULTIPLE_HEADS for head with two heads, naming them and the ways out", () => {
    const error = failure(() => planUpgrade(branched, [], "head"));
    expect(error.code).toBe("MULTIPLE_HEADS");
    expect(error.message).toContain("dddd1111, cccc2222");
    expect(error.message).toContain('"heads"');
  });

  it("resolves a unique prefix of four characters", () => {
    expect(planUpgrade(branched, [], "dddd").map((s) => s.revision)).toEqual(["aaaa1111", "bbbb2222", "cccc1111", "dddd1111"]);
  });

  it("says AMBIGUOUS_REVISION for a prefix several ids share", () => {
    expect(failure(() => planUpgrade(branched, [], "cccc")).code).toBe("AMBIGUOUS_REVISION");
  });

  it("resolves a unique prefix of one character, as Alembic does (only the id must be longer than three)", () => {
    expect(planUpgrade(branched, [], "d").map((s) => s.revision)).toEqual(["aaaa1111", "bbbb2222", "cccc1111", "dddd1111"]);
  });

  it("says REVISION_NOT_FOUND for an unknown short prefix without claiming a prefix needs four characters", () => {
    const error = failure(() => planUpgrade(branched, [], "zzz"));
    expect(error.code).toBe("REVISION_NOT_FOUND");
    expect(error.message).toBe('No revision or branch label "zzz". Check the id (lambic history lists them).');
  });

  it("refuses a bare -0 downgrade and +0 upgrade as moving nowhere, not as walking the other way", () => {
    const down = failure(() => planDowngrade(branched, ["dddd1111"], "-0"));
    expect(down.code).toBe("INVALID_TARGET");
    expect(down.message).toBe('A downgrade cannot go to "-0" (-0 moves nowhere). Use "-N" to go down N revisions, or name a revision.');
    const up = failure(() => planUpgrade(branched, ["dddd1111"], "+0"));
    expect(up.code).toBe("INVALID_TARGET");
    expect(up.message).toBe('An upgrade cannot go to "+0" (+0 moves nowhere). Use "+N", or downgrade.');
  });

  it("says a history range cannot end at a bare -N, and to name where to count from, without speaking of upgrades", () => {
    const error = failure(() => planHistory(branched, ":-1"));
    expect(error.code).toBe("INVALID_TARGET");
    expect(error.message).toBe('History range ":-1" cannot end at "-1": a bare -1 has no revision to count down from at the end of a range. Name one: "<id>-1" or "<branch label>@head-1" (e.g. "dddd1111-1").');
  });

  it("says a history range cannot end at <label>@-N, and that <label>@head-N counts from the branch's head", () => {
    const error = failure(() => planHistory(branched, ":left@-1"));
    expect(error.code).toBe("INVALID_TARGET");
    expect(error.message).toBe('History range ":left@-1" cannot end at "left@-1": "left@-1" (no revision after the @) has no revision to count down from at the end of a range. Name one: "<id>-1" or "<branch label>@head-1" (e.g. "left@head-1").');
    expect(planHistory(branched, ":left@head-1").map((node) => node.id)).toEqual(["cccc1111", "bbbb2222", "aaaa1111"]);
  });

  it("says a history range cannot start at <id>-N, +N or base+N, which count only at its end", () => {
    for (const start of ["dddd1111-1", "+1", "base+1", "left@+1"]) {
      const error = failure(() => planHistory(branched, `${start}:`));
      expect(error.code).toBe("REVISION_NOT_FOUND");
      expect(error.message).toBe(
        `History range "${start}:" cannot start at "${start}": a range starts at a revision, a branch label, "base", "current", a bare -N (N below the heads) or "<branch label>@-N"; "<id>-N" and "+N" forms count only at the end of a range (as in Alembic). Name the revision to start from ("lambic history" lists them).`,
      );
    }
    expect(planHistory(branched, ":dddd1111-1").map((node) => node.id)).toEqual(["cccc1111", "bbbb2222", "aaaa1111"]);
    // An unknown end is the end's failure, whatever the start looks like.
    expect(failure(() => planHistory(branched, "dddd1111+1:nosuch")).message).toBe('No revision or branch label "nosuch". Check the id (lambic history lists them).');
  });

  it("says a history range starting at a bare -N past the base is RELATIVE_OUT_OF_RANGE, not an unknown branch \"heads\"", () => {
    const linear = new RevisionMap([rev("aaaa1111", null), rev("bbbb2222", "aaaa1111")]);
    const error = failure(() => planHistory(linear, "-5:"));
    expect(error.code).toBe("RELATIVE_OUT_OF_RANGE");
    expect(error.message).toBe('History range "-5:" starts 5 revisions below the heads, which is past the base. Use a smaller number, or "base:" for the whole history.');
  });

  it("says a label@prefix whose matches are all off the branch names them, not that no such revision exists", () => {
    const error = failure(() => planUpgrade(branched, [], "right@dddd"));
    expect(error.code).toBe("REVISION_NOT_FOUND");
    expect(error.message).toBe('No revision of branch "right" starts with "dddd": dddd1111 does, off that branch. Drop the "right@" prefix or name a revision on that branch.');
  });

  it("upgrades a label@head target along that branch only", () => {
    expect(planUpgrade(branched, ["bbbb2222"], "right@head").map((s) => s.revision)).toEqual(["cccc2222"]);
  });

  it("says AMBIGUOUS_RELATIVE for +1 at a branch point", () => {
    expect(failure(() => planUpgrade(branched, ["bbbb2222"], "+1")).code).toBe("AMBIGUOUS_RELATIVE");
  });

  it("says a downgrade target above the current version is RANGE_NOT_ANCESTOR, naming both and to upgrade to it", () => {
    const error = failure(() => planDowngrade(branched, ["bbbb2222"], "dddd1111"));
    expect(error.code).toBe("RANGE_NOT_ANCESTOR");
    expect(error.message).toContain("Downgrade target dddd1111 is not below the current version (bbbb2222)");
    expect(error.message).toContain("to apply it, upgrade to it.");
  });

  it("says a downgrade target from no version rows is not below base, rather than below none", () => {
    const error = failure(() => planDowngrade(branched, [], "aaaa1111"));
    expect(error.code).toBe("RANGE_NOT_ANCESTOR");
    expect(error.message).toContain("is not below the current version (base: no version rows)");
  });

  it("says RELATIVE_OUT_OF_RANGE for -5 on a history of two", () => {
    expect(failure(() => planDowngrade(branched, ["bbbb2222"], "-5")).code).toBe("RELATIVE_OUT_OF_RANGE");
  });
});

describe("version rows", () => {
  it("writes Alembic's log lines for a base and a merge", () => {
    const map = new RevisionMap([rev("aaaa0001", null), rev("bbbb0002", null), rev("mmmm0003", ["aaaa0001", "bbbb0002"])]);
    expect(planUpgrade(map, [], "heads").map(describeStep)).toEqual(["upgrade  -> bbbb0002", "upgrade  -> aaaa0001", "upgrade aaaa0001, bbbb0002 -> mmmm0003"]);
  });

  it("merges two rows into one when a merge point is applied", () => {
    const map = new RevisionMap([rev("aaaa0001", null), rev("bbbb0002", null), rev("mmmm0003", ["aaaa0001", "bbbb0002"])]);
    const rows = new VersionRows(map, ["aaaa0001", "bbbb0002"]);
    expect(rows.apply(planUpgrade(map, ["aaaa0001", "bbbb0002"], "heads")[0]!)).toEqual([
      { op: "delete", version: "aaaa0001" },
      { op: "update", from: "bbbb0002", to: "mmmm0003" },
    ]);
    expect(rows.versions).toEqual(["mmmm0003"]);
  });

  it("stamps a new branch as a new row", () => {
    const rows = new VersionRows(branched, ["dddd1111"]);
    for (const step of planStamp(branched, ["dddd1111"], ["cccc2222"])) rows.apply(step);
    expect(rows.versions).toEqual(["dddd1111", "cccc2222"]);
  });
});
