/**
 * Splits SQL text into statements where psql would: at each `;` outside quotes, comments,
 * dollar quotes and parentheses, and outside the `BEGIN … END` body of a
 * `CREATE [OR REPLACE] FUNCTION|PROCEDURE … BEGIN ATOMIC` (psql's own heuristic, in
 * psqlscan.l). A `.sql` revision runs its statements one by one, as `psql -f` does: outside a
 * transaction a multi-statement message would run as one implicit transaction, where
 * `CREATE INDEX CONCURRENTLY` is refused; and a failing statement is named exactly.
 *
 * A statement keeps the comments before it (so an offline script keeps them too), not the white
 * space, nor its `;`; comments with no statement after them are dropped. Text that never ends
 * (an open quote or comment) is one last statement, for the server to report. Strings are read
 * with standard_conforming_strings on, as every run sets it.
 */
export function splitStatements(sql: string): string[] {
  return scanStatements(sql, undefined);
}

/**
 * The first backslash outside quotes, comments and dollar quotes: in a script, psql reads it as
 * a meta-command (`\i`, `\set`, `\connect`, `\!`), which lambic cannot run and the server
 * refuses as a syntax error; offline, psql would run it. Its offset and the command as written.
 */
export function findMetaCommand(sql: string): { offset: number; command: string } | undefined {
  if (!sql.includes("\\")) return undefined; // the usual case, without scanning
  let found: number | undefined;
  scanStatements(sql, (at) => {
    found = at;
  });
  if (found === undefined) return undefined;
  const newline = sql.indexOf("\n", found);
  return { offset: found, command: sql.slice(found, newline === -1 ? sql.length : newline).trimEnd() };
}

/**
 * A statement as an offline script must hold it for psql, which reads a script with a lexer of
 * its own before the server sees anything:
 * - psql substitutes its variables wherever `:name`, `:'name'`, `:"name"` or `:{?name}` stands
 *   outside quotes, comments and dollar quotes and the variable is set: psql's own (`DBNAME`,
 *   `USER`, `HOST`, `PORT`, `ENCODING`, `VERSION`, …), `-v ON_ERROR_STOP=1` and any `-v` or
 *   `.psqlrc` variable. `arr[1:PORT]` would reach the server as `arr[15432]`. Online nothing is
 *   substituted. A colon is a token of its own in SQL (only `::` and `:=` join it to the next
 *   character), so a space after such a colon (`arr[1: PORT]`) keeps what the server reads and
 *   leaves psql nothing to substitute.
 * - a backslash outside quotes starts a psql meta-command (`\!` runs a shell command); online the
 *   server refuses it as a syntax error. Reported (`backslash`), not rewritten.
 * - a statement that ends inside a quote, a block comment or a dollar quote: online the server
 *   refuses it, while psql would read the script's next lines (the version-table statements) into
 *   it. Reported (`unterminated`), not rewritten.
 * - a statement whose `;` psql does not take for its end although the server does: psql ends a
 *   statement only outside parentheses and outside what its heuristic takes for a function's
 *   `BEGIN … END` body, and a function named `begin` (`CREATE FUNCTION begin() … AS $$…$$`) reads
 *   as one. psql would read the script's next statements into it, and send them with it in one
 *   message. Reported (`readsOn`), for the script to send it with `\g`.
 * Strings are read with standard_conforming_strings on, as every run sets it.
 */
