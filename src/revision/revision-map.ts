import { LambicError } from "../errors.ts";
import type { RevisionMeta } from "./types.ts";

/**
 * The revision graph, ported from Alembic's `RevisionMap` (alembic/script/revision.py, 1.8.1 –
 * unchanged in substance up to 1.19) so that heads, targets and plans match Alembic case by case.
 * Where Alembic iterates a Python set of strings (hash order), we use declaration order, which is
 * one of the orders Alembic can produce (see test/conformance/README.md).
 *
 * Pure: receives plain revision records, never touches a file.
 */

/** Alembic's symbol for "no revision": the target `base`, or a walk that went below the roots. */
export const BASE = "base" as const;
type Base = typeof BASE;

const NONE: readonly never[] = Object.freeze([]);

/** Largest graph whose ancestor closure is kept as a bitset (n² bits). */
const CLOSURE_LIMIT = 20_000;

export class RevisionNode {
  readonly id: string;
  readonly meta: RevisionMeta;
  /** `down_revision` as a tuple: the revisions this one revises (no dependencies). */
  readonly versionedDown: readonly string[];
  /** `dependencies` as declared: ids or branch labels. */
  readonly declaredDependencies: readonly string[];
  readonly originalBranchLabels: readonly string[];
  /** Filled in by RevisionMap once labels have spread (see addBranches). */
  labelTable: LabelTable | undefined;
  private labelSet: ReadonlySet<string> | undefined;
  resolvedDependencies: readonly string[] = [];
  normalizedDependencies: readonly string[] = [];
  /** `revises` plus resolved dependencies (Alembic's `_all_down_revisions`). */
  allDown: readonly string[] = [];
  /** `revises` plus the dependencies not implied by an ancestor (`_normalized_down_revisions`). */
  normalizedDown: readonly string[] = [];
  /** Children through `revises` only. */
  nextrev: readonly string[] = NONE;
  /** Children through `revises` or dependencies. */
  allNextrev: readonly string[] = NONE;
  /** Position in file order (Alembic's map order); traversals work over these. */
  index = 0;

  constructor(meta: RevisionMeta) {
    this.id = meta.id;
    this.meta = meta;
    this.versionedDown = meta.revises === null || meta.revises === undefined ? NONE : typeof meta.revises === "string" ? [meta.revises] : [...meta.revises];
    this.declaredDependencies = meta.dependsOn?.length ? [...meta.dependsOn] : NONE;
    this.originalBranchLabels = meta.branchLabels?.length ? [...meta.branchLabels] : NONE;
  }

  /** Labels of this revision plus the ones propagated along its branch (built on first use). */
  get branchLabels(): ReadonlySet<string> {
    this.labelSet ??= this.labelTable ? this.labelTable.labelsOf(this.index) : new Set(this.originalBranchLabels);
    return this.labelSet;
  }

  /** The revision ids along a link. */
  linked(link: Link): readonly string[] {
    switch (link) {
      case "down":
        return this.versionedDown;
      case "allDown":
        return this.allDown;
      case "normalizedDown":
        return this.normalizedDown;
      case "next":
        return this.nextrev;
      case "allNext":
        return this.allNextrev;
    }
  }

  get isHead(): boolean {
    return this.nextrev.length === 0;
  }
  get isRealHead(): boolean {
    return this.allNextrev.length === 0;
  }
  get isBase(): boolean {
    return this.versionedDown.length === 0;
  }
  get isRealBase(): boolean {
    return this.versionedDown.length === 0 && this.declaredDependencies.length === 0;
  }
  get isBranchPoint(): boolean {
    return this.nextrev.length > 1;
  }
  get isRealBranchPoint(): boolean {
    return this.allNextrev.length > 1;
  }
  get isMergePoint(): boolean {
    return this.versionedDown.length > 1;
  }

  addNextrev(child: RevisionNode): void {
    if (!this.allNextrev.includes(child.id)) this.allNextrev = [...this.allNextrev, child.id];
    if (child.versionedDown.includes(this.id) && !this.nextrev.includes(child.id)) this.nextrev = [...this.nextrev, child.id];
  }
}

