import { LambicError } from "../errors.ts";
import type { Revision, RevisionMeta } from "./types.ts";
import { closestMatch } from "../suggest.ts";
import { copyRefusal, findClientCopy, findMetaCommand, findTransactionControl, metaCommandRefusal, psqlScriptText, splitStatements, transactionControlRefusal } from "../operations/sql-statements.ts";
import { BRANCH_LABEL_PATTERN, idLengthProblem, listedTwice, RESERVED_TARGETS, reservedLabelProblem, REVISION_ID_PATTERN } from "./validate-revision.ts";

/** The header fields of a `.sql` revision, in the order `renderSqlRevision` writes them. */
export const SQL_REVISION_FIELDS = [
  "revision",
  "revises",
  "depends-on",
  "branch-labels",
  "message",
  "transactional",
] as const;

type SqlRevisionField = (typeof SQL_REVISION_FIELDS)[number];

// `-- name: value`: a word (letters, hyphens, underscores) right after the dashes, or words
// separated by blanks ("-- Depends on:"), then a colon. Any other `--` line in the header is a
// plain comment. The value is the rest of the line, whatever it holds: `.` alone stops at a U+2028,
// which would make the line a comment and drop the field.
const FIELD_LINE = /^--\s*([A-Za-z][A-Za-z_-]*(?:[ \t]+[A-Za-z][A-Za-z_-]*)*)\s*:(.*)$/s;
// The spelling the header documents: a comment like "-- note: ..." in it is taken for a field.
const LOWERCASE_NAME = /^[a-z][a-z_-]*$/;

/**
 * A field name as written ("Revises", "depends_on", "dependsOn", "BRANCH-LABELS", "Depends on")
 * in the documented form ("revises", "depends-on"): a field written another way is still that
 * field, never a comment that silently drops it (a revision without its parent would become a base).
 */
function fieldName(written: string): string {
  return written.replace(/([a-z])([A-Z])/g, "$1-$2").replace(/[_ \t]+/g, "-").toLowerCase();
}
// `-- +up`, also as `-- +UP` or `-- + up`: read as a comment, such a line would leave the revision
// without its section (or with the down SQL in its up section).
const MARKER_LINE = /^--\s*\+\s*([A-Za-z]+)\s*$/;
// `-- +down: drop it`, `-- +up -- create`: a marker with more on its line.
const NEAR_MARKER = /^--\s*\+\s*(?:up|down)\b/i;
// `--- +down`, `-- ++down`, `-- down`: a marker mistyped, which as a comment would leave the down
// SQL in the up section.
const LOOSE_MARKER = /^-{2,}[\s+]*(?:up|down)[\s:]*$/i;

/**
 * Parses a `.sql` revision: a header of `-- field: value` lines, then `-- +up` and an optional
 * `-- +down` section. The upgrade runs the up section's statements one by one; without a `-- +down`
 * section the revision has no downgrade (the planner reports it as irreversible), while an
 * empty `-- +down` section is a downgrade that does nothing.
 */
export function parseSqlRevision(text: string, file: string): Revision {
  return parseSqlRevisionParts(text, file).revision;
}

