import { isAscii } from "node:buffer";
import { readFileSync } from "node:fs";

/**
 * A file's text, decoded as Latin-1 when it is all ASCII (the same text). Reading the command
 * line's 545 KB bundle took 2.0 ms as UTF-8 with two non-ASCII characters in it (a two-byte
 * string), 1.1 ms as UTF-8 with none, and 0.65 ms checked and copied as Latin-1.
 */
export function readText(file: string): string {
  const bytes = readFileSync(file);
  return bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
}
