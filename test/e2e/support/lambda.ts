/**
 * A local stand-in for AWS Lambda that runs the REAL built handler:
 * - `LambdaFunction`: one execution environment (a child process, kept warm between
 *   invocations like Lambda's) with its own environment variables;
 * - `startInvokeServer`: Lambda's Invoke API over HTTP (POST
 *   /2015-03-31/functions/{name}/invocations, X-Amz-Function-Error, X-Amz-Log-Result), so
 *   `lambic invoke` is tested with the real @aws-sdk/client-lambda.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { HANDLER_FILE } from "./build.ts";

/** Where a test's handler finds its bundle and database, as the construct's function would. */
export interface HandlerSetting {
  readonly s3: { readonly env: Record<string, string>; readonly bucket: string };
  readonly prefix: string;
  readonly database: string;
  readonly url: string;
  readonly cacheDir: string;
}

/** The handler's environment in these tests: the bundle's S3 location, the database, Powertools' names. */
export function handlerEnv({ s3, prefix, database, url, cacheDir }: HandlerSetting): Record<string, string> {
  return {
    ...s3.env,
    LAMBIC_BUCKET: s3.bucket,
    LAMBIC_PREFIX: prefix,
    LAMBIC_DATABASE: database,
    LAMBIC_DATABASE_URL: url,
    LAMBIC_CACHE_DIR: cacheDir,
    POWERTOOLS_SERVICE_NAME: "lambic",
    POWERTOOLS_METRICS_NAMESPACE: "Lambic",
  };
}

export interface Invocation {
  /** The result, or Lambda's error payload {errorType, errorMessage, trace}. */
  readonly payload: Record<string, unknown> | null;
  /** "Unhandled" when the handler threw, as Lambda's X-Amz-Function-Error. */
  readonly functionError: string | undefined;
  /** Everything the environment printed during the invocation (START … REPORT). */
  readonly log: string;
  readonly requestId: string;
  /** Handler time measured inside the environment. */
  readonly ms: number;
}

export interface InvokeOptions {
  /** Milliseconds the invocation may run: what context.getRemainingTimeInMillis() counts down. Default 60 s. */
  readonly timeoutMs?: number;
  readonly requestId?: string;
}

export class LambdaFunction {
  private child: ChildProcess | undefined;
  private ready: Promise<number> | undefined;
  private output = "";
  private queue: Promise<unknown> = Promise.resolve();
  /** Init phase (import of the handler) of the current environment, in ms. */
  initMs = 0;

  constructor(
    readonly name: string,
    readonly env: Record<string, string | undefined>,
    readonly handlerFile: string = HANDLER_FILE,
  ) {}

  private start(): Promise<number> {
    this.ready ??= new Promise<number>((resolve, reject) => {
      const child = fork(join(import.meta.dirname, "lambda-runtime.mjs"), [this.handlerFile, this.name], {
        env: { PATH: process.env.PATH, ...this.env } as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      });
      this.child = child;
      child.stdout!.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
      child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
      child.once("message", (message: { type: string; initMs: number }) => {
        this.initMs = message.initMs;
        resolve(message.initMs);
      });
      child.once("exit", (code) => reject(new Error(`the execution environment of ${this.name} exited (${code}) during init:\n${this.output}`)));
    });
    return this.ready;
  }