/** `parseSqlRevision`, with the up and down sections' SQL as written (for caching them). */
export function parseSqlRevisionParts(text: string, file: string): { revision: Revision; upSql: string; downSql: string | undefined } {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const fields = new Map<SqlRevisionField, { value: string; line: number }>();
  // Sections as line ranges (1-based marker line; the SQL is the lines after it).
  let up: { marker: number; end: number } | undefined;
  let down: { marker: number; end: number } | undefined;

  // A plain loop that looks at a line's regexes only when it starts with "--": loading
  // thousands of revisions spends its time here.
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const line = lines[index]!.trim();
    if (!line.startsWith("--")) {
      if (up || line === "") continue;
      throw fileError(file, lineNo, `SQL before "-- +up": ${JSON.stringify(line.slice(0, 60))}. Put the upgrade SQL after a "-- +up" line.`);
    }

    const marker = MARKER_LINE.exec(line);
    if (marker) {
      const name = marker[1]!.toLowerCase();
      if (name === "up") {
        if (up) throw fileError(file, lineNo, `second "-- +up" marker (the first is on line ${up.marker}); a revision has one up section.`);
        if (down) throw fileError(file, lineNo, `"-- +up" comes after "-- +down" (line ${down.marker}); put the up section first.`);
        up = { marker: lineNo, end: lines.length };
      } else if (name === "down") {
        if (down) throw fileError(file, lineNo, `second "-- +down" marker (the first is on line ${down.marker}); a revision has one down section.`);
        if (!up) throw fileError(file, lineNo, `"-- +down" comes before any "-- +up"; put "-- +up" and the upgrade SQL first.`);
        up.end = index;
        down = { marker: lineNo, end: lines.length };
      } else {
        throw fileError(file, lineNo, `unknown section marker "${line}"; the markers are "-- +up" and "-- +down".`);
      }
      continue;
    }

    const nearMarker = NEAR_MARKER.test(line);
    const looseMarker = !nearMarker && LOOSE_MARKER.test(line);
    const field = FIELD_LINE.exec(line);
    // Inside a section a header field as documented is almost surely a misplaced header line;
    // any other comment is part of the SQL.
    const misplacedField = up !== undefined && field !== null && (SQL_REVISION_FIELDS as readonly string[]).includes(field[1]!);
    // Such a line inside a dollar-quoted body, a string or a /* comment is that text's, not a comment.
    if ((nearMarker || looseMarker || misplacedField) && up && insideText(lines, down ?? up, index)) continue;
    if (nearMarker) {
      throw fileError(file, lineNo, `"${line.slice(0, 60)}" looks like a section marker with more on its line; write "-- +up" or "-- +down" alone on its line (a comment goes on a line of its own).`);
    }
    if (looseMarker) {
      throw fileError(file, lineNo, `"${line}" looks like a section marker but is none (as a comment, it would leave the SQL after it in the section above); write "-- +up" or "-- +down" alone on its line.`);
    }
    if (up) {
      if (misplacedField) throw fileError(file, lineNo, `header field "${field![1]}" after "-- +up" (line ${up.marker}); move it above "-- +up".`);
      continue;
    }
    if (!field) continue; // a plain comment in the header
    const written = field[1]!;
    const name = fieldName(written);
    if (!(SQL_REVISION_FIELDS as readonly string[]).includes(name)) {
      const close = closestMatch(name, SQL_REVISION_FIELDS);
      // "-- Note: ..." is a comment; "-- Revison: ..." or "-- down_revision: ..." is a field gone wrong.
      if (!close && !LOWERCASE_NAME.test(written)) continue;
      throw fileError(
        file,
        lineNo,
        `unknown header field "${written}".${close ? ` Did you mean "${close}"?` : ""} Valid fields: ${SQL_REVISION_FIELDS.join(", ")}. ` +
          `(A comment in the header must not look like "-- word: ...".)`,
      );
    }
    const previous = fields.get(name as SqlRevisionField);
    if (previous) throw fileError(file, lineNo, `duplicate header field "${name}" (first on line ${previous.line}${written === name ? "" : `, "${written}" is the same field`}); keep one.`);
    fields.set(name as SqlRevisionField, { value: field[2]!.trim(), line: lineNo });
  }

  const revisionField = fields.get("revision");
  if (!revisionField) throw fileError(file, 1, `missing "-- revision: <id>" header line; add one (e.g. "-- revision: 3ab8b2dfb055").`);
  const id = parseId(file, revisionField, "revision");
  if (!up) throw fileError(file, lines.length, `missing "-- +up" line; put the upgrade SQL after "-- +up" (and the downgrade after "-- +down").`);

  const revisesField = fields.get("revises");
  const parents = revisesField ? parseList(file, revisesField, "revises", REVISION_ID_PATTERN) : [];
  const revises = parents.length === 0 ? null : parents.length === 1 ? parents[0]! : parents;
  const dependsOnField = fields.get("depends-on");
  const branchLabelsField = fields.get("branch-labels");
  const transactionalField = fields.get("transactional");

  if (down) refuseCutSection(file, lines, up, down.marker);
  refuseClientCopy(file, lines, up);
  if (down) refuseClientCopy(file, lines, down);
  refuseMetaCommand(file, lines, up);
  if (down) refuseMetaCommand(file, lines, down);
  const transactional = transactionalField ? parseBoolean(file, transactionalField) : true;
  if (transactional) {
    refuseTransactionControl(file, lines, up);
    if (down) refuseTransactionControl(file, lines, down);
  }
  const upSql = lines.slice(up.marker, up.end).join("\n").trim();
  const downSql = down && lines.slice(down.marker, down.end).join("\n").trim();

  const revision: Revision = {
    id,
    revises,
    dependsOn: dependsOnField ? parseList(file, dependsOnField, "depends-on", BRANCH_LABEL_PATTERN, false) : [],
    branchLabels: branchLabelsField ? parseList(file, branchLabelsField, "branch-labels", BRANCH_LABEL_PATTERN) : [],
    message: fields.get("message")?.value ?? "",
    transactional,
    upgrade: sqlMigration(upSql),
    ...(downSql === undefined ? {} : { downgrade: sqlMigration(downSql) }),
  };
  return { revision, upSql, downSql };
}