export function psqlScriptText(sql: string): { text: string; backslash?: string; unterminated?: string; readsOn?: string } {
  const length = sql.length;
  let out = "";
  let copied = 0;
  /** psql's paren_depth: parentheses open outside quotes and comments (a ")" too many counts for none). */
  let parens = 0;
  let i = 0;
  while (i < length) {
    const c = sql.charCodeAt(i);
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      i = lineCommentEnd(sql, i);
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const after = skipBlockComment(sql, i);
      if (after === -1) return { text: sql, unterminated: "a /* comment" };
      i = after;
    } else if (c === QUOTE || c === DOUBLE_QUOTE) {
      i = quotedEnd(sql, i, c, false);
      if (i === -1) return { text: sql, unterminated: c === QUOTE ? "a quoted string" : "a quoted identifier" };
    } else if (c === DOLLAR) {
      DOLLAR_TAG.lastIndex = i;
      const delimiter = DOLLAR_TAG.exec(sql);
      if (!delimiter) i++;
      else {
        const close = sql.indexOf(delimiter[0], i + delimiter[0].length);
        if (close === -1) return { text: sql, unterminated: `a ${delimiter[0]} dollar quote` };
        i = close + delimiter[0].length;
      }
    } else if (c === BACKSLASH) {
      const newline = sql.indexOf("\n", i);
      return { text: sql, backslash: sql.slice(i, newline === -1 ? length : newline).trimEnd() };
    } else if (c === COLON) {
      const next = sql.charCodeAt(i + 1);
      if (next === COLON || next === EQUALS) {
        i += 2; // `::` and `:=` are tokens to psql too
      } else {
        if (isVariableChar(next) || next === QUOTE || next === DOUBLE_QUOTE || next === OPEN_BRACE) {
          out += `${sql.slice(copied, i + 1)} `;
          copied = i + 1;
        }
        i++;
      }
    } else if (isIdentifierStart(c)) {
      let j = i + 1;
      while (j < length && isIdentifierPart(sql.charCodeAt(j))) j++;
      const next = sql.charCodeAt(j);
      if (j === i + 1 && next === QUOTE && "eEbBnNxX".includes(sql[i]!)) {
        // E'…' reads backslash escapes; B'…', N'…', X'…' are plain strings.
        i = quotedEnd(sql, j, QUOTE, c === 69 || c === 101);
        if (i === -1) return { text: sql, unterminated: "a quoted string" };
      } else if (j === i + 1 && (c === 85 || c === 117) && next === AMPERSAND && (sql.charCodeAt(j + 1) === QUOTE || sql.charCodeAt(j + 1) === DOUBLE_QUOTE)) {
        i = quotedEnd(sql, j + 1, sql.charCodeAt(j + 1), false);
        if (i === -1) return { text: sql, unterminated: "a quoted string" };
      } else {
        i = j;
      }
    } else {
      if (c === OPEN) parens++;
      else if (c === CLOSE && parens > 0) parens--;
      i++;
    }
  }
  const text = copied === 0 ? sql : out + sql.slice(copied);
  // A BEGIN … END body needs psql's own heuristic (a second scan); parentheses were counted here.
  const readsOn = BEGIN_WORD.test(sql) ? psqlOpenAtEnd(sql) : parens > 0 ? "parentheses" : undefined;
  return readsOn === undefined ? { text } : { text, readsOn };
}

/** Text that can leave psql inside a BEGIN … END body (the usual SQL is spared a second scan). */
const BEGIN_WORD = /\bbegin\b/i;

/** What psql is still inside where `sql` ends, so that a `;` there would not end the statement: "parentheses", "a BEGIN … END body", or undefined. */
function psqlOpenAtEnd(sql: string): string | undefined {
  let open: string | undefined;
  scanStatements(sql, undefined, (parens, begins) => {
    open = begins > 0 ? "a BEGIN … END body" : parens > 0 ? "parentheses" : undefined;
  });
  return open;
}

/** psql's variable_char: what may follow a `:` in a variable's name. */
function isVariableChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c >= 128;
}

/** What copyRefusal is to COPY: why a meta-command cannot run, and what to write instead. */
export function metaCommandRefusal(command: string): string {
  return (
    `"${command.slice(0, 60)}" is a psql meta-command (a backslash outside quotes), which lambic cannot run: it sends SQL to the server itself, without psql, ` +
    "and an offline script would hand it to psql. Write it as SQL (an \\i file's statements in the revision, a \\set value as a literal)."
  );
}

