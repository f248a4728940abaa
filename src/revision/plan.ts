import { argumentError } from "../check-arguments.ts";
import { LambicError } from "../errors.ts";
import { BASE, isNode, RevisionMap, type RevisionNode } from "./revision-map.ts";
import type { RevisionDirection } from "./types.ts";

/**
 * Plans: which revisions an upgrade, downgrade or stamp runs, in which order, and what each step
 * does to the version rows. Ported from Alembic's `ScriptDirectory._upgrade_revs` /
 * `_downgrade_revs` / `_stamp_revs` and `HeadMaintainer` (runtime/migration.py).
 */

export interface RevisionStep {
  readonly kind: "revision";
  readonly revision: string;
  readonly direction: RevisionDirection;
  /** What the step moves from and to, without dependencies (Alembic's log line). */
  readonly from: readonly string[];
  readonly to: readonly string[];
}

export interface StampStep {
  readonly kind: "stamp";
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly direction: RevisionDirection;
  readonly branchMove: boolean;
}

export type PlanStep = RevisionStep | StampStep;

/** One change to the version table. */
export type VersionRowChange =
  | { readonly op: "insert"; readonly version: string }
  | { readonly op: "delete"; readonly version: string }
  | { readonly op: "update"; readonly from: string; readonly to: string };

/** Alembic's log line for a step: `upgrade a, b -> c`, `downgrade c -> a, b`, `upgrade  -> a`. */
export function describeStep(step: PlanStep): string {
  if (typeof step !== "object" || step === null || !Array.isArray(step.from) || !Array.isArray(step.to)) throw argumentError("describeStep", "step", "a plan step (from planUpgrade, planDowngrade or planStamp)", step);
  return stepLine(step);
}

/** describeStep for the plan's own steps (an offline script writes one per step: no check each time). */
export function stepLine(step: PlanStep): string {
  const name = step.kind === "stamp" ? "stamp_revision" : step.direction === "up" ? "upgrade" : "downgrade";
  return `${name} ${step.from.join(", ")} -> ${step.to.join(", ")}`;
}

function revisionStep(node: RevisionNode, direction: RevisionDirection): RevisionStep {
  return direction === "up"
    ? { kind: "revision", revision: node.id, direction, from: node.versionedDown, to: [node.id] }
    : { kind: "revision", revision: node.id, direction, from: [node.id], to: node.versionedDown };
}

/** What the plan functions are given, checked for code calling them directly (USAGE, not a TypeError). */
function checkPlanArguments(fn: string, map: unknown, current: unknown, target?: unknown): void {
  if (!(map instanceof RevisionMap)) throw argumentError(fn, "map", "a RevisionMap", map);
  if (!Array.isArray(current) || current.some((row) => typeof row !== "string")) throw argumentError(fn, "current", "an array of revision ids (the version rows)", current);
  if (target !== undefined && typeof target !== "string") throw argumentError(fn, "target", "a target string (head, an id, a label, +1, ...)", target);
}

/** `lambic upgrade TARGET` from the given version rows. */
export function planUpgrade(map: RevisionMap, current: readonly string[], target: string): RevisionStep[] {
  checkPlanArguments("planUpgrade", map, current, target ?? null);
  const revisions = map.iterateRevisions(target, current, { implicitBase: true });
  return revisions.reverse().map((node) => revisionStep(node, "up"));
}

/** `lambic downgrade TARGET` from the given version rows. */
export function planDowngrade(map: RevisionMap, current: readonly string[], target: string): RevisionStep[] {
  checkPlanArguments("planDowngrade", map, current, target ?? null);
  return map.iterateRevisions(current, target, { selectForDowngrade: true }).map((node) => revisionStep(node, "down"));
}

