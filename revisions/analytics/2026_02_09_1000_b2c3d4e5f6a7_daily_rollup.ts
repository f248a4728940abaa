import type { Revision } from "lambic";

export default {
  id: "b2c3d4e5f6a7",
  revises: "a1b2c3d4e5f6",
  message: "daily page-view rollup",
  async upgrade(op) {
    op.createTable(
      "daily_views",
      { day: { type: "date", nullable: false }, path: { type: "text", nullable: false }, views: { type: "bigint", nullable: false, default: 0 } },
      { schema: "analytics", primaryKey: { columns: ["day", "path"] } },
    );
  },
  async downgrade(op) {
    op.dropTable("daily_views", { schema: "analytics" });
  },
} satisfies Revision;
