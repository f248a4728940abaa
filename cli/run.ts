import { main } from "./main.ts";

/** The command line, as `lambic` runs it (see cli/index.ts, which loads this bundle). */
export async function run(): Promise<void> {
  // A reader that stops early (`lambic upgrade head --sql | head`) closes the pipe: later output is
  // dropped rather than crashing the process with EPIPE, and a run in progress still finishes.
  let stdoutClosed = false;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    stdoutClosed = true;
  });

  process.exitCode = await main(process.argv.slice(2), {
    stdout: (text) => {
      if (!stdoutClosed) process.stdout.write(text);
    },
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
  });
}