export type Resolved = RevisionNode | Base | null;

/** Every revision's branch labels as bitsets over the label names (see RevisionMap.addBranches). */
class LabelTable {
  constructor(
    readonly names: readonly string[],
    readonly words: number,
    readonly sets: Uint32Array,
  ) {}

  labelsOf(index: number): Set<string> {
    const labels = new Set<string>();
    for (let w = 0; w < this.words; w++) {
      let word = this.sets[index * this.words + w]!;
      while (word !== 0) {
        labels.add(this.names[w * 32 + (31 - Math.clz32(word & -word))]!);
        word &= word - 1;
      }
    }
    return labels;
  }
}

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

  /** `closureLimit`: the largest graph whose ancestor closure is kept as a bitset (default 20,000). */
  constructor(
    metas: readonly RevisionMeta[],
    private readonly options: { closureLimit?: number } = {},
  ) {
    const nodes: RevisionNode[] = [];
    for (const meta of metas) {
      validateId(meta.id);
      if (meta.revises === meta.id || (Array.isArray(meta.revises) && meta.revises.includes(meta.id))) {
        throw new LambicError("SELF_LOOP", `Revision ${meta.id} revises itself. Set "revises" to its real parent (or null for a base).`, { revision: meta.id });
      }
      if ((meta.dependsOn ?? []).includes(meta.id)) {
        throw new LambicError("SELF_LOOP", `Revision ${meta.id} depends on itself. Remove "${meta.id}" from its dependsOn.`, { revision: meta.id });
      }
      const existing = this.keys.get(meta.id);
      if (existing) {
        throw new LambicError(
          "DUPLICATE_REVISION",
          `Revision id ${meta.id} is used by two revisions ("${existing.meta.message ?? ""}" and "${meta.message ?? ""}"). Give one of them a new id (lambic revision generates unique ids).`,
          { revision: meta.id },
        );
      }
      const node = new RevisionNode(meta);
      nodes.push(node);
      this.keys.set(node.id, node);
    }
    this.revisions = nodes;

    this.mapBranchLabels(nodes);
    this.addDependsOn(nodes);

    const notHead = new Uint8Array(nodes.length);
    const notRealHead = new Uint8Array(nodes.length);
    nodes.forEach((node, index) => {
      node.index = index;
      node.allDown = node.resolvedDependencies.length === 0 ? node.versionedDown : dedupe([...node.versionedDown, ...node.resolvedDependencies]);
    });
    for (const node of nodes) {
      for (const downId of node.allDown) {
        const down = this.keys.get(downId);
        if (!down) {
          const isDependency = !node.versionedDown.includes(downId);
          throw new LambicError(
            "UNKNOWN_PARENT",
            `Revision ${node.id} ${isDependency ? "depends on" : "revises"} ${downId}, which is not a known revision${isDependency ? " or branch label" : ""}. Check for a missing or renamed revision file, or fix "${isDependency ? "dependsOn" : "revises"}" in ${node.id}.`,
            { revision: node.id, missing: downId },
          );
        }
        down.addNextrev(node);
        if (node.versionedDown.includes(downId)) notHead[down.index] = 1;
        notRealHead[down.index] = 1;
      }
    }
    const heads = nodes.filter((n) => notHead[n.index] === 0);
    const realHeads = nodes.filter((n) => notRealHead[n.index] === 0);
    const bases = nodes.filter((n) => n.isBase);
    const realBases = nodes.filter((n) => n.isRealBase);
    // Before normalizing (unlike Alembic): normalizing walks ancestors, which needs no cycles.
    this.detectCycles(nodes, heads, bases, realHeads, realBases);
    this.normalizeDependsOn(nodes);
    for (const node of nodes) {
      node.normalizedDown = node.normalizedDependencies.length === 0 ? node.versionedDown : dedupe([...node.versionedDown, ...node.normalizedDependencies]);
    }

    this.heads = heads.map((n) => n.id);
    this.realHeads = realHeads.map((n) => n.id);
    this.bases = bases.map((n) => n.id);
    this.realBases = realBases.map((n) => n.id);
    this.addBranches(nodes);
  }

  /** The revision with exactly this id (no prefixes, no labels). */
  node(id: string): RevisionNode {
    const node = this.keys.get(id);
    if (!node || node.id !== id) throw new LambicError("REVISION_NOT_FOUND", `No revision ${id}.`, { revision: id });
    return node;
  }

  has(id: string): boolean {
    const node = this.keys.get(id);
    return node !== undefined && node.id === id;
  }

  // ---- construction -------------------------------------------------------------------------

  private mapBranchLabels(nodes: readonly RevisionNode[]): void {
    for (const node of nodes) {
      for (const label of node.originalBranchLabels) {
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

  private addDependsOn(nodes: readonly RevisionNode[]): void {
    for (const node of nodes) {
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
    }
  }

  /**
   * Drops dependencies already declared by an ancestor (through `revises`), keeping declaration
   * order. Each revision's set of ancestor-declared dependencies is built once from its parents'
   * and shared along plain chains, instead of walking all ancestors per revision.
   */
  private normalizeDependsOn(nodes: readonly RevisionNode[]): void {
    const EMPTY: ReadonlySet<string> = new Set();
    const declaredAtOrBelow: (ReadonlySet<string> | undefined)[] = new Array(nodes.length);
    const parentOf = (id: string) => this.keys.get(id)!;
    const ready = (node: RevisionNode) => node.versionedDown.every((id) => declaredAtOrBelow[parentOf(id).index] !== undefined);
    const settle = (node: RevisionNode) => {
      const parents = node.versionedDown;
      let implied: ReadonlySet<string> = EMPTY;
      if (parents.length === 1) implied = declaredAtOrBelow[parentOf(parents[0]!).index]!;
      else if (parents.length > 1) {
        const union = new Set<string>();
        for (const id of parents) for (const dep of declaredAtOrBelow[parentOf(id).index]!) union.add(dep);
        implied = union;
      }
      if (node.resolvedDependencies.length === 0) {
        declaredAtOrBelow[node.index] = implied;
        return;
      }
      node.normalizedDependencies = dedupe(node.resolvedDependencies.filter((dep) => !implied.has(dep)));
      const own = new Set(implied);
      for (const dep of node.resolvedDependencies) own.add(dep);
      declaredAtOrBelow[node.index] = own;
    };
    // Parents before children. Files are usually in that order already; otherwise an
    // explicit-stack post-order over `revises` (acyclic by now) settles the parents first.
    for (const root of nodes) {
      if (declaredAtOrBelow[root.index] !== undefined) continue;
      if (ready(root)) {
        settle(root);
        continue;
      }
      const stack: RevisionNode[] = [root];
      while (stack.length > 0) {
        const node = stack[stack.length - 1]!;
        const pending = node.versionedDown.map(parentOf).filter((p) => declaredAtOrBelow[p.index] === undefined);
        if (pending.length > 0) {
          stack.push(...pending);
          continue;
        }
        stack.pop();
        if (declaredAtOrBelow[node.index] === undefined) settle(node);
      }
    }
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
    // A revision on a cycle is not both below a head and above a base.
    const outsideOf = (fromHeads: readonly RevisionNode[], down: Link, fromBases: readonly RevisionNode[], up: Link) => {
      const reached = new Uint8Array(nodes.length);
      for (const n of this.collect(fromHeads, down)) reached[n.index]! |= 1;
      for (const n of this.collect(fromBases, up)) reached[n.index]! |= 2;
      return nodes.filter((n) => reached[n.index] !== 3).map((n) => n.id);
    };
    let outside = outsideOf(heads, "down", bases, "next");
    if (outside.length > 0) throw cycleError("CYCLE_DETECTED", outside.sort());

    if (realHeads.length === 0 || realBases.length === 0) throw cycleError("DEPENDENCY_CYCLE_DETECTED", nodes.map((n) => n.id));
    outside = outsideOf(realHeads, "allDown", realBases, "allNext");
    if (outside.length > 0) throw cycleError("DEPENDENCY_CYCLE_DETECTED", outside.sort());
  }

  /**
   * Labels spread to every descendant, and down to the nearest branch or merge point (Alembic's
   * `_add_branches`). Label sets are bitsets while spreading: a late revision on a long line can
   * carry dozens of labels, and it is reached once per labelled ancestor.
   */
  private addBranches(nodes: readonly RevisionNode[]): void {
    const names: string[] = [];
    const bit = new Map<string, number>();
    for (const node of nodes) for (const label of node.originalBranchLabels) if (!bit.has(label)) bit.set(label, names.push(label) - 1);
    if (names.length === 0) return;
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
    const table = new LabelTable(names, words, sets);
    for (const node of nodes) node.labelTable = table;
  }

  // ---- traversal ----------------------------------------------------------------------------

  /**
   * Depth-first walk over `next(rev)` from each target, each revision once (Alembic's
   * `_iterate_related_revisions`). With `check`, a target reachable from another target is an
   * error ("overlaps").
   */
  *iterateRelated(next: (rev: RevisionNode) => readonly string[], targets: Iterable<RevisionNode>, check = false): Generator<RevisionNode> {
    const seen = new Set<RevisionNode>();
    const targetList = [...targets];
    for (const target of targetList) {
      const todo: RevisionNode[] = [target];
      const perTarget = check ? new Set<RevisionNode>() : undefined;
      while (todo.length > 0) {
        const rev = todo.pop()!;
        perTarget?.add(rev);
        if (seen.has(rev)) continue;
        seen.add(rev);
        for (const id of next(rev)) todo.push(this.keys.get(id)!);
        yield rev;
      }
      if (perTarget) {
        const overlaps = targetList.filter((t) => t !== target && perTarget.has(t));
        if (overlaps.length > 0) {
          throw new LambicError(
            "OVERLAPPING_VERSIONS",
            `Requested revision ${target.id} overlaps with other requested revisions ${overlaps.map((o) => o.id).join(", ")}: one is an ancestor of the other. Name only the newer one.`,
            { revision: target.id, overlaps: overlaps.map((o) => o.id) },
          );
        }
      }
    }
  }

  private epoch = 0;
  private marks = new Uint32Array(0);
  private stack = new Int32Array(0);
  private readonly adjacency = new Map<Link, { offsets: Int32Array; targets: Int32Array }>();

  /** A link's edges in compressed rows over file positions: traversals touch only typed arrays. */
  private edges(link: Link): { offsets: Int32Array; targets: Int32Array } {
    let found = this.adjacency.get(link);
    if (!found) {
      const offsets = new Int32Array(this.revisions.length + 1);
      this.revisions.forEach((node, i) => (offsets[i + 1] = offsets[i]! + node.linked(link).length));
      const targets = new Int32Array(offsets[this.revisions.length]!);
      this.revisions.forEach((node, i) => node.linked(link).forEach((id, j) => (targets[offsets[i]! + j] = this.keys.get(id)!.index)));
      found = { offsets, targets };
      this.adjacency.set(link, found);
    }
    return found;
  }

  /**
   * The revisions reachable from `targets` along `link`, each once, in the order Alembic's
   * depth-first `_iterate_related_revisions` yields them — over typed arrays, with a stamp per
   * traversal instead of a set. Not re-entrant.
   */
  collect(targets: Iterable<RevisionNode>, link: Link): RevisionNode[] {
    const { offsets, targets: edgeTargets } = this.edges(link);
    const revisions = this.revisions;
    if (this.marks.length < revisions.length) this.marks = new Uint32Array(revisions.length);
    const starts = [...targets];
    if (this.stack.length < edgeTargets.length + starts.length) this.stack = new Int32Array(edgeTargets.length + starts.length);
    const { marks, stack } = this;
    const stamp = ++this.epoch;
    const out: RevisionNode[] = [];
    let top = 0;
    for (const target of starts) {
      stack[top++] = target.index;
      while (top > 0) {
        const index = stack[--top]!;
        if (marks[index] === stamp) continue;
        marks[index] = stamp;
        for (let e = offsets[index]!, end = offsets[index + 1]!; e < end; e++) stack[top++] = edgeTargets[e]!;
        out.push(revisions[index]!);
      }
    }
    return out;
  }

  descendants(targets: Iterable<RevisionNode>, options: { includeDependencies?: boolean; check?: boolean } = {}): Iterable<RevisionNode> {
    const includeDependencies = options.includeDependencies ?? true;
    if (options.check) return this.iterateRelated(includeDependencies ? (r) => r.allNextrev : (r) => r.nextrev, targets, true);
    return this.collect(targets, includeDependencies ? "allNext" : "next");
  }

  ancestors(targets: Iterable<RevisionNode>, options: { includeDependencies?: boolean; check?: boolean } = {}): Iterable<RevisionNode> {
    const includeDependencies = options.includeDependencies ?? true;
    if (options.check) return this.iterateRelated(includeDependencies ? (r) => r.normalizedDown : (r) => r.versionedDown, targets, true);
    return this.collect(targets, includeDependencies ? "normalizedDown" : "down");
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
      let matches = [...this.keys.keys()].filter((key) => key.length > 3 && key.startsWith(resolvedId));
      if (branchRev) matches = [...this.filterForLineage(matches, checkBranch!)];
      if (matches.length === 0) {
        const hint = resolvedId.length < 4 ? " A partial id needs at least four characters." : " Check the id (lambic history lists them).";
        throw new LambicError("REVISION_NOT_FOUND", `No revision or branch label "${resolvedId}".${hint}`, { argument: resolvedId });
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
          throw new LambicError("INVALID_TARGET", `A downgrade cannot go to "${target}" (${relative.relativeText} walks up). Use "-N" to go down N revisions, or name a revision.`, { target });
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
      throw new LambicError("INVALID_TARGET", `An upgrade cannot go to "${target}" (${relative.relativeText} walks down). Use "+N", or downgrade.`, { target });
    }
    const start = branchLabel === undefined ? this.getRevision(symbol) : this.getRevision(`${branchLabel}@${symbol}`);
    return [this.walk(start, steps, undefined, assertRelativeLength)];
  }

  /**
   * Alembic's `_collect_downgrade_revisions`: every applied revision that must be undone to reach
   * `target`, and the current heads to order them from.
   */
  collectDowngradeRevisions(upper: readonly string[], target: string | null, options: { assertRelativeLength: boolean; inclusive?: boolean; implicitBase?: boolean }): { revisions: Set<RevisionNode>; heads: RevisionNode[] } {
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
      const ancestorIds = new Set([...this.ancestors(branchRev ? [branchRev] : [], { includeDependencies: false })].map((r) => r.id));
      roots = roots.filter((r) => ancestorIds.has(r.id));
      if (roots.length === 0) {
        throw new LambicError("INVALID_TARGET", `"${target}" is not a valid downgrade target from the current heads: nothing on branch "${branchLabel}" lies above it.`, { target });
      }
    }
    const heads = this.getRevisions(upper).filter(isNode);
    const downgrade = new Set(this.descendants(roots, { includeDependencies: true }));
    const active = new Set(this.ancestors(heads, { includeDependencies: true }));
    for (const rev of [...downgrade]) if (!active.has(rev)) downgrade.delete(rev);
    if (options.implicitBase) {
      const rootAncestors = new Set(this.ancestors(roots));
      for (const rev of active) if (!rootAncestors.has(rev)) downgrade.add(rev);
    }
    if (targetRevision !== null && downgrade.size === 0 && !heads.includes(targetRevision)) {
      throw new LambicError(
        "RANGE_NOT_ANCESTOR",
        `Downgrade target ${targetRevision.id} is not below the current version (${upper.join(", ") || "none"}): nothing to undo reaches it. Check "lambic current" and "lambic history".`,
        { target, current: [...upper] },
      );
    }
    return { revisions: downgrade, heads };
  }

  /**
   * Alembic's `_collect_upgrade_revisions`: every revision needed to reach `upper` from the
   * versions in `lower`, and the targets to order them from.
   */
  collectUpgradeRevisions(upper: string | null | readonly string[], lower: readonly string[] | string | null, options: { assertRelativeLength: boolean; inclusive?: boolean; implicitBase?: boolean }): { revisions: Set<RevisionNode>; heads: RevisionNode[] } {
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
    const required = new Set(this.ancestors(targets, { check: true, includeDependencies: true }));
    for (const t of targets) required.add(t);

    let currentRevisions: Resolved[] = typeof lower === "string" ? this.getRevisions(lower) : this.getRevisions(lowerList);
    if (!options.implicitBase && currentRevisions.some((rev) => isNode(rev) && !required.has(rev))) {
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
    const currentSet = new Set(this.ancestors(currentNodes, { check: true, includeDependencies: true }));
    for (const c of currentNodes) currentSet.add(c);
    const needs = new Set([...required].filter((r) => !currentSet.has(r)));
    if (options.inclusive) {
      for (const rev of this.getRevisions(lowerForInclusive as string | null | readonly string[])) if (isNode(rev)) needs.add(rev);
    }
    if (currentNodes.length > 0 && !options.implicitBase) {
      const lowerDescendants = new Set(this.descendants(currentNodes, { check: true, includeDependencies: false }));
      for (const rev of [...needs]) if (!lowerDescendants.has(rev)) needs.delete(rev);
    }
    return { revisions: needs, heads: targets };
  }

  /**
   * Alembic's `_topological_sort`: revisions after their parents and dependencies, walking one
   * branch at a time from `heads` in map order. The result is newest first (downgrade order);
   * upgrades run it reversed.
   */
  topologicalSort(revisions: Iterable<RevisionNode>, heads: Iterable<RevisionNode>): string[] {
    // Over file positions (revision ids come first in Alembic's map, in file order).
    const nodes = this.revisions;
    const todo = new Uint8Array(nodes.length);
    let remaining = 0;
    for (const rev of revisions) if (!todo[rev.index]) (todo[rev.index] = 1), remaining++;
    const { offsets, targets } = this.edges("normalizedDown");
    // Alembic keeps each current head's ancestor set (itself included) and patches it as the walk
    // moves down a plain chain, which leaves exactly the new head's ancestor set; so the sets are
    // rows of the ancestor closure, asked for by head.
    const isAncestor = this.ancestorTest();
    const currentHeads = [...new Set([...heads].map((h) => h.index).filter((i) => todo[i]))].sort((a, b) => a - b);
    const output: string[] = [];
    let candidateIndex = 0;
    while (currentHeads.length > 0) {
      const candidate = currentHeads[candidateIndex]!;
      let blockedBy = -1;
      for (let i = 0; i < currentHeads.length; i++) {
        if (i !== candidateIndex && isAncestor(candidate, currentHeads[i]!)) {
          blockedBy = i;
          break;
        }
      }
      if (blockedBy >= 0) {
        // Another head depends on this one: walk that branch first.
        candidateIndex = blockedBy;
        continue;
      }
      if (todo[candidate]) {
        output.push(nodes[candidate]!.id);
        todo[candidate] = 0;
        remaining--;
      }
      const headsToAdd: number[] = [];
      for (let e = offsets[candidate]!; e < offsets[candidate + 1]!; e++) {
        const parent = targets[e]!;
        if (todo[parent] && !currentHeads.includes(parent)) headsToAdd.push(parent);
      }
      if (headsToAdd.length === 0) {
        currentHeads.splice(candidateIndex, 1);
        candidateIndex = Math.max(candidateIndex - 1, 0);
      } else {
        currentHeads[candidateIndex] = headsToAdd[0]!;
        for (let i = 1; i < headsToAdd.length; i++) currentHeads.push(headsToAdd[i]!);
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

  private closure: { words: number; bits: Uint32Array } | undefined;

  /**
   * `isAncestor(a, b)` (file positions): is `a` among `b`'s ancestors through `revises` and dependencies (`b`
   * itself included)? Up to CLOSURE_LIMIT revisions it reads a bitset closure built once (n²/8
   * bytes: 12.5 MB at 10,000); above, it walks each asked-about revision's ancestors once.
   */
  private ancestorTest(): (a: number, b: number) => boolean {
    const n = this.revisions.length;
    if (n > (this.options.closureLimit ?? CLOSURE_LIMIT)) {
      const rows = new Map<number, Uint8Array>();
      return (a, b) => {
        let row = rows.get(b);
        if (!row) {
          row = new Uint8Array(n);
          for (const rev of this.collect([this.revisions[b]!], "normalizedDown")) row[rev.index] = 1;
          rows.set(b, row);
        }
        return row[a] === 1;
      };
    }
    if (!this.closure) {
      const words = Math.ceil(n / 32);
      const bits = new Uint32Array(n * words);
      const { offsets, targets } = this.edges("normalizedDown");
      const done = new Uint8Array(n);
      // Parents before children: an iterative post-order over the (acyclic) parent links.
      const stack: number[] = [];
      for (let root = 0; root < n; root++) {
        if (done[root]) continue;
        stack.push(root);
        while (stack.length > 0) {
          const node = stack[stack.length - 1]!;
          let pending = false;
          for (let e = offsets[node]!; e < offsets[node + 1]!; e++) {
            if (!done[targets[e]!]) {
              stack.push(targets[e]!);
              pending = true;
            }
          }
          if (pending) continue;
          stack.pop();
          if (done[node]) continue;
          const row = node * words;
          bits[row + (node >>> 5)]! |= 1 << (node & 31);
          for (let e = offsets[node]!; e < offsets[node + 1]!; e++) {
            const parentRow = targets[e]! * words;
            for (let w = 0; w < words; w++) bits[row + w]! |= bits[parentRow + w]!;
          }
          done[node] = 1;
        }
      }
      this.closure = { words, bits };
    }
    const { words, bits } = this.closure;
    return (a, b) => (bits[b * words + (a >>> 5)]! & (1 << (a & 31))) !== 0;
  }

  /** Alembic's `iterate_revisions`: the revisions between two targets, newest first. */
  iterateRevisions(upper: string | null | readonly string[], lower: string | null | readonly string[], options: { implicitBase?: boolean; inclusive?: boolean; assertRelativeLength?: boolean; selectForDowngrade?: boolean } = {}): RevisionNode[] {
    const assertRelativeLength = options.assertRelativeLength ?? true;
    const collected = options.selectForDowngrade
      ? this.collectDowngradeRevisions(toList(upper as string | readonly string[] | null), lower as string | null, { assertRelativeLength, inclusive: options.inclusive, implicitBase: options.implicitBase })
      : this.collectUpgradeRevisions(upper, lower, { assertRelativeLength, inclusive: options.inclusive, implicitBase: options.implicitBase });
    return this.topologicalSort(collected.revisions, collected.heads).map((id) => this.keys.get(id)!);
  }
}

export function isNode(value: unknown): value is RevisionNode {
  return value instanceof RevisionNode;
}

function validateId(id: string): void {
  if (typeof id !== "string" || !REVISION_ID.test(id)) {
    throw new LambicError(
      "REVISION_FILE_INVALID",
      `Revision id ${JSON.stringify(id)} is not valid: ids may hold only letters, digits and "_" (they are also targets, where "@", "+", "-" and ":" have meanings).`,
      { revision: id },
    );
  }
  if (id === "head" || id === "heads" || id === "base") {
    throw new LambicError("REVISION_FILE_INVALID", `Revision id "${id}" is reserved (it is a target symbol). Choose another id.`, { revision: id });
  }
}
