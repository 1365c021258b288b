import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { readSignature } from "../../src/registry/signature";
import { LoadedModel, ModelHolder, ModelLoadError } from "../../src/serving/session";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { assertNames } from "../helpers/names";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, getJson, infer, linearModel, servedModel, setChampion, uploadVersion } from "./helpers";
import { eventually, waitUntil } from "../helpers/eventually";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settings = { maxBatchRows: 64, maxWaitMs: 5 };
const X = (a: number, b: number) => ({ X: new ort.Tensor("float32", Float32Array.from([a, b]), [1, 2]) });

describe("ModelHolder.swap", () => {
  it("switches new requests to the new model while those in flight finish on the old, released only after them", async () => {
    const oldBytes = linearModel([1, 1], 0);
    const newBytes = linearModel([1, 1], 100);
    const old = await LoadedModel.load(oldBytes, { name: "m", version: "1" }, readSignature(oldBytes), settings);
    const holder = new ModelHolder(old);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // Ten requests take the old model, then wait (as if still decoding) until the gate opens.
    const inFlight = Array.from({ length: 10 }, (_, k) =>
      holder.use(async (m) => {
        await gate;
        return { version: m.identity.version, value: ((await m.infer(X(k, 1), ["variable"])).variable as ort.Tensor).data[0] };
      }),
    );
    assert.equal(old.inFlight, 10);
    await holder.swap(() => LoadedModel.load(newBytes, { name: "m", version: "2" }, readSignature(newBytes), settings));
    assert.equal(holder.current?.identity.version, "2");
    assert.equal(old.isRetired, true);
    let released = false;
    void old.released.then(() => (released = true));
    const fresh = await holder.use(async (m) => ((await m.infer(X(1, 1), ["variable"])).variable as ort.Tensor).data[0]);
    assert.equal(fresh, 102);
    await sleep(20); // time must pass: a wrongful release would happen within it
    assert.equal(released, false, "the old session is kept while requests hold it");
    open();
    const done = await Promise.all(inFlight);
    done.forEach((d, k) => assert.deepEqual(d, { version: "1", value: k + 1 }));
    await old.released;
    assert.equal(old.inFlight, 0);
    await holder.close();
  });

  it("keeps serving the old model when the new one fails to load", async () => {
    const bytes = linearModel([1, 1], 0);
    const holder = new ModelHolder(await LoadedModel.load(bytes, { name: "m", version: "1" }, readSignature(bytes), settings));
    await assert.rejects(
      holder.swap(() => LoadedModel.load(new Uint8Array([1, 2, 3]), { name: "m", version: "2" }, readSignature(bytes), settings)),
      (err: unknown) => {
        assert.ok(err instanceof ModelLoadError, String(err));
        assertNames(err.message, "2", "m");
        return true;
      },
    );
    assert.equal(holder.current?.identity.version, "1");
    assert.equal(holder.ready, true);
    await holder.close();
  });
});

