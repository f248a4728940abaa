import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LambicError, type ErrorCode } from "../../src/errors.ts";
import { describeStep, effectiveHeads, listBranchPoints, parseRange, planDowngrade, planHistory, planStamp, planUpgrade, resolveRangeStart, VersionRows, type PlanStep } from "../../src/revision/plan.ts";
import { RevisionMap } from "../../src/revision/revision-map.ts";
import type { RevisionMeta } from "../../src/revision/types.ts";

/** The Alembic conformance cases (recorded from Alembic 1.8.1; see README.md beside this file). */

export interface CaseRevision {
  id: string;
  down: string | string[] | null;
  depends_on?: string[];
  branch_labels?: string[];
  message?: string;
}

export interface Query {
  kind: string;
  current?: string[];
  target?: string | string[];
  range?: string;
  purge?: boolean;
  resolve_dependencies?: boolean;
  steps?: Query[];
  expected: any;
  raw_alternatives?: any[];
  note?: string;
}

export interface ConformanceCase {
  name: string;
  file: string;
  revisions: CaseRevision[];
  queries: Query[];
}

export const CASES_DIR = join(import.meta.dirname, "cases");

/** Cases of random graphs and queries from generate-cases.py, recorded with the same oracle. */
export const GENERATED_DIR = join(import.meta.dirname, "generated");

export function loadCases(dir = CASES_DIR): ConformanceCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ ...JSON.parse(readFileSync(join(dir, file), "utf8")), file }));
}

export function toMetas(revisions: CaseRevision[]): RevisionMeta[] {
  return revisions.map((r) => ({ id: r.id, revises: r.down, dependsOn: r.depends_on ?? [], branchLabels: r.branch_labels ?? [], message: r.message }));
}

export type Answer = Record<string, unknown> | { error: LambicError };

