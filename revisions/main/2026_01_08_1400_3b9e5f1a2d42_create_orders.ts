import type { Revision } from "lambic";

export default {
  id: "3b9e5f1a2d42",
  revises: "2a7d4e8f0c31",
  message: "create orders and order lines",
  async upgrade(op) {
    op.createTable("orders", {
      id: { type: "bigint", identity: "always", primaryKey: true },
      customer_id: { type: "bigint", nullable: false, references: { table: "customer", onDelete: "restrict" } },
      placed_at: { type: "timestamptz", nullable: false, default: { raw: "now()" } },
    });
    op.createIndex("orders_customer_id_idx", "orders", ["customer_id"]);
    op.createTable(
      "order_line",
      {
        order_id: { type: "bigint", nullable: false, references: { table: "orders", onDelete: "cascade" } },
        product_id: { type: "bigint", nullable: false, references: { table: "product" } },
        quantity: { type: "integer", nullable: false, default: 1 },
      },
      { primaryKey: { columns: ["order_id", "product_id"] } },
    );
  },
  async downgrade(op) {
    op.dropTable("order_line");
    op.dropTable("orders");
  },
} satisfies Revision;
