import { describe, expect, it } from "vitest";
import { qualifiedName, quoteIdentifier, quoteLiteral } from "../../../src/operations/index.ts";
import { quoteLiteralAnyStrings } from "../../../src/operations/quote.ts";
import { isLambicError } from "../../../src/errors.ts";
import { HOSTILE_NAMES } from "./emitted.ts";

function thrown(call: () => unknown): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("quoteIdentifier", () => {
  it("always wraps a name in double quotes, even a plain lowercase one", () => {
    expect(quoteIdentifier("customer")).toBe('"customer"');
  });

  it("quotes an identifier that contains a double quote by doubling it", () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
    expect(quoteIdentifier('"')).toBe('""""');
  });

  it.each(HOSTILE_NAMES)("keeps a name with %s inside one quoted identifier", (_label, name, quoted) => {
    expect(quoteIdentifier(name)).toBe(quoted);
  });

  it("keeps dots inside the name instead of reading them as a schema", () => {
    expect(quoteIdentifier("public.customer")).toBe('"public.customer"');
  });

  it("rejects an empty name with INVALID_OPERATION", () => {
    const error = thrown(() => quoteIdentifier(""));
    expect(isLambicError(error, "INVALID_OPERATION")).toBe(true);
    expect(error.message).toMatch(/is empty/);
  });

  it("rejects a name containing NUL with INVALID_OPERATION, showing the NUL escaped", () => {
    const error = thrown(() => quoteIdentifier("a\0b"));
    expect(isLambicError(error, "INVALID_OPERATION")).toBe(true);
    expect(error.message).toBe(
      'op.quoteIdentifier(): name "a\\u0000b" contains a NUL character (\\0); PostgreSQL cannot store NUL in an identifier. Remove it.',
    );
  });

  it("accepts a name of exactly 63 bytes", () => {
    const name = "x".repeat(63);
    expect(quoteIdentifier(name)).toBe(`"${name}"`);
  });

  it("rejects a name longer than 63 bytes, saying PostgreSQL would truncate it", () => {
    const error = thrown(() => quoteIdentifier("x".repeat(64)));
    expect(isLambicError(error, "INVALID_OPERATION")).toBe(true);
    expect(error.message).toMatch(/64 bytes in UTF-8; PostgreSQL would truncate it to 63 bytes/);
    expect(error.details).toMatchObject({ bytes: 64, maxBytes: 63 });
  });

  it("counts UTF-8 bytes, not characters: 32 two-byte letters are 64 bytes", () => {
    expect(quoteIdentifier("é".repeat(31))).toBe(`"${"é".repeat(31)}"`);
    expect(() => quoteIdentifier("é".repeat(32))).toThrow(/64 bytes/);
    expect(() => quoteIdentifier("🦆".repeat(16))).toThrow(/64 bytes/);
  });

  it("rejects an unpaired surrogate, which has no UTF-8 form", () => {
    expect(() => quoteIdentifier("a\uD800b")).toThrow(/unpaired UTF-16 surrogate \(U\+D800\)/);
  });

  it("rejects a value that is not a string", () => {
    expect(() => quoteIdentifier(42 as unknown as string)).toThrow("op.quoteIdentifier(): name must be a string, got 42.");
  });
});

describe("quoteLiteral", () => {
  it("wraps a string in single quotes", () => {
    expect(quoteLiteral("hello")).toBe("'hello'");
  });

  it("doubles an embedded single quote", () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("'")).toBe("''''");
  });

  it("keeps an injection attempt inside the literal", () => {
    expect(quoteLiteral("'; DROP TABLE x; --")).toBe("'''; DROP TABLE x; --'");
  });

  it("keeps backslashes as they are, with no E prefix (standard_conforming_strings is on)", () => {
    expect(quoteLiteral("C:\\path\\n")).toBe("'C:\\path\\n'");
    expect(quoteLiteral("\\'")).toBe("'\\'''");
  });

  it("writes a literal with a backslash as E'' with the backslash doubled for use outside lambic's transactions (quoteLiteralAnyStrings)", () => {
    expect(quoteLiteralAnyStrings("x\\', 0)); DROP TABLE y; --")).toBe("E'x\\\\'', 0)); DROP TABLE y; --'");
    expect(quoteLiteralAnyStrings("lambic:.it's")).toBe("'lambic:.it''s'");
  });

  it("keeps $$ inert inside the quoted literal", () => {
    expect(quoteLiteral("$$; DROP TABLE x; $$")).toBe("'$$; DROP TABLE x; $$'");
  });

  it("passes unicode through unchanged", () => {
    expect(quoteLiteral("ünïcödé 🦆 日本")).toBe("'ünïcödé 🦆 日本'");
  });

  it("keeps newlines and tabs as they are", () => {
    expect(quoteLiteral("a\nb\tc")).toBe("'a\nb\tc'");
  });

  it("renders the empty string", () => {
    expect(quoteLiteral("")).toBe("''");
  });

  it("rejects NUL with INVALID_OPERATION, since PostgreSQL text cannot hold it", () => {
    const error = thrown(() => quoteLiteral("a\0"));
    expect(isLambicError(error, "INVALID_OPERATION")).toBe(true);
    expect(error.message).toMatch(/contains a NUL character \(\\0\); PostgreSQL cannot store NUL in text/);
  });
});

describe("qualifiedName", () => {
  it("renders just the quoted name without a schema", () => {
    expect(qualifiedName(undefined, "customer")).toBe('"customer"');
  });

  it("joins a quoted schema and name with a dot", () => {
    expect(qualifiedName("billing", "invoice")).toBe('"billing"."invoice"');
  });

  it("quotes hostile schema names too", () => {
    expect(qualifiedName('s"; --', "t.x")).toBe('"s""; --"."t.x"');
  });

  it("rejects an empty schema, naming the schema argument", () => {
    expect(() => qualifiedName("", "t")).toThrow("op.qualifiedName(): schema is empty");
  });
});
