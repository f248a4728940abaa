import { describe, expect, it } from "vitest";
import { parseArrayLiteral } from "../../../src/db/array-literal.ts";

const int = (value: string) => Number.parseInt(value, 10);

describe("parseArrayLiteral", () => {
  it("reads an unquoted NULL element as null and a quoted one as the word", () => {
    expect(parseArrayLiteral('{a,NULL,"NULL"}', undefined)).toEqual(["a", null, "NULL"]);
    expect(parseArrayLiteral("{1,NULL,3}", int)).toEqual([1, null, 3]);
  });

  it("reads quoted elements with escaped quotes, backslashes, delimiters and braces", () => {
    expect(parseArrayLiteral('{"a,b","say \\"hi\\"","back\\\\slash","{x}",""}', undefined)).toEqual(["a,b", 'say "hi"', "back\\slash", "{x}", ""]);
  });

  it("reads nested arrays, empty arrays and arrays with bounds other than 1", () => {
    expect(parseArrayLiteral("{{1,2},{3,NULL}}", int)).toEqual([[1, 2], [3, null]]);
    expect(parseArrayLiteral("{}", int)).toEqual([]);
    expect(parseArrayLiteral("[0:1]={5,6}", int)).toEqual([5, 6]);
    expect(parseArrayLiteral("[1:2][1:1]={{7},{8}}", int)).toEqual([[7], [8]]);
  });

  it("splits box[] elements on its own delimiter", () => {
    expect(parseArrayLiteral("{(1,1),(0,0);(2,2),(1,1)}", undefined, ";")).toEqual(["(1,1),(0,0)", "(2,2),(1,1)"]);
  });
});
