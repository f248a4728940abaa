import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig, resolveDatabase } from "../../src/config.ts";
import { LambicError } from "../../src/errors.ts";
import { tempDir } from "../support/temp-dir.ts";

const FILE = "/project/lambic.config.json";

function parse(config: unknown, env: Record<string, string | undefined> = {}) {
  return parseConfig(typeof config === "string" ? config : JSON.stringify(config, null, 2), FILE, env);
}

function configError(run: () => unknown): LambicError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LambicError);
    expect((error as LambicError).code).toBe("CONFIG_INVALID");
    return error as LambicError;
  }
  throw new Error("expected a CONFIG_INVALID error");
}

function tempProject(config?: unknown): string {
  const dir = tempDir("lambic-config-");
  if (config !== undefined) writeFileSync(join(dir, "lambic.config.json"), JSON.stringify(config, null, 2));
  return dir;
}

describe("loadConfig", () => {
  it("uses one database main in revisions/main without a config file", () => {
    const cwd = tempProject();
    const config = loadConfig({ cwd, env: { DATABASE_URL: "postgres://localhost/app" } });
    expect(config.file).toBeUndefined();
    expect(config.defaultDatabase).toBe("main");
    expect(config.databases["main"]).toEqual({
      name: "main",
      url: "postgres://localhost/app",
      revisions: join(cwd, "revisions/main"),
      versionTable: "lambic_version",
      schema: undefined,
      driver: undefined,
      lockTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      tenants: undefined,
    });
  });

  it("leaves the url undefined without a config file and without DATABASE_URL", () => {
    expect(loadConfig({ cwd: tempProject(), env: {} }).databases["main"]!.url).toBeUndefined();
  });

  it("reads lambic.config.json from cwd", () => {
    const cwd = tempProject({ databases: { main: { url: "postgres://h/db" } } });
    const config = loadConfig({ cwd, env: {} });
    expect(config.file).toBe(join(cwd, "lambic.config.json"));
    expect(config.databases["main"]!.url).toBe("postgres://h/db");
  });

  it("reads --config relative to cwd and resolves revisions relative to the config file's folder", () => {
    const cwd = tempProject();
    mkdirSync(join(cwd, "deploy"));
    writeFileSync(join(cwd, "deploy", "db.json"), JSON.stringify({ databases: { main: { revisions: "../migrations" } } }));
    const config = loadConfig({ configFile: "deploy/db.json", cwd, env: {} });
    expect(config.databases["main"]!.revisions).toBe(join(cwd, "migrations"));
  });

  it("rejects a --config file that does not exist", () => {
    const error = configError(() => loadConfig({ configFile: "nope.json", cwd: "/project", env: {} }));
    expect(error.message).toContain("/project/nope.json does not exist");
  });

  it("reads a config file that starts with a byte-order mark (as Windows Notepad saves UTF-8)", () => {
    const cwd = tempProject();
    writeFileSync(join(cwd, "lambic.config.json"), `\ufeff${JSON.stringify({ databases: { main: { url: "postgres://h/db" } } })}`);
    expect(loadConfig({ cwd, env: {} }).databases["main"]!.url).toBe("postgres://h/db");
  });

  it("rejects a --config that is a folder, or a lambic.config.json that is one, with CONFIG_INVALID rather than an internal error", () => {
    const cwd = tempProject();
    mkdirSync(join(cwd, "deploy"));
    const given = configError(() => loadConfig({ configFile: "deploy", cwd, env: {} }));
    expect(given.message).toContain(`${join(cwd, "deploy")} is a folder`);
    expect(given.details).toMatchObject({ file: join(cwd, "deploy") });
    mkdirSync(join(cwd, "lambic.config.json"));
    const found = configError(() => loadConfig({ cwd, env: {} }));
    expect(found.message).toContain(`${join(cwd, "lambic.config.json")} is a folder`);
  });
});

