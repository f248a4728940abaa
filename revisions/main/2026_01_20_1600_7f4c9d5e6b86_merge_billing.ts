import type { Revision } from "lambic";

export default {
  id: "7f4c9d5e6b86",
  revises: ["5d2a7b3c4f64", "6e3b8c4d5a75"],
  message: "merge billing and the email index",
  async upgrade() {},
  async downgrade() {},
} satisfies Revision;
