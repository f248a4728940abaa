import { closestMatch } from "../suggest.ts";
import { LambicError } from "../errors.ts";
import type { Revision } from "./types.ts";

/** Revision ids are also target symbols, so `@`, `:`, `+`, `-` and spaces would be ambiguous. */
export const REVISION_ID_PATTERN = /^[A-Za-z0-9_]+$/;
/** version_num is varchar(32) (Alembic's column, so alembic_version can be adopted as is). */
export const MAX_REVISION_ID_LENGTH = 32;

/** Target symbols, which no revision id or branch label may be. */
export const RESERVED_TARGETS: ReadonlySet<string> = new Set(["head", "heads", "base"]);

/** What is wrong with a reserved branch label (the end of a sentence naming it). */
export function reservedLabelProblem(label: string): string {
  return `is reserved: it is a target symbol, so ${JSON.stringify(label)} would never name the branch. Choose another label.`;
}

/** What is wrong with an id too long for version_num (the end of a sentence naming it), if it is. */
export function idLengthProblem(id: string): string | undefined {
  return id.length > MAX_REVISION_ID_LENGTH
    ? `is ${id.length} characters; the version table's version_num column (varchar(${MAX_REVISION_ID_LENGTH}), as in Alembic) holds at most ${MAX_REVISION_ID_LENGTH}. Choose another id.`
    : undefined;
}

/**
 * Branch labels appear in targets as `label@head` and in `dependsOn` lists, so they may not
 * hold the characters those syntaxes split on (`@`, `:`, `+`, `,`, spaces).
 */
export const BRANCH_LABEL_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** For a module without a default export: every `.ts` file of the folder is read as a revision. */
export const HELPER_ADVICE = "If it is a helper, not a revision, move it to a sub-folder or name it __<name>.ts: lambic reads neither as a revision.";

const REVISION_KEYS = [
  "id",
  "revises",
  "dependsOn",
  "branchLabels",
  "message",
  "transactional",
  "upgrade",
  "downgrade",
] as const;

/**
 * Checks what a revision module default-exported and returns it typed. esbuild strips types
 * without checking them, so `satisfies Revision` in the file guarantees nothing at run time:
 * this is where a misspelt key or a wrong type is caught, naming the file and the field.
 */
