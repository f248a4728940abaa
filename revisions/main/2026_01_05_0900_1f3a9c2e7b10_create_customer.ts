import type { Revision } from "lambic";

export default {
  id: "1f3a9c2e7b10",
  revises: null,
  message: "create customer table",
  async upgrade(op) {
    op.createTable("customer", {
      id: { type: "bigint", identity: "always", primaryKey: true },
      email: { type: "text", nullable: false },
      name: { type: "text", nullable: false },
      created_at: { type: "timestamptz", nullable: false, default: { raw: "now()" } },
    });
  },
  async downgrade(op) {
    op.dropTable("customer");
  },
} satisfies Revision;
