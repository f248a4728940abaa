/**
 * The database URL for the Lambda, first match wins:
 *   LAMBIC_DATABASE_URL, then DATABASE_URL           a URL in the environment
 *   LAMBIC_DATABASE_SECRET_ARN                       AWS Secrets Manager (what the CDK construct sets)
 *   LAMBIC_DATABASE_SSM_PARAMETER                    an SSM parameter (SecureString is decrypted)
 * A secret holds either the URL itself, or JSON with a `url` key, or RDS secret JSON with the
 * host ({ username, password, host, port, dbname }, as CDK's generated database secret holds; the
 * secret RDS manages itself for a master password has only username and password).
 *
 * The SDK clients are imported only when a secret is read, and a value is cached in module scope
 * for LAMBIC_SECRET_TTL_SECONDS (default 300): warm invocations do not call AWS, and a rotated
 * password is picked up within the TTL.
 */
import { awsRequestHandler } from "../aws-requests.ts";
import { envNumber } from "../env-number.ts";
import { LambicError, withoutFullStop } from "../errors.ts";

export type UrlSource = "env" | "secretsmanager" | "ssm";

export interface ResolvedUrl {
  readonly url: string;
  readonly source: UrlSource;
  /** The variable, secret ARN or parameter name it came from (never the value). */
  readonly from: string;
}

const cache = new Map<string, { url: string; expires: number }>();

export async function resolveDatabaseUrl(database: string, env: Record<string, string | undefined>, now: () => number = Date.now): Promise<ResolvedUrl> {
  for (const variable of ["LAMBIC_DATABASE_URL", "DATABASE_URL"]) {
    const value = env[variable];
    if (value) return { url: value, source: "env", from: variable };
  }
  const secretArn = env.LAMBIC_DATABASE_SECRET_ARN;
  const parameter = env.LAMBIC_DATABASE_SSM_PARAMETER;
  if (!secretArn && !parameter) {
    throw new LambicError(
      "CONFIG_INVALID",
      `No database URL for database "${database}": set LAMBIC_DATABASE_URL (or DATABASE_URL), LAMBIC_DATABASE_SECRET_ARN (a Secrets Manager secret) or LAMBIC_DATABASE_SSM_PARAMETER in the function's environment.`,
      { database },
    );
  }
  const ttlSeconds = envNumber(env, "LAMBIC_SECRET_TTL_SECONDS");
  const source: UrlSource = secretArn ? "secretsmanager" : "ssm";
  const from = (secretArn ?? parameter)!;
  const key = `${source}:${from}`;
  const cached = cache.get(key);
  if (cached && cached.expires > now()) return { url: cached.url, source, from };

  const text = source === "secretsmanager" ? await readSecret(from, env) : await readParameter(from, env);
  const url = urlFromSecret(text, from);
  cache.set(key, { url, expires: now() + ttlSeconds * 1000 });
  return { url, source, from };
}

/** Forget cached secrets (after an authentication failure, the password may have rotated). */
export function forgetCachedUrls(): void {
  cache.clear();
}

/** A URL, `{ "url": ... }`, or RDS's `{ username, password, host, port, dbname }`. */
export function urlFromSecret(text: string, from: string): string {
  const trimmed = text.trim();
  if (/^postgres(ql)?:\/\//.test(trimmed)) return trimmed;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    throw unusable(from, "it is neither a postgres:// URL nor JSON");
  }
  for (const key of ["url", "uri", "DATABASE_URL"]) {
    if (typeof value[key] === "string") return value[key] as string;
  }
  const { username, password, host, port, dbname } = value;
  if (typeof username !== "string" || typeof password !== "string" || typeof host !== "string") {
    // The secret RDS manages itself (manageMasterUserPassword) holds only username and password.
    const hostless = typeof username === "string" && typeof password === "string" ? ` (it has a username and password but no host, as the secret RDS manages itself for a master password: store a URL or {"url": "..."} in a secret of your own, or use one with the host, such as CDK's generated database secret)` : "";
    throw unusable(from, `its JSON has no url, and not the username, password and host of an RDS secret${hostless}`);
  }
  const database = typeof dbname === "string" && dbname ? dbname : "postgres";
  return `postgres://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${port ?? 5432}/${encodeURIComponent(database)}`;
}

function unusable(from: string, why: string): LambicError {
  return new LambicError("CONFIG_INVALID", `The database secret ${from} is unusable: ${why}. Store postgres://user:password@host:5432/db, or {"url": "..."}, or RDS secret JSON with username, password and host (port and dbname optional).`, { secret: from });
}

async function readSecret(arn: string, env: Record<string, string | undefined>): Promise<string> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({ requestHandler: awsRequestHandler(env) });
  try {
    const response = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    if (response.SecretString !== undefined) return response.SecretString;
    if (response.SecretBinary) return Buffer.from(response.SecretBinary).toString("utf8");
    throw new Error("the secret has no value");
  } catch (error) {
    throw awsFailed(`Reading the database secret ${arn} from Secrets Manager`, error, "secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)");
  } finally {
    client.destroy();
  }
}

async function readParameter(name: string, env: Record<string, string | undefined>): Promise<string> {
  const { SSMClient, GetParameterCommand } = await import("@aws-sdk/client-ssm");
  const client = new SSMClient({ requestHandler: awsRequestHandler(env) });
  try {
    const response = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = response.Parameter?.Value;
    if (value === undefined) throw new Error("the parameter has no value");
    return value;
  } catch (error) {
    throw awsFailed(`Reading the database URL from SSM parameter ${name}`, error, "ssm:GetParameter on it (and kms:Decrypt for a SecureString)");
  } finally {
    client.destroy();
  }
}

function awsFailed(what: string, error: unknown, permission: string): LambicError {
  const name = (error as { name?: string })?.name ?? "Error";
  return new LambicError(
    "AWS_FAILED",
    `${what} failed: ${name}: ${withoutFullStop((error as Error)?.message ?? String(error))}. Check that it exists in this region and that the function's role has ${permission}.`,
    { awsError: name },
    { cause: error },
  );
}
