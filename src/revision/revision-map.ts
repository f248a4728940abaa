import { argumentError } from "../check-arguments.ts";
import { LambicError } from "../errors.ts";
import { ancestry as buildAncestry, parentsFirst, type Ancestry, type Edges } from "./ancestry.ts";
import type { RevisionMeta } from "./types.ts";
import { idLengthProblem, MAX_REVISION_ID_LENGTH, RESERVED_TARGETS, reservedLabelProblem } from "./validate-revision.ts";

/**
 * The revision graph, ported from Alembic's `RevisionMap` (alembic/script/revision.py, 1.8.1 –
 * unchanged in substance up to 1.19) so that heads, targets and plans match Alembic case by case.
 * Where Alembic iterates a Python set of strings (hash order), we use declaration order, which is
 * one of the orders Alembic can produce (see test/conformance/README.md).
 *
 * Pure: receives plain revision records, never touches a file. Edges are kept as compressed rows
 * over file positions and traversals run over typed arrays; what only some commands need (branch
 * labels spread along branches, children as id lists, the ancestor index) is built on first use.
 */

/** Alembic's symbol for "no revision": the target `base`, or a walk that went below the roots. */
export const BASE = "base" as const;
type Base = typeof BASE;

const NONE: readonly never[] = Object.freeze([]);

export class RevisionNode {
  readonly id: string;
  readonly meta: RevisionMeta;
  /** `down_revision` as a tuple: the revisions this one revises (no dependencies). */
  readonly versionedDown: readonly string[];
  /** `dependencies` as declared: ids or branch labels. */
  readonly declaredDependencies: readonly string[];
  readonly originalBranchLabels: readonly string[];
  resolvedDependencies: readonly string[] = NONE;
  /** `revises` plus resolved dependencies (Alembic's `_all_down_revisions`). */
  allDown: readonly string[];
  /** @internal Set by RevisionMap when it normalizes dependencies (on first use). */
  normalized: { readonly dependencies: readonly string[]; readonly down: readonly string[] } | undefined;
  private childIds: readonly string[] | undefined;
  private allChildIds: readonly string[] | undefined;
  private labelSet: ReadonlySet<string> | undefined;

  constructor(
    meta: RevisionMeta,
    /** Position in file order (Alembic's map order); traversals work over these. */
    readonly index: number,
    private readonly map: RevisionMap,
  ) {
    this.id = meta.id;
    this.meta = meta;
    // The shapes the types give pass with the tests that pick the common case (no call: a first,
    // cold load of thousands of revisions pays for each); any other shape is checked by stringList.
    const revises = meta.revises;
    this.versionedDown = revises === null || revises === undefined ? NONE : typeof revises === "string" ? [revises] : stringList(revises, index, "revises");
    const dependsOn = meta.dependsOn;
    this.declaredDependencies = dependsOn === undefined || dependsOn === null || dependsOn.length === 0 ? NONE : stringList(dependsOn, index, "dependsOn");
    const branchLabels = meta.branchLabels;
    this.originalBranchLabels = branchLabels === undefined || branchLabels === null || branchLabels.length === 0 ? NONE : stringList(branchLabels, index, "branchLabels");
    this.allDown = this.versionedDown;
  }

  /** The dependencies not implied by an ancestor (Alembic's `_normalized_resolved_dependencies`). */
  get normalizedDependencies(): readonly string[] {
    if (this.resolvedDependencies.length === 0) return NONE;
    this.map.normalize();
    return this.normalized?.dependencies ?? NONE;
  }

  /** `revises` plus the dependencies not implied by an ancestor (`_normalized_down_revisions`). */
  get normalizedDown(): readonly string[] {
    if (this.resolvedDependencies.length === 0) return this.versionedDown;
    this.map.normalize();
    return this.normalized?.down ?? this.versionedDown;
  }

  /** Children through `revises` only. */
  get nextrev(): readonly string[] {
    return (this.childIds ??= this.map.linkedIds(this.index, "next"));
  }

  /** Children through `revises` or dependencies. */
  get allNextrev(): readonly string[] {
    return (this.allChildIds ??= this.map.linkedIds(this.index, "allNext"));
  }

  /** Labels of this revision plus the ones propagated along its branch. */
  get branchLabels(): ReadonlySet<string> {
    return (this.labelSet ??= this.map.labelsOf(this));
  }

  get isHead(): boolean {
    return this.map.childCount(this.index, "next") === 0;
  }
  get isRealHead(): boolean {
    return this.map.childCount(this.index, "allNext") === 0;
  }
  get isBase(): boolean {
    return this.versionedDown.length === 0;
  }
  get isRealBase(): boolean {
    return this.versionedDown.length === 0 && this.declaredDependencies.length === 0;
  }
  get isBranchPoint(): boolean {
    return this.map.childCount(this.index, "next") > 1;
  }
  get isRealBranchPoint(): boolean {
    return this.map.childCount(this.index, "allNext") > 1;
  }
  get isMergePoint(): boolean {
    return this.versionedDown.length > 1;
  }
}

export type Resolved = RevisionNode | Base | null;

/** The edges a traversal follows: to parents (`revises`, with or without dependencies) or children. */
export type Link = "down" | "allDown" | "normalizedDown" | "next" | "allNext";

const RELATIVE_TARGET = /^(?:(.+?)@)?(\w+)?((?:\+|-)\d+)/;
const INTEGER = /^\s*[+-]?\d+\s*$/;
const REVISION_ID = /^[A-Za-z0-9_]+$/;

export function parseRelativeTarget(target: string): { label?: string; symbol?: string; relative: number; relativeText: string } | undefined {
  const match = RELATIVE_TARGET.exec(target);
  if (!match) return undefined;
  return { label: match[1], symbol: match[2], relative: Number.parseInt(match[3]!, 10), relativeText: match[3]! };
}

function dedupe<T>(items: readonly T[]): T[] {
  if (items.length < 2) return items as T[];
  if (items.length === 2) return items[0] === items[1] ? [items[0]!] : (items as T[]);
  return [...new Set(items)];
}

function toList(value: string | readonly string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return typeof value === "string" ? [value] : [...value];
}

/** `rows`, with the rows that `lists` holds (by position) replaced. */
function patchRows(rows: Edges, lists: readonly (readonly number[] | undefined)[]): Edges {
  const n = rows.offsets.length - 1;
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + (lists[i]?.length ?? rows.offsets[i + 1]! - rows.offsets[i]!);
  const targets = new Int32Array(offsets[n]!);
  for (let i = 0; i < n; i++) {
    const list = lists[i];
    let k = offsets[i]!;
    if (list) for (const target of list) targets[k++] = target;
    else for (let e = rows.offsets[i]!; e < rows.offsets[i + 1]!; e++) targets[k++] = rows.targets[e]!;
  }
  return { offsets, targets };
}

function idsOf(nodes: readonly RevisionNode[]): string[] {
  const ids = new Array<string>(nodes.length);
  for (let i = 0; i < nodes.length; i++) ids[i] = nodes[i]!.id;
  return ids;
}

/**
 * Children rows from parent rows: each child once per parent, children in file order (the order
 * Alembic's `add_nextrev` builds them in). `keep(child, edge)` selects the edges that count.
 */
function reverseRows(parents: Edges, keep?: (child: number, edge: number) => boolean): Edges {
  const { offsets, targets } = parents;
  const n = offsets.length - 1;
  const counts = new Int32Array(n + 1);
  const last = new Int32Array(n).fill(-1);
  const kept = new Uint8Array(targets.length);
  for (let child = 0; child < n; child++) {
    for (let e = offsets[child]!; e < offsets[child + 1]!; e++) {
      const parent = targets[e]!;
      // A parent named twice (by id and by a label on it) is still one edge.
      if (last[parent] === child || (keep && !keep(child, e))) continue;
      last[parent] = child;
      kept[e] = 1;
      counts[parent + 1]!++;
    }
  }
  for (let i = 0; i < n; i++) counts[i + 1]! += counts[i]!;
  const childOffsets = counts.slice();
  const childTargets = new Int32Array(childOffsets[n]!);
  const fill = counts;
  for (let child = 0; child < n; child++) {
    for (let e = offsets[child]!; e < offsets[child + 1]!; e++) if (kept[e]) childTargets[fill[targets[e]!]!++] = child;
  }
  return { offsets: childOffsets, targets: childTargets };
}