  /** One invocation; invocations of one environment run one after another, as in Lambda. */
  invoke(event: unknown, options: InvokeOptions = {}): Promise<Invocation> {
    const run = this.queue.then(() => this.run(event, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(event: unknown, options: InvokeOptions): Promise<Invocation> {
    await this.start();
    const child = this.child!;
    const id = randomUUID();
    const requestId = options.requestId ?? randomUUID();
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const marker = `\u0000${id}\n`;
    const result = await new Promise<{ ok: boolean; payload: Record<string, unknown> | null; ms: number }>((resolve, reject) => {
      const onMessage = (message: { type: string; id: string; ok: boolean; payload: Record<string, unknown> | null; ms: number }) => {
        if (message.type !== "result" || message.id !== id) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(message);
      };
      const onExit = (code: number | null) => reject(new Error(`the execution environment of ${this.name} exited (${code}) during an invocation:\n${this.output}`));
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ type: "invoke", id, event, requestId, deadline });
    });
    // The result arrives over IPC; wait for the log's end marker on stdout too.
    while (!this.output.includes(marker)) await new Promise((r) => setTimeout(r, 2));
    const end = this.output.indexOf(marker);
    const log = this.output.slice(0, end);
    this.output = this.output.slice(end + marker.length);
    return { payload: result.payload, functionError: result.ok ? undefined : "Unhandled", log, requestId, ms: result.ms };
  }

  /** Ends the environment (the next invocation is a cold start). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill();
    await exited;
  }
}

/**
 * A function as Lambda scales it: an invocation goes to an idle execution environment, or a new
 * one when all are busy (up to `max`). A fan-out needs this: the coordinator's environment is
 * busy while its batches run, each in an environment of its own.
 */
export class LambdaPool {
  private readonly environments: { fn: LambdaFunction; busy: boolean }[] = [];
  private readonly waiting: (() => void)[] = [];
  /** Every invocation of every environment, in the order they finished. */
  readonly invocations: { event: unknown; invocation: Invocation }[] = [];

  constructor(
    readonly name: string,
    readonly env: Record<string, string | undefined>,
    readonly max = 10,
  ) {}

  get size(): number {
    return this.environments.length;
  }

  async invoke(event: unknown, options: InvokeOptions = {}): Promise<Invocation> {
    let slot = this.environments.find((e) => !e.busy);
    while (!slot) {
      if (this.environments.length < this.max) {
        slot = { fn: new LambdaFunction(this.name, this.env), busy: false };
        this.environments.push(slot);
      } else {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        slot = this.environments.find((e) => !e.busy);
      }
    }
    slot.busy = true;
    try {
      const invocation = await slot.fn.invoke(event, options);
      this.invocations.push({ event, invocation });
      return invocation;
    } finally {
      slot.busy = false;
      this.waiting.shift()?.();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.environments.map((e) => e.fn.stop()));
    this.environments.length = 0;
  }
}

/** JSON lines of a log (Powertools' log lines and EMF lines), skipping the runtime's own lines. */
export function jsonLines(log: string): Record<string, unknown>[] {
  return log
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The EMF lines of a log: the JSON objects with an `_aws.CloudWatchMetrics` block. */
export function emfLines(log: string): Record<string, any>[] {
  return jsonLines(log).filter((line) => typeof line._aws === "object" && line._aws !== null);
}

export interface InvokeServer {
  readonly endpoint: string;
  readonly requests: { name: string; logType: string | undefined; payload: unknown }[];
  /** The region each request was signed for (its SigV4 credential scope), in request order. */
  readonly signingRegions: (string | undefined)[];
  stop(): Promise<void>;
}

/** Lambda's Invoke API (RequestResponse) in front of the given functions. */
export async function startInvokeServer(functions: ReadonlyMap<string, Pick<LambdaFunction, "invoke">>): Promise<InvokeServer> {
  const requests: InvokeServer["requests"] = [];
  const signingRegions: InvokeServer["signingRegions"] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations(\?.*)?$/.exec(req.url ?? "");
    const send = (status: number, headers: Record<string, string>, body: string) => {
      res.writeHead(status, { "Content-Type": "application/json", "x-amzn-RequestId": randomUUID(), ...headers });
      res.end(body);
    };
    if (req.method !== "POST" || !match) {
      return send(404, { "x-amzn-ErrorType": "UnknownOperationException" }, JSON.stringify({ message: `No route for ${req.method} ${req.url}` }));
    }
    const name = decodeURIComponent(match[1]!).replace(/^arn:aws:lambda:[^:]+:\d+:function:/, "");
    const fn = functions.get(name);
    if (!fn) {
      return send(404, { "x-amzn-ErrorType": "ResourceNotFoundException" }, JSON.stringify({ Type: "User", message: `Function not found: arn:aws:lambda:us-east-1:000000000000:function:${name}` }));
    }
    let payload: unknown;
    try {
      payload = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(400, { "x-amzn-ErrorType": "InvalidRequestContentException" }, JSON.stringify({ Type: "User", message: "Could not parse request body into json" }));
    }
    const logType = req.headers["x-amz-log-type"] as string | undefined;
    requests.push({ name, logType, payload });
    signingRegions.push(/Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1]);
    try {
      const invocation = await fn.invoke(payload);
      const headers: Record<string, string> = { "X-Amz-Executed-Version": "$LATEST" };
      if (invocation.functionError) headers["X-Amz-Function-Error"] = invocation.functionError;
      // Lambda returns the last 4 KB of the invocation's log, base64-encoded.
      if (logType === "Tail") headers["X-Amz-Log-Result"] = Buffer.from(invocation.log, "utf8").subarray(-4096).toString("base64");
      send(200, headers, JSON.stringify(invocation.payload));
    } catch (error) {
      send(502, { "x-amzn-ErrorType": "ServiceException" }, JSON.stringify({ message: String(error) }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    signingRegions,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