describe("parseConfig", () => {
  it("refuses an empty revisions folder, which would be the project folder itself, also through an empty variable", () => {
    for (const [revisions, env] of [["", {}], ["${REVISIONS}", { REVISIONS: "" }]] as const) {
      const error = configError(() => parse({ databases: { main: { revisions } } }, env));
      expect(error.message).toContain('databases.main.revisions is empty; give this database\'s revisions folder, such as "revisions/main" (the default, when "revisions" is left out).');
    }
  });

  it("reads every database field", () => {
    const config = parse({
      databases: {
        main: {
          url: "postgres://h/db",
          revisions: "revisions/main",
          versionTable: "alembic_version",
          schema: "app",
          driver: "neon",
          lockTimeoutMs: 5000,
          statementTimeoutMs: 60000,
        },
        app: { revisions: "revisions/app", tenants: ["t1", "t2"] },
      },
      defaultDatabase: "main",
    });
    expect(config.databases["main"]).toEqual({
      name: "main",
      url: "postgres://h/db",
      revisions: "/project/revisions/main",
      versionTable: "alembic_version",
      schema: "app",
      driver: "neon",
      lockTimeoutMs: 5000,
      statementTimeoutMs: 60000,
      tenants: undefined,
      configFile: FILE,
    });
    expect(config.databases["app"]!.tenants).toEqual(["t1", "t2"]);
  });

  it("rejects schema beside tenants, since each tenant's version table is in the tenant's schema", () => {
    const error = configError(() => parse({ databases: { app: { schema: "public", tenants: { query: "SELECT name FROM tenant" } } } }));
    expect(error.details["path"]).toBe("databases.app.schema");
    expect(error.message).toMatch(/^\/project\/lambic\.config\.json:\d+: databases\.app sets both "schema" \("public"\) and "tenants".*would be ignored\. Remove "schema"/);
  });

  it("applies the defaults, with revisions/<name> as the folder", () => {
    expect(parse({ databases: { analytics: {} } }).databases["analytics"]).toEqual({
      name: "analytics",
      url: undefined,
      revisions: "/project/revisions/analytics",
      versionTable: "lambic_version",
      schema: undefined,
      driver: undefined,
      lockTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      tenants: undefined,
      configFile: FILE,
    });
  });

  it("rejects a tenants query of several statements, whose tenants but the last statement's would be skipped silently", () => {
    const error = configError(() => parse({ databases: { main: { tenants: { query: "SELECT 'a1'; SELECT 'b1'" } } } }));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toContain("databases.main.tenants.query holds 2 statements; give one query");
    expect(parse({ databases: { main: { tenants: { query: "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'; -- tenants" } } } }).databases["main"]!.tenants).toEqual({
      query: "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'; -- tenants",
    });
  });

  it("accepts tenants given as a query", () => {
    const config = parse({ databases: { main: { tenants: { query: "SELECT schema FROM tenant" } } } });
    expect(config.databases["main"]!.tenants).toEqual({ query: "SELECT schema FROM tenant" });
  });

  it("interpolates ${VAR} in string values", () => {
    const config = parse({ databases: { main: { url: "postgres://${PGUSER}@db/app", schema: "${SCHEMA}" } } }, { PGUSER: "ops", SCHEMA: "app" });
    expect(config.databases["main"]).toMatchObject({ url: "postgres://ops@db/app", schema: "app" });
  });

  it("uses the ${VAR:-default} fallback when VAR is unset or empty", () => {
    const config = parse({ databases: { main: { url: "postgres://${PGHOST:-localhost}/app", versionTable: "${TABLE:-lambic_version}" } } }, { TABLE: "" });
    expect(config.databases["main"]).toMatchObject({ url: "postgres://localhost/app", versionTable: "lambic_version" });
  });

  it("leaves the url undefined when it is only an unset ${VAR}, naming the variable for the CLI's note", () => {
    expect(parse({ databases: { main: { url: "${DATABASE_URL}" } } }, {}).databases["main"]).toMatchObject({ url: undefined, urlVariable: "DATABASE_URL" });
    expect(parse({ databases: { main: { url: "${DATABASE_URL}" } } }, { DATABASE_URL: "postgres://h/db" }).databases["main"]!.urlVariable).toBeUndefined();
  });

  it("keeps a url set to the empty string as empty (for the CLI to refuse), and ${VAR:-} as no url", () => {
    expect(parse({ databases: { main: { url: "${DATABASE_URL}" } } }, { DATABASE_URL: "" }).databases["main"]!.url).toBe("");
    expect(parse({ databases: { main: { url: "" } } }).databases["main"]!.url).toBe("");
    expect(loadConfig({ cwd: tempProject(), env: { DATABASE_URL: "" } }).databases["main"]!.url).toBe("");
    expect(parse({ databases: { main: { url: "${DATABASE_URL:-}" } } }, { DATABASE_URL: "" }).databases["main"]!.url).toBeUndefined();
  });

  it("rejects an unset variable inside a longer url, naming the variable", () => {
    const error = configError(() => parse({ databases: { main: { url: "postgres://${PGUSER}@db/app" } } }, {}));
    expect(error.message).toContain("databases.main.url uses ${PGUSER}, but PGUSER is not set");
    expect(error.details).toMatchObject({ variable: "PGUSER", path: "databases.main.url" });
  });

  it("rejects an unset variable outside url, with the file and line", () => {
    const error = configError(() => parse({ databases: { main: { schema: "${SCHEMA}" } } }, {}));
    expect(error.message).toContain(`${FILE}:4:`);
    expect(error.message).toContain("SCHEMA is not set");
  });

  it("rejects a malformed interpolation", () => {
    const error = configError(() => parse({ databases: { main: { url: "postgres://${1BAD}/x" } } }));
    expect(error.message).toContain("not a valid interpolation");
  });

  it("rejects a default that holds another ${VAR} (nested interpolation), set or not, without echoing the default", () => {
    const url = "${DATABASE_URL:-postgres://app:s3cret@db/${DB}}";
    for (const env of [{ DATABASE_URL: "postgres://app@db/app" }, {}]) {
      const error = configError(() => parse({ databases: { main: { url } } }, env));
      expect(error.message).toContain('databases.main.url: the default of ${DATABASE_URL:-...} holds another "${"');
      expect(error.details).toMatchObject({ variable: "DATABASE_URL", path: "databases.main.url" });
      expect(JSON.stringify(error)).not.toContain("s3cret");
    }
  });

  it("rejects a \"${\" in a url that starts no interpolation without echoing the password it is in, saying how to write a literal $", () => {
    const error = configError(() => parse({ databases: { main: { url: "postgres://app:pa${ss-w0rd@db/app" } } }));
    expect(error.message).toContain("not a valid interpolation");
    expect(error.message).toContain("%24");
    expect(JSON.stringify(error)).not.toContain("ss-w0rd");
  });

  it("rejects an unknown database key with its path, line and the close match", () => {
    const error = configError(() => parse({ databases: { main: { url: "postgres://h/db", versionTabel: "v" } } }));
    expect(error.message).toContain(`${FILE}:5:`);
    expect(error.message).toContain("unknown key databases.main.versionTabel");
    expect(error.message).toContain('Did you mean "versionTable"?');
    expect(error.details).toMatchObject({ path: "databases.main.versionTabel", line: 5 });
  });

  it("rejects an unknown top-level key", () => {
    const error = configError(() => parse({ databases: { main: {} }, database: {} }));
    expect(error.message).toContain("unknown key database.");
    expect(error.message).toContain('Did you mean "databases"?');
  });

  it("rejects a config without databases", () => {
    expect(configError(() => parse({})).message).toContain('"databases" must be an object with at least one database');
  });

  it("rejects a database that is not an object", () => {
    expect(configError(() => parse({ databases: { main: "postgres://h/db" } })).message).toContain("databases.main must be an object");
  });

  it("rejects a timeout that is not a whole number of milliseconds", () => {
    const error = configError(() => parse({ databases: { main: { lockTimeoutMs: "10s" } } }));
    expect(error.message).toContain(`${FILE}:4:`);
    expect(error.message).toContain('databases.main.lockTimeoutMs is "10s"');
  });

  it("rejects a timeout over PostgreSQL's limit of 2147483647 ms, which every run's SET LOCAL would fail on", () => {
    const error = configError(() => parse({ databases: { main: { lockTimeoutMs: 3_000_000_000 } } }));
    expect(error.details["path"]).toBe("databases.main.lockTimeoutMs");
    expect(error.message).toContain("databases.main.lockTimeoutMs is 3000000000, more than PostgreSQL accepts (2147483647 ms");
  });

  it("accepts the largest timeout PostgreSQL accepts", () => {
    expect(parse({ databases: { main: { statementTimeoutMs: 2_147_483_647 } } }).databases["main"]!.statementTimeoutMs).toBe(2_147_483_647);
  });

  it("rejects a negative statement timeout", () => {
    expect(configError(() => parse({ databases: { main: { statementTimeoutMs: -1 } } })).details["path"]).toBe("databases.main.statementTimeoutMs");
  });

  it("rejects a string field given another type", () => {
    expect(configError(() => parse({ databases: { main: { schema: 5 } } })).message).toContain("databases.main.schema is 5, expected a string");
  });

  it("rejects a url that is not a string naming its kind, not its content, which may hold a password", () => {
    for (const [url, kind] of [[{ host: "db", password: "s3cret" }, "an object"], [["postgres://app:s3cret@db/app"], "a list"], [5432, "a number"]] as const) {
      const error = configError(() => parse({ databases: { main: { url } } }));
      expect(error.message).toContain(`databases.main.url is ${kind}, expected a string such as "postgres://`);
      expect(JSON.stringify(error)).not.toContain("s3cret");
    }
  });

  it("rejects an unknown driver, listing the drivers", () => {
    expect(configError(() => parse({ databases: { main: { driver: "pg" } } })).message).toContain("is not one of postgres, neon");
  });

  it("rejects a version table that is not a plain identifier", () => {
    expect(configError(() => parse({ databases: { main: { versionTable: "my table" } } })).message).toContain("not a plain PostgreSQL identifier");
  });

  it("rejects a schema-qualified version table, saying to put the schema in \"schema\"", () => {
    const error = configError(() => parse({ databases: { main: { versionTable: "app.lambic_version" } } }));
    expect(error.message).toContain('For the version table in schema "app", write "schema": "app" and "versionTable": "lambic_version".');
  });

  it("rejects a quoted version table or schema, saying to write it without the quotes", () => {
    for (const key of ["versionTable", "schema"]) {
      const error = configError(() => parse({ databases: { main: { [key]: '"Lambic_Version"' } } }));
      expect(error.message).toContain(`Write it without the quotes ("${key}": "Lambic_Version"): lambic quotes every name itself`);
    }
  });

  it("rejects lambic_history as the version table, the name of lambic's own history table", () => {
    const error = configError(() => parse({ databases: { main: { versionTable: "lambic_history" } } }));
    expect(error.message).toContain('databases.main.versionTable is "lambic_history", the name of the history table lambic keeps beside every version table; choose another name, such as "main_version"');
  });

  it("rejects a tenant list with a duplicate schema", () => {
    expect(configError(() => parse({ databases: { main: { tenants: ["t1", "t1"] } } })).message).toContain('lists "t1" twice');
  });

  it("rejects a tenant with a character tenant names do not take ($), naming the entry", () => {
    const error = configError(() => parse({ databases: { main: { tenants: ["t1", "a$b"] } } }));
    expect(error.details["path"]).toBe("databases.main.tenants[1]");
    expect(error.message).toContain('"a$b" is not a plain schema name');
  });

  it("rejects a tenant schema PostgreSQL keeps for itself", () => {
    expect(configError(() => parse({ databases: { main: { tenants: ["pg_t"] } } })).message).toContain('PostgreSQL reserves the prefix "pg_"');
    expect(configError(() => parse({ databases: { main: { tenants: ["information_schema"] } } })).details["path"]).toBe("databases.main.tenants[0]");
  });

  it("rejects a tenant that is not a string", () => {
    expect(configError(() => parse({ databases: { main: { tenants: ["t1", 2] } } })).details["path"]).toBe("databases.main.tenants[1]");
  });

  it("rejects tenants that are neither a list nor a query", () => {
    expect(configError(() => parse({ databases: { main: { tenants: "t1" } } })).message).toContain("list of schema names or { \"query\"");
  });

  it("rejects invalid JSON with the line of the error", () => {
    const error = configError(() => parse('{\n  "databases": {\n    "main": {},\n  }\n}'));
    expect(error.message).toContain(`${FILE}:4:`);
    expect(error.message).toContain("not valid JSON");
  });

  it("rejects a defaultDatabase that is not configured", () => {
    const error = configError(() => parse({ databases: { main: {} }, defaultDatabase: "mian" }));
    expect(error.message).toContain('defaultDatabase "mian" is not one of the configured databases (main). Did you mean "main"? Set it to one of them, or leave it out');
  });

  it("defaults to the only database", () => {
    expect(parse({ databases: { app: {} } }).defaultDatabase).toBe("app");
  });

  it("defaults to main among several databases", () => {
    expect(parse({ databases: { analytics: {}, main: {} } }).defaultDatabase).toBe("main");
  });
});

