/**
 * The command line's commands. args.ts checks each one's options against it; the loader
 * (cli/index.ts) keys its code cache on the command, which it must find among the arguments
 * without parsing them (an option's value, as in `--name analytics`, is no command).
 */
export const COMMAND_NAMES = [
  "heads",
  "bases",
  "branches",
  "history",
  "show",
  "revision",
  "merge",
  "current",
  "upgrade",
  "downgrade",
  "stamp",
  "check",
  "repair",
  "embedded",
  "publish",
  "invoke",
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];

export function isCommandName(value: string | undefined): value is CommandName {
  return (COMMAND_NAMES as readonly (string | undefined)[]).includes(value);
}