/** Alembic's `_stamp_revs`: version-row moves that make the table say `targets`, running nothing. */
export function planStamp(map: RevisionMap, current: readonly string[], targets: readonly string[]): StampStep[] {
  checkPlanArguments("planStamp", map, current);
  if (!Array.isArray(targets) || targets.some((target) => typeof target !== "string")) throw argumentError("planStamp", "targets", "an array of targets", targets);
  const headRevs = map.getRevisions(current).filter(isNode);
  const wanted = targets.length === 0 ? [BASE] : targets;
  const filteredHeads: RevisionNode[] = [];
  for (const target of wanted) {
    if (!target) continue;
    for (const head of map.filterForLineage(headRevs, target, true)) if (!filteredHeads.includes(head)) filteredHeads.push(head);
  }
  // A revision named twice (the same id, or an id and its label) is stamped once: Alembic would
  // move a row to it twice and fail on an assertion.
  const resolved = [...new Set(map.getRevisions(wanted))];
  const destinations = resolved.length > 0 ? resolved : [null];
  const steps: StampStep[] = [];
  for (const dest of destinations) {
    if (!isNode(dest)) {
      for (const head of filteredHeads) steps.push({ kind: "stamp", from: [head.id], to: [], direction: "down", branchMove: true });
      continue;
    }
    if (filteredHeads.includes(dest)) continue;
    const descendants = new Set(map.descendants([dest]));
    const ancestors = new Set(map.ancestors([dest]));
    const todoHeads = filteredHeads.map((h) => h.id);
    if (filteredHeads.some((h) => descendants.has(h))) {
      steps.push({ kind: "stamp", from: todoHeads, to: [dest.id], direction: "down", branchMove: false });
    } else if (filteredHeads.some((h) => ancestors.has(h))) {
      steps.push({ kind: "stamp", from: todoHeads, to: [dest.id], direction: "up", branchMove: false });
    } else {
      steps.push({ kind: "stamp", from: [], to: [dest.id], direction: "up", branchMove: true });
    }
  }
  return steps;
}

/** Whether a history range names "current" at either end: then it needs the database's version rows. */
export function rangeMentionsCurrent(range: string | undefined): boolean {
  return range !== undefined && range.split(":").some((end) => end.trim() === "current");
}

/**
 * The revisions `lambic history -r A:B` prints, newest first. `current` stands for the version
 * rows where the range says "current".
 */
export function planHistory(map: RevisionMap, range?: string, current: readonly string[] = []): RevisionNode[] {
  checkPlanArguments("planHistory", map, current);
  if (range !== undefined && typeof range !== "string") throw argumentError("planHistory", "range", "a string (A:B) when given", range);
  let base: string | null = null;
  let head: string | null = null;
  if (range !== undefined) {
    const parts = range.trim().split(":");
    if (parts.length !== 2) {
      throw new LambicError("USAGE", `History range "${range}" is not of the form [start]:[end], [start]: or :[end].`, { range });
    }
    base = parts[0] || null;
    head = parts[1] || null;
  }
  const upper: string | readonly string[] = head === "current" ? current : head ?? "heads";
  const lower: string | readonly string[] = base === "current" ? current : base ?? "base";
  try {
    return map.iterateRevisions(upper, lower, { inclusive: true, assertRelativeLength: false });
  } catch (error) {
    // The end of a range is resolved as an upgrade target would be, whose refusal of a bare -N
    // speaks of upgrades; say what it means for a history range instead.
    const countDown = typeof upper === "string" ? /^(?:([^@]+)@)?(-\d+)$/.exec(upper) : null;
    if (error instanceof LambicError && error.code === "INVALID_TARGET" && countDown) {
      const [, label, relative] = countDown;
      const what = label === undefined ? `a bare ${relative}` : `"${label}@${relative}" (no revision after the @)`;
      throw new LambicError(
        "INVALID_TARGET",
        `History range "${range}" cannot end at "${upper}": ${what} has no revision to count down from at the end of a range. ` +
          `Name one: "<id>${relative}" or "<branch label>@head${relative}" (e.g. "${label === undefined ? (map.heads[0] ?? "<id>") : `${label}@head`}${relative}").`,
        { range, target: upper },
        { cause: error },
      );
    }
    // A bare -N start walks down from the heads; past the base Alembic's walk goes on as if "heads"
    // were a branch label and fails with "Can't locate revision identified by 'heads'". Say instead
    // that the range starts below the base.
    if (error instanceof LambicError && error.code === "REVISION_NOT_FOUND" && error.details.argument === "heads" && typeof lower === "string" && /^-\d+$/.test(lower)) {
      throw new LambicError(
        "RELATIVE_OUT_OF_RANGE",
        `History range "${range}" starts ${lower.slice(1)} revisions below the heads, which is past the base. Use a smaller number, or "base:" for the whole history.`,
        { range, relative: lower },
        { cause: error },
      );
    }
    // Alembic resolves a range's start as a plain revision: "<id>-2", "+1" or "base+1" there is
    // looked up as a name. Say that relative targets belong at the end instead.
    const missing = error instanceof LambicError ? error.details.argument : undefined;
    if (error instanceof LambicError && error.code === "REVISION_NOT_FOUND" && typeof lower === "string" && /[+-]\d+$/.test(lower) && (missing === lower || lower.endsWith(`@${String(missing)}`))) {
      throw new LambicError(
        "REVISION_NOT_FOUND",
        `History range "${range}" cannot start at "${lower}": a range starts at a revision, a branch label, "base", "current", a bare -N (N below the heads) or "<branch label>@-N"; ` +
          `"<id>-N" and "+N" forms count only at the end of a range (as in Alembic). Name the revision to start from ("lambic history" lists them).`,
        { range, argument: lower },
        { cause: error },
      );
    }
    throw error;
  }
}

