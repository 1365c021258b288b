import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { assertNames } from "../helpers/names";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { linearModel } from "../helpers/onnx-models";
import { waitUntil } from "../helpers/eventually";

const FIXTURES = path.resolve(__dirname, "../../../test/registry/fixtures");

/** train → gate → use: the last stage reads the gate's `model` output, so it runs only once approved. */
function gatedPipeline(bytes: Uint8Array, metrics: Record<string, number>) {
  return {
    name: "gated",
    stages: [
      {
        name: "train",
        run: { module: "./stages.ts", export: "writeModelWithMetrics" },
        params: { b64: Buffer.from(bytes).toString("base64"), metrics },
        outputs: { model: { kind: "Model" } },
      },
      {
        name: "approval",
        run: { operator: "gate" },
        inputs: { model: { from: "train.model" } },
        params: { model: "gated-model", description: "trained by the gate test" },
        outputs: { model: { kind: "Model" } },
      },
      {
        name: "deploy",
        run: { module: "./stages.ts", export: "writeModel" },
        inputs: { approved: { from: "approval.model" } },
        params: { b64: Buffer.from("deployed").toString("base64") },
        outputs: { model: { kind: "Model" } },
      },
    ],
  };
}

describe("pipeline gate stages", () => {
  let t: TestServer;
  let projectId: string;
  let approver: Awaited<ReturnType<typeof seedCaller>>;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_GOVERNANCE_SWEEP_MS: "200" } });
    projectId = await seedProject(t, "gates");
    approver = await seedCaller(t, "APPROVER", projectId);
  });
  after(async () => {
    await t.close();
  });

  const waitingAtGate = (r: Awaited<ReturnType<typeof getRun>>) => stage(r, "approval").status === "WAITING";
  const decide = async (name: "approveModelVersion" | "rejectModelVersion", versionId: string, comment: string) =>
    dataOf(
      await t.gql(
        `mutation($i: DecideModelVersionInput!) { ${name}(input: $i) { __typename ... on Error { message } } }`,
        { i: { modelVersionId: versionId, comment } },
        approver.token,
      ),
    )[name];
  const openRequest = async () =>
    dataOf(
      await t.gql(
        `query($f: ApprovalRequestFilter) { approvalRequests(filter: $f) { nodes { id status modelVersion { id version status lineage createdBy } } } }`,
        { f: { projectId, status: "OPEN" } },
      ),
    ).approvalRequests.nodes;

  it("registers the model, waits for an approver, then lets the run through with the approved model", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, gatedPipeline(linearModel([1, 2], 0), { auc: 0.9 }), FIXTURES);
    const runId = await triggerRun(t, pipelineId);
    const waiting = await waitForRun(t, runId, 20_000, waitingAtGate);
    assert.equal(waiting.status, "RUNNING");
    assert.equal(stage(waiting, "deploy").status, "PENDING");

    // The gate registered the train stage's output (the model was created on first use).
    const open: any[] = await waitUntil("the gate's approval request", async () => {
      const found = await openRequest();
      return found.length > 0 && found;
    });
    assert.equal(open.length, 1);
    const v = open[0].modelVersion;
    assert.equal(v.status, "PENDING_APPROVAL");
    assert.equal(v.lineage.runId, runId);
    assert.equal(v.lineage.stage, "train");

    // Still waiting a moment later: nothing but a decision moves a gate (the pause is the test: nothing is to be observed).
    await new Promise((r) => setTimeout(r, 500)); // time must pass: see above
    assert.equal(stage(await getRun(t, runId), "approval").status, "WAITING");

    assert.equal((await decide("approveModelVersion", v.id, "validated offline")).__typename, "ApprovalDecisionPayload");
    const done = await waitForRun(t, runId, 20_000);
    assert.equal(done.status, "SUCCEEDED");
    assert.equal(stage(done, "approval").status, "SUCCEEDED");
    assert.equal(stage(done, "deploy").status, "SUCCEEDED");
    const passed = dataOf(
      await t.gql(`query($id: ID!) { run(id: $id) { stageRuns { stageName outputs { outputName metadata } } } }`, { id: runId }),
    ).run.stageRuns.find((s: any) => s.stageName === "approval").outputs[0];
    assert.equal(passed.metadata.modelVersionId, v.id);

    // The same file again: its version is already approved, so the gate passes at once.
    const again = await waitForRun(t, await triggerRun(t, pipelineId), 20_000);
    assert.equal(again.status, "SUCCEEDED");
    const versions = dataOf(
      await t.gql(`query($p: ID!) { registeredModel(projectId: $p, name: "gated-model") { versions { totalCount } } }`, { p: projectId }),
    ).registeredModel.versions;
    assert.equal(versions.totalCount, 1, "no second version of the same file");
  });

  it("moves the alias named by `promote` to the version once approved, and not before", async () => {
    const spec = gatedPipeline(linearModel([3, 4], 1), { auc: 0.8 });
    Object.assign(spec.stages[1].params, { model: "promoted-model", promote: "champion" });
    const { pipelineId } = await applyPipeline(t, projectId, spec, FIXTURES);
    const runId = await triggerRun(t, pipelineId);
    await waitForRun(t, runId, 20_000, waitingAtGate);
    const aliases = async () =>
      dataOf(
        await t.gql(
          `query($p: ID!) { registeredModel(projectId: $p, name: "promoted-model") { aliases { alias versionId } aliasHistory(alias: "champion") { actorId toVersionId } } }`,
          {
            p: projectId,
          },
        ),
      ).registeredModel;
    const open: any[] = await waitUntil("the run's approval request", async () => {
      const found = (await openRequest()).filter((r: any) => r.modelVersion.lineage.runId === runId);
      return found.length > 0 && found;
    });
    const v = open[0].modelVersion;
    assert.deepEqual((await aliases()).aliases, [], "nothing promoted while the request is open");
    assert.equal((await decide("approveModelVersion", v.id, "ship it")).__typename, "ApprovalDecisionPayload");
    assert.equal((await waitForRun(t, runId, 20_000)).status, "SUCCEEDED");
    const after = await aliases();
    assert.deepEqual(after.aliases, [{ alias: "champion", versionId: v.id }]);
    assert.deepEqual(after.aliasHistory, [{ actorId: null, toVersionId: v.id }], "a system move names no actor");
  });

  it("fails the gate when the version is rejected, and skips what is below it", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, gatedPipeline(linearModel([3, 4], 1), { auc: 0.7 }), FIXTURES);
    const runId = await triggerRun(t, pipelineId);
    await waitForRun(t, runId, 20_000, waitingAtGate);
    const open: any[] = await waitUntil("the gate's approval request", async () => {
      const found = await openRequest();
      return found.length > 0 && found;
    });
    assert.equal(
      (await decide("rejectModelVersion", open[0].modelVersion.id, "AUC too low for production")).__typename,
      "ApprovalDecisionPayload",
    );
    const done = await waitForRun(t, runId, 20_000);
    assert.equal(done.status, "FAILED");
    const gate = stage(done, "approval");
    assert.equal(gate.status, "FAILED");
    assert.equal(gate.failure!.type, "GATE_REJECTED");
    assertNames(gate.failure!.message, "AUC too low for production"); // the policy's own reason
    assert.equal(stage(done, "deploy").status, "SKIPPED");
  });

  it("fails at once when the policy's automatic checks reject the model", async () => {
    const model = dataOf(
      await t.gql(`query($p: ID!) { registeredModel(projectId: $p, name: "gated-model") { id } }`, { p: projectId }),
    ).registeredModel;
    const set = dataOf(
      await t.gql(`mutation($i: SetModelPolicyInput!) { setModelPolicy(input: $i) { __typename } }`, {
        i: { registeredModelId: model.id, policy: { metrics: [{ metric: "auc", min: 0.8 }], approvals: { required: 1 } } },
      }),
    ).setModelPolicy;
    assert.equal(set.__typename, "ModelPolicyPayload");
    const { pipelineId } = await applyPipeline(t, projectId, gatedPipeline(linearModel([5, 6], 2), { auc: 0.75 }), FIXTURES);
    const done = await waitForRun(t, await triggerRun(t, pipelineId), 20_000);
    assert.equal(done.status, "FAILED");
    assert.equal(stage(done, "approval").failure!.type, "GATE_REJECTED");
    assert.match(stage(done, "approval").failure!.message, /below the minimum 0\.8/);
  });

  it("ends a waiting gate when its run is canceled", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, gatedPipeline(linearModel([7, 8], 3), { auc: 0.95 }), FIXTURES);
    const runId = await triggerRun(t, pipelineId);
    await waitForRun(t, runId, 20_000, waitingAtGate);
    const canceled = dataOf(
      await t.gql(`mutation($i: RunIdInput!) { cancelRun(input: $i) { __typename ... on Error { message } } }`, { i: { id: runId } }),
    ).cancelRun;
    assert.equal(canceled.__typename, "RunPayload");
    const done = await waitForRun(t, runId, 20_000);
    assert.equal(done.status, "CANCELED");
    assert.equal(stage(done, "approval").status, "CANCELED");
    assert.equal(stage(done, "deploy").status, "CANCELED");
  });

  it("refuses gate stages that could not work, at apply time", async () => {
    const spec = gatedPipeline(linearModel([1, 1], 1), {});
    const gate = spec.stages[1] as Record<string, unknown>;
    gate.outputs = { report: { kind: "Report" } };
    gate.retries = { max: 2 };
    delete (gate.params as Record<string, unknown>).model;
    const res = dataOf(
      await t.gql(
        `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
        { i: { projectId, spec, baseDir: FIXTURES } },
      ),
    ).applyPipeline;
    assert.equal(res.__typename, "InvalidInputError");
    const fields = res.problems.map((p: any) => p.field);
    for (const f of ["stages[1].outputs.report", "stages[1].retries.max", "stages[1].params.model"])
      assert.ok(fields.includes(f), JSON.stringify(res.problems));
  });
});
