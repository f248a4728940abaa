/**
 * `lambic publish` and `lambic invoke`: the two commands a deploy pipeline runs.
 *
 *   SHA=$(lambic publish --bucket B [--prefix P])       build + upload the bundle, print its sha256
 *   lambic invoke --function F upgrade head --bundle $SHA   run it in the Lambda; exit 0 only on success
 *
 * S3 settings come from the environment as in the handler (LAMBIC_S3_ENDPOINT,
 * LAMBIC_S3_FORCE_PATH_STYLE, LAMBIC_S3_CHECKSUMS), `--endpoint` and `--region` override.
 */
import { resolve } from "node:path";
import { buildBundle, readBuiltBundle } from "../src/bundle/build-bundles.ts";
import { createS3Client, publishBundle, s3SettingsFromEnv } from "../src/bundle/s3-bundles.ts";
import type { DatabaseConfig } from "../src/config.ts";
import { LambicError } from "../src/errors.ts";
import type { CliArgs } from "./args.ts";

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: Record<string, string | undefined>;
}

interface Output {
  json: unknown;
  text?: string;
  exitCode?: number;
}

const EVENT_COMMANDS = ["upgrade", "downgrade", "stamp", "current", "heads", "history", "check", "sql"];

export async function publish(database: DatabaseConfig, args: CliArgs, io: Io): Promise<Output> {
  const bucket = args.options.bucket ?? io.env.LAMBIC_BUCKET;
  if (!bucket) throw new LambicError("USAGE", "lambic publish needs --bucket BUCKET (or LAMBIC_BUCKET): the bucket the Lambda reads bundles from.", {});
  const prefix = (args.options.prefix ?? io.env.LAMBIC_PREFIX ?? "lambic").replace(/^\/+|\/+$/g, "");
  // Build from the sources now, so what is published is what is in the revisions folder;
  // builds are reproducible, so an unchanged folder gives the sha256 already published.
  const outDir = resolve(io.cwd, "dist/bundles");
  const built = await buildBundle(database, { projectDir: io.cwd, outDir });
  const settings = s3SettingsFromEnv(io.env);
  const client = await createS3Client({ ...settings, endpoint: args.options.endpoint ?? settings.endpoint, region: args.options.region ?? settings.region });
  try {
    const result = await publishBundle(client, { bucket, prefix }, readBuiltBundle(built.dir));
    io.stderr(
      `${result.uploaded ? "Uploaded" : "Already published"} s3://${bucket}/${result.key} (${built.manifest.revisions.length} revisions, heads ${built.manifest.heads.join(", ")}); ` +
        `s3://${bucket}/${result.pointerKey} now names it${result.previous && result.previous !== result.sha256 ? ` (was ${result.previous})` : ""}.\n`,
    );
    return { json: { ...result, heads: built.manifest.heads }, text: result.sha256 };
  } finally {
    client.destroy();
  }
}

/** The event `lambic invoke` sends, from the CLI's own arguments. */
export function eventFromArgs(database: DatabaseConfig, args: CliArgs): Record<string, unknown> {
  const [command, ...rest] = args.positionals;
  if (command === undefined || !EVENT_COMMANDS.includes(command)) {
    throw new LambicError("USAGE", `lambic invoke needs a command: one of ${EVENT_COMMANDS.join(", ")} (e.g. lambic invoke --function F upgrade head).`, { command });
  }
  const event: Record<string, unknown> = { command, database: database.name };
  if (rest.length > 0) {
    if (command === "stamp") event.target = rest.length === 1 ? rest[0] : rest;
    else if (["upgrade", "downgrade", "sql"].includes(command) && rest.length === 1) event.target = rest[0];
    else throw new LambicError("USAGE", `lambic invoke ${command} takes ${["upgrade", "downgrade", "sql"].includes(command) ? "one target" : "no target"}, got: ${rest.join(" ")}.`, {});
  }
  if (command === "sql" && args.options.output) throw new LambicError("USAGE", "lambic invoke sql writes the script to S3 and prints its key; --output does not apply.", {});
  if (args.options.bundle) event.bundle = { sha256: args.options.bundle };
  if (Object.keys(args.x).length > 0) event.x = args.x;
  if (args.options["dry-run"]) event.dryRun = true;
  if (args.options["allow-changed"]) event.allowChanged = true;
  if (args.options.purge) event.purge = true;
  if (args.options["rev-range"]) event.range = args.options["rev-range"];
  return event;
}

