import { spawn } from "node:child_process";
import { CLI_FILE, ROOT } from "./build.ts";

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the BUILT command line (dist/cli.cjs) with only the given environment (plus PATH). */
export function runCli(args: readonly string[], env: Record<string, string | undefined>, cwd: string = ROOT): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_FILE, ...args], { cwd, env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
