import { transform } from "esbuild";
import { describe, expect, it } from "vitest";
import { generateRevisionId, renderTsRevision, revisionFileName } from "../../../src/revision/revision-template.ts";
import { validateRevisionModule } from "../../../src/revision/validate-revision.ts";

const DATE = new Date(Date.UTC(2024, 4, 1, 9, 5));

describe("generateRevisionId", () => {
  it("returns 12 lowercase hex characters", () => {
    expect(generateRevisionId()).toMatch(/^[0-9a-f]{12}$/);
  });

  it("returns a different id each time", () => {
    const ids = new Set(Array.from({ length: 100 }, generateRevisionId));
    expect(ids.size).toBe(100);
  });
});

describe("revisionFileName", () => {
  it("puts the UTC date, the id and the slug in order", () => {
    expect(revisionFileName(DATE, "3ab8b2dfb055", "add invoice table", "ts")).toBe("2024_05_01_0905_3ab8b2dfb055_add_invoice_table.ts");
  });

  it("uses UTC, not the local time zone", () => {
    const lateEvening = new Date("2024-12-31T23:59:00Z");
    expect(revisionFileName(lateEvening, "a1", "x", "sql")).toBe("2024_12_31_2359_a1_x.sql");
  });

  it("lowercases the message and keeps only ascii letters and digits", () => {
    expect(revisionFileName(DATE, "a1", "Add 'Invoice' table (v2)!", "ts")).toBe("2024_05_01_0905_a1_add_invoice_table_v2.ts");
  });

  it("folds accented letters to ascii", () => {
    expect(revisionFileName(DATE, "a1", "Créer la table café", "ts")).toBe("2024_05_01_0905_a1_creer_la_table_cafe.ts");
  });

  it("spells in ascii the Latin letters that carry no accent to drop (ß, æ, ø, œ, ł, đ, þ), rather than splitting the word there", () => {
    expect(revisionFileName(DATE, "a1", "Straße, Ærøskøbing, Łódź, œuvre, Þórr", "ts")).toBe("2024_05_01_0905_a1_strasse_aeroskobing_lodz_oeuvre_thorr.ts");
  });

  it("cuts the slug at a word boundary within 40 characters", () => {
    const name = revisionFileName(DATE, "a1", "add the invoice table and its line items with foreign keys", "ts");
    const slug = name.replace("2024_05_01_0905_a1_", "").replace(".ts", "");
    expect(slug).toBe("add_the_invoice_table_and_its_line_items");
    expect(slug.length).toBeLessThanOrEqual(40);
  });

  it("cuts a single word longer than 40 characters", () => {
    const name = revisionFileName(DATE, "a1", "x".repeat(50), "ts");
    expect(name).toBe(`2024_05_01_0905_a1_${"x".repeat(40)}.ts`);
  });

  it("leaves out the slug when the message has no letters or digits", () => {
    expect(revisionFileName(DATE, "a1", "—", "sql")).toBe("2024_05_01_0905_a1.sql");
  });
});

describe("renderTsRevision", () => {
  it("renders the template", () => {
    expect(renderTsRevision({ id: "3ab8b2dfb055", revises: "1975ea83b712", message: "add invoice table" })).toBe(`import type { Revision } from "lambic";

export default {
  id: "3ab8b2dfb055",
  revises: "1975ea83b712",
  dependsOn: [],
  branchLabels: [],
  message: "add invoice table",
  transactional: true,
  async upgrade(op, ctx) {
  },
  async downgrade(op, ctx) {
  },
} satisfies Revision;
`);
  });

  it("renders a base as revises: null", () => {
    expect(renderTsRevision({ id: "a1", revises: null })).toContain("  revises: null,\n");
  });

  it("renders a merge point, dependencies, labels and transactional false", () => {
    const text = renderTsRevision({ id: "m1", revises: ["a1", "b2"], dependsOn: ["core"], branchLabels: ["billing"], transactional: false });
    expect(text).toContain('  revises: ["a1", "b2"],\n  dependsOn: ["core"],\n  branchLabels: ["billing"],\n');
    expect(text).toContain("  transactional: false,\n");
  });

  it("renders a module that compiles and validates, even with quotes in the message", async () => {
    const meta = { id: "a1", revises: null, message: 'say "hi" and \\ bye\n`${x}`' };
    const { code } = await transform(renderTsRevision(meta), { loader: "ts", format: "esm" });
    const module = (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as { default: unknown };
    expect(validateRevisionModule(module.default, "a1.ts")).toMatchObject(meta);
  });
});