/** Runs steps over version rows; all or nothing, as one transaction would. */
function runSteps(map: RevisionMap, rows: readonly string[], steps: readonly PlanStep[]): { ran: string[]; log: string[]; versions: string[] } {
  const table = new VersionRows(map, rows);
  for (const step of steps) table.apply(step);
  return {
    ran: steps.map((s) => (s.kind === "revision" ? s.revision : "")),
    log: steps.map(describeStep),
    versions: [...table.versions],
  };
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

/** Answers one query the way lambic would; `state.rows` carries the version table across a sequence. */
export function answer(map: RevisionMap, query: Query, state: { rows: string[] }): Answer {
  try {
    switch (query.kind) {
      case "heads": {
        const order = query.resolve_dependencies ? [...map.realHeads] : [...map.heads];
        return { heads: sorted(order), order };
      }
      case "bases":
        return { bases: sorted(map.bases), order: [...map.bases], real_bases: sorted(map.realBases) };
      case "branchpoints":
        return {
          branchpoints: sorted(listBranchPoints(map).map((n) => n.id)),
          mergepoints: sorted(planHistory(map).filter((n) => n.isMergePoint).map((n) => n.id)),
        };
      case "history":
        return { ids: planHistory(map, query.range, state.rows).map((n) => n.id) };
      case "current":
        return { versions: sorted(state.rows), display: sorted(effectiveHeads(map, state.rows)) };
      case "upgrade":
      case "downgrade": {
        const target = query.target as string;
        if (target.includes(":")) throw new LambicError("USAGE", "Range revision not allowed online.", {});
        const steps = query.kind === "upgrade" ? planUpgrade(map, state.rows, target) : planDowngrade(map, state.rows, target);
        const result = runSteps(map, state.rows, steps);
        state.rows = result.versions;
        return { ...result, versions: sorted(result.versions) };
      }
      case "stamp": {
        const targets = Array.isArray(query.target) ? query.target : [query.target as string];
        const start = query.purge ? [] : state.rows;
        const table = new VersionRows(map, start);
        for (const step of planStamp(map, start, targets)) table.apply(step);
        state.rows = [...table.versions];
        return { versions: sorted(state.rows) };
      }
      case "upgrade_sql":
      case "downgrade_sql": {
        const command = query.kind === "upgrade_sql" ? "upgrade" : "downgrade";
        const { from, to } = parseRange(query.range!, command);
        const start = resolveRangeStart(map, from);
        const steps = command === "upgrade" ? planUpgrade(map, start, to) : planDowngrade(map, start, to);
        const result = runSteps(map, start, steps);
        return { ...result, versions: sorted(result.versions) };
      }
      default:
        throw new Error(`unknown query kind ${query.kind}`);
    }
  } catch (error) {
    if (error instanceof LambicError) return { error };
    throw error;
  }
}

const CODES_FOR_CAUSE: Record<string, readonly ErrorCode[]> = {
  MultipleHeads: ["MULTIPLE_HEADS"],
  ResolutionError: ["REVISION_NOT_FOUND", "AMBIGUOUS_REVISION"],
  RangeNotAncestorError: ["RANGE_NOT_ANCESTOR"],
  RevisionError: ["AMBIGUOUS_RELATIVE", "RELATIVE_OUT_OF_RANGE", "OVERLAPPING_VERSIONS", "INVALID_TARGET", "DUPLICATE_BRANCH_LABEL", "RANGE_NOT_ANCESTOR"],
  CycleDetected: ["CYCLE_DETECTED"],
  DependencyCycleDetected: ["DEPENDENCY_CYCLE_DETECTED"],
  LoopDetected: ["SELF_LOOP"],
  CommandError: ["USAGE", "INVALID_TARGET"],
};

const ALEMBIC_CRASHES = new Set(["KeyError", "AssertionError", "AttributeError"]);

/**
 * What lambic must answer for a recorded Alembic answer: the same data (or one of the raw
 * alternatives), the error codes that match Alembic's error class, or — where Alembic crashed —
 * any coded error or answer.
 */
export type Expectation =
  | { kind: "answer"; accepted: Record<string, unknown>[] }
  | { kind: "error"; codes: readonly ErrorCode[] }
  | { kind: "no-crash" };

/** Alembic's warning for a bare `-N` from several version rows, which lambic refuses instead. */
export function isAmbiguousDowngrade(expected: any): boolean {
  return Array.isArray(expected?.warnings) && expected.warnings.some((w: string) => w.startsWith("downgrade -1 from multiple heads is ambiguous"));
}

/** Alembic's reading of an ambiguous bare `-N`: step down along the branch of the first row. */
export function firstRowTarget(target: string, rows: readonly string[]): string {
  return `${rows[0]}@${rows[0]}${target.slice(target.search(/[+-]\d+$/))}`;
}

export function expectationFor(expected: any, alternatives: any[] = []): Expectation {
  if (expected && typeof expected === "object" && "error" in expected) {
    if (ALEMBIC_CRASHES.has(expected.error)) {
      // A missing parent or dependency crashes Alembic at load with a KeyError on `map_[...]`.
      if (String(expected.where ?? "").includes("map_[")) return { kind: "error", codes: ["UNKNOWN_PARENT"] };
      return { kind: "no-crash" };
    }
    const cls = expected.cause ?? expected.error;
    const codes = CODES_FOR_CAUSE[cls];
    if (!codes) throw new Error(`no error codes mapped for Alembic's ${cls}`);
    return { kind: "error", codes };
  }
  return { kind: "answer", accepted: [expected, ...alternatives] };
}

/** The fields compared exactly (README "Comparing"); the rest is extra detail. */
const COMPARED: Record<string, readonly string[]> = {
  heads: ["heads", "order"],
  bases: ["bases", "order", "real_bases"],
  branchpoints: ["branchpoints", "mergepoints"],
  history: ["ids"],
  current: ["versions", "display"],
  upgrade: ["ran", "log", "versions"],
  downgrade: ["ran", "log", "versions"],
  stamp: ["versions"],
  upgrade_sql: ["ran", "log", "versions"],
  downgrade_sql: ["ran", "log", "versions"],
};

export function pick(kind: string, value: Record<string, unknown>): Record<string, unknown> {
  const fields = COMPARED[kind] ?? Object.keys(value);
  return Object.fromEntries(fields.filter((f) => f in value).map((f) => [f, value[f]]));
}