describe("resolveDatabase", () => {
  const config = parse({ databases: { main: {}, analytics: {} } });

  it("returns the default database without a name", () => {
    expect(resolveDatabase(config).name).toBe("main");
  });

  it("returns the named database", () => {
    expect(resolveDatabase(config, "analytics").name).toBe("analytics");
  });

  it("rejects an unknown name, listing the configured ones", () => {
    const error = configError(() => resolveDatabase(config, "analytcs"));
    expect(error.message).toContain('No database named "analytcs"');
    expect(error.message).toContain('Did you mean "analytics"?');
    expect(error.message).toContain("Configured: main, analytics.");
  });

  it("says, for a --name unknown without a config file, that no config file was found", () => {
    const error = configError(() => resolveDatabase(loadConfig({ cwd: tempProject(), env: {} }), "analytics"));
    expect(error.message).toContain('No database named "analytics" in the default configuration (no lambic.config.json was found in the current folder, nor given with --config). Configured: main.');
  });

  it("rejects a missing name when several databases have no default", () => {
    const error = configError(() => resolveDatabase(parse({ databases: { a: {}, b: {} } })));
    expect(error.message).toContain("Pass --name DB");
  });

  it("does not treat Object.prototype keys as databases", () => {
    expect(configError(() => resolveDatabase(config, "toString")).message).toContain('No database named "toString"');
  });
});
