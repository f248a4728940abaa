/**
 * What a tenant name may be (no I/O here): it becomes a schema name, a lock key and a log field,
 * so only plain identifiers, and none that PostgreSQL keeps for itself. Shared by the config's
 * list (CONFIG_INVALID) and by names from the tenants query, the command line and events
 * (INVALID_TENANT).
 */
const TENANT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Why `name` cannot be a tenant schema, or undefined when it can. */
export function tenantNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || !TENANT_NAME.test(name)) {
    return `is not a plain schema name: letters, digits and "_", not starting with a digit, at most 63 characters`;
  }
  // CREATE SCHEMA refuses the prefix (SQLSTATE 42939); pg_catalog and pg_toast are the server's own.
  if (name.startsWith("pg_")) return `is a system schema name: PostgreSQL reserves the prefix "pg_" and refuses to create such a schema`;
  // It exists, but it is the server's catalog views, and pg_dump leaves its contents out of every backup.
  if (name === "information_schema") return `is PostgreSQL's information_schema: tables made there are left out of pg_dump's backups`;
  return undefined;
}