/**
 * splitStatements; `onBackslash`, when given, is told the first backslash outside quotes and the
 * scan stops; `onEnd`, when given, is told the parentheses and BEGIN bodies still open where the
 * text ends (psql's paren_depth and begin_depth).
 */
function scanStatements(sql: string, onBackslash: ((at: number) => void) | undefined, onEnd?: (parens: number, begins: number) => void): string[] {
  const statements: string[] = [];
  const length = sql.length;
  /** Where the statement's text starts (its first comment or token), and whether it has a token yet. */
  let start = -1;
  let tokens = false;
  let parens = 0;
  let begins = 0;
  /** psql's `identifiers`: the first letter of create/or/replace/function/procedure among the statement's first four words. */
  let lead = "";
  let words = 0;

  const end = (at: number) => {
    if (tokens) statements.push(sql.slice(start, at).trimEnd());
    start = -1;
    tokens = false;
    parens = 0;
    begins = 0;
    lead = "";
    words = 0;
  };

  let i = 0;
  while (i < length) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (start < 0) start = i;
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      i = lineCommentEnd(sql, i);
      continue;
    }
    if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const after = skipBlockComment(sql, i);
      // One that never closes swallows what follows: the server must see it, and say so.
      if (after === -1) tokens = true;
      i = after === -1 ? length : after;
      continue;
    }
    if (c !== SEMICOLON) tokens = true;
    if (c === SEMICOLON) {
      if (parens === 0 && begins === 0) end(i);
      i++;
    } else if (c === OPEN) {
      parens++;
      i++;
    } else if (c === CLOSE) {
      if (parens > 0) parens--;
      i++;
    } else if (c === QUOTE) {
      i = skipQuoted(sql, i, QUOTE, false);
    } else if (c === DOUBLE_QUOTE) {
      i = skipQuoted(sql, i, DOUBLE_QUOTE, false);
    } else if (c === DOLLAR) {
      i = skipDollar(sql, i);
    } else if (c === BACKSLASH && onBackslash) {
      onBackslash(i);
      return statements;
    } else if (isIdentifierStart(c)) {
      let j = i + 1;
      while (j < length && isIdentifierPart(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toLowerCase();
      const next = sql.charCodeAt(j);
      if (next === QUOTE && word.length === 1 && "ebnx".includes(word)) {
        // E'…' reads backslash escapes; B'…', N'…', X'…' are plain strings.
        i = skipQuoted(sql, j, QUOTE, word === "e");
        continue;
      }
      if (word === "u" && next === AMPERSAND && (sql.charCodeAt(j + 1) === QUOTE || sql.charCodeAt(j + 1) === DOUBLE_QUOTE)) {
        i = skipQuoted(sql, j + 1, sql.charCodeAt(j + 1), false);
        continue;
      }
      if (words < 4 && LEAD_WORDS.has(word)) lead += word[0];
      else if (words < 4) lead += " ";
      words++;
      if (parens === 0 && DEFINES_ROUTINE.test(lead)) {
        if (word === "begin") begins++;
        else if (word === "case" && begins > 0) begins++;
        else if (word === "end" && begins > 0) begins--;
      }
      i = j;
    } else {
      i++;
    }
  }
  onEnd?.(parens, begins);
  end(length);
  return statements;
}

const DASH = 45;
const SLASH = 47;
const STAR = 42;
const SEMICOLON = 59;
const OPEN = 40;
const CLOSE = 41;
const QUOTE = 39;
const DOUBLE_QUOTE = 34;
const DOLLAR = 36;
const BACKSLASH = 92;
const AMPERSAND = 38;
const COLON = 58;
const EQUALS = 61;
const OPEN_BRACE = 123;

const LEAD_WORDS = new Set(["create", "or", "replace", "function", "procedure"]);
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y;
/** CREATE FUNCTION, CREATE PROCEDURE, CREATE OR REPLACE FUNCTION|PROCEDURE (first letters). */
const DEFINES_ROUTINE = /^c(?:[fp]|or[fp])/;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function isIdentifierStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

