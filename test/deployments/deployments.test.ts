import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EventRow } from "../../src/events/event.entity";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, infer, linearModel, logisticModel, setChampion, uploadVersion } from "../serving/helpers";
import { approve, deployMutation, deployed, eventually, inferX, underLoad } from "./helpers";

const PREDICTIONS = `query($p: ID!, $m: String!) { predictions(projectId: $p, model: $m, first: 500) {
  nodes { servedName variant modelVersionId outputs } } }`;

/** The linear models' answers for X = [1, 2]: 3 + intercept. */
const answerOf = (body: any) => body.outputs?.[0]?.data?.[0];

describe("deployments", () => {
  let t: TestServer;
  let projectId: string;
  let approver: { principalId: string; token: string };
  let editor: { principalId: string; token: string };
  let viewer: { principalId: string; token: string };

  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "deployments");
    approver = await seedCaller(t, "APPROVER", projectId);
    editor = await seedCaller(t, "EDITOR", projectId);
    viewer = await seedCaller(t, "VIEWER", projectId);
  });
  after(async () => {
    await t.close();
  });

  it("refuses versions that are not APPROVED — pinned, by alias, as canary and shadow — naming version and status; audits and emits", async () => {
    const events = t.server.services.events.subscribe({ projectId, types: ["deployment.created", "deployment.updated"] }, "0");
    const modelId = await createModel(t, projectId, "guarded", false); // the default policy: one approval
    const v1 = await uploadVersion(t, modelId, linearModel([1, 1], 0));
    assert.equal(v1.status, "PENDING_APPROVAL");

    const pinned = await deployMutation(t, "deployModel", "DeployModelInput", {
      projectId,
      name: "guarded-ep",
      model: "guarded",
      version: 1,
    });
    assert.equal(pinned.result.__typename, "VersionNotApprovedError");
    assert.deepEqual(
      [pinned.result.code, pinned.result.field, pinned.result.registeredModelId, pinned.result.modelName],
      ["CONFLICT", "version", modelId, "guarded"],
    );
    assert.deepEqual([pinned.result.version, pinned.result.status, pinned.result.alias], [1, "PENDING_APPROVAL", null]);

    await setChampion(t, modelId, 1);
    const byAlias = await deployMutation(t, "deployModel", "DeployModelInput", {
      projectId,
      name: "guarded-ep",
      model: "guarded",
      alias: "champion",
    });
    assert.equal(byAlias.result.__typename, "VersionNotApprovedError");
    assert.deepEqual([byAlias.result.alias, byAlias.result.version, byAlias.result.status], ["champion", 1, "PENDING_APPROVAL"]);
    assert.equal(
      dataOf(await t.gql(`query($p: ID!) { deployment(projectId: $p, name: "guarded-ep") { id } }`, { p: projectId })).deployment,
      null,
    );

    await approve(t, v1.versionId, approver.token);
    const forbidden = await deployMutation(
      t,
      "deployModel",
      "DeployModelInput",
      { projectId, name: "guarded-ep", model: "guarded", version: 1 },
      viewer.token,
    );
    assert.equal(forbidden.res.errors?.[0]?.extensions?.code, "FORBIDDEN", "a viewer may not deploy");
    const d = await deployed(
      t,
      "deployModel",
      "DeployModelInput",
      { projectId, name: "guarded-ep", model: "guarded", version: 1 },
      editor.token,
    );
    assert.deepEqual([d.version, d.revision, d.status, d.servingVersion, d.mode], [1, 1, "SERVING", 1, "REALTIME"]);

    const v2 = await uploadVersion(t, modelId, linearModel([1, 1], 100));
    const canary = await deployMutation(t, "setCanary", "SetCanaryInput", { projectId, name: "guarded-ep", version: 2, percent: 10 });
    assert.equal(canary.result.__typename, "VersionNotApprovedError");
    assert.deepEqual([canary.result.version, canary.result.status], [2, "PENDING_APPROVAL"]);
    const shadow = await deployMutation(t, "setShadow", "SetShadowInput", { projectId, name: "guarded-ep", version: 2 });
    assert.equal(shadow.result.__typename, "VersionNotApprovedError");
    assert.deepEqual([shadow.result.version, shadow.result.status], [2, "PENDING_APPROVAL"]);
    const missing = await deployMutation(t, "setShadow", "SetShadowInput", { projectId, name: "guarded-ep", version: 9 });
    assert.equal(missing.result.__typename, "NotFoundError");
    const badPercent = await deployMutation(t, "setCanary", "SetCanaryInput", { projectId, name: "guarded-ep", version: 1, percent: 101 });
    assert.equal(badPercent.result.problems[0].field, "percent");

    await approve(t, v2.versionId, approver.token);
    const withCanary = await deployed(t, "setCanary", "SetCanaryInput", { projectId, name: "guarded-ep", version: 2, percent: 10 });
    assert.deepEqual([withCanary.canary, withCanary.revision], [{ version: 2, percent: 10 }, 2]);

    const audit = dataOf(
      await t.gql(`query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { nodes { action outcome actorId } } }`, {
        f: { projectId },
      }),
    ).auditEvents.nodes.filter((e: any) => e.action.startsWith("deployment."));
    const of = (action: string, outcome: string) => audit.filter((e: any) => e.action === action && e.outcome === outcome).length;
    assert.ok(of("deployment.deploy", "SUCCEEDED") >= 1 && of("deployment.deploy", "FAILED") >= 2, JSON.stringify(audit));
    assert.ok(of("deployment.deploy", "DENIED") >= 1, "the viewer's attempt is audited");
    assert.ok(of("deployment.set_canary", "FAILED") >= 1 && of("deployment.set_canary", "SUCCEEDED") === 1);
    assert.ok(of("deployment.set_shadow", "FAILED") >= 1);
    assert.ok(audit.some((e: any) => e.action === "deployment.deploy" && e.outcome === "SUCCEEDED" && e.actorId === editor.principalId));

    const seen: EventRow[] = [];
    for await (const e of events) {
      seen.push(e);
      if (seen.length === 2) break;
    }
    assert.deepEqual(
      seen.map((e) => [e.type, e.payload.name, e.payload.model, e.payload.version, e.payload.canaryVersion, e.payload.revision]),
      [
        ["deployment.created", "guarded-ep", "guarded", 1, null, 1],
        ["deployment.updated", "guarded-ep", "guarded", 1, 2, 2],
      ],
    );
    assert.equal(seen[0]!.payload.projectId, projectId);
    assert.equal(seen[0]!.payload.servingVersion, 1);
  });

  it("follows an alias: swaps under load when it moves to an approved version, keeps the old one when it moves to an unapproved one", async () => {
    const modelId = await createModel(t, projectId, "followed", false);
    const v1 = await uploadVersion(t, modelId, linearModel([1, 1], 0));
    await approve(t, v1.versionId, approver.token);
    await setChampion(t, modelId, 1);
    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "follower", model: "followed", alias: "champion" });
    const first = await inferX(t, "follower", projectId);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual([first.body.model_name, first.body.model_version, answerOf(first.body)], ["follower", "1", 3]);

    const v2 = await uploadVersion(t, modelId, linearModel([1, 1], 100));
    await approve(t, v2.versionId, approver.token);
    const seen = await underLoad(
      t,
      "follower",
      async () => {
        await setChampion(t, modelId, 2);
        await eventually(
          "the endpoint answers with version 2",
          async () => (await inferX(t, "follower", projectId)).body.model_version === "2",
        );
      },
      { project: projectId },
    );
    assert.deepEqual(
      seen.filter((s) => s.status !== 200),
      [],
      "no request failed during the swap",
    );
    assert.ok(seen.some((s) => s.version === "1") && seen.some((s) => s.version === "2"), "both versions answered");

    // v3 is pending: the alias may point at it, but the endpoint keeps serving v2.
    const v3 = await uploadVersion(t, modelId, linearModel([1, 1], 200));
    assert.equal(v3.status, "PENDING_APPROVAL");
    await setChampion(t, modelId, 3);
    await new Promise((r) => setTimeout(r, 500)); // time must pass: a refresh to v3, were there one, would happen within it
    const still = await inferX(t, "follower", projectId);
    assert.deepEqual([still.status, still.body.model_version, answerOf(still.body)], [200, "2", 103]);
    const d = dataOf(
      await t.gql(`query($p: ID!) { deployment(projectId: $p, name: "follower") { status servingVersion alias } }`, { p: projectId }),
    ).deployment;
    assert.deepEqual(d, { status: "SERVING", servingVersion: 2, alias: "champion" });

    await approve(t, v3.versionId, approver.token);
    await eventually("the approved alias target serves", async () => (await inferX(t, "follower", projectId)).body.model_version === "3");
  });

  it("splits traffic to a canary within binomial bounds, logs the variant, promotes and rolls back", async () => {
    const modelId = await createModel(t, projectId, "split", true);
    const v1 = await uploadVersion(t, modelId, linearModel([1, 1], 0));
    const v2 = await uploadVersion(t, modelId, linearModel([1, 1], 100));
    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "split-ep", model: "split", version: 1 });
    await deployed(t, "setCanary", "SetCanaryInput", { projectId, name: "split-ep", version: 2, percent: 20 });

    const n = 2000;
    const versions: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          next++;
          const r = await inferX(t, "split-ep", projectId);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(answerOf(r.body), r.body.model_version === "2" ? 103 : 3, "the answer is the answering version's");
          versions.push(r.body.model_version);
        }
      }),
    );
    const canary = versions.filter((v) => v === "2").length;
    const primary = versions.filter((v) => v === "1").length;
    assert.equal(canary + primary, versions.length);
    // Binomial(n, 0.2): mean 400, sigma ≈ 17.9; 4.5 sigma ≈ 80.
    const sigma = Math.sqrt(versions.length * 0.2 * 0.8);
    assert.ok(Math.abs(canary - versions.length * 0.2) <= 4.5 * sigma, `canary answered ${canary} of ${versions.length}`);
    assert.ok(primary > 0 && canary > 0);

    const logged = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "split" })).predictions.nodes;
    assert.equal(logged.length, 500);
    const byVariant = (v: string) => logged.filter((r: any) => r.variant === v);
    assert.ok(byVariant("canary").length > 0 && byVariant("primary").length > 0);
    assert.ok(logged.every((r: any) => r.servedName === "split-ep"));
    assert.ok(byVariant("canary").every((r: any) => r.modelVersionId === v2.versionId && JSON.stringify(r.outputs).includes("103")));
    assert.ok(byVariant("primary").every((r: any) => r.modelVersionId === v1.versionId));

    const promoted = await deployed(t, "promoteCanary", "DeploymentRefInput", { projectId, name: "split-ep" });
    assert.deepEqual([promoted.version, promoted.canary, promoted.revision], [2, null, 3]);
    for (let i = 0; i < 20; i++) assert.equal((await inferX(t, "split-ep", projectId)).body.model_version, "2");

    // Back to revision 2 (v1 with the canary), then to revision 1 (v1 alone).
    const back = await deployed(t, "rollbackDeployment", "RollbackDeploymentInput", { projectId, name: "split-ep" });
    assert.deepEqual([back.version, back.canary, back.revision], [1, { version: 2, percent: 20 }, 4]);
    const first = await deployed(t, "rollbackDeployment", "RollbackDeploymentInput", { projectId, name: "split-ep", toRevision: 1 });
    assert.deepEqual([first.version, first.canary, first.revision], [1, null, 5]);
    for (let i = 0; i < 20; i++) assert.equal((await inferX(t, "split-ep", projectId)).body.model_version, "1");
    const tooFar = await deployMutation(t, "rollbackDeployment", "RollbackDeploymentInput", { projectId, name: "split-ep", toRevision: 5 });
    assert.equal(tooFar.result.problems[0].field, "toRevision");

    const history = dataOf(
      await t.gql(
        `query($p: ID!) { deployment(projectId: $p, name: "split-ep") { revisions(first: 10) { nodes { revision change version canaryVersion canaryPercent } } } }`,
        {
          p: projectId,
        },
      ),
    ).deployment.revisions.nodes;
    assert.deepEqual(
      history.map((r: any) => [r.revision, r.change, r.version, r.canaryVersion]),
      [
        [5, "ROLLED_BACK", 1, null],
        [4, "ROLLED_BACK", 1, 2],
        [3, "CANARY_PROMOTED", 2, null],
        [2, "CANARY_SET", 1, 2],
        [1, "CREATED", 1, null],
      ],
    );
    const rolled = t.server.services.events.subscribe({ projectId, types: ["deployment.rolled_back"] }, "0");
    const e = (await rolled.next()).value as EventRow;
    await rolled.return?.();
    assert.deepEqual([e.payload.name, e.payload.fromRevision, e.payload.toRevision, e.payload.version], ["split-ep", 3, 2, 1]);
  });

  it("mirrors requests to a shadow: logged as variant shadow, never returned, and a failing shadow fails no request", async () => {
    const modelId = await createModel(t, projectId, "mirrored", true);
    await uploadVersion(t, modelId, linearModel([1, 1], 0));
    const v2 = await uploadVersion(t, modelId, linearModel([1, 1], 100));
    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "mirror-ep", model: "mirrored", version: 1 });
    await deployed(t, "setShadow", "SetShadowInput", { projectId, name: "mirror-ep", version: 2 });
    for (let i = 0; i < 20; i++) {
      const r = await inferX(t, "mirror-ep", projectId);
      assert.deepEqual([r.status, r.body.model_version, answerOf(r.body)], [200, "1", 3], "the shadow's answer is never returned");
    }
    await eventually("the shadow's 20 answers are logged", async () => {
      const rows = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "mirrored" })).predictions.nodes;
      return rows.filter((r: any) => r.variant === "shadow").length === 20;
    });
    const rows = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "mirrored" })).predictions.nodes;
    const shadows = rows.filter((r: any) => r.variant === "shadow");
    assert.ok(shadows.every((r: any) => r.modelVersionId === v2.versionId && r.servedName === "mirror-ep"));
    assert.ok(shadows.every((r: any) => JSON.stringify(r.outputs).includes("103")));
    assert.equal(rows.filter((r: any) => r.variant === "primary").length, 20);

    // A shadow whose inputs differ (x0, x1) cannot decode these requests: they still succeed.
    await uploadVersion(t, modelId, logisticModel([1, 1], 0));
    await deployed(t, "setShadow", "SetShadowInput", { projectId, name: "mirror-ep", version: 3 });
    for (let i = 0; i < 10; i++) assert.equal((await inferX(t, "mirror-ep", projectId)).status, 200);
    await eventually("the failed shadow requests are counted", async () => {
      const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      const line = (await res.text())
        .split("\n")
        .find((l) => l.startsWith(`sluice_inference_shadow_requests_total{model="mirror-ep",outcome="error"}`));
      return line !== undefined && Number(line.split(" ")[1]) === 10;
    });
    const cleared = await deployed(t, "setShadow", "SetShadowInput", { projectId, name: "mirror-ep", version: null });
    assert.equal(cleared.shadowVersion, null);
  });

  it("changes a pinned deployment under load with zero failed requests; BATCH is not served; delete falls back to the model name", async () => {
    const modelId = await createModel(t, projectId, "pinned", true);
    await uploadVersion(t, modelId, linearModel([1, 1], 0));
    await uploadVersion(t, modelId, linearModel([1, 1], 100));
    await uploadVersion(t, modelId, linearModel([1, 1], 200));
    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "pinned-ep", model: "pinned", version: 1 });
    assert.equal((await inferX(t, "pinned-ep", projectId)).body.model_version, "1");
    const seen = await underLoad(
      t,
      "pinned-ep",
      async () => {
        await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "pinned-ep", model: "pinned", version: 2 });
        assert.equal(
          (await inferX(t, "pinned-ep", projectId)).body.model_version,
          "2",
          "the mutation answers once this server serves the change",
        );
        await deployed(t, "setCanary", "SetCanaryInput", { projectId, name: "pinned-ep", version: 3, percent: 50 });
        await eventually("the canary answers", async () => (await inferX(t, "pinned-ep", projectId)).body.model_version === "3");
        await deployed(t, "setCanary", "SetCanaryInput", { projectId, name: "pinned-ep", version: null });
        await deployed(t, "rollbackDeployment", "RollbackDeploymentInput", { projectId, name: "pinned-ep", toRevision: 1 });
      },
      { project: projectId },
    );
    assert.deepEqual(
      seen.filter((s) => s.status !== 200),
      [],
      "no request failed while the deployment changed",
    );
    for (const v of ["1", "2", "3"])
      assert.ok(
        seen.some((s) => s.version === v),
        `version ${v} answered`,
      );
    assert.equal((await inferX(t, "pinned-ep", projectId)).body.model_version, "1");

    // GraphQL predict and the records form serve the endpoint too.
    const p = dataOf(
      await t.gql(
        `query($p: ID!) { predict(projectId: $p, model: "pinned-ep", instances: [{X: [1, 2]}]) { modelName modelVersion predictions } }`,
        { p: projectId },
      ),
    ).predict;
    assert.deepEqual([p.modelName, p.modelVersion], ["pinned-ep", "1"]);

    const batch = await deployed(t, "deployModel", "DeployModelInput", {
      projectId,
      name: "pinned-ep",
      model: "pinned",
      version: 1,
      mode: "BATCH",
    });
    assert.equal(batch.status, "BATCH");
    const refused = await inferX(t, "pinned-ep", projectId);
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, /BATCH deployment/);

    const list = dataOf(
      await t.gql(`query($f: DeploymentFilter) { deployments(filter: $f) { totalCount nodes { name } } }`, {
        f: { projectId, nameContains: "ep" },
      }),
    ).deployments;
    assert.ok(list.totalCount >= 4 && list.nodes.some((n: any) => n.name === "pinned-ep"));

    await deployed(t, "deleteDeployment", "DeploymentRefInput", { projectId, name: "pinned-ep" });
    assert.equal((await inferX(t, "pinned-ep", projectId)).status, 404, "no endpoint and no model of that name");
    // The model's own name still serves its champion, as before deployments.
    await setChampion(t, modelId, 3);
    const byModel = await infer(
      t,
      "/v2/models/pinned/infer",
      { inputs: [{ name: "X", shape: [1, 2], datatype: "FP32", data: [1, 2] }] },
      { project: projectId },
    );
    assert.deepEqual([byModel.status, byModel.body.model_name, byModel.body.model_version], [200, "pinned", "3"]);
  });
  it("replays and streams endpoint changes to a deploymentEvents subscription; metadata names the endpoint", async () => {
    const client = t.ws(viewer.token);
    const seen: any[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only saw ${JSON.stringify(seen.map((e) => [e.type, e.payload.name]))}`)), 15_000);
      client.subscribe(
        {
          query: `subscription($p: ID!) { deploymentEvents(projectId: $p, after: "0") { cursor type deploymentId payload } }`,
          variables: { p: projectId },
        },
        {
          next: (r: any) => {
            if (r.errors) return reject(new Error(JSON.stringify(r.errors)));
            seen.push(r.data.deploymentEvents);
            if (r.data.deploymentEvents.payload.name === "live-ep") {
              clearTimeout(timer);
              resolve();
            }
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    const modelId = await createModel(t, projectId, "live", true);
    await uploadVersion(t, modelId, linearModel([1, 1], 0));
    await new Promise((r) => setTimeout(r, 300)); // no signal says the subscription is live; a grace so the deployment below streams rather than replays
    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "live-ep", model: "live", version: 1 });
    await done;
    const pinned = seen.filter((e) => e.payload.name === "pinned-ep").map((e) => e.type);
    assert.equal(pinned[0], "deployment.created");
    assert.ok(pinned.includes("deployment.rolled_back") && pinned.includes("deployment.updated"));
    assert.equal(pinned[pinned.length - 1], "deployment.deleted");
    assert.deepEqual(seen[seen.length - 1].type, "deployment.created");

    const meta = await fetch(`${t.url}/v2/models/live-ep`, {
      headers: { authorization: `Bearer ${t.adminToken}`, "x-sluice-project": projectId },
    });
    const body = (await meta.json()) as any;
    assert.deepEqual([meta.status, body.name, body.versions, body.inputs[0].name], [200, "live-ep", ["1"], "X"]);
  });
  it("stops serving versions that are no longer APPROVED: an archived canary is dropped, an archived pinned version is refused", async () => {
    const archive = async (id: string) => {
      const r = dataOf(
        await t.gql(`mutation($i: ModelVersionIdInput!) { archiveModelVersion(input: $i) { __typename ... on Error { message } } }`, {
          i: { id },
        }),
      ).archiveModelVersion;
      assert.equal(r.__typename, "ModelVersionPayload", JSON.stringify(r));
    };
    const modelId = await createModel(t, projectId, "retired", true);
    const v1 = await uploadVersion(t, modelId, linearModel([1, 1], 0));
    const v2 = await uploadVersion(t, modelId, linearModel([1, 1], 100));
    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "retired-ep", model: "retired", version: 1 });
    await deployed(t, "setCanary", "SetCanaryInput", { projectId, name: "retired-ep", version: 2, percent: 100 });
    assert.equal((await inferX(t, "retired-ep", projectId)).body.model_version, "2");
    await archive(v2.versionId);
    await eventually("the archived canary's share returns to the primary", async () => {
      const r = await inferX(t, "retired-ep", projectId);
      return r.status === 200 && r.body.model_version === "1";
    });
    await archive(v1.versionId);
    await eventually("the archived pinned version is refused", async () => (await inferX(t, "retired-ep", projectId)).status === 409);
    const r = await inferX(t, "retired-ep", projectId);
    assert.match(r.body.error, /endpoint retired-ep has nothing to serve: version 1 of retired is ARCHIVED/);
    const d = dataOf(
      await t.gql(`query($p: ID!) { deployment(projectId: $p, name: "retired-ep") { status servingVersion statusReason } }`, {
        p: projectId,
      }),
    ).deployment;
    assert.deepEqual([d.status, d.servingVersion], ["NOTHING_TO_SERVE", null]);
    assert.match(d.statusReason, /version 1 of retired is ARCHIVED/);
    const rollback = await deployMutation(t, "rollbackDeployment", "RollbackDeploymentInput", { projectId, name: "retired-ep" });
    assert.equal(rollback.result.__typename, "VersionNotApprovedError");
    assert.deepEqual([rollback.result.modelName, rollback.result.version, rollback.result.status], ["retired", 1, "ARCHIVED"]);
  });
});
