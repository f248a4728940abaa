import type { Revision } from "lambic";

export default {
  id: "8a5d0e6f7c97",
  revises: "7f4c9d5e6b86",
  message: "order status",
  async upgrade(op) {
    op.addColumn("orders", "status", { type: "text", nullable: false, default: "placed" });
    op.createCheckConstraint("orders_status_check", "orders", "status IN ('placed', 'paid', 'shipped', 'cancelled')");
  },
  async downgrade(op) {
    op.dropColumn("orders", "status");
  },
} satisfies Revision;
