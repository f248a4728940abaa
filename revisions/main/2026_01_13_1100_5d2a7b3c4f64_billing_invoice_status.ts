import type { Revision } from "lambic";

export default {
  id: "5d2a7b3c4f64",
  revises: "4c1f6a2b3e53",
  message: "billing: invoice status",
  async upgrade(op) {
    op.createEnum("invoice_status", ["draft", "issued", "paid", "void"]);
    op.addColumn("invoice", "status", { type: "invoice_status", nullable: false, default: "draft" });
  },
  async downgrade(op) {
    op.dropColumn("invoice", "status");
    op.dropEnum("invoice_status");
  },
} satisfies Revision;