export class RevisionMap {
  /** Every key Alembic's `_revision_map` holds: revision ids, then branch labels, in insertion order. */
  private readonly keys = new Map<string, RevisionNode>();
  readonly revisions: readonly RevisionNode[];
  /** Heads through `revises` only (what `alembic heads` prints), in map order. */
  readonly heads: readonly string[];
  /** Heads with no child through `revises` or dependencies (the target `heads`). */
  readonly realHeads: readonly string[];
  readonly bases: readonly string[];
  readonly realBases: readonly string[];
  private readonly down: Edges;
  private readonly allDown: Edges;
  private readonly relabelled: boolean;
  private readonly dependent: readonly RevisionNode[];
  private next: Edges | undefined;
  private allNext: Edges | undefined;
  private normalizedDown: Edges | undefined;
  private labelSets: ((node: RevisionNode) => Set<string>) | undefined;
  private ancestry: Ancestry | undefined;
  /** Every parent (and dependency) comes earlier in file order. */
  private readonly inFileOrder: boolean;

  /**
   * `closureLimit`: the largest number of plain chains whose ancestor closure is kept as a bitset
   * (default 20,000); above it, plans walk each head's ancestors instead.
   */
  constructor(
    metas: readonly RevisionMeta[],
    private readonly options: { closureLimit?: number } = {},
  ) {
    if (!Array.isArray(metas)) throw argumentError("new RevisionMap", "metas", "an array of revisions ({ id, revises, ... })", metas);
    const n = metas.length;
    const nodes = new Array<RevisionNode>(n);
    const keys = this.keys;
    const labelled: RevisionNode[] = [];
    const dependent: RevisionNode[] = [];
    let parentCount = 0;
    for (let i = 0; i < n; i++) {
      const meta = metas[i]!;
      if (typeof meta !== "object" || meta === null) throw argumentError("new RevisionMap", `metas[${i}]`, "a revision ({ id, revises, ... })", meta);
      validateId(meta.id);
      // Its lists checked and copied (see RevisionNode) before they are searched.
      const node = new RevisionNode(meta, i, this);
      if (meta.revises === meta.id || (typeof meta.revises !== "string" && node.versionedDown.includes(meta.id))) {
        throw new LambicError("SELF_LOOP", `Revision ${meta.id} revises itself. Set "revises" to its real parent (or null for a base).`, { revision: meta.id });
      }
      if (node.declaredDependencies.length > 0 && node.declaredDependencies.includes(meta.id)) {
        throw new LambicError("SELF_LOOP", `Revision ${meta.id} depends on itself. Remove "${meta.id}" from its dependsOn.`, { revision: meta.id });
      }
      nodes[i] = node;
      // One map operation per revision: a set that does not grow the map met the id before.
      keys.set(node.id, node);
      if (keys.size === i) {
        const existing = nodes.find((other) => other.id === meta.id)!;
        // Which ones: by position in the list, and message when there is one.
        const named = (at: number, message: string | undefined) => (message ? `metas[${at}] "${message}"` : `metas[${at}]`);
        throw new LambicError(
          "DUPLICATE_REVISION",
          `Revision id ${meta.id} is used by two revisions (${named(existing.index, existing.meta.message)} and ${named(i, meta.message)}). Give one of them a new id (lambic revision generates unique ids).`,
          { revision: meta.id },
        );
      }
      parentCount += node.versionedDown.length;
      if (node.declaredDependencies.length > 0) dependent.push(node);
      if (node.originalBranchLabels.length > 0) labelled.push(node);
    }
    this.revisions = nodes;
    if (labelled.length > 0) this.mapBranchLabels(labelled);
    if (dependent.length > 0) this.addDependsOn(dependent);

    const parents = this.parentRows(nodes, parentCount, dependent);
    const down = parents.versioned;
    this.down = down;
    this.allDown = parents.all;
    this.relabelled = parents.relabelled;
    this.dependent = dependent;

    const heads: RevisionNode[] = [];
    const realHeads: RevisionNode[] = [];
    const bases: RevisionNode[] = [];
    const realBases: RevisionNode[] = [];
    // A head is revised by nothing (a label used as a parent counts, as in Alembic).
    const revised = new Uint8Array(n);
    for (let e = 0; e < down.targets.length; e++) revised[down.targets[e]!] = 1;
    if (parents.all !== down) for (let e = 0; e < parents.all.targets.length; e++) revised[parents.all.targets[e]!]! |= 2;
    const dependedOn = parents.all === down ? 1 : 2;
    for (let i = 0; i < n; i++) {
      const node = nodes[i]!;
      if ((revised[i]! & 1) === 0) heads.push(node);
      if ((revised[i]! & dependedOn) === 0) realHeads.push(node);
      if (node.versionedDown.length === 0) {
        bases.push(node);
        if (node.declaredDependencies.length === 0) realBases.push(node);
      }
    }
    // Before normalizing (unlike Alembic): normalizing walks ancestors, which needs no cycles.
    // Files whose parents all come earlier (the usual case: names start with a date) cannot hold one.
    this.inFileOrder = parents.parentsFirst;
    if (!parents.parentsFirst) this.detectCycles(nodes, heads, bases, realHeads, realBases);

    this.heads = idsOf(heads);
    this.realHeads = idsOf(realHeads);
    this.bases = idsOf(bases);
    this.realBases = idsOf(realBases);
  }

  /** The revision with exactly this id (no prefixes, no labels). */
  node(id: string): RevisionNode {
    const node = this.keys.get(id);
    if (!node || node.id !== id) throw new LambicError("REVISION_NOT_FOUND", `No revision ${id}.`, { revision: id });
    return node;
  }

  has(id: string): boolean {
    return this.find(id) !== undefined;
  }

  /** The revision with exactly this id, if any. */
  find(id: string): RevisionNode | undefined {
    const node = this.keys.get(id);
    return node !== undefined && node.id === id ? node : undefined;
  }

  /** @internal The revision ids along a link from a position (RevisionNode's children lists). */
  linkedIds(index: number, link: Link): readonly string[] {
    const { offsets, targets } = this.edges(link);
    const start = offsets[index]!;
    const end = offsets[index + 1]!;
    if (start === end) return NONE;
    const ids = new Array<string>(end - start);
    for (let e = start; e < end; e++) ids[e - start] = this.revisions[targets[e]!]!.id;
    return ids;
  }

  /** @internal */
  childCount(index: number, link: "next" | "allNext"): number {
    const { offsets } = this.edges(link);
    return offsets[index + 1]! - offsets[index]!;
  }

  // ---- construction -------------------------------------------------------------------------

  private mapBranchLabels(labelled: readonly RevisionNode[]): void {
    for (const node of labelled) {
      for (const label of node.originalBranchLabels) {
        if (RESERVED_TARGETS.has(label)) {
          throw new LambicError(
            "REVISION_FILE_INVALID",
            `Branch label "${label}" on revision ${node.id} ${reservedLabelProblem(label)}`,
            { label, revision: node.id },
          );
        }
        const existing = this.keys.get(label);
        if (existing) {
          const what = existing.id === label ? "is the id of revision" : "is already used by revision";
          throw new LambicError(
            "DUPLICATE_BRANCH_LABEL",
            `Branch label "${label}" on revision ${node.id} ${what} ${existing.id}. Branch labels must be unique and differ from every revision id; rename one.`,
            { label, revision: node.id, usedBy: existing.id },
          );
        }
        this.keys.set(label, node);
      }
    }
  }

