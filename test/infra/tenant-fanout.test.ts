import { describe, expect, test } from "vitest";
import type { Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { SHA, allStatements, asList, only, synth } from "./helpers.ts";

/** The state machine's ASL, with CloudFormation references replaced by their logical ids. */
function definition(template: Template): any {
  const { resource } = only(template, "AWS::StepFunctions::StateMachine");
  const body = resource.Properties.DefinitionString;
  const parts: unknown[] = typeof body === "string" ? [body] : body["Fn::Join"][1];
  const text = parts.map((part) => (typeof part === "string" ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`)).join("");
  return JSON.parse(text);
}

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
      Next: "Batches",
    });
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
    expect(asl.States.AllBatchesSucceeded).toMatchObject({ Type: "Choice", Choices: [{ Condition: "{% $count($states.input[ok = false]) = 0 %}", Next: "Succeeded" }], Default: "TenantsFailed" });
    expect(asl.States.TenantsFailed).toMatchObject({ Type: "Fail", Error: "TENANTS_FAILED" });
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
    expect(() => synth({ tenantFanout: { stateMachine: true, maxConcurrency: 101 } })).toThrow(/maxConcurrency must be a whole number from 1 to 100/);
  });
});