/**
 * Writes a `.sql` revision that `parseSqlRevision` reads back to the same meta. Empty optional
 * fields are left out; `downSql` undefined leaves out the `-- +down` section.
 */
export function renderSqlRevision(meta: RevisionMeta, upSql: string, downSql?: string): string {
  const revises = meta.revises === null ? [] : typeof meta.revises === "string" ? [meta.revises] : meta.revises;
  const header: string[] = [`-- revision: ${meta.id}`];
  if (revises.length > 0) header.push(`-- revises: ${revises.join(", ")}`);
  if (meta.dependsOn?.length) header.push(`-- depends-on: ${meta.dependsOn.join(", ")}`);
  if (meta.branchLabels?.length) header.push(`-- branch-labels: ${meta.branchLabels.join(", ")}`);
  header.push(`-- message: ${sqlHeaderMessage(meta.message ?? "")}`);
  if (meta.transactional === false) header.push("-- transactional: false");
  const body = [`-- +up`, upSql.trim()];
  if (downSql !== undefined) body.push(`-- +down`, downSql.trim());
  return [...header, ...body].join("\n") + "\n";
}

/**
 * A message as a `.sql` header keeps it, and so as it loads back: on one line (a message spanning
 * lines would turn into SQL), each line break with the blanks around it as one space, trimmed (the
 * parser trims a value). Spaces and tabs within a line stay as written.
 */
export function sqlHeaderMessage(message: string): string {
  return message.replace(/\s*[\r\n\u2028\u2029]\s*/g, " ").trim();
}

/**
 * A section of a `.sql` revision as a migration function: one `op.execute` per statement, split
 * where psql splits them (so it runs as `psql -f` runs the file), none when empty.
 */
export function sqlMigration(sql: string): Revision["upgrade"] {
  return (op) => {
    for (const statement of splitStatements(sql)) op.execute(statement);
  };
}

function parseId(file: string, field: { value: string; line: number }, name: string): string {
  if (!REVISION_ID_PATTERN.test(field.value)) {
    throw fileError(file, field.line, `${name}: ${JSON.stringify(field.value)} is not a valid revision id; use letters, digits and _ only (ids are also target symbols).`, {
      value: field.value,
    });
  }
  if (RESERVED_TARGETS.has(field.value)) throw fileError(file, field.line, `${name}: ${JSON.stringify(field.value)} is reserved (it is a target symbol). Choose another id.`, { value: field.value });
  const tooLong = name === "revision" ? idLengthProblem(field.value) : undefined;
  if (tooLong) throw fileError(file, field.line, `${name}: ${JSON.stringify(field.value)} ${tooLong}`, { value: field.value });
  return field.value;
}

function parseList(file: string, field: { value: string; line: number }, name: string, pattern: RegExp, once = true): string[] {
  const items = field.value.split(",").map((item) => item.trim());
  if (field.value === "" || items.some((item) => item === "")) {
    throw fileError(file, field.line, `${name}: ${JSON.stringify(field.value)} has an empty entry; write a comma-separated list like "a1b2c3, d4e5f6"${name === "revises" ? ", or leave the line out for a base" : ""}.`, {
      value: field.value,
    });
  }
  for (const item of items) {
    if (!pattern.test(item)) {
      const what = pattern === REVISION_ID_PATTERN ? "revision id (letters, digits and _ only)" : "revision id or branch label (letters, digits, _, . and -)";
      throw fileError(file, field.line, `${name}: ${JSON.stringify(item)} is not a valid ${what}.`, { value: item });
    }
  }
  const reserved = name === "branch-labels" ? items.find((item) => RESERVED_TARGETS.has(item)) : undefined;
  if (reserved !== undefined) throw fileError(file, field.line, `${name}: ${JSON.stringify(reserved)} ${reservedLabelProblem(reserved)}`, { value: reserved });
  const twice = once ? listedTwice(items) : undefined;
  if (twice !== undefined) throw fileError(file, field.line, `${name}: ${JSON.stringify(twice)} is listed twice; list each once.`, { value: twice });
  return items;
}