  private addDependsOn(dependent: readonly RevisionNode[]): void {
    for (const node of dependent) {
      node.resolvedDependencies = node.declaredDependencies.map((dep) => {
        const target = this.keys.get(dep);
        if (!target) {
          throw new LambicError(
            "UNKNOWN_PARENT",
            `Revision ${node.id} depends on "${dep}", which is neither a revision id nor a branch label. Fix its dependsOn, or add the missing revision.`,
            { revision: node.id, missing: dep },
          );
        }
        return target.id;
      });
      node.allDown = dedupe([...node.versionedDown, ...node.resolvedDependencies]);
    }
  }

  /**
   * Each revision's parents by position: `versioned` follows `revises`, `all` also dependencies
   * (the same rows when nothing depends on anything). Names resolve through the whole map,
   * labels included, as in Alembic; `relabelled` says a label was used as a parent.
   * `parentsFirst`: every parent comes earlier in file order.
   */
  private parentRows(nodes: readonly RevisionNode[], parentCount: number, dependent: readonly RevisionNode[]): { versioned: Edges; all: Edges; relabelled: boolean; parentsFirst: boolean } {
    const n = nodes.length;
    const keys = this.keys;
    const offsets = new Int32Array(n + 1);
    const targets = new Int32Array(parentCount);
    // With dependencies, the rows with them are written in the same pass: a dependent revision's
    // row is its allDown, every other's the same as its versioned row. Without, they are the same rows.
    const withDependencies = dependent.length > 0;
    let dependencyCount = 0;
    for (const node of dependent) dependencyCount += node.allDown.length;
    const allOffsets = new Int32Array(withDependencies ? n + 1 : 0);
    const allTargets = new Int32Array(withDependencies ? parentCount + dependencyCount : 0);
    let relabelled = false;
    let parentsFirst = true;
    let k = 0;
    let a = 0;
    for (let i = 0; i < n; i++) {
      const node = nodes[i]!;
      const revises = node.versionedDown;
      const copiesRow = withDependencies && node.allDown === revises;
      for (let j = 0; j < revises.length; j++) {
        const parent = keys.get(revises[j]!);
        if (!parent) {
          throw new LambicError(
            "UNKNOWN_PARENT",
            `Revision ${node.id} revises ${revises[j]}, which is not a known revision. Check for a missing or renamed revision file, or fix "revises" in ${node.id}.`,
            { revision: node.id, missing: revises[j] },
          );
        }
        if (parent.id !== revises[j]) relabelled = true;
        if (parent.index >= i) parentsFirst = false;
        targets[k++] = parent.index;
        if (copiesRow) allTargets[a++] = parent.index;
      }
      offsets[i + 1] = k;
      if (!withDependencies) continue;
      if (!copiesRow) {
        for (const id of node.allDown) {
          const parent = keys.get(id)!;
          if (parent.id !== id) relabelled = true;
          if (parent.index >= i) parentsFirst = false;
          allTargets[a++] = parent.index;
        }
      }
      allOffsets[i + 1] = a;
    }
    const versioned = { offsets, targets };
    return { versioned, all: withDependencies ? { offsets: allOffsets, targets: allTargets.subarray(0, a) } : versioned, relabelled, parentsFirst };
  }

  /**
   * Drops dependencies already declared by an ancestor (through `revises`), keeping declaration
   * order. What a revision's ancestors declared is a bitset over the revisions anything depends
   * on, built parents first; a revision with one parent and no dependencies shares its parent's.
   * Returns the normalized parent rows: written in the same pass when parents come first in file
   * order (`edgeCount` bounds them: no row is longer than its allDown), else patched afterwards.
   */
  private normalizeDependsOn(nodes: readonly RevisionNode[], dependent: readonly RevisionNode[], versioned: Edges, inFileOrder: boolean, edgeCount: number): Edges {
    const column = new Map<string, number>();
    for (const node of dependent) for (const dep of node.resolvedDependencies) if (!column.has(dep)) column.set(dep, column.size);
    const words = (column.size + 31) >>> 5;
    const n = nodes.length;
    const { offsets, targets } = versioned;
    const order = inFileOrder ? undefined : parentsFirst(versioned);
    // rowOf[i]: where revision i's bitset starts in `declared`; 0 is the empty set.
    const rowOf = new Int32Array(n);
    let declared = new Uint32Array(words * 64);
    let used = words;
    const lists = order ? new Array<readonly number[] | undefined>(n) : undefined;
    const outOffsets = new Int32Array(lists ? 0 : n + 1);
    const outTargets = new Int32Array(lists ? 0 : edgeCount);
    let out = 0;
    for (let k = 0; k < n; k++) {
      const index = order ? order[k]! : k;
      const node = nodes[index]!;
      const first = offsets[index]!;
      const parentCount = offsets[index + 1]! - first;
      if (node.resolvedDependencies.length === 0 && parentCount <= 1) {
        if (parentCount === 1) rowOf[index] = rowOf[targets[first]!]!;
        if (!lists) {
          if (parentCount === 1) outTargets[out++] = targets[first]!;
          outOffsets[index + 1] = out;
        }
        continue;
      }
      if (used + words > declared.length) {
        const grown = new Uint32Array(declared.length * 2);
        grown.set(declared);
        declared = grown;
      }
      const row = used;
      used += words;
      rowOf[index] = row;
      for (let e = first; e < first + parentCount; e++) {
        const parentRow = rowOf[targets[e]!]!;
        for (let w = 0; w < words; w++) declared[row + w]! |= declared[parentRow + w]!;
      }
      let list: readonly number[] | undefined;
      if (node.resolvedDependencies.length > 0) {
        const implied = (dep: string) => {
          const c = column.get(dep)!;
          return (declared[row + (c >>> 5)]! & (1 << (c & 31))) !== 0;
        };
        const dependencies = dedupe(node.resolvedDependencies.filter((dep) => !implied(dep)));
        const normalizedDown = dependencies.length === 0 ? node.versionedDown : dedupe([...node.versionedDown, ...dependencies]);
        node.normalized = { dependencies, down: normalizedDown };
        if (dependencies.length > 0) list = normalizedDown.map((id) => this.keys.get(id)!.index);
        for (const dep of node.resolvedDependencies) {
          const c = column.get(dep)!;
          declared[row + (c >>> 5)]! |= 1 << (c & 31);
        }
      }
      if (lists) {
        lists[index] = list;
      } else {
        if (list) for (const target of list) outTargets[out++] = target;
        else for (let e = first; e < first + parentCount; e++) outTargets[out++] = targets[e]!;
        outOffsets[index + 1] = out;
      }
    }
    return lists ? patchRows(versioned, lists) : { offsets: outOffsets, targets: outTargets.subarray(0, out) };
  }

