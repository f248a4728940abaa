import { isLambicError, LambicError } from "../errors.ts";
import { isNode, RevisionMap, type RevisionNode } from "./revision-map.ts";
import type { RevisionMeta } from "./types.ts";

/**
 * What `lambic revision` and `lambic merge` decide from the graph before writing a file, as
 * Alembic's `ScriptDirectory.generate_revision` does: the parents, the dependencies as they are
 * written, and a last check that the graph with the new revision loads. Pure: the command line
 * writes the file.
 */

/**
 * The parents of a new revision on `head` (default "head"; "base" makes a new base). Each must be
 * a head unless `splice`: a revision on a non-head starts a branch, which is rarely meant.
 */
/** Why a target names no revision in a project without any: what to do first. */
export const NO_REVISIONS_YET = "there are no revisions yet; lambic revision -m MESSAGE writes the first.";

export function parentsOfNewRevision(map: RevisionMap, head: string | undefined, splice: boolean): string[] {
  const target = head ?? "head";
  let parents: RevisionNode[];
  try {
    parents = map.getRevisions(target).filter(isNode);
  } catch (error) {
    // As Alembic's generate_revision, the advice for several heads is about this command: which
    // --head to give, or the merge that makes one.
    if (!isLambicError(error, "MULTIPLE_HEADS")) throw error;
    const heads = (error.details.heads as string[] | undefined) ?? [];
    // "heads" leaves out a head that only dependencies point at (an effective head): name them all then.
    const all = target !== "head" ? target.replace(/@head$/, "@heads") : heads.every((id) => map.realHeads.includes(id)) ? "heads" : heads.join(" ");
    const what = target === "head" ? `There are ${heads.length} heads` : `--head ${target} matches ${heads.length} heads`;
    throw new LambicError(
      "MULTIPLE_HEADS",
      `${what} (${heads.join(", ")}): say which one the new revision revises with --head <id${target === "head" ? " or label@head" : ""}>, or merge them first (lambic merge -m "merge" ${all}).`,
      { argument: target, heads },
      { cause: error },
    );
  }
  for (const parent of parents) {
    if (!parent.isHead && !splice) {
      throw new LambicError("USAGE", `Revision ${parent.id} is not a head; a new revision on it starts a branch. Pass --splice to do that on purpose${branchHeadHint(parent, target)}.`, { head: parent.id });
    }
  }
  return parents.map((p) => p.id);
}

/**
 * The parents of a merge of `targets` (ids, prefixes, labels, `label@head`, `heads`), each once:
 * `merge heads a1` names a1 twice when it is a head, and a file listing a parent twice does not
 * load. Each must be a head, as in Alembic (its merge has no --splice): a merge of a non-head
 * would start a branch rather than join two, and a merge of a revision with its own ancestor
 * joins nothing.
 */
export function parentsOfMerge(map: RevisionMap, targets: readonly string[]): string[] {
  const parents: string[] = [];
  for (const target of targets) {
    const named = map.getRevisions(target).filter(isNode);
    if (named.length === 0) {
      const why = map.revisions.length === 0 ? `: ${NO_REVISIONS_YET}` : ` (base comes before the first one). Name the heads to merge (lambic heads lists them), or "heads" for all of them.`;
      throw new LambicError("USAGE", `lambic merge: "${target}" names no revision${why}`, { argument: target });
    }
    for (const node of named) {
      if (!node.isHead) {
        throw new LambicError(
          "USAGE",
          `lambic merge: revision ${node.id}${node.id === target ? "" : ` ("${target}")`} is not a head (${node.nextrev.join(", ")} ${node.nextrev.length === 1 ? "revises" : "revise"} it), and a merge joins heads. Merge heads (lambic heads lists them; "heads" names them all${branchHeadHint(node, target)}), or start a branch on ${node.id} with lambic revision --head ${node.id} --splice.`,
          { argument: target, revision: node.id, children: [...node.nextrev] },
        );
      }
      if (!parents.includes(node.id)) parents.push(node.id);
    }
  }
  if (parents.length < 2) {
    // "heads" is the real heads, as in Alembic; lambic heads also lists those only dependencies
    // point at, which a user asking to merge "heads" may well mean.
    const effective = map.heads.filter((id) => !map.realHeads.includes(id) && !parents.includes(id));
    const leftOut =
      effective.length > 0 && targets.includes("heads")
        ? ` "heads" leaves out ${effective.join(", ")}, ${effective.length === 1 ? "a head" : "heads"} only through dependencies (lambic heads marks ${effective.length === 1 ? "it" : "them"} "effective head"): lambic merge -m MESSAGE ${[...parents, ...effective].join(" ")} merges ${effective.length === 1 ? "it" : "them"} too.`
        : "";
    throw new LambicError(
      "USAGE",
      `lambic merge needs at least two heads to merge; ${targets.join(" ")} names one (${parents.join(", ")}).${leftOut} A revision on one head is lambic revision --head ${parents[0]}.`,
      leftOut === "" ? { revises: parents } : { revises: parents, effectiveHeads: effective },
    );
  }
  return parents;
}

