import { describe, expect, it } from "vitest";
import { LambicError } from "../../../src/errors.ts";
import { validateRevisionModule, withSourceLine } from "../../../src/revision/validate-revision.ts";
import { closestMatch } from "../../../src/suggest.ts";

const FILE = "revisions/main/2024_05_01_1200_3ab8b2dfb055_add_invoice.ts";

function valid(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "3ab8b2dfb055",
    revises: "1975ea83b712",
    dependsOn: [],
    branchLabels: [],
    message: "add invoice table",
    transactional: true,
    async upgrade() {},
    async downgrade() {},
    ...overrides,
  };
}

function validationError(value: unknown): LambicError {
  try {
    validateRevisionModule(value, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(LambicError);
    const lambic = error as LambicError;
    expect(lambic.code).toBe("REVISION_FILE_INVALID");
    expect(lambic.message).toContain(FILE);
    expect(lambic.details["file"]).toBe(FILE);
    return lambic;
  }
  throw new Error("expected validateRevisionModule to throw");
}

describe("validateRevisionModule", () => {
  it("returns the default export itself when it is a valid revision", () => {
    const value = valid();
    expect(validateRevisionModule(value, FILE)).toBe(value);
  });

  it("accepts a base (revises null) with only the required fields", () => {
    const value = { id: "a1", revises: null, upgrade() {} };
    expect(validateRevisionModule(value, FILE)).toBe(value);
  });

  it("accepts a merge point with several parents", () => {
    expect(validateRevisionModule(valid({ revises: ["a1", "b2"] }), FILE).revises).toEqual(["a1", "b2"]);
  });

  it("accepts branch labels and dependencies on labels", () => {
    const revision = validateRevisionModule(valid({ dependsOn: ["core", "a1"], branchLabels: ["billing-v2"] }), FILE);
    expect(revision.branchLabels).toEqual(["billing-v2"]);
  });

  it("rejects a module without a default export, saying where a helper goes instead", () => {
    expect(validationError(undefined).message).toContain("has no default export");
    expect(validationError(undefined).message).toContain("If it is a helper, not a revision, move it to a sub-folder or name it __<name>.ts");
  });

  it("rejects a default export that is not an object, calling a class a class", () => {
    expect(validationError(() => {}).message).toContain("the default export is a function");
    expect(validationError(class Revision {}).message).toContain("the default export is a class");
  });

  it("rejects a default export that is a Promise, saying to await it at top level, instead of calling its id missing", () => {
    const error = validationError(Promise.resolve(valid()));
    expect(error.message).toBe(`${FILE}: the default export is a Promise (or another thenable), expected the revision object itself. Await it at top level (\`export default await makeRevision();\`) or export the object.`);
    expect(error.details["field"]).toBeUndefined();
  });

  it("rejects a CommonJS module that sets exports.default, saying to set module.exports", () => {
    const error = validationError({ default: valid() });
    expect(error.message).toContain('the default export holds the revision under "default"');
    expect(error.message).toContain("Write `module.exports = { id, revises, upgrade, ... }`, or `export default { ... }`.");
    expect(error.details["field"]).toBe("default");
  });

  it("rejects an unknown field, suggesting the close one", () => {
    const error = validationError(valid({ depends_on: ["a1"] }));
    expect(error.message).toContain('unknown field "depends_on"');
    expect(error.message).toContain('Did you mean "dependsOn"?');
    expect(error.details["field"]).toBe("depends_on");
  });

  it("rejects a missing id", () => {
    const value = valid();
    delete value["id"];
    const error = validationError(value);
    expect(error.message).toContain("id is missing, expected a string");
    expect(error.details["field"]).toBe("id");
  });

  it("rejects an id longer than the 32 characters the version table's version_num holds", () => {
    const error = validationError(valid({ id: "a".repeat(33) }));
    expect(error.message).toContain(`id "${"a".repeat(33)}" is 33 characters; the version table's version_num column (varchar(32), as in Alembic) holds at most 32. Choose another id.`);
    expect(error.details["field"]).toBe("id");
  });

  it("rejects an id that is not a target symbol", () => {
    const error = validationError(valid({ id: "ab-12" }));
    expect(error.message).toContain('"ab-12"');
    expect(error.message).toContain("letters, digits and _");
  });

  it("rejects an id that is a target symbol, naming the file", () => {
    const error = validationError(valid({ id: "head" }));
    expect(error.message).toBe(`${FILE}: id "head" is reserved (it is a target symbol). Choose another id.`);
    expect(error.details["field"]).toBe("id");
  });

  it("rejects a branch label that is a target symbol, naming the file", () => {
    const error = validationError(valid({ branchLabels: ["billing", "base"] }));
    expect(error.message).toBe(`${FILE}: branchLabels contains "base", which is reserved: it is a target symbol, so "base" would never name the branch. Choose another label.`);
    expect(error.details["field"]).toBe("branchLabels");
  });

  it("rejects a missing revises, explaining null for a base", () => {
    const value = valid();
    delete value["revises"];
    const error = validationError(value);
    expect(error.message).toContain("use null for a base");
    expect(error.details["field"]).toBe("revises");
  });

  it("rejects an empty revises array", () => {
    expect(validationError(valid({ revises: [] })).details["field"]).toBe("revises");
  });

  it("rejects a non-string parent", () => {
    const error = validationError(valid({ revises: ["a1", 7] }));
    expect(error.message).toContain("revises contains number 7");
  });

  it("rejects an empty parent id", () => {
    expect(validationError(valid({ revises: "" })).message).toContain("expected non-empty strings");
  });

  it("rejects a parent listed twice, which made a merge point of one parent", () => {
    const error = validationError(valid({ revises: ["a1", "b2", "a1"] }));
    expect(error.message).toBe(`${FILE}: revises lists "a1" twice; list each once.`);
    expect(error.details).toMatchObject({ field: "revises" });
  });

  it("rejects a branch label listed twice", () => {
    expect(validationError(valid({ branchLabels: ["billing", "billing"] })).message).toBe(`${FILE}: branchLabels lists "billing" twice; list each once.`);
  });

  it("accepts a dependency listed twice, as Alembic does", () => {
    expect(validateRevisionModule(valid({ dependsOn: ["core", "core"] }), FILE).dependsOn).toEqual(["core", "core"]);
  });

  it("rejects dependsOn that is not an array", () => {
    const error = validationError(valid({ dependsOn: "core" }));
    expect(error.message).toContain('dependsOn is the string "core", expected an array of strings');
  });

  it("rejects a branch label with a character targets split on", () => {
    const error = validationError(valid({ branchLabels: ["billing@2"] }));
    expect(error.message).toContain('"billing@2"');
    expect(error.details["field"]).toBe("branchLabels");
  });

  it("rejects a message that is not a string", () => {
    expect(validationError(valid({ message: 42 })).message).toContain("message is number 42, expected a string");
  });

  it("rejects a transactional that is not a boolean", () => {
    expect(validationError(valid({ transactional: "false" })).message).toContain('transactional is the string "false", expected a boolean');
  });

  it("rejects a missing upgrade function", () => {
    const value = valid();
    delete value["upgrade"];
    expect(validationError(value).details["field"]).toBe("upgrade");
  });

  it("rejects a downgrade that is not a function", () => {
    expect(validationError(valid({ downgrade: "DROP TABLE x" })).details["field"]).toBe("downgrade");
  });
});

describe("withSourceLine", () => {
  it("names the line of the field itself, not that of a comment or a message above it that mentions the field", () => {
    const source = [
      "// revises: set to the table's revision once it is merged",
      "export default {",
      '  id: "3ab8b2dfb055",',
      '  message: "fix revises: and id: of the invoices",',
      "  revises: 5,",
      "  async upgrade() {},",
      "};",
      "",
    ].join("\n");
    let error: unknown;
    try {
      validateRevisionModule({ id: "3ab8b2dfb055", message: "m", revises: 5, async upgrade() {} }, FILE);
    } catch (caught) {
      error = withSourceLine(caught, FILE, source);
    }
    expect((error as LambicError).details).toMatchObject({ field: "revises", line: 5 });
    expect((error as LambicError).message).toContain(`${FILE}:5: revises is number 5`);
  });
});

describe("closestMatch", () => {
  it("finds a transposed name", () => {
    expect(closestMatch("versionTabel", ["versionTable", "schema"])).toBe("versionTable");
  });

  it("finds a short name with two letters swapped, one edit (--name mian, defaultDatabase \"mian\")", () => {
    expect(closestMatch("mian", ["main", "analytics"])).toBe("main");
  });

  it("finds nothing for an unrelated name", () => {
    expect(closestMatch("colour", ["versionTable", "schema"])).toBeUndefined();
  });
});