  private detectCycles(nodes: readonly RevisionNode[], heads: RevisionNode[], bases: RevisionNode[], realHeads: RevisionNode[], realBases: RevisionNode[]): void {
    if (nodes.length === 0) return;
    const cycleError = (code: "CYCLE_DETECTED" | "DEPENDENCY_CYCLE_DETECTED", ids: string[]) =>
      new LambicError(
        code,
        `${code === "CYCLE_DETECTED" ? "Cycle" : "Dependency cycle"} detected in revisions (${ids.join(", ")}): following ${code === "CYCLE_DETECTED" ? '"revises"' : '"revises" and "dependsOn"'} from them leads back to them. Fix the parents of one of these revisions.`,
        { revisions: ids },
      );
    if (heads.length === 0 || bases.length === 0) throw cycleError("CYCLE_DETECTED", nodes.map((n) => n.id));
    // Alembic's test: a revision on a cycle is not both below a head and above a base. It misses
    // a cycle that hangs below a merge, so a topological peel runs first and names what it left.
    const outsideOf = (fromHeads: readonly RevisionNode[], down: Link, fromBases: readonly RevisionNode[], up: Link) => {
      const reached = new Uint8Array(nodes.length);
      for (const n of this.collect(fromHeads, down)) reached[n.index]! |= 1;
      for (const n of this.collect(fromBases, up)) reached[n.index]! |= 2;
      return nodes.filter((n) => reached[n.index] !== 3).map((n) => n.id);
    };
    const onCycles = (edges: Edges) => {
      const left = unpeeled(edges);
      return left === undefined ? undefined : nodes.filter((n) => left[n.index]).map((n) => n.id);
    };
    let cyclic = onCycles(this.down);
    if (cyclic) {
      const outside = outsideOf(heads, "down", bases, "next");
      throw cycleError("CYCLE_DETECTED", (outside.length > 0 ? outside : cyclic).sort());
    }
    if (realHeads.length === 0 || realBases.length === 0) throw cycleError("DEPENDENCY_CYCLE_DETECTED", nodes.map((n) => n.id));
    if (this.allDown === this.down) return;
    cyclic = onCycles(this.allDown);
    if (cyclic) {
      const outside = outsideOf(realHeads, "allDown", realBases, "allNext");
      throw cycleError("DEPENDENCY_CYCLE_DETECTED", (outside.length > 0 ? outside : cyclic).sort());
    }
  }

  /** Branch labels of every revision, spread on first use (see spreadLabels). */
  labelsOf(node: RevisionNode): Set<string> {
    this.labelSets ??= this.spreadLabels();
    return this.labelSets(node);
  }

  /**
   * Labels spread to every descendant, and down to the nearest branch or merge point (Alembic's
   * `_add_branches`). Label sets are bitsets while spreading: a late revision on a long line can
   * carry dozens of labels, and it is reached once per labelled ancestor.
   */
  private spreadLabels(): (node: RevisionNode) => Set<string> {
    const nodes = this.revisions;
    const names: string[] = [];
    const bit = new Map<string, number>();
    for (const node of nodes) for (const label of node.originalBranchLabels) if (!bit.has(label)) bit.set(label, names.push(label) - 1);
    if (names.length === 0) return () => new Set();
    const words = Math.ceil(names.length / 32);
    const sets = new Uint32Array(nodes.length * words);
    for (const node of nodes) for (const label of node.originalBranchLabels) sets[node.index * words + (bit.get(label)! >>> 5)]! |= 1 << (bit.get(label)! & 31);
    const spread = (node: RevisionNode, labels: Uint32Array) => {
      for (let w = 0; w < words; w++) sets[node.index * words + w]! |= labels[w]!;
    };
    // Only revisions that declare labels (Alembic's `has_branch_labels`), each spreading the
    // labels it holds by then, in file order.
    for (const revision of nodes) {
      if (revision.originalBranchLabels.length === 0) continue;
      const labels = sets.slice(revision.index * words, revision.index * words + words);
      let last: RevisionNode = revision;
      for (const node of this.collect([revision], "next")) {
        spread(node, labels);
        last = node;
      }
      // Alembic walks down from the last descendant it visited, not from the labelled revision.
      let parent: RevisionNode | undefined = last;
      while (parent && !parent.isRealBranchPoint && !parent.isMergePoint) {
        spread(parent, labels);
        parent = parent.versionedDown.length > 0 ? this.keys.get(parent.versionedDown[0]!) : undefined;
      }
    }
    return (node) => {
      const labels = new Set<string>();
      for (let w = 0; w < words; w++) {
        let word = sets[node.index * words + w]!;
        while (word !== 0) {
          labels.add(names[w * 32 + (31 - Math.clz32(word & -word))]!);
          word &= word - 1;
        }
      }
      return labels;
    };
  }

  // ---- traversal ----------------------------------------------------------------------------

  private epoch = 0;
  private marks = new Uint32Array(0);
  private stack = new Int32Array(0);
  private isTarget = new Uint8Array(0);

  /** A link's edges in compressed rows over file positions; children and normalized rows on first use. */
  private edges(link: Link): Edges {
    switch (link) {
      case "down":
        return this.down;
      case "allDown":
        return this.allDown;
      case "normalizedDown":
        this.normalize();
        return this.normalizedDown!;
      case "next":
        return (this.next ??= this.relabelled
          ? reverseRows(this.allDown, (child, edge) => this.revisions[child]!.versionedDown.includes(this.revisions[this.allDown.targets[edge]!]!.id))
          : reverseRows(this.down));
      case "allNext":
        return (this.allNext ??= this.allDown === this.down && !this.relabelled ? this.edges("next") : reverseRows(this.allDown));
    }
  }

  /** @internal Drops implied dependencies (see normalizeDependsOn), once. */
  normalize(): void {
    this.normalizedDown ??= this.dependent.length === 0 ? this.allDown : this.normalizeDependsOn(this.revisions, this.dependent, this.down, this.inFileOrder, this.allDown.targets.length);
  }

  /**
   * The revisions reachable from `targets` along `link`, each once, in the order Alembic's
   * depth-first `_iterate_related_revisions` yields them — over typed arrays, with a stamp per
   * traversal instead of a set. With `check`, a target reached from another target is an error
   * (OVERLAPPING_VERSIONS), raised after that target's walk as Alembic does. Not re-entrant.
   */
  collect(targets: Iterable<RevisionNode>, link: Link, check = false): RevisionNode[] {
    const out: RevisionNode[] = [];
    this.traverse(targets, link, check, out);
    return out;
  }

  /** `collect` as a mask over file positions (the targets included). */
  private reach(targets: readonly RevisionNode[], link: Link, check = false): Uint8Array {
    const mask = new Uint8Array(this.revisions.length);
    this.traverse(targets, link, check, undefined, mask);
    return mask;
  }

  /** The walk behind collect and reach: into `out` in Alembic's order, or into `mask`. */
  private traverse(targets: Iterable<RevisionNode>, link: Link, check: boolean, out: RevisionNode[] | undefined, mask?: Uint8Array): void {
    const { offsets, targets: edgeTargets } = this.edges(link);
    const revisions = this.revisions;
    if (this.marks.length < revisions.length) {
      this.marks = new Uint32Array(revisions.length);
      this.isTarget = new Uint8Array(revisions.length);
    }
    const starts = [...targets];
    if (this.stack.length < edgeTargets.length + starts.length) this.stack = new Int32Array(edgeTargets.length + starts.length);
    const { marks, stack, isTarget } = this;
    const stamp = ++this.epoch;
    if (check) for (const target of starts) isTarget[target.index] = 1;
    try {
      let top = 0;
      for (const target of starts) {
        let overlaps: RevisionNode[] | undefined;
        stack[top++] = target.index;
        while (top > 0) {
          const index = stack[--top]!;
          if (check && isTarget[index] === 1 && index !== target.index && !overlaps?.includes(revisions[index]!)) (overlaps ??= []).push(revisions[index]!);
          if (marks[index] === stamp) continue;
          marks[index] = stamp;
          for (let e = offsets[index]!, end = offsets[index + 1]!; e < end; e++) stack[top++] = edgeTargets[e]!;
          if (mask) mask[index] = 1;
          else out!.push(revisions[index]!);
        }
        if (overlaps) {
          throw new LambicError(
            "OVERLAPPING_VERSIONS",
            `Requested revision ${target.id} overlaps with other requested revisions ${overlaps.map((o) => o.id).join(", ")}: one is an ancestor of the other. Name only the newer one.`,
            { revision: target.id, overlaps: overlaps.map((o) => o.id) },
          );
        }
      }
    } finally {
      if (check) for (const target of starts) isTarget[target.index] = 0;
    }
  }