/** Revisions that are branch points, in history order (what `alembic branches` lists). */
export function listBranchPoints(map: RevisionMap): RevisionNode[] {
  return planHistory(map).filter((node) => node.isBranchPoint);
}

/** Version rows plus the heads their dependencies imply (what `alembic current` prints). */
export function effectiveHeads(map: RevisionMap, rows: readonly string[]): string[] {
  if (!(map instanceof RevisionMap)) throw argumentError("effectiveHeads", "map", "a RevisionMap", map);
  if (!Array.isArray(rows) || rows.some((row) => typeof row !== "string")) throw argumentError("effectiveHeads", "rows", "an array of revision ids (the version rows)", rows);
  return map.allCurrent(rows).map((node) => node.id);
}

/**
 * The version table as Alembic's `HeadMaintainer` keeps it: one row per applied tip, in table
 * order (an insert appends, an update keeps the row's place).
 */
export class VersionRows {
  private readonly rows: string[];

  constructor(
    private readonly map: RevisionMap,
    rows: readonly string[],
  ) {
    this.rows = [...rows];
  }

  get versions(): readonly string[] {
    return this.rows;
  }

  /** Applies a step to the rows and returns the changes, in the order they are to be written. */
  apply(step: PlanStep): VersionRowChange[] {
    if (step.kind !== "stamp") return this.applyStep(step);
    const before = [...this.rows];
    try {
      return this.applyStep(step);
    } catch (error) {
      // As in Alembic, each target of a stamp moves a row from where the rows are when its turn
      // comes: a row an earlier target moved is not there for the next one.
      if (!(error instanceof LambicError) || error.code !== "UNKNOWN_VERSION") throw error;
      throw new LambicError(
        "UNKNOWN_VERSION",
        `Cannot stamp ${step.to.join(", ") || "base"} from ${step.from.join(", ") || "base"}: ${error.message.replace(/ Check "lambic current".*$/, "")} An earlier target of the same stamp may have moved that row already (rows at this point: ${before.join(", ") || "none"}). Stamp the targets one at a time, or set exactly these rows with "lambic stamp --purge <targets>".`,
        { ...error.details, from: [...step.from], to: [...step.to], rows: before },
        { cause: error },
      );
    }
  }

