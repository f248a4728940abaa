import { describe, expect, it } from "vitest";
import { parseCliArgs } from "../../../cli/args.ts";
import { LambicError } from "../../../src/errors.ts";

/** What -x gives a revision as ctx.x, as Alembic's get_x_argument(as_dictionary=True) reads -x. */
describe("-x key=value", () => {
  const x = (...pairs: string[]) => ({ ...parseCliArgs([...pairs.flatMap((pair) => ["-x", pair]), "heads"]).x });

  it("splits at the first =, so a value may hold = (a URL's query)", () => {
    expect(x("url=postgres://h/db?sslmode=require")).toEqual({ url: "postgres://h/db?sslmode=require" });
  });

  it("gives an empty value as the empty string", () => {
    expect(x("tag=")).toEqual({ tag: "" });
  });

  it("keeps the last value of a key given twice", () => {
    expect(x("tag=a", "other=1", "tag=b")).toEqual({ tag: "b", other: "1" });
  });

  it("takes any key, spaces and punctuation included", () => {
    expect(x("my key=1", "a.b-c=2")).toEqual({ "my key": "1", "a.b-c": "2" });
  });

  it("refuses -x without = or with an empty key as a usage error naming it", () => {
    for (const pair of ["tag", "=v"]) {
      expect(() => x(pair)).toThrow(LambicError);
      expect(() => x(pair)).toThrow(`-x takes key=value, got "${pair}".`);
    }
  });
});