  descendants(targets: Iterable<RevisionNode>, options: { includeDependencies?: boolean; check?: boolean } = {}): Iterable<RevisionNode> {
    const includeDependencies = options.includeDependencies ?? true;
    return this.collect(targets, includeDependencies ? "allNext" : "next", options.check);
  }

  ancestors(targets: Iterable<RevisionNode>, options: { includeDependencies?: boolean; check?: boolean } = {}): Iterable<RevisionNode> {
    const includeDependencies = options.includeDependencies ?? true;
    return this.collect(targets, includeDependencies ? "normalizedDown" : "down", options.check);
  }

  // ---- resolving identifiers ----------------------------------------------------------------

  /** Alembic's `get_current_head`: the one head (optionally of a branch), or MULTIPLE_HEADS. */
  currentHead(branchLabel?: string): string | undefined {
    let heads: readonly string[] = this.heads;
    if (branchLabel) heads = this.filterForLineage(heads, branchLabel);
    if (heads.length > 1) {
      const argument = branchLabel ? `${branchLabel}@head` : "head";
      throw new LambicError(
        "MULTIPLE_HEADS",
        `Target "${argument}" matches ${heads.length} heads (${heads.join(", ")}). Name one of them, narrow it with "<branch label>@head", or use "heads" for all of them.`,
        { argument, heads: [...heads] },
      );
    }
    return heads[0];
  }

  /** Alembic's `_resolve_revision_number`: symbol → ids, plus the branch label before `@`. */
  resolveRevisionNumber(identifier: string | null): { ids: string[]; branchLabel?: string } {
    let branchLabel: string | undefined;
    let id = identifier;
    if (id !== null && id.includes("@")) {
      const at = id.indexOf("@");
      branchLabel = id.slice(0, at);
      id = id.slice(at + 1);
    }
    if (id === "heads") {
      return { ids: branchLabel ? [...this.filterForLineage(this.heads, branchLabel)] : [...this.realHeads], branchLabel };
    }
    if (id === "head") {
      const head = this.currentHead(branchLabel);
      return { ids: head ? [head] : [], branchLabel };
    }
    if (id === "base" || id === null) return { ids: [], branchLabel };
    return { ids: [id], branchLabel };
  }

  /** Alembic's `get_revisions`: every revision an identifier (or list of them) names. */
  getRevisions(identifier: string | null | readonly string[]): Resolved[] {
    if (Array.isArray(identifier)) return (identifier as readonly string[]).flatMap((id) => this.getRevisions(id));
    const { ids, branchLabel } = this.resolveRevisionNumber(identifier as string | null);
    if (ids.length === 1 && INTEGER.test(ids[0]!)) {
      const steps = Number.parseInt(ids[0]!, 10);
      if (steps < 0) {
        // `branch@-n` without a symbol: walk down from the heads.
        let selectHeads = this.getRevisions("heads") as RevisionNode[];
        if (branchLabel !== undefined) selectHeads = selectHeads.filter((h) => h.branchLabels.has(branchLabel));
        return selectHeads.map((head) => this.walk(head, steps));
      }
    }
    return ids.map((id) => this.revisionForIdent(id, branchLabel));
  }

  /** Alembic's `get_revision`: exactly one revision (or null for base). */
  getRevision(identifier: string | null): RevisionNode | null {
    const { ids, branchLabel } = this.resolveRevisionNumber(identifier);
    if (ids.length > 1) {
      throw new LambicError(
        "MULTIPLE_HEADS",
        `Target "${identifier}" matches ${ids.length} revisions (${ids.join(", ")}). Name one of them, or narrow it with "<branch label>@${identifier}".`,
        { argument: identifier, heads: ids },
      );
    }
    return this.revisionForIdent(ids[0] ?? null, branchLabel);
  }

  private resolveBranch(branchLabel: string): RevisionNode | null {
    const labelled = this.keys.get(branchLabel);
    if (labelled) return labelled;
    try {
      return this.revisionForIdent(branchLabel);
    } catch (error) {
      if (error instanceof LambicError && (error.code === "REVISION_NOT_FOUND" || error.code === "AMBIGUOUS_REVISION")) {
        throw new LambicError(
          "REVISION_NOT_FOUND",
          `No such branch: "${branchLabel}". Use a branch label (lambic branches lists the branch points, lambic history --verbose the labels) or a revision id before "@".`,
          { argument: branchLabel },
          { cause: error },
        );
      }
      throw error;
    }
  }

  private revisionForIdent(resolvedId: string | null, checkBranch?: string): RevisionNode | null {
    const branchRev = checkBranch ? this.resolveBranch(checkBranch) : null;
    if (resolvedId === null) return null;
    let revision = this.keys.get(resolvedId);
    if (!revision) {
      const prefixed = [...this.keys.keys()].filter((key) => key.length > 3 && key.startsWith(resolvedId));
      const matches = branchRev ? [...this.filterForLineage(prefixed, checkBranch!)] : prefixed;
      if (matches.length === 0 && prefixed.length > 0) {
        throw new LambicError(
          "REVISION_NOT_FOUND",
          `No revision of branch "${checkBranch}" starts with "${resolvedId}": ${prefixed.slice(0, 3).join(", ")}${prefixed.length > 3 ? ", ..." : ""} ${prefixed.length === 1 ? "does" : "do"}, off that branch. Drop the "${checkBranch}@" prefix or name a revision on that branch.`,
          { argument: resolvedId, branch: checkBranch, matches: prefixed.slice(0, 10) },
        );
      }
      if (matches.length === 0) {
        // Alembic adds "please ensure at least four characters" for a short one, but a prefix of any
        // length resolves (only ids of four characters or more are matched by prefix): no such hint.
        throw new LambicError("REVISION_NOT_FOUND", `No revision or branch label "${resolvedId}". Check the id (lambic history lists them).`, { argument: resolvedId });
      }
      if (matches.length > 1) {
        throw new LambicError(
          "AMBIGUOUS_REVISION",
          `"${resolvedId}" is ambiguous: ${matches.slice(0, 3).map((m) => `"${m}"`).join(", ")}${matches.length > 3 ? ", ..." : ""} start with it. Give more characters of the id.`,
          { argument: resolvedId, matches: matches.slice(0, 10) },
        );
      }
      revision = this.keys.get(matches[0]!)!;
    }
    if (checkBranch && branchRev && !this.sharesLineage(revision, [branchRev])) {
      throw new LambicError(
        "REVISION_NOT_FOUND",
        `Revision ${revision.id} is not a member of branch "${checkBranch}". Drop the "${checkBranch}@" prefix or name a revision on that branch.`,
        { argument: resolvedId, branch: checkBranch },
      );
    }
    return revision;
  }

  filterForLineage<T extends string | RevisionNode>(targets: Iterable<T>, checkAgainst: string | null, includeDependencies = false): T[] {
    const { ids, branchLabel } = this.resolveRevisionNumber(checkAgainst);
    const shares: string[] = [];
    if (branchLabel) shares.push(branchLabel);
    shares.push(...ids);
    return [...targets].filter((target) => this.sharesLineage(target, shares, includeDependencies));
  }

  private sharesLineage(target: string | RevisionNode, against: readonly (string | RevisionNode)[], includeDependencies = false): boolean {
    if (against.length === 0) return true;
    const resolvedTarget = typeof target === "string" ? this.revisionForIdent(target)! : target;
    const resolvedAgainst = new Set(against.map((a) => (typeof a === "string" ? this.revisionForIdent(a) : a)));
    for (const node of this.descendants([resolvedTarget], { includeDependencies })) if (resolvedAgainst.has(node)) return true;
    for (const node of this.ancestors([resolvedTarget], { includeDependencies })) if (resolvedAgainst.has(node)) return true;
    return false;
  }

  /** Alembic's `_filter_into_branch_heads`: drops every revision that has a descendant in the set. */
  filterIntoBranchHeads(targets: Iterable<RevisionNode>): RevisionNode[] {
    const set = new Set(targets);
    for (const rev of [...set]) {
      for (const descendant of this.descendants([rev], { includeDependencies: false })) {
        if (descendant !== rev && set.has(descendant)) {
          set.delete(rev);
          break;
        }
      }
    }
    return [...set];
  }