  private applyStep(step: PlanStep): VersionRowChange[] {
    if (step.kind === "revision" && step.direction === "up") {
      // The usual step, decided without the general tests below (which reach the same answer):
      // one parent, which holds a row, moves its row to the revision.
      const down = this.node(step).normalizedDown;
      if (down.length === 1 && this.rows.includes(down[0]!)) return [this.update(down[0]!, step.revision)];
    }
    const changes: VersionRowChange[] = [];
    const heads = new Set(this.rows);
    if (this.shouldDeleteBranch(step, heads)) {
      changes.push(this.delete(step.kind === "stamp" ? single(step.from) : step.from[0]!));
    } else if (this.shouldCreateBranch(step, heads)) {
      changes.push(this.insert(step.kind === "stamp" ? single(step.to) : step.to[0]!));
    } else if (this.shouldMergeBranches(step, heads)) {
      const { deletes, from, to } = this.mergeIdents(step, heads);
      for (const version of deletes) changes.push(this.delete(version));
      changes.push(this.update(from, to));
    } else if (this.shouldUnmergeBranches(step, heads)) {
      const { from, to, inserts } = this.unmergeIdents(step, heads);
      for (const version of inserts) changes.push(this.insert(version));
      changes.push(this.update(from, to));
    } else {
      const [from, to] = this.updateIdents(step, heads);
      changes.push(this.update(from, to));
    }
    return changes;
  }

  private node(step: RevisionStep): RevisionNode {
    return this.map.node(step.revision);
  }

  private shouldDeleteBranch(step: PlanStep, heads: Set<string>): boolean {
    if (step.kind === "stamp") return step.direction === "down" && step.branchMove;
    if (step.direction !== "down" || !heads.has(step.revision)) return false;
    if (this.node(step).normalizedDown.length === 0) return true;
    return this.unmergeTargets(step, heads).length === 0;
  }

  private shouldCreateBranch(step: PlanStep, heads: Set<string>): boolean {
    if (step.kind === "stamp") {
      return step.direction === "up" && (step.branchMove || step.from.some((f) => !heads.has(f))) && step.to.some((t) => !heads.has(t));
    }
    if (step.direction !== "up") return false;
    const down = this.node(step).normalizedDown;
    return down.length === 0 || !down.some((d) => heads.has(d));
  }

  private shouldMergeBranches(step: PlanStep, heads: Set<string>): boolean {
    if (step.kind === "stamp") return step.from.length > 1;
    if (step.direction !== "up") return false;
    const down = this.node(step).normalizedDown;
    return down.length > 1 && down.filter((d) => heads.has(d)).length > 1;
  }

  private shouldUnmergeBranches(step: PlanStep, heads: Set<string>): boolean {
    if (step.kind === "stamp") return step.to.length > 1;
    return step.direction === "down" && heads.has(step.revision) && this.node(step).normalizedDown.length > 1;
  }

  private ancestorsOfOtherHeads(heads: Set<string>, exclude: readonly string[]): Set<string> {
    const others = [...heads].filter((h) => !exclude.includes(h));
    if (others.length === 0) return new Set();
    return new Set([...this.map.ancestors(this.map.getRevisions(others).filter(isNode))].map((r) => r.id));
  }

  private mergeIdents(step: PlanStep, heads: Set<string>): { deletes: string[]; from: string; to: string } {
    if (step.kind === "stamp") return { deletes: step.from.slice(0, -1), from: step.from.at(-1)!, to: step.to[0]! };
    const fromRevisions = this.node(step).normalizedDown;
    const ancestors = this.ancestorsOfOtherHeads(heads, fromRevisions);
    // Only rows that exist can be merged away. Alembic also tries to delete a dependency row that
    // an earlier step already merged (and fails with KeyError); skipping it is the intended result.
    const present = fromRevisions.filter((r) => !ancestors.has(r) && heads.has(r));
    return { deletes: present.slice(0, -1), from: present.at(-1)!, to: step.revision };
  }

  private unmergeTargets(step: RevisionStep, heads: Set<string>): string[] {
    const to = this.node(step).normalizedDown;
    const ancestors = this.ancestorsOfOtherHeads(heads, [step.revision]);
    return to.filter((r) => !ancestors.has(r));
  }

  private unmergeIdents(step: PlanStep, heads: Set<string>): { from: string; to: string; inserts: string[] } {
    if (step.kind === "stamp") return { from: step.from[0]!, to: step.to.at(-1)!, inserts: step.to.slice(0, -1) };
    const targets = this.unmergeTargets(step, heads);
    return { from: step.revision, to: targets.at(-1)!, inserts: targets.slice(0, -1) };
  }

