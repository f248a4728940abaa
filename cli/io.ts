/** Where a command writes, and what it reads from its surroundings (so tests can run main in-process). */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: Record<string, string | undefined>;
}

/** What a command hands back: the JSON document (`--json`), the human text, and the exit code. */
export interface Output {
  json: unknown;
  text?: string;
  exitCode?: number;
}