  /** Alembic's `_get_all_current`: version rows plus the heads their dependencies imply. */
  allCurrent(rows: readonly string[]): RevisionNode[] {
    const top = new Set(this.getRevisions(rows).filter(isNode));
    for (const ancestor of this.ancestors([...top])) top.add(ancestor);
    return this.filterIntoBranchHeads(top);
  }

  // ---- relative walks -------------------------------------------------------------------------

  /**
   * Walks `steps` revisions up (> 0) or down (< 0). Returns null when the walk goes past the ends
   * of the graph (with `noOverwalk`), else stops there. Several ways to go is AMBIGUOUS_RELATIVE.
   */
  walk(start: RevisionNode | null | string, steps: number, branchLabel?: string, noOverwalk = true): Resolved {
    // A symbol (even "base") is resolved first; only the walk itself produces the BASE marker.
    let initial: Resolved = typeof start === "string" ? this.getRevision(start) : start;
    for (let i = 0; i < Math.abs(steps); i++) {
      let children: Resolved[];
      if (steps > 0) {
        if (initial === BASE) throw new LambicError("INVALID_TARGET", `Cannot walk up from below the base.`, {});
        const walkUp = this.getRevisions(initial === null ? this.bases : initial.nextrev).filter(isNode);
        children = branchLabel ? this.filterForLineage(walkUp, branchLabel) : walkUp;
      } else if (initial === BASE) {
        children = [];
      } else {
        children = this.getRevisions(initial === null ? this.heads : initial.versionedDown);
        if (children.length === 0) children = [BASE];
      }
      if (children.length === 0) return noOverwalk ? null : initial;
      if (children.length > 1) {
        const from = initial === null ? "base" : initial === BASE ? "base" : initial.id;
        throw new LambicError(
          "AMBIGUOUS_RELATIVE",
          `Ambiguous walk: ${steps > 0 ? "going up" : "going down"} from ${from} there are ${children.length} ways (${children.map((c) => (isNode(c) ? c.id : String(c))).join(", ")}). Name the revision, or narrow with "<branch label>@${steps > 0 ? "+" : "-"}${Math.abs(steps)}".`,
          { from, choices: children.map((c) => (isNode(c) ? c.id : String(c))) },
        );
      }
      initial = children[0]!;
    }
    return initial;
  }

  // ---- targets and plans ----------------------------------------------------------------------

  private relativeError(relativeText: string, steps: number): LambicError {
    return new LambicError(
      "RELATIVE_OUT_OF_RANGE",
      `Relative revision ${relativeText} didn't produce ${Math.abs(steps)} migrations: the history is not that long in that direction from the current version. Use a smaller number or name the revision.`,
      { relative: relativeText },
    );
  }

  /** Alembic's `_parse_downgrade_target`: the branch label and revision a downgrade target names. */
  parseDowngradeTarget(current: readonly string[], target: string | null, assertRelativeLength: boolean): { branchLabel?: string; revision: Resolved } {
    if (target === null) return { revision: null };
    const relative = parseRelativeTarget(target);
    if (relative) {
      let { label: branchLabel, symbol } = relative;
      const steps = relative.relative;
      if (steps >= 0) {
        if (symbol === undefined) {
          throw new LambicError("INVALID_TARGET", `A downgrade cannot go to "${target}" (${relative.relativeText} ${steps === 0 ? "moves nowhere" : "walks up"}). Use "-N" to go down N revisions, or name a revision.`, { target });
        }
        const rev = this.walk(symbol, steps, branchLabel, assertRelativeLength);
        if (rev === null) throw this.walkedTooFar(target);
        return { branchLabel, revision: rev };
      }
      const relativeToCurrent = symbol === undefined;
      if (relativeToCurrent) {
        if (branchLabel) {
          let symbols: string[] = this.filterForLineage(current, branchLabel);
          if (symbols.length === 0) {
            symbols = this.filterForLineage(this.allCurrent(current), branchLabel).map((r) => r.id);
          }
          if (symbols.length !== 1) {
            // Alembic asserts here; the honest answer is that the branch is not (or ambiguously) current.
            throw new LambicError(
              "INVALID_TARGET",
              symbols.length === 0
                ? `"${target}": branch "${branchLabel}" has no applied revision in the current version rows (${current.join(", ") || "none"}), so there is nothing to step down from. Check "lambic current".`
                : `"${target}": branch "${branchLabel}" matches several current versions (${symbols.join(", ")}). Name the revision to step down from ("<id>-1").`,
              { target, current: [...current] },
            );
          }
          symbol = symbols[0]!;
        } else {
          if (current.length === 0) throw this.relativeError(relative.relativeText, steps);
          if (new Set(current).size > 1) {
            // Alembic warns and steps down from whichever row the table returns first; that
            // order is not something to migrate by, so say which branch instead.
            throw new LambicError(
              "AMBIGUOUS_RELATIVE",
              `"${target}" is ambiguous: the database is at ${current.length} heads (${current.join(", ")}). Say which one to step down from: "<id>${relative.relativeText}" (e.g. "${current[0]}${relative.relativeText}") or "<branch label>@${relative.relativeText}".`,
              { target, current: [...current] },
            );
          }
          symbol = current[0]!;
          branchLabel = symbol;
        }
      }
      const start = branchLabel === undefined ? this.getRevision(symbol!) : this.getRevision(`${branchLabel}@${symbol}`);
      const rev = this.walk(start, steps, undefined, assertRelativeLength);
      if (rev === null) {
        if (relativeToCurrent) throw this.relativeError(relative.relativeText, steps);
        throw this.walkedTooFar(target);
      }
      return { branchLabel, revision: rev };
    }
    const at = target.lastIndexOf("@");
    const branchLabel = at > 0 ? target.slice(0, at) : undefined;
    return { branchLabel, revision: this.getRevision(target.slice(at + 1)) };
  }

  private walkedTooFar(target: string): LambicError {
    return new LambicError("RELATIVE_OUT_OF_RANGE", `"${target}" walks past the end of the history. Use a smaller number.`, { target });
  }

  /** Alembic's `_parse_upgrade_target`: the revisions an upgrade target names. */
  parseUpgradeTarget(current: readonly string[], target: string | null | readonly string[], assertRelativeLength: boolean): Resolved[] {
    const relative = typeof target === "string" ? parseRelativeTarget(target) : undefined;
    if (!relative) return this.getRevisions(target);
    const { label: branchLabel, symbol } = relative;
    const steps = relative.relative;
    if (steps > 0) {
      if (symbol === undefined) {
        let currentRevs: (string | null)[] = current.length === 0 ? [null] : [...current];
        let startRevs: (string | RevisionNode | null)[] = currentRevs;
        if (branchLabel) {
          const currentNodes = this.getRevisions(currentRevs.filter((c): c is string => c !== null)).filter(isNode);
          startRevs = this.filterForLineage(currentNodes, branchLabel);
          if (startRevs.length === 0) {
            // The branch is not current: start from the tips of what is applied on it.
            const activeOnBranch = this.filterForLineage(this.ancestors(currentNodes), branchLabel);
            const downs = new Set(activeOnBranch.flatMap((r) => r.normalizedDown));
            startRevs = dedupe(activeOnBranch.map((r) => r.id).filter((id) => !downs.has(id)));
            if (startRevs.length === 0) startRevs = [null];
          }
        }
        if (startRevs.length > 1) {
          throw new LambicError(
            "AMBIGUOUS_RELATIVE",
            `Ambiguous upgrade from multiple current revisions (${startRevs.map((s) => (s instanceof RevisionNode ? s.id : s)).join(", ")}): "${target}" does not say which branch to move. Use "<branch label>@${relative.relativeText}" or "<id>${relative.relativeText}".`,
            { target, current: [...current] },
          );
        }
        const start = startRevs[0]!;
        const rev = this.walk(start instanceof RevisionNode || start === null ? start : this.getRevision(start), steps, branchLabel, assertRelativeLength);
        if (rev === null) throw this.relativeError(relative.relativeText, steps);
        return [rev];
      }
      return [this.walk(this.getRevision(symbol), steps, branchLabel, assertRelativeLength)];
    }
    if (symbol === undefined) {
      throw new LambicError("INVALID_TARGET", `An upgrade cannot go to "${target}" (${relative.relativeText} ${relative.relative === 0 ? "moves nowhere" : "walks down"}). Use "+N", or downgrade.`, { target });
    }
    const start = branchLabel === undefined ? this.getRevision(symbol) : this.getRevision(`${branchLabel}@${symbol}`);
    return [this.walk(start, steps, undefined, assertRelativeLength)];
  }