function isIdentifierPart(c: number): boolean {
  return isIdentifierStart(c) || (c >= 48 && c <= 57) || c === DOLLAR;
}

/** Past a quoted string or identifier starting at `at` (a doubled quote is one; `backslashes`: E'…'). */
function skipQuoted(sql: string, at: number, quote: number, backslashes: boolean): number {
  const end = quotedEnd(sql, at, quote, backslashes);
  return end === -1 ? sql.length : end;
}

/** skipQuoted, or -1 when the quote never closes. */
function quotedEnd(sql: string, at: number, quote: number, backslashes: boolean): number {
  let i = at + 1;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (backslashes && c === BACKSLASH) {
      i += 2;
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * Where a `--` comment starting at `at` ends: at the next line feed or carriage return, both of
 * which end it for the server and for psql (`[^\n\r]*`), or at the end.
 */
function lineCommentEnd(sql: string, at: number): number {
  for (let i = at + 2; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return sql.length;
}

/** Past a (nested) block comment starting at `at`; -1 when it never closes. */
function skipBlockComment(sql: string, at: number): number {
  let depth = 0;
  let i = at;
  while (i < sql.length) {
    if (sql.charCodeAt(i) === SLASH && sql.charCodeAt(i + 1) === STAR) {
      depth++;
      i += 2;
    } else if (sql.charCodeAt(i) === STAR && sql.charCodeAt(i + 1) === SLASH) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/** Past a dollar-quoted string (`$$…$$`, `$tag$…$tag$`) starting at `at`; a `$1` parameter is one character. */
function skipDollar(sql: string, at: number): number {
  DOLLAR_TAG.lastIndex = at;
  const delimiter = DOLLAR_TAG.exec(sql);
  if (!delimiter) return at + 1;
  const close = sql.indexOf(delimiter[0], at + delimiter[0].length);
  return close === -1 ? sql.length : close + delimiter[0].length;
}

/**
 * `COPY … FROM STDIN` and `COPY … TO STDOUT` exchange rows with the client through the protocol's
 * copy mode: psql feeds a script's inline data lines (ended by `\.`), a driver's query API
 * does not, and the session would wait for rows no one sends. Names which one a statement is.
 */
export function clientCopy(statement: string): "FROM STDIN" | "TO STDOUT" | undefined {
  const start = firstToken(statement);
  if (!/^copy\b/i.test(statement.slice(start, start + 5))) return undefined;
  if (/\bfrom\s+stdin\b/i.test(statement)) return "FROM STDIN";
  if (/\bto\s+stdout\b/i.test(statement)) return "TO STDOUT";
  return undefined;
}

/** The first statement of `sql` that is a client COPY (see clientCopy), if any. */
export function findClientCopy(sql: string): { statement: string; copy: "FROM STDIN" | "TO STDOUT" } | undefined {
  if (!/copy/i.test(sql)) return undefined; // the usual case, without splitting
  for (const statement of splitStatements(sql)) {
    const copy = clientCopy(statement);
    if (copy) return { statement, copy };
  }
  return undefined;
}

const TRANSACTION_WORD = /\b(?:begin|start|commit|end|rollback|abort|prepare)\b/i;
/** A statement that opens or ends a transaction block (ROLLBACK TO SAVEPOINT and COMMIT PREPARED do neither). */
const TRANSACTION_CONTROL = /^(?:(begin|start\s+transaction|commit|end|rollback|abort|prepare\s+transaction)\b)(?!\s+(?:(?:work|transaction)\s+)?(?:to|prepared)\b)/i;

/**
 * The first statement of `sql` that begins or ends a transaction block (BEGIN, START
 * TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION), with the command as written
 * and where it starts in `sql`. In a transactional revision such a statement would end the
 * run's transaction: what follows would run and commit outside it.
 */
export function findTransactionControl(sql: string): { statement: string; command: string; offset: number } | undefined {
  if (!TRANSACTION_WORD.test(sql)) return undefined; // the usual case, without splitting
  let from = 0;
  for (const statement of splitStatements(sql)) {
    const at = sql.indexOf(statement, from);
    from = at + statement.length;
    const start = firstToken(statement);
    const control = TRANSACTION_CONTROL.exec(statement.slice(start));
    if (control) return { statement, command: control[1]!.replace(/\s+/g, " ").toUpperCase(), offset: at + start };
  }
  return undefined;
}

/** Why a transactional revision cannot end or open a transaction block, and what to write instead. */
export function transactionControlRefusal(command: string): string {
  return (
    `${command} controls a transaction, which is lambic's to do: in a transactional revision a COMMIT (END, ROLLBACK) ends the run's transaction, so what follows would run and commit on its own, a failure could no longer roll the run back, ` +
    `and the version rows would be written whatever happened. Leave transactions to lambic (the whole run is one transaction, or one per revision with --per-revision); ` +
    `a revision that must run outside one takes transactional: false.`
  );
}

/** Where the first token starts, past white space and comments. */
function firstToken(sql: string): number {
  let i = 0;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) i++;
    else if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      i = lineCommentEnd(sql, i);
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const after = skipBlockComment(sql, i);
      i = after === -1 ? sql.length : after;
    } else break;
  }
  return i;
}

const STRINGS_WORD = /standard_conforming_strings|reset\s+all/i;
const STRINGS_SETTING = /^(?:set\s+(?:session\s+|local\s+)?standard_conforming_strings\b|reset\s+(?:standard_conforming_strings|all)\b)/i;
/** `SET standard_conforming_strings = on` (pg_dump writes it) changes nothing lambic relies on. */
const STRINGS_ON = /^set\s+(?:session\s+|local\s+)?standard_conforming_strings\s*(?:=|to)\s*(?:on|true|yes|1|'(?:on|true|yes|1)')\s*$/i;
const STRINGS_SET_CONFIG = /\bset_config\s*\(\s*'standard_conforming_strings'/i;

/**
 * The first statement of `sql` that may turn standard_conforming_strings off for the session
 * (`SET … = off`, `SET LOCAL`, `RESET`, `RESET ALL`, `set_config(...)`), as written. Every transaction
 * of a run sets it on, and lambic reads SQL by it: a `.sql` section and an `op.execute` text are
 * split, and literals are written (`'a\b'` holds a backslash), with it on; psql reads an offline
 * script by the server's setting of the moment. Turned off, a backslash before a quote would end
 * a string where the other reader does not, so the run and the script would split a statement
 * differently.
 */
export function findStringsSetting(sql: string): string | undefined {
  return firstStatementMatching(sql, STRINGS_WORD, (text) => (STRINGS_SETTING.test(text) && !STRINGS_ON.test(text)) || STRINGS_SET_CONFIG.test(text) || undefined)?.statement;
}

/** Why a statement may not change standard_conforming_strings, and what to write instead. */
export function stringsSettingRefusal(): string {
  return (
    "changes standard_conforming_strings, which lambic keeps on for the whole run: it splits SQL and writes every literal by it, and psql reads an offline script by it, " +
    "so with it off a backslash before a quote would end a string for one and not the other. Write backslash escapes as E'…' strings instead, and leave the setting (and RESET ALL) out."
  );
}

/** Why a COPY with client data cannot run, and what to write instead. */
export function copyRefusal(copy: "FROM STDIN" | "TO STDOUT"): string {
  return copy === "FROM STDIN"
    ? "is COPY … FROM STDIN, whose rows psql sends after it and lambic cannot: insert the rows with INSERT … VALUES (op.bulkInsert in a TypeScript revision), or COPY from a file the server can read."
    : "is COPY … TO STDOUT, whose rows would come back to lambic, which does not read them: COPY to a file the server can write, or read the rows with ctx.query.";
}

/**
 * Statements PostgreSQL refuses inside a transaction block (PreventInTransactionBlock, SQLSTATE
 * 25001), by how they start. Not every one (CLUSTER without a table, subscriptions' slots): the
 * server's 25001 still reports those online, with the same advice.
 */
const OUTSIDE_TRANSACTION_ONLY: readonly [RegExp, string][] = [
  [/^create\s+(?:unique\s+)?index\s+concurrently\b/i, "CREATE INDEX CONCURRENTLY"],
  [/^drop\s+index\s+concurrently\b/i, "DROP INDEX CONCURRENTLY"],
  [/^reindex\s*(?:\([^)]*\bconcurrently\b|(?:\([^)]*\)\s*)?(?:index|table|schema|database|system)\s+concurrently\b)/i, "REINDEX CONCURRENTLY"],
  [/^reindex\s*(?:\([^)]*\)\s*)?(?:database|system)\b/i, "REINDEX DATABASE"],
  [/^alter\s+table\b[^;]*\bdetach\s+partition\s+(?:"(?:[^"]|"")*"|[^\s"]+)(?:\s*\.\s*(?:"(?:[^"]|"")*"|[^\s"]+))?\s+concurrently\s*$/i, "DETACH PARTITION CONCURRENTLY"],
  [/^vacuum\b/i, "VACUUM"],
  [/^create\s+database\b/i, "CREATE DATABASE"],
  [/^drop\s+database\b/i, "DROP DATABASE"],
  [/^create\s+tablespace\b/i, "CREATE TABLESPACE"],
  [/^drop\s+tablespace\b/i, "DROP TABLESPACE"],
  [/^alter\s+system\b/i, "ALTER SYSTEM"],
  [/^discard\s+all\b/i, "DISCARD ALL"],
  [/^(?:commit|rollback)\s+prepared\b/i, "COMMIT PREPARED"],
];
const OUTSIDE_TRANSACTION_WORD = /concurrently|vacuum|database|tablespace|system|discard|prepared/i;

