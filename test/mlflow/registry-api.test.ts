import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { mlflowClient } from "./client";
import { linearModel } from "../helpers/onnx-models";

describe("the MLflow model registry API over Sluice's registry", () => {
  let t: TestServer;
  let call: ReturnType<typeof mlflowClient>;
  let projectId: string;
  let artifactId: string;
  let trackingRunId: string;
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "models");
    call = mlflowClient(t, { project: "models" });
    // An ONNX file the server holds: uploaded through Sluice's own route to a seed model.
    const seed = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        {
          i: { projectId, name: "seed" },
        },
      ),
    ).createRegisteredModel.registeredModel.id;
    const res = await fetch(`${t.url}/registered-models/${seed}/versions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/octet-stream" },
      body: linearModel([2, 1], 0.5),
    });
    assert.equal(res.status, 201);
    const { versionId } = (await res.json()) as { versionId: string };
    artifactId = dataOf(await t.gql(`query($id: ID!) { modelVersion(id: $id) { artifactId } }`, { id: versionId })).modelVersion.artifactId;
    trackingRunId = (await call("POST", "runs/create", { run_name: "training" })).body.run.info.run_id;
  });
  after(async () => t.close());

  it("creates and gets a registered model in MLflow's JSON, and refuses a taken name", async () => {
    const created = await call("POST", "registered-models/create", {
      name: "churn-model",
      description: "predicts churn",
      tags: [{ key: "team", value: "growth" }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const m = created.body.registered_model;
    assert.deepEqual(Object.keys(m).sort(), ["creation_timestamp", "description", "last_updated_timestamp", "name", "tags", "user_id"]);
    assert.equal(m.name, "churn-model");
    assert.equal(m.user_id, "admin");
    assert.equal(typeof m.creation_timestamp, "number");
    assert.deepEqual(m.tags, [{ key: "team", value: "growth" }]);
    assert.deepEqual((await call("GET", "registered-models/get", { name: "churn-model" })).body, created.body);
    const dup = await call("POST", "registered-models/create", { name: "churn-model" });
    assert.equal(dup.status, 400);
    assert.deepEqual(dup.body, { error_code: "RESOURCE_ALREADY_EXISTS", message: "Registered Model (name=churn-model) already exists." });
    const missing = await call("GET", "registered-models/get", { name: "nope" });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "Registered Model with name=nope not found" });
    // The same model in Sluice's GraphQL: one registry serves both APIs.
    const gql = dataOf(
      await t.gql(`query($p: ID!) { registeredModel(projectId: $p, name: "churn-model") { description tags } }`, { p: projectId }),
    );
    assert.deepEqual(gql.registeredModel, { description: "predicts churn", tags: { team: "growth" } });
  });

  it("creates model versions from an ONNX artifact the server holds, load-checked and pending approval", async () => {
    const created = await call("POST", "model-versions/create", {
      name: "churn-model",
      source: `sluice-artifacts:/${artifactId}`,
      run_id: trackingRunId,
      tags: [{ key: "framework", value: "onnx" }],
      description: "first",
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const v = created.body.model_version;
    const versionId = v.tags.find((x: any) => x.key === "sluice.version_id").value;
    assert.deepEqual(v, {
      name: "churn-model",
      version: "1",
      creation_timestamp: v.creation_timestamp,
      last_updated_timestamp: v.last_updated_timestamp,
      user_id: "admin",
      current_stage: "None",
      description: "first",
      source: `sluice-artifacts:/${artifactId}`,
      run_id: trackingRunId,
      status: "READY",
      status_message: "Sluice status: PENDING_APPROVAL",
      tags: [
        { key: "framework", value: "onnx" },
        { key: "sluice.status", value: "PENDING_APPROVAL" },
        { key: "sluice.version_id", value: versionId },
      ],
    });
    const sluice = dataOf(
      await t.gql(`query($id: ID!) { modelVersion(id: $id) { version status artifactId lineage } }`, { id: versionId }),
    ).modelVersion;
    assert.equal(sluice.status, "PENDING_APPROVAL");
    assert.equal(sluice.artifactId, artifactId);
    assert.equal(sluice.lineage.trackingRunId, trackingRunId);
    const second = await call("POST", "model-versions/create", { name: "churn-model", source: `sluice-artifacts:/${artifactId}` });
    assert.equal(second.body.model_version.version, "2");
    assert.equal(second.body.model_version.run_id, undefined);

    const got = await call("GET", "model-versions/get", { name: "churn-model", version: "1" });
    assert.deepEqual(got.body, created.body);
    const noVersion = await call("GET", "model-versions/get", { name: "churn-model", version: "9" });
    assert.equal(noVersion.status, 404);
    assert.deepEqual(noVersion.body, {
      error_code: "RESOURCE_DOES_NOT_EXIST",
      message: "Model Version (name=churn-model, version=9) not found",
    });
    const runsSource = await call("POST", "model-versions/create", { name: "churn-model", source: `runs:/${trackingRunId}/model` });
    assert.equal(runsSource.status, 400);
    assert.equal(runsSource.body.error_code, "INVALID_PARAMETER_VALUE");
    const notAnArtifact = await call("POST", "model-versions/create", {
      name: "churn-model",
      source: "sluice-artifacts:/00000000-0000-4000-8000-000000000000",
    });
    assert.equal(notAnArtifact.status, 404);
    const noModel = await call("POST", "model-versions/create", { name: "ghost", source: `sluice-artifacts:/${artifactId}` });
    assert.equal(noModel.body.error_code, "RESOURCE_DOES_NOT_EXIST");
    const latest = await call("POST", "registered-models/get-latest-versions", { name: "churn-model" });
    assert.deepEqual(
      latest.body.model_versions.map((x: any) => x.version),
      ["2"],
    );
  });

  it("takes files logged to a run through MLflow's artifact API, and registers runs:/ sources from them", async () => {
    const run = (await call("GET", "runs/get", { run_id: trackingRunId })).body.run.info;
    const root = String(run.artifact_uri).replace(/^mlflow-artifacts:\//, "");
    const put = (file: string, body: Uint8Array | string, token: string | null = t.adminToken) =>
      fetch(`${t.url}/api/2.0/mlflow-artifacts/artifacts/${root}/${file}`, {
        method: "PUT",
        headers: token ? { authorization: `Bearer ${token}` } : {},
        body,
      });
    const onnx = linearModel([1, 1, 1], 0);
    assert.equal((await put("model/model.onnx", onnx)).status, 200);
    assert.equal((await put("notes.txt", "hello")).status, 200);
    assert.equal((await put("notes.txt", "hi", null)).status, 401);
    const list = await fetch(`${t.url}/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(root)}`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    assert.deepEqual(await list.json(), {
      files: [
        { path: "model", is_dir: true },
        { path: "notes.txt", is_dir: false, file_size: 5 },
      ],
    });
    const back = await fetch(`${t.url}/api/2.0/mlflow-artifacts/artifacts/${root}/model/model.onnx`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    assert.deepEqual(new Uint8Array(await back.arrayBuffer()), new Uint8Array(onnx));
    const created = await call("POST", "model-versions/create", {
      name: "churn-model",
      source: `runs:/${trackingRunId}/model`,
      run_id: trackingRunId,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.model_version.version, "3");
    assert.equal(created.body.model_version.source, `runs:/${trackingRunId}/model`);
    const notOnnx = await call("POST", "model-versions/create", { name: "churn-model", source: `runs:/${trackingRunId}/notes.txt` });
    assert.equal(notOnnx.status, 400);
    assert.equal(notOnnx.body.error_code, "INVALID_PARAMETER_VALUE");
  });

  it("sets, gets and deletes aliases", async () => {
    assert.deepEqual((await call("POST", "registered-models/alias", { name: "churn-model", alias: "champion", version: "1" })).body, {});
    const got = await call("GET", "registered-models/alias", { name: "churn-model", alias: "champion" });
    assert.equal(got.status, 200);
    assert.equal(got.body.model_version.version, "1");
    assert.deepEqual(got.body.model_version.aliases, ["champion"]);
    assert.equal((await call("POST", "registered-models/alias", { name: "churn-model", alias: "champion", version: "2" })).status, 200);
    const model = (await call("GET", "registered-models/get", { name: "churn-model" })).body.registered_model;
    assert.deepEqual(model.aliases, [{ alias: "champion", version: "2" }]);
    assert.deepEqual(
      model.latest_versions.map((x: any) => x.version),
      ["3"],
    );
    const history = dataOf(
      await t.gql(
        `query($p: ID!) { registeredModel(projectId: $p, name: "churn-model") { aliasHistory(alias: "champion") { toVersionId } } }`,
        { p: projectId },
      ),
    ).registeredModel.aliasHistory;
    assert.equal(history.length, 2);
    assert.deepEqual((await call("DELETE", "registered-models/alias", { name: "churn-model", alias: "champion" })).body, {});
    const gone = await call("GET", "registered-models/alias", { name: "churn-model", alias: "champion" });
    assert.equal(gone.status, 400);
    assert.equal(gone.body.error_code, "INVALID_PARAMETER_VALUE");
    const badVersion = await call("POST", "registered-models/alias", { name: "churn-model", alias: "champion", version: "x" });
    assert.deepEqual(badVersion.body, { error_code: "INVALID_PARAMETER_VALUE", message: "Model version must be an integer, got 'x'" });
  });

  it("searches registered models and model versions with MLflow's filters and page tokens", async () => {
    for (const name of ["churn-shadow", "fraud"]) assert.equal((await call("POST", "registered-models/create", { name })).status, 200);
    const liked = await call("GET", "registered-models/search", { filter: "name LIKE 'churn%'", order_by: "name DESC", max_results: 1 });
    assert.deepEqual(
      liked.body.registered_models.map((m: any) => m.name),
      ["churn-shadow"],
    );
    const next = await call("GET", "registered-models/search", {
      filter: "name LIKE 'churn%'",
      order_by: "name DESC",
      max_results: 1,
      page_token: liked.body.next_page_token,
    });
    assert.deepEqual(
      next.body.registered_models.map((m: any) => m.name),
      ["churn-model"],
    );
    assert.equal(next.body.next_page_token, undefined);
    const tagged = await call("GET", "registered-models/search", { filter: "tags.team = 'growth'" });
    assert.deepEqual(
      tagged.body.registered_models.map((m: any) => m.name),
      ["churn-model"],
    );
    const all = await call("GET", "registered-models/search", {});
    assert.deepEqual(
      all.body.registered_models.map((m: any) => m.name),
      ["churn-model", "churn-shadow", "fraud", "seed"],
    );

    const byName = await call("GET", "model-versions/search", { filter: "name='churn-model'" });
    assert.deepEqual(
      byName.body.model_versions.map((v: any) => v.version),
      ["3", "2", "1"],
    );
    const byRun = await call("GET", "model-versions/search", { filter: `run_id='${trackingRunId}'` });
    assert.deepEqual(
      byRun.body.model_versions.map((v: any) => [v.name, v.version]),
      [
        ["churn-model", "3"],
        ["churn-model", "1"],
      ],
    );
    const none = await call("GET", "model-versions/search", { filter: "name='fraud'" });
    assert.deepEqual(none.body, {});
    const bad = await call("GET", "model-versions/search", { filter: "colour='red'" });
    assert.equal(bad.body.error_code, "INVALID_PARAMETER_VALUE");
  });

  it("renames, updates and deletes registered models; viewers read but cannot write; every write is audited", async () => {
    const renamed = await call("POST", "registered-models/rename", { name: "churn-shadow", new_name: "churn-canary" });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.registered_model.name, "churn-canary");
    const taken = await call("POST", "registered-models/rename", { name: "churn-canary", new_name: "fraud" });
    assert.deepEqual(taken.body, { error_code: "RESOURCE_ALREADY_EXISTS", message: "Registered Model (name=fraud) already exists." });
    const updated = await call("PATCH", "registered-models/update", { name: "fraud", description: "card fraud" });
    assert.equal(updated.body.registered_model.description, "card fraud");
    assert.deepEqual((await call("DELETE", "registered-models/delete", { name: "churn-canary" })).body, {});
    assert.equal((await call("GET", "registered-models/get", { name: "churn-canary" })).status, 404);

    const viewer = mlflowClient(t, { token: (await seedCaller(t, "VIEWER", projectId)).token });
    assert.equal((await viewer("GET", "registered-models/get", { name: "fraud" })).status, 200);
    const denied = await viewer("POST", "registered-models/alias", { name: "churn-model", alias: "champion", version: "1" });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error_code, "PERMISSION_DENIED");
    const deniedDelete = await viewer("DELETE", "registered-models/delete", { name: "fraud" });
    assert.equal(deniedDelete.status, 403);

    const audit = dataOf(await t.gql(`query { auditEvents(first: 500) { nodes { action outcome } } }`)).auditEvents.nodes as Array<{
      action: string;
      outcome: string;
    }>;
    const seen = new Set(audit.map((a) => `${a.action}:${a.outcome}`));
    for (const a of [
      "model.create:SUCCEEDED",
      "model.rename:SUCCEEDED",
      "model.update:SUCCEEDED",
      "model.delete:SUCCEEDED",
      "model.delete:DENIED",
      "model.version.create:SUCCEEDED",
      "model.version.create:FAILED",
      "model.alias.set:SUCCEEDED",
      "model.alias.set:DENIED",
      "model.alias.delete:SUCCEEDED",
    ]) {
      assert.ok(seen.has(a), `audit has ${a}`);
    }
  });
});
