import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { linearModel } from "../helpers/onnx-models";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { waitUntil } from "../helpers/eventually";
import { SelfApprovalDecision1796150000000 } from "../../migrations/1796150000000-SelfApprovalDecision";
import { sluice, startCli } from "./cli";

const FIXTURES = path.resolve(__dirname, "../../../test/registry/fixtures");

/** train → approval (gate) → deploy, registering `model` under the default policy (one approval, separation of duties). */
function gatedPipeline(name: string, model: string, bytes: Uint8Array) {
  return {
    name,
    stages: [
      {
        name: "train",
        run: { module: "./stages.ts", export: "writeModelWithMetrics" },
        params: { b64: Buffer.from(bytes).toString("base64"), metrics: { auc: 0.9 } },
        outputs: { model: { kind: "Model" } },
      },
      {
        name: "approval",
        run: { operator: "gate" },
        inputs: { model: { from: "train.model" } },
        params: { model },
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

const WAIT_QUERY = `query($id: ID!) { run(id: $id) { status waitingGates { stageName approvalWait {
  approvalRequestId status modelName version modelVersionId requiredApprovals approvedBy requestedBy otherApprovers missing
  onlyRequesterCanApprove expiresAt approvalRequest { status policyIsDefault } } } } }`;

describe("waiting gates in the CLI, and sluice approve / reject", () => {
  let t: TestServer;
  let projectId: string;
  let env: Record<string, string>;
  let admin: string;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_GOVERNANCE_SWEEP_MS: "200" } });
    projectId = await seedProject(t, "cli-gates");
    env = { SLUICE_URL: t.url, SLUICE_TOKEN: t.adminToken, SLUICE_PROJECT: "cli-gates" };
    admin = dataOf(await t.gql(`{ me { principal { name } } }`)).me.principal.name;
  });
  after(async () => {
    await t.close();
  });

  const waitingAtGate = (r: Awaited<ReturnType<typeof getRun>>) => stage(r, "approval").status === "WAITING";

  it("a lone admin's gated run waits visibly (watch, runs, API) and passes with an explicit, audited self-approval", async () => {
    await applyPipeline(t, projectId, gatedPipeline("gated", "gated-model", linearModel([1, 2], 0)), FIXTURES);
    const watch = startCli(["run", "gated", "--watch"], env, 60_000);
    // Line mode: the gate's event, then what it waits for and the exact commands.
    await watch.waitForOutput(/reject: {2}sluice reject gated-model 1 --reason "…"/, 30_000);
    const shown = watch.stdout();
    assert.match(shown, /approval +waiting for approval/);
    assert.match(shown, /approval +waits for approval of gated-model v1 \(request [0-9a-f-]{36}\)/);
    assert.ok(shown.includes(`needs 1 more approval by someone other than ${admin}`), shown);
    assert.match(shown, /approve: sluice approve gated-model 1 --reason "…" --self-approve$/m);
    const runId = /run ([0-9a-f-]{36})\)/.exec(shown)![1]!;

    // The API says what the run waits for.
    const viaApi = dataOf(await t.gql(WAIT_QUERY, { id: runId })).run;
    assert.equal(viaApi.status, "RUNNING");
    assert.equal(viaApi.waitingGates.length, 1);
    const wait = viaApi.waitingGates[0].approvalWait;
    assert.equal(viaApi.waitingGates[0].stageName, "approval");
    assert.deepEqual(
      [
        wait.status,
        wait.modelName,
        wait.version,
        wait.requiredApprovals,
        wait.requestedBy,
        wait.otherApprovers,
        wait.onlyRequesterCanApprove,
      ],
      ["OPEN", "gated-model", 1, 1, admin, 0, true],
    );
    assert.deepEqual(wait.approvedBy, []);
    assert.equal(wait.approvalRequest.policyIsDefault, true);
    assert.ok(
      wait.missing.some((m: string) => m.includes("self-approval")),
      wait.missing.join("\n"),
    );

    // sluice runs: WAITING (not RUNNING), what for, and how to approve; --status waiting picks it out.
    const runs = await sluice(["runs"], env);
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, /^gated#1 +‖ WAITING +manual/m);
    assert.match(runs.stdout, /^gated#1 waits at approval for approval of gated-model v1: needs 1 more approval by someone other than/m);
    assert.match(runs.stdout, /approve: sluice approve gated-model 1 --reason "…" --self-approve$/m);
    const onlyWaiting = await sluice(["runs", "--status", "waiting"], env);
    assert.match(onlyWaiting.stdout, /^gated#1 +‖ WAITING/m);
    assert.equal((await sluice(["runs", "--status", "succeeded"], env)).stdout, "no runs\n");

    // Refusals, each with its reason and no decision recorded.
    const noReason = await sluice(["approve", "gated-model", "1"], env);
    assert.equal(noReason.code, 2, noReason.stderr);
    assert.match(noReason.stderr, /--reason/);
    const noModel = await sluice(["approve", "no-such-model", "1", "--reason", "x"], env);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /no model "no-such-model" in project "cli-gates"/);
    const noVersion = await sluice(["approve", "gated-model", "9", "--reason", "x"], env);
    assert.equal(noVersion.code, 1);
    assert.match(noVersion.stderr, /has no version 9/);
    const own = await sluice(["approve", "gated-model", "1", "--reason", "looks fine"], env);
    assert.equal(own.code, 1);
    assert.match(own.stderr, /not allowed to approve gated-model v1: separation of duties/);
    assert.match(own.stderr, /--self-approve/);
    assert.equal(stage(await getRun(t, runId), "approval").status, "WAITING", "a refusal moves nothing");

    const self = await sluice(["approve", "gated-model", "1", "--reason", "only admin here", "--self-approve"], env);
    assert.equal(self.code, 0, self.stderr);
    assert.match(self.stdout, /^gated-model v1 APPROVED: self-approved by .* \(separation of duties overridden\): only admin here$/m);
    assert.deepEqual(await decisionsOf(wait.approvalRequestId), [["APPROVE", true]], "the decision row says it was a self-approval");

    const watched = await watch.done;
    assert.equal(watched.code, 0, watched.stdout + watched.stderr);
    assert.match(watched.stdout, /approval +approved: gated-model v1 goes on/);
    assert.match(watched.stdout.trimEnd().split("\n").at(-1)!, /^gated #1 SUCCEEDED in \S+$/);

    const again = await sluice(["reject", "gated-model", "1", "--reason", "too late"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /gated-model v1 is already APPROVED .*a decision is final/);

    const audit = dataOf(
      await t.gql(`query($f: AuditEventFilter) { auditEvents(filter: $f) { nodes { outcome input result } } }`, {
        f: { projectId, action: "model.version.approve" },
      }),
    ).auditEvents.nodes;
    const passed = audit.filter((e: any) => e.outcome === "SUCCEEDED");
    assert.equal(passed.length, 1);
    assert.equal(passed[0].input.selfApproval, true);
    assert.equal(passed[0].result.selfApproved, true);
    assert.ok(
      audit.some((e: any) => e.outcome !== "SUCCEEDED"),
      "the refused attempt is audited too",
    );
  });

  it("with a second approver, self-approval is refused and the approver decides, by model or by request id", async () => {
    const approver = await seedCaller(t, "APPROVER", projectId);
    const { pipelineId } = await applyPipeline(t, projectId, gatedPipeline("gated-two", "two-model", linearModel([5, 6], 1)), FIXTURES);
    const first = await waitForRun(t, await triggerRun(t, pipelineId), 30_000, waitingAtGate);
    const wait = await waitFor(first.id);
    assert.equal(wait.otherApprovers, 1);
    assert.equal(wait.onlyRequesterCanApprove, false);
    assert.ok(wait.missing[0].startsWith(`needs 1 more approval by someone other than ${admin}`), wait.missing.join("\n"));

    const refused = await sluice(["approve", "two-model", "1", "--reason", "mine", "--self-approve"], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /self-approval refused: 1 other principal/);

    const approverEnv = { ...env, SLUICE_TOKEN: approver.token };
    const ok = await sluice(["approve", wait.approvalRequestId, "--reason", "reviewed the metrics"], approverEnv);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^two-model v1 APPROVED: approved by /m);
    assert.deepEqual(await decisionsOf(wait.approvalRequestId), [["APPROVE", false]]);
    assert.equal((await waitForRun(t, first.id, 30_000)).status, "SUCCEEDED");

    // A new file: version 2, which the approver rejects; the gate fails and the run with it.
    await applyPipeline(t, projectId, gatedPipeline("gated-two", "two-model", linearModel([7, 8], 2)), FIXTURES);
    const second = await waitForRun(t, await triggerRun(t, pipelineId), 30_000, waitingAtGate);
    await waitFor(second.id);
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const forbidden = await sluice(["reject", "two-model", "2", "--reason", "no"], { ...env, SLUICE_TOKEN: viewer.token });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /not allowed/);
    const rejected = await sluice(["reject", "two-model", "2", "--reason", "drifted"], approverEnv);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(rejected.stdout, /^two-model v2 REJECTED: rejected by .*: drifted$/m);
    const failed = await waitForRun(t, second.id, 30_000);
    assert.equal(failed.status, "FAILED");
    assert.equal(stage(failed, "approval").failure?.type, "GATE_REJECTED");
    const unknown = await sluice(["reject", "00000000-0000-4000-8000-000000000000", "--reason", "x"], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no approval request 00000000-0000-4000-8000-000000000000/);
  });

  it("a self-approval that does not decide alone is shown as one, and a second approver's approval completes the request", async () => {
    // Its own project: the project above has a second approver by now, so self-approval is refused there.
    const pairProject = await seedProject(t, "cli-pair");
    const pairEnv = { ...env, SLUICE_PROJECT: "cli-pair" };
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { __typename ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId: pairProject, name: "pair-model" } },
      ),
    ).createRegisteredModel;
    assert.equal(created.__typename, "RegisteredModelPayload");
    const policy = dataOf(
      await t.gql(`mutation($i: SetModelPolicyInput!) { setModelPolicy(input: $i) { __typename } }`, {
        i: { registeredModelId: created.registeredModel.id, policy: { approvals: { required: 2 } } },
      }),
    ).setModelPolicy;
    assert.equal(policy.__typename, "ModelPolicyPayload");
    const { pipelineId } = await applyPipeline(t, pairProject, gatedPipeline("gated-pair", "pair-model", linearModel([3, 4], 1)), FIXTURES);
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000, waitingAtGate);
    const wait = await waitFor(run.id);
    assert.equal(wait.requiredApprovals, 2);

    const self = await sluice(["approve", "pair-model", "1", "--reason", "mine, first", "--self-approve"], pairEnv);
    assert.equal(self.code, 0, self.stderr);
    assert.match(
      self.stdout,
      /^approval of pair-model v1 recorded as a self-approval \(separation of duties overridden\): 1 of 2; it still waits for more approvers$/m,
    );
    assert.deepEqual(await decisionsOf(wait.approvalRequestId), [["APPROVE", true]]);

    const approver = await seedCaller(t, "APPROVER", pairProject);
    const second = await sluice(["approve", "pair-model", "1", "--reason", "checked"], { ...pairEnv, SLUICE_TOKEN: approver.token });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^pair-model v1 APPROVED: approved by .*: checked \(one of the approvals a self-approval\)$/m);
    assert.deepEqual((await decisionsOf(wait.approvalRequestId)).sort(), [
      ["APPROVE", false],
      ["APPROVE", true],
    ]);
    assert.equal((await waitForRun(t, run.id, 30_000)).status, "SUCCEEDED");

    // Decisions made before the column existed: the migration marks self-approvals from their audit entries.
    const runner = t.server.services.db.dataSource.createQueryRunner();
    try {
      await runner.query('ALTER TABLE "approval_decisions" DROP COLUMN "self_approval"');
      await new SelfApprovalDecision1796150000000().up(runner);
    } finally {
      await runner.release();
    }
    assert.deepEqual((await decisionsOf(wait.approvalRequestId)).sort(), [
      ["APPROVE", false],
      ["APPROVE", true],
    ]);
  });

  /** [verdict, selfApproval] of each decision on the approval request, as the API gives them. */
  async function decisionsOf(requestId: string): Promise<Array<[string, boolean]>> {
    const res = dataOf(
      await t.gql(`query($id: ID!) { approvalRequest(id: $id) { decisions { verdict selfApproval } } }`, { id: requestId }),
    );
    return (res.approvalRequest.decisions as Array<{ verdict: string; selfApproval: boolean }>).map((d) => [d.verdict, d.selfApproval]);
  }

  /** The run's gate's approvalWait, once the gate has registered its version. */
  async function waitFor(runId: string): Promise<any> {
    return waitUntil(
      "the gate's approval wait",
      async () => dataOf(await t.gql(WAIT_QUERY, { id: runId })).run.waitingGates[0]?.approvalWait,
    );
  }
});
