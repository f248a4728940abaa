import { expect, it } from "vitest";
import { urlFromSecret } from "../../../src/db/secrets.ts";

it("refuses a secret with a username and password but no host (what RDS manages itself), saying what to store instead", () => {
  let error: unknown;
  try {
    urlFromSecret(JSON.stringify({ username: "postgres", password: "pw" }), "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-1-AbCdEf");
  } catch (caught) {
    error = caught;
  }
  expect(error).toMatchObject({ code: "CONFIG_INVALID" });
  expect((error as Error).message).toContain('no host, as the secret RDS manages itself for a master password: store a URL or {"url": "..."} in a secret of your own');
  expect((error as Error).message).not.toContain("pw");
});