/**
 * The first statement of `sql` that PostgreSQL refuses inside a transaction block (CREATE INDEX
 * CONCURRENTLY, VACUUM, CREATE DATABASE, …), with the command it is. In a transactional
 * revision it fails online (25001) and would fail when psql applies the offline script, whose
 * revisions run between BEGIN and COMMIT: refused before either, so both say the same.
 */
export function findOutsideTransactionOnly(sql: string): { statement: string; command: string } | undefined {
  const found = firstStatementMatching(sql, OUTSIDE_TRANSACTION_WORD, (text) => OUTSIDE_TRANSACTION_ONLY.find(([pattern]) => pattern.test(text))?.[1]);
  return found && { statement: found.statement, command: found.match };
}

/**
 * The first statement of `sql` for which `match`, given its text from its first token on, says
 * something; `word` must occur for any to match, which spares the usual SQL the split.
 */
function firstStatementMatching<T>(sql: string, word: RegExp, match: (text: string) => T | undefined): { statement: string; match: T } | undefined {
  if (!word.test(sql)) return undefined;
  for (const statement of splitStatements(sql)) {
    const found = match(statement.slice(firstToken(statement)));
    if (found !== undefined) return { statement, match: found };
  }
  return undefined;
}

/** Why a transactional revision cannot hold such a statement, and what to do instead. */
export function outsideTransactionRefusal(command: string, revision: string): string {
  return (
    `${command} cannot run inside a transaction block (PostgreSQL refuses it with SQLSTATE 25001), and revision ${revision} is transactional: ` +
    `online the run would fail, and the offline script, which runs it between BEGIN and COMMIT, would fail when applied. ` +
    `Mark revision ${revision} non-transactional (transactional: false; "-- transactional: false" in a .sql file) so it runs on its own, then run again.`
  );
}
