import type { DatabaseConfig } from "../src/config.ts";
import { LambicError } from "../src/errors.ts";
import type { CliArgs } from "./args.ts";

// publish and invoke (issue 4) land with the Lambda handler.
export async function publish(_database: DatabaseConfig, _args: CliArgs, _io: unknown): Promise<never> {
  throw new LambicError("USAGE", "lambic publish is not available in this build yet.", {});
}

export async function invoke(_database: DatabaseConfig, _args: CliArgs, _io: unknown): Promise<never> {
  throw new LambicError("USAGE", "lambic invoke is not available in this build yet.", {});
}
