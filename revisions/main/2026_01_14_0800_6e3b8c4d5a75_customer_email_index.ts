import type { Revision } from "lambic";

// Built without locking writes to customer, so it runs outside the migration's transaction.
export default {
  id: "6e3b8c4d5a75",
  revises: "3b9e5f1a2d42",
  message: "unique index on customer email",
  transactional: false,
  async upgrade(op) {
    op.createIndex("customer_email_key", "customer", [{ expression: "lower(email)" }], { unique: true, concurrently: true, ifNotExists: true });
  },
  async downgrade(op) {
    op.dropIndex("customer_email_key", { concurrently: true, ifExists: true });
  },
} satisfies Revision;
