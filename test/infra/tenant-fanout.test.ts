import jsonata from "jsonata";
import { describe, expect, test } from "vitest";
import type { Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { MAX_MAP_BATCHES, STATE_MACHINE_RESPONSE_LIMIT_BYTES } from "../../infra/lambic-migrations.ts";
import { SHA, allStatements, asList, only, synth } from "./helpers.ts";

/** The state machine's ASL, with CloudFormation references replaced by their logical ids. */
function definition(template: Template): any {
  const { resource } = only(template, "AWS::StepFunctions::StateMachine");
  const body = resource.Properties.DefinitionString;
  const parts: unknown[] = typeof body === "string" ? [body] : body["Fn::Join"][1];
  const text = parts.map((part) => (typeof part === "string" ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`)).join("");
  return JSON.parse(text);
}

/** A state's JSONata (`{% … %}`) evaluated with `$states` bound, as Step Functions evaluates it. */
async function evaluate(expression: string, states: Record<string, unknown>): Promise<any> {
  const body = /^\{%([\s\S]*)%\}$/.exec(expression);
  if (!body) throw new Error(`not a JSONata expression: ${expression}`);
  return jsonata(body[1]!).evaluate({}, { states });
}

/** What the function's `tenants` command answers for `count` tenants in batches of one. */
function listing(count: number) {
  const tenants = Array.from({ length: count }, (_, i) => `tenant_${String(i).padStart(6, "0")}`);
  return { ok: true, command: "tenants", database: "app", bundleSha256: SHA, count, batchSize: 1, batches: tenants.map((t) => ({ tenants: [t] })), durationMs: 120 };
}

/** Step Functions' limit on any state's input, output or result (States.DataLimitExceeded). */
const STATE_LIMIT_BYTES = 256 * 1024;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

function selfInvokeStatements(stack: Stack, template: Template, fnArn: unknown): any[] {
  return allStatements(template).filter((st) => asList(st.Action).includes("lambda:InvokeFunction") && JSON.stringify(st.Resource).includes(JSON.stringify(fnArn).slice(1, -1)));
}

describe("tenantFanout", () => {
  test("is off by default: no self-invoke permission, no state machine", () => {
    const { template } = synth();
    expect(Object.keys(template.findResources("AWS::StepFunctions::StateMachine"))).toHaveLength(0);
    expect(allStatements(template).filter((st) => asList(st.Action).includes("lambda:InvokeFunction"))).toHaveLength(0);
  });

  test("lets the function invoke itself (and its qualified versions), in a policy of its own to avoid a cycle", () => {
    const { stack, migrations, template } = synth({ tenantFanout: {} });
    const fnArn = stack.resolve(migrations.fn.functionArn);
    const policies = Object.entries(template.findResources("AWS::IAM::Policy")).filter(([id]) => id.includes("SelfInvokePolicy"));
    expect(policies).toHaveLength(1);
    expect(policies[0]![1].Properties.PolicyDocument.Statement).toEqual([
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: [fnArn, { "Fn::Join": ["", [fnArn, ":*"]] }] },
    ]);
    expect(policies[0]![1].Properties.Roles).toEqual([stack.resolve(migrations.fn.role!.roleName)]);
    // The function must not depend on it (the policy names the function: that would be a cycle).
    const fn = Object.values(template.findResources("AWS::Lambda::Function", { Properties: { Handler: "handler.handler" } }))[0]!;
    expect(asList(fn.DependsOn ?? [])).not.toContain(policies[0]![0]);
    expect(selfInvokeStatements(stack, template, fnArn)).toHaveLength(1);
    expect(Object.keys(template.findResources("AWS::StepFunctions::StateMachine"))).toHaveLength(0);
  });

  test("warns that batchSize and maxConcurrency apply to the state machine only, when there is none (the fanout event sets its own)", () => {
    const warnings = (stack: Stack) => stack.node.findAll().flatMap((c) => c.node.metadata).filter((m) => m.type === "aws:cdk:warning").map((m) => String(m.data));
    expect(warnings(synth({ tenantFanout: { batchSize: 50, maxConcurrency: 8 } }).stack)).toEqual([expect.stringMatching(/tenantFanout\.batchSize and maxConcurrency apply to the state machine .*ignored.*--batch-size/)]);
    expect(warnings(synth({ tenantFanout: {} }).stack)).toEqual([]);
    expect(warnings(synth({ tenantFanout: { stateMachine: true, batchSize: 50 } }).stack)).toEqual([]);
  });

  test("the deploy-time upgrade waits for the self-invoke policy", () => {
    const { template } = synth({ tenantFanout: {}, migrateOnDeploy: { bundleSha256: SHA } });
    const { resource } = only(template, "Custom::LambicMigration");
    expect(asList(resource.DependsOn).some((id: string) => id.includes("SelfInvokePolicy"))).toBe(true);
  });
});

describe("tenantFanout.stateMachine", () => {
  test("lists the tenants, then maps over the batches with MaxConcurrency, each pinned to the listed bundle", () => {
    const { stack, migrations, template } = synth({ database: "app", tenantFanout: { stateMachine: true, batchSize: 10, maxConcurrency: 6 } });
    expect(migrations.fanoutStateMachine).toBeDefined();
    const asl = definition(template);
    expect(asl.QueryLanguage).toBe("JSONata");
    expect(asl.StartAt).toBe("ListTenants");
    const fnArn = `<${JSON.stringify(stack.resolve(migrations.fn.functionArn)).replace(/"/g, "'")}>`;

    expect(asl.States.ListTenants).toMatchObject({
      Type: "Task",
      Resource: expect.stringContaining(":states:::lambda:invoke"),
      Arguments: { FunctionName: fnArn, Payload: { command: "tenants", database: "app", batchSize: 10 } },
      Output: "{% $states.result.Payload %}",
      Next: "BatchesWithinHistoryLimit",
    });
    expect(asl.States.BatchesWithinHistoryLimit).toMatchObject({ Type: "Choice", Choices: [{ Next: "Batches" }], Default: "TooManyBatches" });
    const map = asl.States.Batches;
    expect(map).toMatchObject({
      Type: "Map",
      MaxConcurrency: 6,
      Items: "{% $states.input.batches %}",
      ItemSelector: {
        command: "{% $states.context.Execution.Input.operation %}",
        target: "{% $states.context.Execution.Input.target %}",
        database: "app",
        bundle: { sha256: "{% $states.input.bundleSha256 %}" },
        tenants: "{% $states.context.Map.Item.Value.tenants %}",
      },
      Next: "AllBatchesSucceeded",
    });
    const batch = map.ItemProcessor.States.MigrateBatch;
    expect(batch).toMatchObject({ Type: "Task", Arguments: { FunctionName: fnArn, Payload: "{% $states.input %}" } });
    // A failed batch is caught so the others go on; no retry (it would wait on the tenants' locks).
    expect(batch.Catch).toEqual([{ ErrorEquals: ["States.ALL"], Next: "BatchFailed" }]);
    expect(batch.Retry).toBeUndefined();
    expect(map.ItemProcessor.States.BatchFailed).toMatchObject({ Type: "Pass", End: true });
    // The execution fails when any batch failed.
    expect(asl.States.AllBatchesSucceeded).toMatchObject({ Type: "Choice", Choices: [{ Condition: "{% $states.input.failedBatches = 0 %}", Next: "Succeeded" }], Default: "TenantsFailed" });
    expect(asl.States.TenantsFailed).toMatchObject({ Type: "Fail", Error: "TENANTS_FAILED" });
  });

  test("refuses more batches than an execution's history holds, before any batch runs, saying which batchSize fits", async () => {
    const asl = definition(synth({ database: "app", tenantFanout: { stateMachine: true, batchSize: 1 } }).template);
    const [within] = asl.States.BatchesWithinHistoryLimit.Choices;
    expect(await evaluate(within.Condition, { input: listing(MAX_MAP_BATCHES) })).toBe(true);
    const over = listing(MAX_MAP_BATCHES + 1);
    expect(await evaluate(within.Condition, { input: over })).toBe(false);
    expect(asl.States.TooManyBatches).toMatchObject({ Type: "Fail", Error: "TOO_MANY_BATCHES" });
    expect(await evaluate(asl.States.TooManyBatches.Cause, { input: over })).toBe(
      `${MAX_MAP_BATCHES + 1} tenant(s) of database app make ${MAX_MAP_BATCHES + 1} batch(es) of up to 1, more than the ${MAX_MAP_BATCHES} this state machine runs (the execution history holds 25,000 events, about 9 a batch). ` +
        "Nothing was migrated. Raise tenantFanout.batchSize to 2 or more, or run the fan-out from the function (lambic invoke --fanout).",
    );
    // The most batches it runs: 9 events each when every one fails and is caught, and the states around the Map.
    expect(MAX_MAP_BATCHES * 9 + 30).toBeLessThan(25_000);
  });

  test("the listing of the most batches, and the Map's results for them, stay under the 256 KB state limit, however they end", async () => {
    const asl = definition(synth({ database: "app", tenantFanout: { stateMachine: true, batchSize: 1 } }).template);
    const map = asl.States.Batches;
    // Batches of one tenant: the most batches per tenant.
    const count = MAX_MAP_BATCHES;
    const mapInput = await evaluate(asl.States.ListTenants.Output, { result: { Payload: listing(count) } });
    expect(bytes(mapInput)).toBeLessThan(STATE_LIMIT_BYTES);
    expect(mapInput.batches).toHaveLength(count);

    // What one batch leaves in the Map's result array: its answer, or its error with a long
    // cause (a TENANTS_FAILED message carries the batch's report).
    const item = { command: "upgrade", target: "head", database: "app", bundle: { sha256: SHA }, tenants: ["tenant_000001"] };
    const succeeded = await evaluate(map.ItemProcessor.States.MigrateBatch.Output, {
      input: item,
      result: { Payload: { ok: true, command: "upgrade", database: "app", bundleSha256: SHA, tenants: [{ tenant: "tenant_000001", ok: true, from: [], to: ["c3"], steps: [], ms: 9 }], succeeded: 1, failed: 0, durationMs: 80 } },
    });
    const failed = (error: string) => evaluate(map.ItemProcessor.States.BatchFailed.Output, { input: item, errorOutput: { Error: error, Cause: JSON.stringify({ errorType: error, errorMessage: "x".repeat(30_000) }) } });
    const [throttled, tenantsFailed] = await Promise.all([failed("Lambda.TooManyRequestsException"), failed("TENANTS_FAILED")]);
    expect([succeeded, throttled, tenantsFailed]).toEqual([1, "Lambda.TooManyRequestsException", "TENANTS_FAILED"]);

    // Every batch failed, with the longest error name: the worst case.
    const allFailed = Array.from({ length: count }, () => throttled);
    expect(bytes(allFailed)).toBeLessThan(STATE_LIMIT_BYTES);
    const failedSummary = await evaluate(map.Output, { input: mapInput, result: allFailed });
    expect(failedSummary).toEqual({ batches: count, succeeded: 0, failedBatches: count, errors: ["Lambda.TooManyRequestsException"] });
    expect(await evaluate(asl.States.AllBatchesSucceeded.Choices[0].Condition, { input: failedSummary })).toBe(false);

    // Some of each: the failure names each error once, in a bounded cause.
    const mixed = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? tenantsFailed : i % 3 === 1 ? throttled : succeeded));
    const mixedSummary = await evaluate(map.Output, { input: mapInput, result: mixed });
    const failedBatches = mixed.filter((r) => typeof r === "string").length;
    expect(mixedSummary).toEqual({ batches: count, succeeded: count - failedBatches, failedBatches, errors: ["TENANTS_FAILED", "Lambda.TooManyRequestsException"] });
    const cause: string = await evaluate(asl.States.TenantsFailed.Cause, { input: mixedSummary });
    expect(cause).toBe(
      `${failedBatches} of ${count} batch(es) failed (TENANTS_FAILED, Lambda.TooManyRequestsException); the ${count - failedBatches} tenant(s) of the other batches are committed (a TENANTS_FAILED batch committed its other tenants too). ` +
        "Each failed batch has its tenants and its error in this execution history, as a failed MigrateBatch iteration. Fix them and start the execution again: tenants already at the target have nothing to do.",
    );
    expect(cause.length).toBeLessThan(32_768);

    // All succeeded: the execution's output is the summary.
    const allSucceeded = await evaluate(map.Output, { input: mapInput, result: Array.from({ length: count }, () => succeeded) });
    expect(allSucceeded).toEqual({ batches: count, succeeded: count, failedBatches: 0, errors: [] });
    expect(await evaluate(asl.States.AllBatchesSucceeded.Choices[0].Condition, { input: allSucceeded })).toBe(true);
  });

  test("caps the function's answers under a state's 256 KiB, so a batch's large report goes to S3 instead of failing the execution", () => {
    const { template } = synth({ tenantFanout: { stateMachine: true, batchSize: 1000 } });
    const fn = Object.values(template.findResources("AWS::Lambda::Function", { Properties: { Handler: "handler.handler" } }))[0]!;
    expect(fn.Properties.Environment.Variables.LAMBIC_RESPONSE_LIMIT_BYTES).toBe(String(STATE_MACHINE_RESPONSE_LIMIT_BYTES));
    expect(STATE_MACHINE_RESPONSE_LIMIT_BYTES).toBeLessThan(STATE_LIMIT_BYTES);
  });

  test("defaults to batches of 25 and MaxConcurrency 4", () => {
    const asl = definition(synth({ tenantFanout: { stateMachine: true } }).template);
    expect(asl.States.ListTenants.Arguments.Payload).toEqual({ command: "tenants", database: "main", batchSize: 25 });
    expect(asl.States.Batches.MaxConcurrency).toBe(4);
  });

  test("its role may invoke the migration function only; no statement anywhere has a * resource", () => {
    const { stack, migrations, template } = synth({ tenantFanout: { stateMachine: true } });
    const fnArn = stack.resolve(migrations.fn.functionArn);
    const { resource: machine } = only(template, "AWS::StepFunctions::StateMachine");
    const roleId = machine.Properties.RoleArn["Fn::GetAtt"][0];
    const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
    expect(policies).toHaveLength(1);
    const statements = policies[0]!.Properties.PolicyDocument.Statement;
    expect(statements).toEqual([{ Effect: "Allow", Action: "lambda:InvokeFunction", Resource: [fnArn, { "Fn::Join": ["", [fnArn, ":*"]] }] }]);
    for (const st of allStatements(template)) for (const resource of asList(st.Resource)) expect(resource).not.toBe("*");
  });

  test("rejects a batch size or concurrency out of range", () => {
    expect(() => synth({ tenantFanout: { stateMachine: true, batchSize: 0 } })).toThrow(/batchSize must be a whole number from 1 to 1000/);
    expect(() => synth({ tenantFanout: { stateMachine: true, maxConcurrency: 41 } })).toThrow(/maxConcurrency must be a whole number from 1 to 40 \(an inline Map runs at most 40 iterations at once\), got 41/);
  });
});