export async function invoke(database: DatabaseConfig, args: CliArgs, io: Io): Promise<Output> {
  const functionName = args.options.function ?? io.env.LAMBIC_FUNCTION;
  if (!functionName) throw new LambicError("USAGE", "lambic invoke needs --function NAME (or LAMBIC_FUNCTION): the lambic Lambda function's name or ARN.", {});
  const event = eventFromArgs(database, args);
  const { LambdaClient, InvokeCommand } = await import("@aws-sdk/client-lambda");
  const region = args.options.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? "us-east-1";
  // One attempt: a retried migration would only queue behind the first on the advisory lock.
  const client = new LambdaClient({ region, maxAttempts: 1, ...(args.options.endpoint ? { endpoint: args.options.endpoint } : {}) });
  let response;
  try {
    response = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", LogType: "Tail", Payload: Buffer.from(JSON.stringify(event)) }));
  } catch (error) {
    const name = (error as { name?: string })?.name ?? "Error";
    throw new LambicError(
      "INVOKE_FAILED",
      `Invoking ${functionName} failed before it ran: ${name}: ${(error as Error)?.message ?? String(error)}. Check the function name, the region (${region}) and that you may call lambda:InvokeFunction on it.`,
      { function: functionName, awsError: name, event },
      { cause: error },
    );
  } finally {
    client.destroy();
  }
  const body = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "";
  const logTail = response.LogResult ? Buffer.from(response.LogResult, "base64").toString("utf8") : "";
  let payload: Record<string, unknown> | undefined;
  try {
    payload = JSON.parse(body) as Record<string, unknown>;
  } catch {
    payload = undefined;
  }

  if (response.FunctionError || !payload || payload.ok !== true) {
    if (logTail) io.stderr(`--- log tail of ${functionName} ---\n${logTail}${logTail.endsWith("\n") ? "" : "\n"}---\n`);
    const code = typeof payload?.errorType === "string" ? payload.errorType : "INVOKE_FAILED";
    const message = typeof payload?.errorMessage === "string" ? payload.errorMessage : body || "(empty response)";
    throw new LambicError(
      "INVOKE_FAILED",
      `${functionName} failed: ${code}: ${message}`,
      { function: functionName, functionError: response.FunctionError ?? null, errorType: code, remote: payload ?? body, event, logTail },
    );
  }
  // `check` succeeds as an invocation but is a failure for the pipeline when work is pending,
  // as the local `lambic check` exits 1.
  const exitCode = payload.command === "check" && payload.upToDate === false ? 1 : 0;
  return { json: payload, text: summarize(payload), exitCode };
}

function summarize(result: Record<string, unknown>): string {
  const heads = (value: unknown) => (Array.isArray(value) && value.length > 0 ? value.join(", ") : "base");
  const steps = Array.isArray(result.steps) ? (result.steps as { revision: string; direction: string; ms?: number }[]) : [];
  const lines: string[] = [];
  switch (result.command) {
    case "upgrade":
    case "downgrade":
    case "stamp":
      if (result.dryRun) lines.push(`dry run of ${result.command} on ${result.database}: ${heads(result.from)} -> ${heads(result.to)}, ${steps.length} step(s); nothing was changed`);
      else lines.push(steps.length === 0 ? `Nothing to do: ${result.database} is at ${heads(result.from)}.` : `${result.command} ${result.database}: ${heads(result.from)} -> ${heads(result.to)} in ${result.durationMs} ms`);
      for (const step of steps) lines.push(`  ${step.direction} ${step.revision}${step.ms !== undefined ? ` ${step.ms} ms` : ""}`);
      break;
    case "sql":
      lines.push(`s3://${result.bucket}/${result.key} (${heads(result.from)} -> ${heads(result.to)}, ${steps.length} step(s))`);
      break;
    case "current":
      lines.push(`${result.database}: ${heads(result.heads)}`);
      break;
    case "heads":
      lines.push(...((result.heads as string[]) ?? []));
      break;
    case "check":
      lines.push(result.upToDate ? `${result.database} is up to date.` : `${result.database}: pending ${heads(result.pending)}`);
      break;
    default:
      lines.push(JSON.stringify(result, null, 2));
  }
  lines.push(`bundle ${result.bundleSha256}`);
  return lines.join("\n");
}
