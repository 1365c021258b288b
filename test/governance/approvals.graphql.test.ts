import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { linearModel } from "../helpers/onnx-models";
import { eventually } from "../helpers/eventually";

const REQUEST = `id status reason requiredApprovals policyIsDefault requestedBy expiresAt decidedBy
  checks { kind name passed observed expected reason } decisions { principalId verdict comment }`;
const DECIDE_RESULT = `__typename ... on ApprovalDecisionPayload { approvalRequest { ${REQUEST} } modelVersion { id status } }
  ... on Error { code message } ... on InvalidInputError { problems { field message } }
  ... on AlreadyDecidedError { approvalRequestId status decidedAt byCaller }
  ... on SeparationOfDutiesError { approvalRequestId modelVersionId approver }`;

describe("governance: policies and approvals", () => {
  let t: TestServer;
  let projectId: string;
  let editor: Awaited<ReturnType<typeof seedCaller>>;
  let approverA: Awaited<ReturnType<typeof seedCaller>>;
  let approverB: Awaited<ReturnType<typeof seedCaller>>;
  let viewer: Awaited<ReturnType<typeof seedCaller>>;
  let seed = 1;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_GOVERNANCE_SWEEP_MS: "100" } });
    projectId = await seedProject(t, "governance");
    editor = await seedCaller(t, "EDITOR", projectId);
    approverA = await seedCaller(t, "APPROVER", projectId);
    approverB = await seedCaller(t, "APPROVER", projectId);
    viewer = await seedCaller(t, "VIEWER", projectId);
  });
  after(async () => {
    await t.close();
  });

  async function createModel(name: string): Promise<string> {
    const r = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name } },
      ),
    );
    return r.createRegisteredModel.registeredModel.id;
  }

  async function setPolicy(modelId: string, policy: unknown, token = t.adminToken) {
    return t.gql(
      `mutation($i: SetModelPolicyInput!) { setModelPolicy(input: $i) { __typename ... on ModelPolicyPayload { policy }
         ... on InvalidInputError { problems { field message } } ... on Error { code message } } }`,
      { i: { registeredModelId: modelId, policy } },
      token,
    );
  }

  /** Uploads a fresh model file as a version with `metrics`; returns the version with its request. */
  async function upload(modelId: string, metrics: Record<string, number>, token = editor.token) {
    const res = await fetch(`${t.url}/registered-models/${modelId}/versions?metrics=${encodeURIComponent(JSON.stringify(metrics))}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: linearModel([seed++, 1], 0),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const { versionId } = (await res.json()) as { versionId: string };
    return version(versionId);
  }

  async function version(id: string) {
    return dataOf(await t.gql(`query($id: ID) { modelVersion(id: $id) { id version status approvalRequest { ${REQUEST} } } }`, { id }))
      .modelVersion;
  }

  async function decide(kind: "approve" | "reject", versionId: string, comment: string, token: string) {
    const name = kind === "approve" ? "approveModelVersion" : "rejectModelVersion";
    return t.gql(
      `mutation($i: DecideModelVersionInput!) { ${name}(input: $i) { ${DECIDE_RESULT} } }`,
      { i: { modelVersionId: versionId, comment } },
      token,
    );
  }

  it("opens a request needing one approval when the model has no policy, and lists it for governance tools", async () => {
    const modelId = await createModel("no-policy");
    const v = await upload(modelId, { auc: 0.5 });
    assert.equal(v.status, "PENDING_APPROVAL");
    assert.equal(v.approvalRequest.status, "OPEN");
    assert.equal(v.approvalRequest.policyIsDefault, true);
    assert.equal(v.approvalRequest.requiredApprovals, 1);
    assert.equal(v.approvalRequest.requestedBy, editor.principalId);
    const inbox = dataOf(
      await t.gql(
        `query($f: ApprovalRequestFilter) { approvalRequests(filter: $f) { totalCount nodes { id modelVersion { id } registeredModel { name } } } }`,
        { f: { projectId, status: "OPEN" } },
        viewer.token,
      ),
    ).approvalRequests;
    assert.ok(inbox.nodes.some((n: any) => n.id === v.approvalRequest.id && n.registeredModel.name === "no-policy"));
  });

  it("sets policies as an admin only, naming every bad field", async () => {
    const modelId = await createModel("policy-checks");
    const byEditor = await setPolicy(modelId, { approvals: { required: 0 } }, editor.token);
    assert.equal(byEditor.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const bad = dataOf(
      await setPolicy(modelId, { metrics: [{ metric: "auc", min: 0.9, max: 0.1 }], approvals: { required: -1 } }),
    ).setModelPolicy;
    assert.equal(bad.__typename, "InvalidInputError");
    const fields = bad.problems.map((p: any) => p.field);
    assert.ok(fields.includes("approvals.required"), JSON.stringify(bad.problems));
    const ok = dataOf(await setPolicy(modelId, { approvals: { required: 2 } })).setModelPolicy;
    assert.equal(ok.__typename, "ModelPolicyPayload");
    assert.deepEqual(ok.policy.approvals, { required: 2, separationOfDuties: true });
    const shown = dataOf(await t.gql(`query($id: ID) { registeredModel(id: $id) { policy { isDefault policy } } }`, { id: modelId }))
      .registeredModel.policy;
    assert.equal(shown.isDefault, false);
  });

  it("rejects a version failing the automatic checks, with its reasons, and takes no decision on it", async () => {
    const modelId = await createModel("auto-reject");
    await setPolicy(modelId, { metrics: [{ metric: "auc", min: 0.8 }], approvals: { required: 1 } });
    const v = await upload(modelId, { auc: 0.7 });
    assert.equal(v.status, "REJECTED");
    assert.equal(v.approvalRequest.status, "REJECTED");
    assert.equal(v.approvalRequest.decidedBy, null);
    assert.match(v.approvalRequest.reason, /auc is 0\.7, below the minimum 0\.8/);
    assert.deepEqual(
      v.approvalRequest.checks.map((c: any) => [c.kind, c.name, c.passed, c.observed]),
      [["metric", "auc", false, 0.7]],
    );
    const late = dataOf(await decide("approve", v.id, "looks fine", approverA.token)).approveModelVersion;
    assert.equal(late.__typename, "AlreadyDecidedError");
    assert.deepEqual([late.code, late.status, late.byCaller], ["CONFLICT", "REJECTED", false]);
    assert.equal(late.approvalRequestId, v.approvalRequest.id);
  });

  it("approves outright when the policy needs no person, and compares with the champion", async () => {
    const modelId = await createModel("auto-approve");
    await setPolicy(modelId, { metrics: [{ metric: "auc", min: 0.6, beatsChampionBy: 0.01 }], approvals: { required: 0 } });
    const first = await upload(modelId, { auc: 0.9 });
    assert.equal(first.status, "APPROVED");
    assert.equal(first.approvalRequest.status, "APPROVED");
    assert.match(first.approvalRequest.checks.find((c: any) => c.kind === "champion").reason, /no champion yet/);
    dataOf(
      await t.gql(`mutation($i: SetModelAliasInput!) { setModelAlias(input: $i) { __typename } }`, {
        i: { registeredModelId: modelId, alias: "champion", version: first.version },
      }),
    );
    const close = await upload(modelId, { auc: 0.905 });
    assert.equal(close.status, "REJECTED");
    assert.match(close.approvalRequest.reason, /at least 0\.01 above the champion's 0\.9/);
    const better = await upload(modelId, { auc: 0.93 });
    assert.equal(better.status, "APPROVED");
  });

  it("keeps separation of duties, refuses wrong roles, and makes the decision final", async () => {
    const modelId = await createModel("sod");
    // The admin uploads (so the admin is the requester) and holds APPROVE, but may not approve.
    const v = await upload(modelId, { auc: 0.8 }, t.adminToken);
    const own = dataOf(await decide("approve", v.id, "mine is great", t.adminToken)).approveModelVersion;
    assert.equal(own.__typename, "SeparationOfDutiesError");
    assert.deepEqual([own.code, own.modelVersionId, own.approvalRequestId], ["FORBIDDEN", v.id, v.approvalRequest.id]);
    for (const token of [editor.token, viewer.token]) {
      const r = await decide("approve", v.id, "ok", token);
      assert.equal(r.errors?.[0]?.extensions?.code, "FORBIDDEN", "approving needs APPROVER");
    }
    const noComment = dataOf(await decide("approve", v.id, "  ", approverA.token)).approveModelVersion;
    assert.equal(noComment.__typename, "InvalidInputError");
    assert.equal(noComment.problems[0].field, "comment");
    const ok = dataOf(await decide("approve", v.id, "metrics reviewed", approverA.token)).approveModelVersion;
    assert.equal(ok.__typename, "ApprovalDecisionPayload");
    assert.equal(ok.approvalRequest.status, "APPROVED");
    assert.equal(ok.approvalRequest.decidedBy, approverA.principalId);
    assert.equal(ok.modelVersion.status, "APPROVED");
    const second = dataOf(await decide("reject", v.id, "changed my mind", approverB.token)).rejectModelVersion;
    assert.equal(second.__typename, "AlreadyDecidedError");
    assert.deepEqual([second.status, second.byCaller], ["APPROVED", false]);
    assert.ok(second.decidedAt);
    assert.equal((await version(v.id)).status, "APPROVED", "the refused decision changed nothing");

    const audit = dataOf(
      await t.gql(`query($f: AuditEventFilter) { auditEvents(filter: $f) { nodes { action outcome actorId } } }`, {
        f: { projectId, action: "model.version.approve" },
      }),
    ).auditEvents.nodes;
    assert.ok(audit.some((e: any) => e.outcome === "SUCCEEDED" && e.actorId === approverA.principalId));
    assert.ok(
      audit.some((e: any) => e.outcome !== "SUCCEEDED" && e.actorId === editor.principalId),
      "refusals are audited too",
    );
  });

  it("counts approvals from distinct people, and one rejection ends a request", async () => {
    const modelId = await createModel("two-approvers");
    await setPolicy(modelId, { approvals: { required: 2 } });
    const v = await upload(modelId, { auc: 0.8 });
    const firstApproval = dataOf(await decide("approve", v.id, "first look ok", approverA.token)).approveModelVersion;
    assert.equal(firstApproval.approvalRequest.status, "OPEN");
    assert.equal(firstApproval.modelVersion.status, "PENDING_APPROVAL");
    const twice = dataOf(await decide("approve", v.id, "again", approverA.token)).approveModelVersion;
    assert.equal(twice.__typename, "AlreadyDecidedError", "one person counts once");
    assert.deepEqual([twice.status, twice.byCaller, twice.decidedAt], ["OPEN", true, null]);
    const done = dataOf(await decide("approve", v.id, "second look ok", approverB.token)).approveModelVersion;
    assert.equal(done.approvalRequest.status, "APPROVED");
    assert.deepEqual(
      done.approvalRequest.decisions.map((d: any) => [d.principalId, d.verdict]),
      [
        [approverA.principalId, "APPROVE"],
        [approverB.principalId, "APPROVE"],
      ],
    );

    const w = await upload(modelId, { auc: 0.8 });
    const rejected = dataOf(await decide("reject", w.id, "leaks the label", approverB.token)).rejectModelVersion;
    assert.equal(rejected.approvalRequest.status, "REJECTED");
    assert.match(rejected.approvalRequest.reason, /leaks the label/);
    assert.equal(rejected.modelVersion.status, "REJECTED");
    const after = dataOf(await decide("approve", w.id, "ok", approverA.token)).approveModelVersion;
    assert.equal(after.__typename, "AlreadyDecidedError");
    assert.equal(after.status, "REJECTED");
  });

  it("expires open requests after the policy's time, rejecting the version", async () => {
    const modelId = await createModel("expiring");
    await setPolicy(modelId, { approvals: { required: 1, expiresAfterHours: 0.0001 } }); // 0.36 s
    const v = await upload(modelId, { auc: 0.8 });
    assert.equal(v.approvalRequest.status, "OPEN");
    assert.ok(v.approvalRequest.expiresAt);
    const now = await eventually(
      async () => {
        const seen = await version(v.id);
        assert.equal(seen.approvalRequest.status, "EXPIRED");
        return seen;
      },
      { intervalMs: 100 },
    );
    assert.equal(now.status, "REJECTED");
    assert.match(now.approvalRequest.reason, /no decision by/);
    const late = dataOf(await decide("approve", v.id, "sorry, late", approverA.token)).approveModelVersion;
    assert.equal(late.__typename, "AlreadyDecidedError");
    assert.equal(late.status, "EXPIRED");
  });

  it("streams requests and decisions to an approvalRequestEvents subscription", async () => {
    const modelId = await createModel("streamed");
    const client = t.ws(viewer.token);
    const seen: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only saw ${JSON.stringify(seen)}`)), 10_000);
      client.subscribe(
        {
          // From the first event on: the events of this model are replayed however late the subscription starts, so no wait is needed.
          query: `subscription($p: ID!) { approvalRequestEvents(projectId: $p, after: "0") { cursor type requestId payload } }`,
          variables: { p: projectId },
        },
        {
          next: (r: any) => {
            if (r.errors) return reject(new Error(JSON.stringify(r.errors)));
            const e = r.data.approvalRequestEvents;
            if (e.payload.registeredModelId !== modelId) return;
            seen.push(e);
            if (e.type === "approval.decided") {
              clearTimeout(timer);
              resolve();
            }
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    const v = await upload(modelId, { auc: 0.8 });
    dataOf(await decide("approve", v.id, "ship it", approverA.token));
    await done;
    assert.deepEqual(
      seen.map((e) => e.type),
      ["approval.requested", "approval.decided"],
    );
    assert.equal(seen[1].payload.decision, "APPROVED");
    assert.equal(seen[1].payload.comment, "ship it");
    assert.equal(seen[0].requestId, v.approvalRequest.id);
  });
});
