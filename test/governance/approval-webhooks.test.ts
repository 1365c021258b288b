import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { generateSecret, verifyWebhook } from "../../plugins/webhook";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { TestReceiver } from "../notifications/receiver";
import { linearModel } from "../helpers/onnx-models";
import { waitUntil } from "../helpers/eventually";

/** Governance and notifications together: a request and its decision reach a signed webhook. */
describe("approval requests and decisions on a webhook", () => {
  let t: TestServer;
  let receiver: TestReceiver;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_WEBHOOK_ALLOW: "127.0.0.1" } });
    receiver = await TestReceiver.start();
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  it("sends approval.requested then approval.decided, signed, with the decision and comment", async () => {
    const projectId = await seedProject(t, "governed-hooks");
    const approver = await seedCaller(t, "APPROVER", projectId);
    const secret = generateSecret();
    const channel = dataOf(
      await t.gql(
        `mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { __typename ... on Error { message } } }`,
        {
          i: {
            projectId,
            name: "governance",
            kind: "webhook",
            config: { url: receiver.url("/governance") },
            eventTypes: ["approval.*"],
            secretName: "GOVERNANCE_HOOK",
            signingSecret: secret,
          },
        },
      ),
    ).createNotificationChannel;
    assert.equal(channel.__typename, "NotificationChannelPayload", JSON.stringify(channel));
    const modelId = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name: "hooked" } },
      ),
    ).createRegisteredModel.registeredModel.id;
    const res = await fetch(`${t.url}/registered-models/${modelId}/versions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/octet-stream" },
      body: linearModel([3]),
    });
    const { versionId } = (await res.json()) as { versionId: string };
    const decided = dataOf(
      await t.gql(
        `mutation($i: DecideModelVersionInput!) { approveModelVersion(input: $i) { __typename } }`,
        { i: { modelVersionId: versionId, comment: "numbers check out" } },
        approver.token,
      ),
    ).approveModelVersion;
    assert.equal(decided.__typename, "ApprovalDecisionPayload");

    await waitUntil("two governance webhooks", () => receiver.at("/governance").length >= 2, { timeoutMs: 20_000, intervalMs: 100 });
    const bodies = receiver.at("/governance").map((r) => {
      verifyWebhook(secret, r.headers, r.rawBody);
      return JSON.parse(r.rawBody.toString("utf8"));
    });
    bodies.sort((a, b) => Number(a.id) - Number(b.id));
    assert.deepEqual(
      bodies.map((b) => b.type),
      ["approval.requested", "approval.decided"],
    );
    assert.equal(bodies[1].data.decision, "APPROVED");
    assert.equal(bodies[1].data.comment, "numbers check out");
    assert.equal(bodies[1].data.versionId, versionId);
  });
});