  /**
   * Alembic's `_collect_downgrade_revisions`: every applied revision that must be undone to reach
   * `target`, and the current heads to order them from.
   */
  collectDowngradeRevisions(upper: readonly string[], target: string | null, options: { assertRelativeLength: boolean; inclusive?: boolean; implicitBase?: boolean }): { revisions: Uint8Array; heads: RevisionNode[] } {
    const parsed = this.parseDowngradeTarget(upper, target, options.assertRelativeLength);
    const branchLabel = parsed.branchLabel;
    const targetRevision = parsed.revision === BASE ? null : parsed.revision;
    let roots: RevisionNode[];
    if (targetRevision === null) {
      roots = this.revisions.filter((r) => r.versionedDown.length === 0);
    } else if (options.inclusive) {
      roots = [targetRevision];
    } else {
      roots = this.getRevisions(targetRevision.nextrev).filter(isNode);
    }
    if (branchLabel && roots.length > 1) {
      const branchRev = this.resolveBranch(branchLabel);
      const onBranch = this.reach(branchRev ? [branchRev] : [], "down");
      roots = roots.filter((r) => onBranch[r.index] === 1);
      if (roots.length === 0) {
        throw new LambicError("INVALID_TARGET", `"${target}" is not a valid downgrade target from the current heads: nothing on branch "${branchLabel}" lies above it.`, { target });
      }
    }
    const heads = this.getRevisions(upper).filter(isNode);
    const downgrade = this.reach(roots, "allNext");
    const active = this.reach(heads, "normalizedDown");
    let count = 0;
    for (let i = 0; i < downgrade.length; i++) count += downgrade[i]! &= active[i]!;
    if (options.implicitBase) {
      const rootAncestors = this.reach(roots, "normalizedDown");
      for (let i = 0; i < downgrade.length; i++) if (active[i] === 1 && rootAncestors[i] === 0 && downgrade[i] === 0) (downgrade[i] = 1), count++;
    }
    if (targetRevision !== null && count === 0 && !heads.includes(targetRevision)) {
      throw new LambicError(
        "RANGE_NOT_ANCESTOR",
        `Downgrade target ${targetRevision.id} is not below the current version (${upper.join(", ") || "base: no version rows"}): nothing to undo reaches it, as in Alembic ("not a valid downgrade target"). Check "lambic current" and "lambic history"; to apply it, upgrade to it.`,
        { target, current: [...upper] },
      );
    }
    return { revisions: downgrade, heads };
  }

  /**
   * Alembic's `_collect_upgrade_revisions`: every revision needed to reach `upper` from the
   * versions in `lower` (by position), and the targets to order them from.
   */
  collectUpgradeRevisions(upper: string | null | readonly string[], lower: readonly string[] | string | null, options: { assertRelativeLength: boolean; inclusive?: boolean; implicitBase?: boolean }): { revisions: Uint8Array; heads: RevisionNode[] } {
    const lowerList = lower === null ? [] : typeof lower === "string" ? [lower] : [...lower];
    let targets: RevisionNode[] = this.parseUpgradeTarget(lowerList, upper, options.assertRelativeLength).map((rev) => {
      if (!isNode(rev)) {
        // Alembic asserts here (a relative target that walked off the graph).
        throw new LambicError("RELATIVE_OUT_OF_RANGE", `"${upper}" does not name a revision: the walk leaves the history. Use a smaller number or name the revision.`, { target: upper });
      }
      return rev;
    });
    if (typeof lower === "string" && lower.includes("@")) {
      let branch = lower.slice(0, lower.indexOf("@"));
      const branchRev = this.getRevision(branch);
      if (branchRev !== null && branchRev.id === branch) {
        if (branchRev.branchLabels.size !== 1) {
          throw new LambicError("INVALID_TARGET", `"${lower}": revision ${branch} carries ${branchRev.branchLabels.size} branch labels; use a branch label before "@".`, { target: lower });
        }
        branch = [...branchRev.branchLabels][0]!;
      }
      targets = targets.filter((t) => t.branchLabels.has(branch));
    }
    const needs = this.allRealHeads(targets) ? new Uint8Array(this.revisions.length).fill(1) : this.reach(targets, "normalizedDown", true);

    let currentRevisions: Resolved[] = typeof lower === "string" ? this.getRevisions(lower) : this.getRevisions(lowerList);
    if (!options.implicitBase && currentRevisions.some((rev) => isNode(rev) && needs[rev.index] === 0)) {
      throw new LambicError(
        "RANGE_NOT_ANCESTOR",
        `Requested range ${lowerList.join(",") || "base"}:${upper ?? "base"} does not refer to ancestor/descendant revisions along the same branch. Pick a start that is below the end.`,
        { lower: lowerList, upper },
      );
    }
    let lowerForInclusive: string | readonly string[] | null = lower;
    if (currentRevisions.length > 0 && currentRevisions[0] === null) {
      const { revision } = this.parseDowngradeTarget(toList(upper), typeof lower === "string" ? lower : lowerList[0] ?? null, options.assertRelativeLength);
      if (revision === BASE || revision === null) {
        currentRevisions = [];
        lowerForInclusive = null;
      } else {
        currentRevisions = [revision];
        lowerForInclusive = revision.id;
      }
    }
    const currentNodes = currentRevisions.filter(isNode);
    if (currentNodes.length > 0) {
      const current = this.reach(currentNodes, "normalizedDown", true);
      for (let i = 0; i < needs.length; i++) if (current[i] === 1) needs[i] = 0;
    }
    if (options.inclusive) {
      for (const rev of this.getRevisions(lowerForInclusive as string | null | readonly string[])) if (isNode(rev)) needs[rev.index] = 1;
    }
    if (currentNodes.length > 0 && !options.implicitBase) {
      const lowerDescendants = this.reach(currentNodes, "next", true);
      for (let i = 0; i < needs.length; i++) needs[i]! &= lowerDescendants[i]!;
    }
    return { revisions: needs, heads: targets };
  }

  /**
   * Whether `targets` are the real heads, each once: then every revision is below one of them
   * (a walk up the children ends at one) and none is below another, so the walk from them that
   * an upgrade's plan starts with can be skipped (`upgrade heads` from an empty database).
   */
  private allRealHeads(targets: readonly RevisionNode[]): boolean {
    if (targets.length !== this.realHeads.length) return false;
    const heads = new Set(this.realHeads);
    for (const target of targets) if (!heads.delete(target.id)) return false;
    return true;
  }

