import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { linearModel } from "../helpers/onnx-models";

const FIXTURES = path.resolve(__dirname, "../../../test/registry/fixtures");

const VERSION = `id version status source signature metrics lineage createdBy aliases downloadPath`;

describe("the model registry", () => {
  let t: TestServer;
  let projectId: string;
  let modelId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-registry-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "models");
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const upload = (bytes: Uint8Array, token = t.adminToken, id = modelId) =>
    fetch(`${t.url}/registered-models/${id}/versions?description=first`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
  const setAlias = async (alias: string, version: number) =>
    dataOf(
      await t.gql(
        `mutation($i: SetModelAliasInput!) { setModelAlias(input: $i) { __typename ... on ModelAliasPayload { alias { alias versionId } } ... on Error { code message } } }`,
        { i: { registeredModelId: modelId, alias, version } },
      ),
    ).setModelAlias;

  it("creates a registered model and refuses a second of the same name", async () => {
    const create = `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { __typename ... on RegisteredModelPayload { registeredModel { id name tags } } ... on Error { code } } }`;
    const first = dataOf(await t.gql(create, { i: { projectId, name: "delay-classifier", tags: { team: "ops" } } })).createRegisteredModel;
    assert.equal(first.__typename, "RegisteredModelPayload");
    modelId = first.registeredModel.id;
    const again = dataOf(await t.gql(create, { i: { projectId, name: "delay-classifier" } })).createRegisteredModel;
    assert.equal(again.__typename, "ConflictError");
  });

  it("takes uploaded ONNX files as versions with their signature, and refuses what onnxruntime cannot load", async () => {
    const res = await upload(linearModel([3, -1], 0.25));
    assert.equal(res.status, 201);
    const body = (await res.json()) as any;
    assert.equal(body.version, 1);
    assert.equal(body.status, "PENDING_APPROVAL");
    assert.deepEqual(body.signature.inputs, [{ name: "X", type: "float", shape: [null, 2] }]);
    assert.deepEqual(body.signature.outputs, [{ name: "variable", type: "float", shape: [null, 1] }]);
    assert.equal((await upload(linearModel([1, 1], 0))).status, 201);
    const garbage = await upload(new TextEncoder().encode("not a model at all"));
    assert.equal(garbage.status, 400);
    assert.equal(((await garbage.json()) as any).error.code, "BAD_USER_INPUT");
    const viewer = await seedCaller(t, "VIEWER", projectId);
    assert.equal((await upload(linearModel([1, 1], 0), viewer.token)).status, 403);
    const versions = dataOf(
      await t.gql(`query($id: ID) { registeredModel(id: $id) { versions { totalCount nodes { version } } } }`, { id: modelId }),
    ).registeredModel.versions;
    assert.equal(versions.totalCount, 2, "the refused files left no version");
  });

  it("moves aliases atomically with history, and never onto an archived version", async () => {
    assert.equal((await setAlias("champion", 1)).__typename, "ModelAliasPayload");
    assert.equal((await setAlias("champion", 2)).__typename, "ModelAliasPayload");
    assert.equal((await setAlias("Bad Alias", 1)).__typename, "InvalidInputError");
    assert.equal((await setAlias("champion", 99)).__typename, "NotFoundError");
    const model = dataOf(
      await t.gql(
        `query($id: ID) { registeredModel(id: $id) { aliases { alias versionId } aliasHistory(alias: "champion") { fromVersionId toVersionId actorId } } }`,
        { id: modelId },
      ),
    ).registeredModel;
    const champion = dataOf(
      await t.gql(`query($m: ID) { modelVersion(registeredModelId: $m, alias: "champion") { ${VERSION} } }`, { m: modelId }),
    ).modelVersion;
    assert.equal(champion.version, 2);
    assert.deepEqual(champion.aliases, ["champion"]);
    assert.equal(model.aliasHistory.length, 2);
    assert.equal(model.aliasHistory[0].fromVersionId, null);
    assert.equal(model.aliasHistory[1].toVersionId, champion.id);

    const archive = `mutation($i: ModelVersionIdInput!) { archiveModelVersion(input: $i) { __typename ... on ModelVersionPayload { modelVersion { status } } ... on Error { code message } } }`;
    assert.equal(
      dataOf(await t.gql(archive, { i: { id: champion.id } })).archiveModelVersion.__typename,
      "ConflictError",
      "champion cannot be archived",
    );
    const v1 = dataOf(await t.gql(`query($m: ID) { modelVersion(registeredModelId: $m, version: 1) { id } }`, { m: modelId })).modelVersion;
    const archived = dataOf(await t.gql(archive, { i: { id: v1.id } })).archiveModelVersion;
    assert.equal(archived.modelVersion.status, "ARCHIVED");
    assert.equal((await setAlias("champion", 1)).__typename, "ConflictError");
  });

  it("serves the model file to readers only", async () => {
    const v = dataOf(
      await t.gql(`query($m: ID) { modelVersion(registeredModelId: $m, version: 2) { downloadPath } }`, { m: modelId }),
    ).modelVersion;
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const res = await fetch(`${t.url}${v.downloadPath}`, { headers: { authorization: `Bearer ${viewer.token}` } });
    assert.equal(res.status, 200);
    const got = Buffer.from(await res.arrayBuffer());
    assert.ok(got.equals(Buffer.from(linearModel([1, 1], 0))), `downloaded ${got.length} bytes`);
    assert.equal((await fetch(`${t.url}${v.downloadPath}`)).status, 401);
    const stranger = await seedCaller(t, "VIEWER", await seedProject(t, "elsewhere"));
    assert.equal((await fetch(`${t.url}${v.downloadPath}`, { headers: { authorization: `Bearer ${stranger.token}` } })).status, 403);
  });

  it("registers a run's Model output with its lineage: run, stage, pipeline version and dataset versions", async () => {
    fs.writeFileSync(path.join(dir, "train.csv"), "x0,x1,y\n1,2,3\n2,3,5\n");
    const bytes = linearModel([1, 1], 0.5);
    const { pipelineId, versionId } = await applyPipeline(
      t,
      projectId,
      {
        name: "train-linear",
        stages: [
          {
            name: "ingest",
            run: { operator: "ingest" },
            params: { dataset: "train", paths: ["train.csv"], format: "csv" },
            outputs: { data: { kind: "Dataset" } },
          },
          {
            name: "train",
            run: { module: "./stages.ts", export: "writeModel" },
            inputs: { data: { from: "ingest.data" } },
            params: { b64: Buffer.from(bytes).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
        ],
      },
      FIXTURES,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const artifactId = stage(run, "train").outputs[0]!.id;
    const res = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename ... on ModelVersionPayload { modelVersion { ${VERSION} } } ... on Error { code message } } }`,
        { i: { registeredModelId: modelId, artifactId, metrics: { rmse: 0.1 } } },
      ),
    ).createModelVersion;
    assert.equal(res.__typename, "ModelVersionPayload", JSON.stringify(res));
    const v = res.modelVersion;
    assert.equal(v.version, 3);
    assert.equal(v.source, "RUN");
    assert.deepEqual(v.metrics, { rmse: 0.1 });
    assert.equal(v.lineage.runId, run.id);
    assert.equal(v.lineage.stageRunId, stage(run, "train").id);
    assert.equal(v.lineage.pipelineVersionId, versionId);
    const ds = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "train") { latestVersion { id } } }`, { p: projectId }),
    ).dataset;
    assert.deepEqual(v.lineage.datasetVersionIds, [ds.latestVersion.id]);
    const me = dataOf(await t.gql(`{ me { principal { id } } }`)).me.principal;
    assert.equal(v.createdBy, me.id, "whoever triggered the training run");

    const notModel = dataOf(
      await t.gql(`mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename } }`, {
        i: { registeredModelId: modelId, artifactId: stage(run, "ingest").outputs[0]!.id },
      }),
    ).createModelVersion;
    assert.equal(notModel.__typename, "InvalidInputError");
    const audit = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(filter: { projectId: $p, action: "model.version.create" }) { totalCount } }`, {
        p: projectId,
      }),
    );
    assert.ok(audit.auditEvents.totalCount >= 2);
  });
});