  private updateIdents(step: PlanStep, heads: Set<string>): [string, string] {
    if (step.kind === "stamp") return [single(step.from), single(step.to)];
    const node = this.node(step);
    let down: string;
    if (node.normalizedDown.length === 1) {
      down = node.normalizedDown[0]!;
    } else {
      const present = node.normalizedDown.filter((d) => heads.has(d));
      if (present.length !== 1) {
        throw new LambicError(
          "UNKNOWN_VERSION",
          `Cannot record ${stepLine(step)}: the version rows (${[...heads].join(", ") || "none"}) hold ${present.length} of its parents (${node.normalizedDown.join(", ")}), so the row to update is ambiguous. Check "lambic current"; "lambic stamp" can repair the rows.`,
          { revision: node.id, rows: [...heads] },
        );
      }
      down = present[0]!;
    }
    return step.direction === "up" ? [down, node.id] : [node.id, down];
  }

  private insert(version: string): VersionRowChange {
    if (this.rows.includes(version)) {
      throw new LambicError("UNKNOWN_VERSION", `Version row ${version} is already present; the version table is inconsistent with the plan. Check "lambic current".`, { version });
    }
    this.rows.push(version);
    return { op: "insert", version };
  }

  private delete(version: string): VersionRowChange {
    const index = this.rows.indexOf(version);
    if (index < 0) {
      throw new LambicError("UNKNOWN_VERSION", `Expected a version row ${version} to delete, found none (rows: ${this.rows.join(", ") || "none"}). Check "lambic current"; "lambic stamp" can repair the rows.`, { version, rows: [...this.rows] });
    }
    this.rows.splice(index, 1);
    return { op: "delete", version };
  }

  private update(from: string, to: string): VersionRowChange {
    const index = this.rows.indexOf(from);
    if (index < 0) {
      throw new LambicError("UNKNOWN_VERSION", `Expected a version row ${from} to move to ${to}, found none (rows: ${this.rows.join(", ") || "none"}). Check "lambic current"; "lambic stamp" can repair the rows.`, { from, to, rows: [...this.rows] });
    }
    if (this.rows.includes(to)) {
      throw new LambicError("UNKNOWN_VERSION", `Version row ${to} is already present while moving ${from} to it. Check "lambic current".`, { from, to });
    }
    this.rows[index] = to;
    return { op: "update", from, to };
  }
}

function single(values: readonly string[]): string {
  if (values.length !== 1) throw new LambicError("INVALID_TARGET", `Expected exactly one revision, got ${values.length} (${values.join(", ")}).`, {});
  return values[0]!;
}

/** Parses an offline range `A:B` (or just `B`, from base). */
export function parseRange(range: string, command: "upgrade" | "downgrade"): { from: string | null; to: string } {
  const parts = range.split(":");
  if (parts.length === 1) {
    if (command === "downgrade") {
      throw new LambicError("USAGE", `downgrade --sql needs a range <from>:<to> (e.g. "head:base"), because offline there is no database to read the current version from; got "${range}".`, { range });
    }
    return { from: null, to: range };
  }
  if (parts.length !== 2) throw new LambicError("USAGE", `Range "${range}" has more than one ":"; use <from>:<to>.`, { range });
  if (parts[1] === "") throw missingRangeTarget(range, command === "upgrade" ? "head" : "base");
  return { from: parts[0] || null, to: parts[1]! };
}

/** `A:` in an offline script's range: `history -r A:` runs to the heads, but a script needs its target named. */
export function missingRangeTarget(range: string, example: string): LambicError {
  return new LambicError("USAGE", `Range "${range}" has no target after the ":", and an offline script runs to one: name it (${range}${example}).`, { range });
}

/** The version rows an offline range starts from. */
export function resolveRangeStart(map: RevisionMap, from: string | null): string[] {
  if (from === null || from === "base") return [];
  if (from === "current" && !map.has("current")) {
    throw new LambicError(
      "REVISION_NOT_FOUND",
      `"current" stands for the database's version rows, which offline SQL does not read: start the range at a revision (the one "lambic current" prints) or at base, e.g. <revision>:head.`,
      { target: from },
    );
  }
  const node = map.getRevision(from);
  // `label@base` names no revision: the branch starts empty.
  return node ? [node.id] : [];
}