describe("serving the champion alias", () => {
  let t: TestServer;
  let projectId: string;

  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "serving-swap");
  });
  after(async () => {
    await t.close();
  });

  it("swaps under load to the version the champion alias moves to, with zero failed requests", async () => {
    const { modelId } = await servedModel(t, projectId, "swapper", linearModel([1, 1], 0));
    const v2 = await uploadVersion(t, modelId, linearModel([1, 1], 100));
    assert.equal(v2.status, "APPROVED");
    const body = { inputs: [{ name: "X", shape: [1, 2], datatype: "FP32", data: [1, 2] }] };
    const seen: Array<{ status: number; version: string; value: number }> = [];
    let stop = false;
    const client = async () => {
      const mine: string[] = [];
      while (!stop) {
        const r = await infer(t, "/v2/models/swapper/infer", body, { project: projectId });
        seen.push({ status: r.status, version: r.body.model_version, value: r.body.outputs?.[0]?.data?.[0] });
        mine.push(r.body.model_version);
      }
      return mine;
    };
    const clients = Array.from({ length: 8 }, client);
    await waitUntil("50 answers before the swap", () => seen.length >= 50, { intervalMs: 10 });
    const before = seen.length;
    await setChampion(t, modelId, v2.version);
    // Keep the load on until the new version has answered for a while.
    await waitUntil("100 answers of v2", () => seen.filter((s) => s.version === "2").length >= 100, { intervalMs: 20 });
    stop = true;
    const perClient = await Promise.all(clients);

    const failed = seen.filter((s) => s.status !== 200);
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${seen.length} requests failed`);
    assert.ok(before > 20, `${before} requests before the swap`);
    for (const s of seen) assert.equal(s.value, s.version === "1" ? 3 : 103, JSON.stringify(s));
    assert.ok(seen.some((s) => s.version === "1") && seen.filter((s) => s.version === "2").length >= 100);
    // Once a client got the new version, it never got the old one again.
    for (const versions of perClient) {
      const firstNew = versions.indexOf("2");
      assert.ok(firstNew > 0 && versions.slice(firstNew).every((v) => v === "2"), versions.join(""));
    }
  });

  it("refuses a version that is not APPROVED, saying why, and serves it once an approver approves it", async () => {
    const editor = await seedCaller(t, "EDITOR", projectId);
    const approver = await seedCaller(t, "APPROVER", projectId);
    const modelId = await createModel(t, projectId, "governed", false);
    const v1 = await uploadVersion(t, modelId, linearModel([2, 0], 0), editor.token);
    assert.equal(v1.status, "PENDING_APPROVAL");
    await setChampion(t, modelId, 1);
    const body = { inputs: [{ name: "X", shape: [1, 2], datatype: "FP32", data: [1, 1] }] };

    const refused = await infer(t, "/v2/models/governed/infer", body, { project: projectId });
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, /version 1 of governed is PENDING_APPROVAL; only APPROVED versions are served/);
    const ready = await getJson(t, "/v2/models/governed/ready", { project: projectId });
    assert.equal(ready.status, 503);
    assert.equal(ready.body.ready, false);
    assert.equal((await infer(t, "/v2/models/governed/versions/1/infer", body, { project: projectId })).status, 409);
    const gql = await t.gql(`query($p: ID!) { predict(projectId: $p, model: "governed", instances: [{X: [1, 1]}]) { modelVersion } }`, {
      p: projectId,
    });
    assert.equal(gql.errors?.[0]?.extensions?.code, "CONFLICT");

    const decided = dataOf(
      await t.gql(
        `mutation($i: DecideModelVersionInput!) { approveModelVersion(input: $i) { __typename ... on Error { message } } }`,
        { i: { modelVersionId: v1.versionId, comment: "ok to serve" } },
        approver.token,
      ),
    ).approveModelVersion;
    assert.equal(decided.__typename, "ApprovalDecisionPayload", JSON.stringify(decided));
    const served = await until(async () => {
      const r = await infer(t, "/v2/models/governed/infer", body, { project: projectId });
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(served.body.outputs[0].data, [2]);
    const pinned = await infer(t, "/v2/models/governed/versions/1/infer", body, { project: projectId });
    assert.equal(pinned.status, 200, JSON.stringify(pinned.body));

    // The alias moving onto a version still pending stops serving under the name, with the reason.
    await uploadVersion(t, modelId, linearModel([3, 0], 0), editor.token);
    await setChampion(t, modelId, 2);
    const again = await until(async () => {
      const r = await infer(t, "/v2/models/governed/infer", body, { project: projectId });
      return r.status === 409 ? r : undefined;
    });
    assert.match(again.body.error, /version 2 of governed is PENDING_APPROVAL/);
    assert.equal(
      (await infer(t, "/v2/models/governed/versions/1/infer", body, { project: projectId })).status,
      200,
      "v1 stays servable by number",
    );
  });

  it("answers 404 for a model without a champion alias", async () => {
    await createModel(t, projectId, "no-champion", true);
    const r = await infer(t, "/v2/models/no-champion/infer", { inputs: [] }, { project: projectId });
    assert.equal(r.status, 404);
    assert.match(r.body.error, /has no 'champion' alias/);
  });
});

function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  return eventually(
    async () => {
      const v = await probe();
      if (v === undefined) throw new Error("condition not met");
      return v;
    },
    { timeoutMs, intervalMs: 25 },
  );
}