export function validateRevisionModule(value: unknown, file: string): Revision {
  if (value === undefined) {
    throw invalid(
      file,
      undefined,
      `${file} has no default export. A revision module ends with ` +
        "`export default { id, revises, message, upgrade, downgrade } satisfies Revision;` " +
        `(\`lambic revision -m MESSAGE\` writes one). ${HELPER_ADVICE}`,
    );
  }
  if (typeof (value as { then?: unknown } | null)?.then === "function") {
    // Read as an object, a Promise was reported as missing its id.
    throw invalid(
      file,
      undefined,
      `${file}: the default export is a Promise (or another thenable), expected the revision object itself. ` +
        "Await it at top level (`export default await makeRevision();`) or export the object.",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(file, undefined, `${file}: the default export is ${describe(value)}, expected a revision object { id, revises, upgrade, ... }.`);
  }
  const record = value as Record<string, unknown>;

  for (const key of Object.keys(record)) {
    if (key === "default" && typeof record[key] === "object" && record[key] !== null) {
      // CommonJS's `exports.default = { ... }` without __esModule: the default export is `exports`.
      throw invalid(
        file,
        key,
        `${file}: the default export holds the revision under "default" (CommonJS's \`exports.default = { ... }\`, which an import reads as the whole of module.exports). ` +
          "Write `module.exports = { id, revises, upgrade, ... }`, or `export default { ... }`.",
      );
    }
    if (!(REVISION_KEYS as readonly string[]).includes(key)) {
      const close = closestMatch(key, REVISION_KEYS);
      throw invalid(
        file,
        key,
        `${file}: unknown field "${key}" in the default export.` +
          (close ? ` Did you mean "${close}"?` : "") +
          ` Valid fields: ${REVISION_KEYS.join(", ")}.`,
      );
    }
  }

  const id = record["id"];
  if (typeof id !== "string" || !REVISION_ID_PATTERN.test(id)) {
    throw invalid(
      file,
      "id",
      typeof id === "string"
        ? `${file}: id ${JSON.stringify(id)} is not a valid revision id; use letters, digits and _ only (ids are also target symbols).`
        : `${file}: id is ${describe(id)}, expected a string such as "3ab8b2dfb055".`,
    );
  }
  if (RESERVED_TARGETS.has(id)) throw invalid(file, "id", `${file}: id ${JSON.stringify(id)} is reserved (it is a target symbol). Choose another id.`);
  const tooLong = idLengthProblem(id);
  if (tooLong) throw invalid(file, "id", `${file}: id ${JSON.stringify(id)} ${tooLong}`);

  const revises = record["revises"];
  if (revises === undefined) {
    throw invalid(file, "revises", `${file}: revises is missing; use null for a base, "id" for one parent or ["a", "b"] for a merge point.`);
  }
  if (revises !== null) {
    const parents = typeof revises === "string" ? [revises] : revises;
    if (!Array.isArray(parents) || parents.length === 0) {
      throw invalid(file, "revises", `${file}: revises is ${describe(revises)}, expected null, a revision id or a non-empty array of ids.`);
    }
    for (const parent of parents) checkListItem(file, "revises", parent, REVISION_ID_PATTERN);
    checkOnce(file, "revises", parents as string[]);
  }

  for (const field of ["dependsOn", "branchLabels"] as const) {
    const list = record[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      throw invalid(file, field, `${file}: ${field} is ${describe(list)}, expected an array of strings.`);
    }
    // dependsOn names ids or labels; both fit the label pattern (ids are a subset of it).
    for (const item of list) checkListItem(file, field, item, BRANCH_LABEL_PATTERN);
    if (field === "branchLabels") {
      const reserved = (list as string[]).find((label) => RESERVED_TARGETS.has(label));
      if (reserved !== undefined) throw invalid(file, field, `${file}: branchLabels contains ${JSON.stringify(reserved)}, which ${reservedLabelProblem(reserved)}`);
      checkOnce(file, field, list as string[]);
    }
  }

  checkOptionalType(file, record, "message", "string");
  checkOptionalType(file, record, "transactional", "boolean");
  if (typeof record["upgrade"] !== "function") {
    throw invalid(file, "upgrade", `${file}: upgrade is ${describe(record["upgrade"])}, expected a function \`async upgrade(op, ctx) { ... }\`.`);
  }
  checkOptionalType(file, record, "downgrade", "function");

  return record as unknown as Revision;
}

function checkListItem(file: string, field: string, item: unknown, pattern: RegExp): void {
  if (typeof item !== "string" || item === "") {
    throw invalid(file, field, `${file}: ${field} contains ${describe(item)}, expected non-empty strings.`);
  }
  if (!pattern.test(item)) {
    throw invalid(file, field, `${file}: ${field} contains ${JSON.stringify(item)}, which is not a valid ${pattern === REVISION_ID_PATTERN ? "revision id (letters, digits and _ only)" : "revision id or branch label (letters, digits, _, . and -)"}.`);
  }
}

/**
 * A parent listed twice made a merge point of one parent, whose version row no step could find;
 * a label listed twice was reported as used by another revision (its own). Dependencies may repeat.
 */
export function listedTwice(items: readonly string[]): string | undefined {
  return items.find((item, i) => items.indexOf(item) !== i);
}

function checkOnce(file: string, field: string, items: readonly string[]): void {
  const twice = listedTwice(items);
  if (twice !== undefined) throw invalid(file, field, `${file}: ${field} lists ${JSON.stringify(twice)} twice; list each once.`);
}

function checkOptionalType(file: string, record: Record<string, unknown>, field: string, type: "string" | "boolean" | "function"): void {
  const value = record[field];
  if (value !== undefined && typeof value !== type) {
    throw invalid(file, field, `${file}: ${field} is ${describe(value)}, expected a ${type}.`);
  }
}

/**
 * A validation error of `file` with the line of the field it is about, found in the module's
 * source (`revises: 5`, `async upgrade(`), or else of its `export default`: the values were read
 * from the running module, which knows no lines. Other errors are returned as they are.
 */
export function withSourceLine(error: unknown, file: string, source: string): unknown {
  if (!(error instanceof LambicError) || error.code !== "REVISION_FILE_INVALID" || error.details.line !== undefined || error.details.file !== file) return error;
  const field = typeof error.details.field === "string" ? error.details.field : undefined;
  // An unknown field's name is the module's own key: escaped, it is matched as written.
  const name = field?.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // A key at the start of its line first: a comment or a message that mentions the field
  // ("// revises: ...") stands before it as often as not.
  const at =
    name === undefined
      ? -1
      : [new RegExp(`^[ \\t]*(?:async[ \\t]+)?["']?${name}["']?\\s*[:(]`, "m"), new RegExp(`(?:^|[^\\w$.])["']?${name}["']?\\s*[:(]`, "m")]
          .map((pattern) => source.search(pattern))
          .find((position) => position !== -1) ?? -1;
  const position = at !== -1 ? at + 1 : source.search(/\bexport\s+default\b/);
  if (position === -1) return error;
  const line = source.slice(0, position).split("\n").length;
  const message = error.message.startsWith(`${file}: `) ? `${file}:${line}: ${error.message.slice(file.length + 2)}` : error.message;
  return new LambicError(error.code, message, { ...error.details, line });
}

function invalid(file: string, field: string | undefined, message: string): LambicError {
  return new LambicError("REVISION_FILE_INVALID", message, field === undefined ? { file } : { file, field });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return `an array (${JSON.stringify(value)})`;
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "function") return /^class\b/.test(Function.prototype.toString.call(value)) ? "a class" : "a function";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}