/** A bare branch label names the revision that carries it, as in Alembic: say how to name the branch's head. */
function branchHeadHint(node: RevisionNode, target: string): string {
  return node.originalBranchLabels.includes(target) ? `; "${target}@head" names the head of branch ${target}` : "";
}

/**
 * `--depends-on` values as the file keeps them (Alembic's `resolved_depends_on`): a branch label
 * stays a label, so the dependency follows the branch; an id prefix or `label@head` becomes the
 * full id it names.
 */
export function dependenciesOfNewRevision(map: RevisionMap, dependsOn: readonly string[]): string[] {
  return dependsOn.map((dependency) => {
    const node = map.getRevision(dependency); // refuses a name that is neither an id, a prefix nor a label
    if (node === null) {
      throw new LambicError("USAGE", `--depends-on ${dependency} names no revision (base comes before the first one). Name a revision id or a branch label. Nothing was written.`, {
        option: "depends-on",
        value: dependency,
      });
    }
    return node.originalBranchLabels.includes(dependency) ? dependency : node.id;
  });
}

/**
 * Builds the graph with the new revision, refusing what loading its file would refuse (a file
 * that does not load stops every command). A clash of the new revision's id or branch labels is
 * reported as the option that caused it, since no file exists yet to rename anything in.
 */
export function checkNewRevision(map: RevisionMap, meta: RevisionMeta, options: { revIdGiven: boolean }): void {
  try {
    new RevisionMap([...map.revisions.map((n) => n.meta), meta]);
  } catch (error) {
    throw (error instanceof LambicError && optionClash(error, meta, options)) || error;
  }
}

function optionClash(error: LambicError, meta: RevisionMeta, options: { revIdGiven: boolean }): LambicError | undefined {
  const { label, revision, usedBy } = error.details as { label?: string; revision?: string; usedBy?: string };
  const nothingWritten = "Nothing was written.";
  if (error.code === "REVISION_FILE_INVALID" && options.revIdGiven && revision === meta.id) {
    return new LambicError("USAGE", `--rev-id: ${error.message.replace(/ Choose another id\.$/, "")} Choose another --rev-id, or leave it out for a generated one.`, { option: "rev-id", value: meta.id }, { cause: error });
  }
  if (error.code !== "DUPLICATE_BRANCH_LABEL" || label === undefined) return undefined;
  if (revision === meta.id && usedBy === meta.id) {
    return new LambicError("USAGE", `--branch-label ${label} is the new revision's own id (--rev-id ${meta.id}): choose another label or id. ${nothingWritten}`, { option: "branch-label", value: label }, { cause: error });
  }
  if (revision === meta.id) {
    const what = usedBy === label ? `is the id of revision ${usedBy}` : `is already the branch label of revision ${usedBy}`;
    return new LambicError("USAGE", `--branch-label ${label} ${what}; a branch label names one branch and differs from every id: choose another label. ${nothingWritten}`, { option: "branch-label", value: label, usedBy }, { cause: error });
  }
  if (usedBy === meta.id) {
    return new LambicError("USAGE", `--rev-id ${meta.id} is the branch label of revision ${revision}, and an id must differ from every label: choose another --rev-id, or leave it out for a generated one. ${nothingWritten}`, { option: "rev-id", value: meta.id, labelOf: revision }, { cause: error });
  }
  return undefined;
}
