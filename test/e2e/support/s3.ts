/**
 * A real S3-compatible server (s3rver) in this process, on 127.0.0.1, with one bucket; and the
 * client settings it needs (PARTS.md): path-style URLs and WHEN_REQUIRED checksums. The handler
 * gets the same settings through LAMBIC_S3_* variables, never by default.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { createS3Client, s3SettingsFromEnv } from "../../../src/bundle/s3-bundles.ts";

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** What a process needs in its environment to reach this server. */
  readonly env: Record<string, string>;
  readonly client: S3Client;
  stop(): Promise<void>;
}

export const AWS_TEST_ENV = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
} as const;

export async function startS3(bucket = "lambic-test"): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "lambic-s3-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const env = { ...AWS_TEST_ENV, LAMBIC_S3_ENDPOINT: endpoint, LAMBIC_S3_FORCE_PATH_STYLE: "true", LAMBIC_S3_CHECKSUMS: "WHEN_REQUIRED" };
  // The SDK reads credentials from the environment; these tests own the process's AWS settings.
  Object.assign(process.env, AWS_TEST_ENV);
  const client = await createS3Client(s3SettingsFromEnv(env));
  return {
    endpoint,
    bucket,
    env,
    client,
    async stop() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