  /**
   * Alembic's `_topological_sort`: revisions after their parents and dependencies, walking one
   * branch at a time from `heads` in map order. The result is newest first (downgrade order);
   * upgrades run it reversed. `todo` marks the revisions to order, by position (it is consumed).
   */
  topologicalSort(todo: Uint8Array, heads: Iterable<RevisionNode>): RevisionNode[] {
    const nodes = this.revisions;
    let remaining = todo.length;
    // Counted only when some revision is left out (a plan to the heads from an empty database has them all).
    if (todo.indexOf(0) !== -1) {
      remaining = 0;
      for (let i = 0; i < todo.length; i++) remaining += todo[i]!;
    }
    const { offsets, targets } = this.edges("normalizedDown");
    // Alembic keeps each current head's ancestor set (itself included) and patches it as the walk
    // moves down a plain chain, which leaves exactly the new head's ancestor set; so the sets are
    // rows of the ancestor closure, asked for by head.
    const ancestry = (this.ancestry ??= buildAncestry(this.edges("normalizedDown"), { closureLimit: this.options.closureLimit, inFileOrder: this.inFileOrder }));
    const { isAncestor, continuesChain } = ancestry;
    const currentHeads = [...new Set([...heads].map((h) => h.index).filter((i) => todo[i]))].sort((a, b) => a - b);
    const isHead = new Uint8Array(nodes.length);
    for (const head of currentHeads) isHead[head] = 1;
    // Which other head, first in list order, has the candidate among its ancestors (-1: none).
    const blockerOf = (candidate: number, candidateIndex: number): number => {
      const index = ancestry.chains;
      if (!index) {
        for (let i = 0; i < currentHeads.length; i++) if (i !== candidateIndex && isAncestor(candidate, currentHeads[i]!)) return i;
        return -1;
      }
      // isAncestor, unrolled over the chain index: this loop runs for every step of a plan.
      const { chain, height, below, words } = index;
      const chainA = chain[candidate]!;
      const heightA = height[candidate]!;
      const word = chainA >>> 5;
      const bit = 1 << (chainA & 31);
      for (let i = 0; i < currentHeads.length; i++) {
        if (i === candidateIndex) continue;
        const head = currentHeads[i]!;
        const chainB = chain[head]!;
        if (chainB === chainA ? heightA <= height[head]! : (below[chainB * words + word]! & bit) !== 0) return i;
      }
      return -1;
    };
    const output: RevisionNode[] = [];
    let candidateIndex = 0;
    // Set when the candidate just moved one step down a plain chain from a revision that nothing
    // blocked: no other head can block its parent either (see ancestry.ts), so skip the scan.
    let clear = false;
    while (currentHeads.length > 0) {
      const candidate = currentHeads[candidateIndex]!;
      const blockedBy = clear ? -1 : blockerOf(candidate, candidateIndex);
      if (blockedBy >= 0) {
        // Another head depends on this one: walk that branch first.
        candidateIndex = blockedBy;
        continue;
      }
      if (todo[candidate]) {
        output.push(nodes[candidate]!);
        todo[candidate] = 0;
        remaining--;
      }
      const first = offsets[candidate]!;
      const end = offsets[candidate + 1]!;
      clear = false;
      isHead[candidate] = 0;
      if (end - first === 1 && todo[targets[first]!] && !isHead[targets[first]!]) {
        // The common case: one parent, still to order.
        const parent = targets[first]!;
        currentHeads[candidateIndex] = parent;
        isHead[parent] = 1;
        clear = continuesChain(parent, candidate);
        continue;
      }
      const headsToAdd: number[] = [];
      for (let e = first; e < end; e++) {
        const parent = targets[e]!;
        if (todo[parent] && !isHead[parent] && !headsToAdd.includes(parent)) headsToAdd.push(parent);
      }
      if (headsToAdd.length === 0) {
        currentHeads.splice(candidateIndex, 1);
        candidateIndex = Math.max(candidateIndex - 1, 0);
      } else {
        currentHeads[candidateIndex] = headsToAdd[0]!;
        for (let i = 1; i < headsToAdd.length; i++) currentHeads.push(headsToAdd[i]!);
        for (const head of headsToAdd) isHead[head] = 1;
      }
    }
    if (remaining > 0) {
      const unordered = nodes.filter((n) => todo[n.index]).map((n) => n.id);
      // Alembic asserts here; it happens when dependencies cross the requested range.
      throw new LambicError(
        "RANGE_NOT_ANCESTOR",
        `The requested range cannot be ordered: revisions ${unordered.join(", ")} are needed but are not reachable from its end through "revises" and "dependsOn". Widen the range (e.g. start from base).`,
        { unordered },
      );
    }
    return output;
  }

  /** Alembic's `iterate_revisions`: the revisions between two targets, newest first. */
  iterateRevisions(upper: string | null | readonly string[], lower: string | null | readonly string[], options: { implicitBase?: boolean; inclusive?: boolean; assertRelativeLength?: boolean; selectForDowngrade?: boolean } = {}): RevisionNode[] {
    const assertRelativeLength = options.assertRelativeLength ?? true;
    const collected = options.selectForDowngrade
      ? this.collectDowngradeRevisions(toList(upper as string | readonly string[] | null), lower as string | null, { assertRelativeLength, inclusive: options.inclusive, implicitBase: options.implicitBase })
      : this.collectUpgradeRevisions(upper, lower, { assertRelativeLength, inclusive: options.inclusive, implicitBase: options.implicitBase });
    return this.topologicalSort(collected.revisions, collected.heads);
  }
}

export function isNode(value: unknown): value is RevisionNode {
  return value instanceof RevisionNode;
}

/**
 * A copy of revises (as a list), dependsOn or branchLabels, for metas built by code (files are
 * checked field by field when they load): a string where a list belongs would be read letter by
 * letter, an object would fail as a TypeError deep in the graph.
 */
function stringList(value: unknown, index: number, field: "revises" | "dependsOn" | "branchLabels"): string[] {
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return [...(value as string[])];
  throw argumentError("new RevisionMap", `metas[${index}].${field}`, field === "revises" ? "null, a revision id or an array of revision ids" : "an array of strings when given", value);
}

function validateId(id: string): void {
  if (typeof id !== "string" || !REVISION_ID.test(id)) {
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Revision id ${JSON.stringify(id)} is not valid: ids may hold only letters, digits and "_" (they are also targets, where "@", "+", "-" and ":" have meanings).`,
      { revision: id },
    );
  }
  if (RESERVED_TARGETS.has(id)) {
    throw new LambicError("REVISION_FILE_INVALID", `Revision id "${id}" is reserved (it is a target symbol). Choose another id.`, { revision: id });
  }
  // Refused here rather than by the server at the run's last step: every statement before it would have run for nothing.
  const tooLong = idLengthProblem(id);
  if (tooLong) throw new LambicError("REVISION_FILE_INVALID", `Revision id "${id}" ${tooLong}`, { revision: id, length: id.length, maxLength: MAX_REVISION_ID_LENGTH });
}

/**
 * Undefined when every revision peels off from the heads down (no cycle). Else the revisions on
 * cycles: what is left after peeling from the heads down, less what then peels from the bases up.
 */
function unpeeled(parents: Edges): Uint8Array | undefined {
  const { offsets, targets } = parents;
  const n = offsets.length - 1;
  const children = new Int32Array(n);
  for (let e = 0; e < targets.length; e++) children[targets[e]!]!++;
  const ready = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) if (children[i] === 0) ready[count++] = i;
  for (let r = 0; r < count; r++) {
    const node = ready[r]!;
    for (let e = offsets[node]!; e < offsets[node + 1]!; e++) if (--children[targets[e]!]! === 0) ready[count++] = targets[e]!;
  }
  if (count === n) return undefined;
  const left = new Uint8Array(n).fill(1);
  for (let r = 0; r < count; r++) left[ready[r]!] = 0;
  // Only on the way to an error: repeat until no revision below a cycle is left.
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < n; i++) {
      if (!left[i]) continue;
      let parentLeft = false;
      for (let e = offsets[i]!; e < offsets[i + 1]! && !parentLeft; e++) parentLeft = left[targets[e]!] === 1;
      if (!parentLeft) (left[i] = 0), (changed = true);
    }
  }
  return left;
}
