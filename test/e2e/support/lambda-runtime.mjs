// One Lambda execution environment: imports the built handler once (the init phase), then runs
// invocations sent over IPC one at a time, as the nodejs22.x runtime does. Each invocation's
// output ends with a NUL marker line on stdout, so the parent can cut the log per invocation.
import { pathToFileURL } from "node:url";

const [handlerFile, functionName] = process.argv.slice(2);
// Lambda sends stdout and stderr to one log stream, in order; two pipes would not keep that
// order, so stderr goes through stdout here.
process.stderr.write = process.stdout.write.bind(process.stdout);
const initStarted = performance.now();
const module = await import(pathToFileURL(handlerFile).href);
const initMs = performance.now() - initStarted;
process.send({ type: "ready", initMs });

// Lambda's Node runtime reports a thrown error with these three fields only.
function toErrorPayload(error) {
  return {
    errorType: error?.name ?? "Error",
    errorMessage: error?.message ?? String(error),
    trace: String(error?.stack ?? "").split("\n"),
  };
}

process.on("message", async (message) => {
  if (message.type !== "invoke") return;
  const { id, event, requestId, deadline } = message;
  const context = {
    awsRequestId: requestId,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  process.stdout.write(`START RequestId: ${requestId} Version: $LATEST\n`);
  const started = performance.now();
  let reply;
  try {
    reply = { ok: true, payload: (await module.handler(event, context)) ?? null };
  } catch (error) {
    reply = { ok: false, payload: toErrorPayload(error) };
  }
  const ms = performance.now() - started;
  process.stdout.write(`END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tInit Duration: ${initMs.toFixed(2)} ms\n\u0000${id}\n`);
  process.send({ type: "result", id, ms, ...reply });
});
