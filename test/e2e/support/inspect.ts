import postgres from "postgres";

/** What a test checks after a run: tables that exist and the version rows. */
export async function inspectDatabase(url: string, tables: readonly string[], versionTable = "lambic_version"): Promise<{ tables: Record<string, boolean>; versions: string[] | null; historyRows: number | null }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const exists: Record<string, boolean> = {};
    for (const table of tables) {
      const [row] = await sql<{ exists: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS exists`;
      exists[table] = row!.exists;
    }
    const [versionExists] = await sql<{ exists: boolean }[]>`SELECT to_regclass(${versionTable}) IS NOT NULL AS exists`;
    const versions = versionExists!.exists ? (await sql.unsafe(`SELECT version_num FROM "${versionTable}" ORDER BY 1`)).map((r) => String(r.version_num)) : null;
    const [historyExists] = await sql<{ exists: boolean }[]>`SELECT to_regclass('lambic_history') IS NOT NULL AS exists`;
    const historyRows = historyExists!.exists ? Number((await sql`SELECT count(*)::int AS n FROM lambic_history`)[0]!.n) : null;
    return { tables: exists, versions, historyRows };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
