#!/usr/bin/env node
// Synthesizes infra/app.ts with no AWS account.
//
//   node infra/synth.mjs [-c key=value]...          prints the stack's template (JSON) on stdout
//   npx aws-cdk@2 deploy --app "node infra/synth.mjs" -c bundleSha256=<sha> ...
//                                                    the CDK CLI sets CDK_OUTDIR (and passes the
//                                                    context in CDK_CONTEXT_JSON): the cloud
//                                                    assembly is written there, nothing printed
//
// Node 20 cannot import TypeScript, so esbuild bundles app.ts first. The bundle is written
// inside the repository (node_modules/.cache) rather than the OS temp dir because aws-cdk-lib
// stays external (it locates its own asset files on disk) and must resolve from node_modules.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const cliOutdir = process.env.CDK_OUTDIR;

function parseContext(args) {
  const context = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg !== "-c" && arg !== "--context") {
      throw usage(`unknown argument "${arg}"`);
    }
    const pair = args[++i] ?? "";
    const eq = pair.indexOf("=");
    if (eq <= 0) throw usage(`"${arg} ${pair}" is not key=value`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

function usage(problem) {
  return new Error(`${problem}. Usage: node infra/synth.mjs [-c key=value]...`);
}

async function main() {
  const context = parseContext(process.argv.slice(2));
  // CloudFormation schema validation costs ~3 s per synth; keep it for real deploys only.
  if (!cliOutdir) process.env.CDK_VALIDATION ??= "false";

  const cacheDir = join(repoRoot, "node_modules", ".cache", "lambic-infra");
  mkdirSync(cacheDir, { recursive: true });
  const outfile = join(cacheDir, `app-${process.pid}.mjs`);
  await build({
    entryPoints: [join(repoRoot, "infra", "app.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });

  const outdir = cliOutdir ?? mkdtempSync(join(tmpdir(), "lambic-cdk-"));
  try {
    const { createLambicApp } = await import(pathToFileURL(outfile).href);
    const { app, stack } = createLambicApp({
      outdir,
      context,
      defaultHandlerDir: join(repoRoot, "dist", "lambda"),
    });
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    for (const message of artifact.messages) {
      process.stderr.write(`[${message.level}] ${message.id}: ${message.entry.data}\n`);
    }
    if (!cliOutdir) process.stdout.write(`${JSON.stringify(artifact.template, null, 2)}\n`);
  } finally {
    rmSync(outfile, { force: true });
    if (!cliOutdir) rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`synth failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