function parseBoolean(file: string, field: { value: string; line: number }): boolean {
  if (field.value === "true") return true;
  if (field.value === "false") return false;
  throw fileError(file, field.line, `transactional: ${JSON.stringify(field.value)} is not "true" or "false".`, { value: field.value });
}

/** Does line `index` of a section (which starts after its marker line) fall inside a quote, a dollar quote or a /* comment? */
function insideText(lines: readonly string[], section: { marker: number }, index: number): boolean {
  return psqlScriptText(lines.slice(section.marker, index).join("\n")).unterminated !== undefined;
}

/**
 * Markers are read line by line, so a `-- +down` line inside a dollar-quoted function body (or a
 * string or comment the up section leaves open) would cut the statement in two: the up section
 * ends with a statement that never closes, and the rest runs as the downgrade. Refused at load,
 * naming the marker's line, rather than online as the server's syntax error.
 */
function refuseCutSection(file: string, lines: readonly string[], up: { marker: number; end: number }, downMarker: number): void {
  const { unterminated } = psqlScriptText(lines.slice(up.marker, up.end).join("\n"));
  if (unterminated === undefined) return;
  throw fileError(
    file,
    downMarker,
    `"-- +down" is inside ${unterminated} that the up section opens (after line ${up.marker}), so it would cut that statement in two. ` +
      `Close it before "-- +down"; text that reads "-- +down" inside a body must not stand alone on its line.`,
  );
}

/** A section's `COPY … FROM STDIN` (psql's inline data) or `COPY … TO STDOUT` is refused at load, naming its line. */
function refuseClientCopy(file: string, lines: readonly string[], section: { marker: number; end: number }): void {
  const sql = lines.slice(section.marker, section.end).join("\n");
  const found = findClientCopy(sql);
  if (!found) return;
  const line = section.marker + sql.slice(0, sql.indexOf(found.statement)).split("\n").length;
  throw fileError(file, line, `the statement ${copyRefusal(found.copy)}`, { statement: found.statement.slice(0, 200) });
}

/** A section's psql meta-command (`\\i`, `\\set`, …) is refused at load, naming its line. */
function refuseMetaCommand(file: string, lines: readonly string[], section: { marker: number; end: number }): void {
  refuseInSection(file, lines, section, (sql) => {
    const found = findMetaCommand(sql);
    return found && { offset: found.offset, message: metaCommandRefusal(found.command), details: { command: found.command.slice(0, 200) } };
  });
}

/** In a transactional revision, a statement that opens or ends a transaction block is refused at load, naming its line. */
function refuseTransactionControl(file: string, lines: readonly string[], section: { marker: number; end: number }): void {
  refuseInSection(file, lines, section, (sql) => {
    const found = findTransactionControl(sql);
    return found && { offset: found.offset, message: `the statement ${transactionControlRefusal(found.command)}`, details: { statement: found.statement.slice(0, 200) } };
  });
}

/** Refuses what `find` finds in a section's SQL, naming the file line it is on. */
function refuseInSection(
  file: string,
  lines: readonly string[],
  section: { marker: number; end: number },
  find: (sql: string) => { offset: number; message: string; details: Record<string, unknown> } | undefined,
): void {
  const sql = lines.slice(section.marker, section.end).join("\n");
  const found = find(sql);
  if (!found) return;
  throw fileError(file, section.marker + sql.slice(0, found.offset).split("\n").length, found.message, found.details);
}

function fileError(file: string, line: number, message: string, details: Record<string, unknown> = {}): LambicError {
  return new LambicError("REVISION_FILE_INVALID", `${file}:${line}: ${message}`, { file, line, ...details });
}
