// Generated revision graphs, written three ways from one description: an Alembic script directory,
// a lambic folder of TypeScript revisions, and a lambic folder of .sql revisions.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDir, prng } from "./util.mjs";

/**
 * A revision: { id, revises: null | string | string[], dependsOn: string[], branchLabels: string[],
 * message, up, down } where up/down are SQL statements (one each), the same text for every tool.
 */

function idMaker(seed) {
  const random = prng(seed);
  const seen = new Set();
  return () => {
    for (;;) {
      let id = "";
      for (let i = 0; i < 12; i++) id += Math.floor(random() * 16).toString(16);
      // Ids all of digits would be ambiguous with relative targets in neither tool, but keep a letter anyway.
      if (!/[a-f]/.test(id) || seen.has(id)) continue;
      seen.add(id);
      return id;
    }
  };
}

export const tableSql = {
  /** Graph benches: a small table per revision (offline only; nothing runs it). */
  small: (i) => ({ up: `CREATE TABLE t_${i} (id bigint PRIMARY KEY)`, down: `DROP TABLE t_${i}` }),
  /** Online bench: a table with an identity (a sequence), a primary key (an index) and a default. */
  table: (i) => ({
    up: `CREATE TABLE t_${i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    down: `DROP TABLE t_${i}`,
  }),
  /** Tool overhead: nothing for the server to do. */
  trivial: () => ({ up: "SELECT 1", down: "SELECT 1" }),
};

/** n revisions, each revising the previous one. */
export function linearGraph(n, sql = tableSql.small, seed = 1) {
  const nextId = idMaker(seed);
  const revisions = [];
  for (let i = 0; i < n; i++) {
    const { up, down } = sql(i);
    revisions.push({ id: nextId(), revises: i === 0 ? null : revisions[i - 1].id, dependsOn: [], branchLabels: [], message: `step ${i}`, up, down });
  }
  return revisions;
}

/**
 * n revisions on 4 bases (each carrying a branch label), with forks from recent revisions, merges
 * of two open branches, and depends_on across lines (on ids, and sometimes on a branch label).
 * Every edge points to an earlier revision, so the graph has no cycle; several heads remain.
 */
export function branchyGraph(n, sql = tableSql.small, seed = 2) {
  const random = prng(seed);
  const nextId = idMaker(seed + 1000);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const LINES = 4;
  const tips = Array.from({ length: LINES }, () => []);
  const members = Array.from({ length: LINES }, () => []);
  const revisions = [];
  let extraLabels = 0;
  for (let i = 0; i < n; i++) {
    const id = nextId();
    const { up, down } = sql(i);
    const revision = { id, revises: null, dependsOn: [], branchLabels: [], message: `branchy step ${i}`, up, down };
    let line;
    if (i < LINES) {
      line = i;
      revision.branchLabels.push(`line${i}`);
    } else {
      line = Math.floor(random() * LINES);
      const open = tips[line];
      const roll = random();
      if (open.length >= 2 && roll < 0.08) {
        // Merge two open branches of this line.
        const a = open.splice(Math.floor(random() * open.length), 1)[0];
        const b = open.splice(Math.floor(random() * open.length), 1)[0];
        revision.revises = [a, b];
      } else if (roll < 0.13 && members[line].length > 3) {
        // Fork: a new branch from one of the line's recent revisions that is not a tip.
        const recent = members[line].slice(-30).filter((m) => !open.includes(m));
        revision.revises = recent.length ? pick(recent) : open.splice(Math.floor(random() * open.length), 1)[0];
        // Some forks start a labelled branch.
        if (random() < 0.1) revision.branchLabels.push(`feature${extraLabels++}`);
      } else {
        revision.revises = open.splice(Math.floor(random() * open.length), 1)[0];
      }
      if (random() < 0.04) {
        const other = (line + 1 + Math.floor(random() * (LINES - 1))) % LINES;
        // Mostly an id of another line, now and then that line's label (resolved to its base).
        revision.dependsOn.push(random() < 0.2 ? `line${other}` : pick(members[other]));
      }
    }
    tips[line].push(id);
    members[line].push(id);
    revisions.push(revision);
  }
  return revisions;
}

const pad = (i) => String(i).padStart(5, "0");
const fileStem = (revision, i) => `2026_01_01_${pad(i)}_${revision.id}_${revision.message.replace(/\W+/g, "_")}`;

/** Writes `revisions` as `<dir>/revisions/main/*.ts` (lambic's default folder for the cwd `dir`). */
export function writeLambicTs(dir, revisions) {
  const folder = freshFolder(join(dir, "revisions", "main"));
  revisions.forEach((revision, i) => {
    const lines = [
      'import type { Revision } from "lambic";',
      "",
      "export default {",
      `  id: ${JSON.stringify(revision.id)},`,
      `  revises: ${JSON.stringify(revision.revises)},`,
      ...(revision.dependsOn.length ? [`  dependsOn: ${JSON.stringify(revision.dependsOn)},`] : []),
      ...(revision.branchLabels.length ? [`  branchLabels: ${JSON.stringify(revision.branchLabels)},`] : []),
      `  message: ${JSON.stringify(revision.message)},`,
      "  async upgrade(op) {",
      `    op.execute(${JSON.stringify(revision.up)});`,
      "  },",
      "  async downgrade(op) {",
      `    op.execute(${JSON.stringify(revision.down)});`,
      "  },",
      "} satisfies Revision;",
      "",
    ];
    writeFileSync(join(folder, `${fileStem(revision, i)}.ts`), lines.join("\n"));
  });
  return dir;
}

/** Writes `revisions` as `<dir>/revisions/main/*.sql`. */
export function writeLambicSql(dir, revisions) {
  const folder = freshFolder(join(dir, "revisions", "main"));
  revisions.forEach((revision, i) => {
    const parents = revision.revises === null ? [] : [].concat(revision.revises);
    const lines = [
      `-- revision: ${revision.id}`,
      ...(parents.length ? [`-- revises: ${parents.join(", ")}`] : []),
      ...(revision.dependsOn.length ? [`-- depends-on: ${revision.dependsOn.join(", ")}`] : []),
      ...(revision.branchLabels.length ? [`-- branch-labels: ${revision.branchLabels.join(", ")}`] : []),
      `-- message: ${revision.message}`,
      "-- +up",
      `${revision.up};`,
      "-- +down",
      `${revision.down};`,
      "",
    ];
    writeFileSync(join(folder, `${fileStem(revision, i)}.sql`), lines.join("\n"));
  });
  return dir;
}

const ALEMBIC_INI = `# Generated by lambic's bench: what \`alembic init\` writes, trimmed.
[alembic]
script_location = %(here)s
prepend_sys_path = .
version_path_separator = os
sqlalchemy.url = postgresql://postgres@127.0.0.1/bench

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
`;

// Alembic's "generic" template env.py; online it reads the URL from DATABASE_URL.
const ENV_PY = `import os
from logging.config import fileConfig

from sqlalchemy import engine_from_config
from sqlalchemy import pool

from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = None


def run_migrations_offline():
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = os.environ.get("DATABASE_URL", section["sqlalchemy.url"])
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
`;

const pyTuple = (values) => (values.length === 0 ? "None" : `(${values.map((v) => JSON.stringify(v)).join(", ")},)`);

/** Writes `revisions` as an Alembic script directory `<dir>` (alembic.ini, env.py, versions/*.py). */
export function writeAlembic(dir, revisions) {
  freshFolder(dir);
  const versions = ensureDir(join(dir, "versions"));
  writeFileSync(join(dir, "alembic.ini"), ALEMBIC_INI);
  writeFileSync(join(dir, "env.py"), ENV_PY);
  revisions.forEach((revision, i) => {
    const parents = revision.revises === null ? [] : [].concat(revision.revises);
    const downRevision = parents.length === 0 ? "None" : parents.length === 1 ? JSON.stringify(parents[0]) : pyTuple(parents);
    const text = `"""${revision.message}

Revision ID: ${revision.id}
Revises: ${parents.join(", ")}
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = ${JSON.stringify(revision.id)}
down_revision = ${downRevision}
branch_labels = ${pyTuple(revision.branchLabels)}
depends_on = ${pyTuple(revision.dependsOn)}


def upgrade():
    op.execute(${JSON.stringify(revision.up)})


def downgrade():
    op.execute(${JSON.stringify(revision.down)})
`;
    writeFileSync(join(versions, `${fileStem(revision, i)}.py`), text);
  });
  return dir;
}

function freshFolder(path) {
  rmSync(path, { recursive: true, force: true });
  return ensureDir(path);
}

/** The metas (graph part only) lambic's RevisionMap takes. */
export function metasOf(revisions) {
  return revisions.map(({ id, revises, dependsOn, branchLabels, message }) => ({ id, revises, dependsOn, branchLabels, message }));
}
