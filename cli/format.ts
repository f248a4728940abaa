import type { RevisionNode } from "../src/revision/revision-map.ts";

/** Human output in Alembic's shapes, so its users read it at a glance. */

function parents(node: RevisionNode): string {
  return node.versionedDown.length === 0 ? "<base>" : node.versionedDown.join(", ");
}

function labels(node: RevisionNode): string {
  return node.branchLabels.size > 0 ? ` (${[...node.branchLabels].join(", ")})` : "";
}

/**
 * The message as one-line listings print it: its first paragraph, as Alembic's `Script.doc` is the
 * docstring's text up to the first blank line (the whole message is in --verbose and --json).
 */
function doc(node: RevisionNode): string {
  // Python reads the docstring with its line ends as "\n"; a message may hold "\r\n".
  return (node.meta.message ?? "").replace(/\r\n?/g, "\n").trim().split("\n\n")[0]!;
}

function indicators(node: RevisionNode, options: { tree: boolean; current?: boolean }): string {
  let text = node.isRealHead ? " (head)" : node.isHead ? " (effective head)" : "";
  if (options.current) text += " (current)";
  if (options.tree) text += `${node.isBranchPoint ? " (branchpoint)" : ""}${node.isMergePoint ? " (mergepoint)" : ""}`;
  return text;
}

/** `e100eee1 (left) (head)` — heads and current. */
export function headLine(node: RevisionNode): string {
  return `${node.id}${labels(node)}${indicators(node, { tree: false })}`;
}

/** `e100eee1 (head) (mergepoint)` — current, as Alembic prints it: tree indicators, no labels. */
export function currentLine(node: RevisionNode): string {
  return `${node.id}${indicators(node, { tree: true })}`;
}

/** `d100ddd1 -> e100eee1 (left) (head), message` — history. */
export function historyLine(node: RevisionNode, current = false): string {
  const deps = node.declaredDependencies.length > 0 ? ` (${node.declaredDependencies.join(", ")})` : "";
  return `${parents(node)}${deps} -> ${node.id}${labels(node)}${indicators(node, { tree: true, current })}, ${doc(node)}`;
}

/**
 * Alembic's `log_entry`: `history --verbose` and `show`. `note` ends the `Rev:` line, so a remark
 * on the revision (`(implied by dependencies)` in `current --verbose`) stays with its id.
 */
export function revisionEntry(node: RevisionNode, file: string | undefined, current = false, note = ""): string {
  const lines = [
    `Rev: ${node.id}${node.isHead ? " (head)" : ""}${node.isBranchPoint ? " (branchpoint)" : ""}${node.isMergePoint ? " (mergepoint)" : ""}${current ? " (current)" : ""}${note}`,
    `${node.isMergePoint ? "Merges" : "Parent"}: ${parents(node)}`,
  ];
  if (node.declaredDependencies.length > 0) lines.push(`Also depends on: ${node.declaredDependencies.join(", ")}`);
  if (node.isBranchPoint) lines.push(`Branches into: ${node.nextrev.join(", ")}`);
  if (node.branchLabels.size > 0) lines.push(`Branch names: ${[...node.branchLabels].join(", ")}`);
  if (node.meta.transactional === false) lines.push("Transactional: no");
  if (file) lines.push(`Path: ${file}`);
  // Every line of the message indented, as Alembic indents each line of the docstring.
  lines.push("", ...(node.meta.message ?? "").trim().split(/\r\n|\r|\n/).map((line) => `    ${line}`), "");
  return lines.join("\n");
}

/**
 * `branches`, as Alembic prints it: the branch point (`3b9e (branchpoint)`, labels and indicators,
 * no message), then `-> child` under it for each way out, with the child's message only when
 * `verbose` (which also prints the branch point's full entry in place of its first line).
 */
export function branchEntry(node: RevisionNode, children: readonly RevisionNode[], file: string | undefined, verbose: boolean): string {
  const pad = " ".repeat(node.id.length);
  const child = (c: RevisionNode) => `${pad} -> ${c.id}${labels(c)}${indicators(c, { tree: true })}${verbose ? `, ${doc(c)}` : ""}`;
  const first = verbose ? revisionEntry(node, file) : `${node.id}${labels(node)}${indicators(node, { tree: true })}`;
  return [first, ...children.map(child), ""].join("\n");
}

/** Longest message a progress line shows (in code points), so that each revision's line stays one line. */
const PROGRESS_MESSAGE_LENGTH = 100;

/** A control character or a line end: what progressMessage rewrites. */
const UNUSUAL_CHARACTER = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

/**
 * A revision's message on its progress line (`upgrade <id> (<message>) 1.2 ms`): the line is one
 * per revision, so the message's first line, cut at PROGRESS_MESSAGE_LENGTH with "…" when more
 * follows, and control characters (an escape sequence would drive the terminal) written as
 * `\u001b`. The whole message is in history --verbose, show and the Lambda's step log line.
 */
export function progressMessage(message: string): string {
  // The usual message, short and plain, is checked with one scan: this runs once per revision.
  if (message.length <= PROGRESS_MESSAGE_LENGTH && !UNUSUAL_CHARACTER.test(message)) return message.trim();
  let text = message.trim();
  const lineEnd = text.search(/[\n\r\u2028\u2029]/);
  let cut = lineEnd !== -1;
  if (cut) text = text.slice(0, lineEnd).trimEnd();
  if (text.length > PROGRESS_MESSAGE_LENGTH) {
    const points = Array.from(text);
    if (points.length > PROGRESS_MESSAGE_LENGTH) {
      text = points.slice(0, PROGRESS_MESSAGE_LENGTH).join("").trimEnd();
      cut = true;
    }
  }
  text = text.replace(/[\x00-\x1f\x7f-\x9f]/g, (char) => (char === "\t" ? " " : `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`));
  return cut ? `${text}…` : text;
}
