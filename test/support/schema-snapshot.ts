import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import postgres from "postgres";
import { splitStatements } from "../../src/operations/sql-statements.ts";

/**
 * The user-visible schema of a database as data: schemas, extensions, tables and columns,
 * constraints, indexes, sequences, types and enum labels, functions, views and comments — what
 * `pg_dump --schema-only` would show, read from the catalogs so that no client of the server's
 * major version is needed (the embedded PostgreSQL ships no pg_dump).
 */
export async function schemaSnapshot(url: string): Promise<Record<string, unknown[]>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const userSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";
    const [columns, constraints, indexes, types, enums, schemas, extensions, functions, views, comments] = await Promise.all([
      sql.unsafe(`SELECT n.nspname, c.relname, c.relkind, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE ${userSchemas} AND c.relkind IN ('r', 'v', 'm', 'S', 'p') ORDER BY 1, 2, 4`),
      sql.unsafe(`SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid) AS def FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${userSchemas} ORDER BY 1, 2, 3`),
      sql.unsafe(`SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`),
      sql.unsafe(`SELECT n.nspname, t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE ${userSchemas} AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid) ORDER BY 1, 2`),
      sql.unsafe(`SELECT t.typname, e.enumsortorder, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid ORDER BY 1, 2`),
      sql.unsafe(`SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner FROM pg_namespace n WHERE ${userSchemas} ORDER BY 1`),
      sql.unsafe(`SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1`),
      sql.unsafe(`SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) AS args, pg_get_functiondef(p.oid) AS def
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE ${userSchemas} AND p.prokind IN ('f', 'p') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') ORDER BY 1, 2, 3`),
      sql.unsafe(`SELECT n.nspname, c.relname, pg_get_viewdef(c.oid) AS def FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${userSchemas} AND c.relkind IN ('v', 'm') ORDER BY 1, 2`),
      sql.unsafe(`SELECT c.relname, d.objsubid, d.description FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${userSchemas} ORDER BY 1, 2`),
    ]);
    return {
      columns: [...columns],
      constraints: [...constraints],
      indexes: [...indexes],
      types: [...types],
      enums: [...enums],
      schemas: [...schemas],
      extensions: [...extensions],
      functions: [...functions],
      views: [...views],
      comments: [...comments],
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** psql from PATH or Debian's PostgreSQL client packages, if the machine has one. */
export function findPsql(): string | undefined {
  const candidates = ["psql", ...(existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").map((v) => `/usr/lib/postgresql/${v}/bin/psql`) : [])];
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Applies a script as DBAs do: `psql -X -v ON_ERROR_STOP=1 -f`. */
export function applyWithPsql(psql: string, url: string, file: string): string {
  return execFileSync(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Applies a script as `psql -X -v ON_ERROR_STOP=1 -f` does where the machine has no psql (the
 * embedded PostgreSQL ships none): split where psql splits, each statement sent alone over the
 * simple protocol on one session, stopping at the first failure (which rejects).
 */
export async function applyStatementByStatement(url: string, file: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // The script's own psql meta-commands (lines of their own) set psql's ON_ERROR_STOP and
    // AUTOCOMMIT, which this function does as it is.
    const script = readFileSync(file, "utf8").replace(/^\\set (?:ON_ERROR_STOP|AUTOCOMMIT) on$/gm, "");
    for (const statement of splitStatements(script)) {
      await sql.unsafe(statement, [], { simple: true } as postgres.UnsafeQueryOptions);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
