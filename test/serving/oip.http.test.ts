import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { echoModel, getJson, infer, logisticModel, servedModel } from "./helpers";
import { assertNames } from "../helpers/names";

describe("the Open Inference Protocol v2 routes", () => {
  let t: TestServer;
  let projectId: string;

  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "serving-oip");
    await servedModel(t, projectId, "echo", echoModel());
    await servedModel(t, projectId, "delay", logisticModel([2, -1], 0.5));
  });
  after(async () => {
    await t.close();
  });

  const echoInputs = () => [
    { name: "f", shape: [2, 2], datatype: "FP32", data: [1.5, -2, 0.25, 1e6] },
    { name: "i", shape: [2], datatype: "INT64", data: [42, -9007199254740991] },
    { name: "s", shape: [2, 1], datatype: "BYTES", data: ["ORD", "été"] },
    { name: "b", shape: [2], datatype: "BOOL", data: [true, false] },
  ];

  it("answers the health probes without a token, and the server metadata", async () => {
    assert.deepEqual(await getJson(t, "/v2/health/live", { token: null }), { status: 200, body: { live: true } });
    assert.deepEqual(await getJson(t, "/v2/health/ready", { token: null }), { status: 200, body: { ready: true } });
    const meta = await getJson(t, "/v2", { token: null });
    assert.equal(meta.body.name, "sluice");
  });

  it("gives model metadata with OIP datatypes and -1 for variable dimensions", async () => {
    const { status, body } = await getJson(t, "/v2/models/echo", { project: projectId });
    assert.equal(status, 200);
    assert.equal(body.platform, "onnxruntime");
    assert.deepEqual(body.versions, ["1"]);
    assert.deepEqual(body.inputs, [
      { name: "f", datatype: "FP32", shape: [-1, 2] },
      { name: "i", datatype: "INT64", shape: [-1] },
      { name: "s", datatype: "BYTES", shape: [-1, 1] },
      { name: "b", datatype: "BOOL", shape: [-1] },
    ]);
    const ready = await getJson(t, "/v2/models/echo/ready", { project: projectId });
    assert.deepEqual(ready, { status: 200, body: { name: "echo", ready: true } });
  });

  it("round-trips FP32, INT64, BYTES and BOOL tensors, flattened or nested, and echoes the id", async () => {
    const { status, body } = await infer(t, "/v2/models/echo/infer", { id: "req-1", inputs: echoInputs() }, { project: projectId });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.model_name, "echo");
    assert.equal(body.model_version, "1");
    assert.equal(body.id, "req-1");
    assert.deepEqual(body.outputs, [
      { name: "f_out", shape: [2, 2], datatype: "FP32", data: [1.5, -2, 0.25, 1e6] },
      { name: "i_out", shape: [2], datatype: "INT64", data: [42, -9007199254740991] },
      { name: "s_out", shape: [2, 1], datatype: "BYTES", data: ["ORD", "été"] },
      { name: "b_out", shape: [2], datatype: "BOOL", data: [true, false] },
    ]);
    // Nested data in the tensor's shape is the same tensor; `outputs` selects what comes back.
    const nested = echoInputs();
    nested[0]!.data = [
      [1.5, -2],
      [0.25, 1e6],
    ] as never;
    nested[2]!.data = [["ORD"], ["été"]] as never;
    const again = await infer(
      t,
      "/v2/models/echo/infer",
      { inputs: nested, outputs: [{ name: "f_out" }, { name: "s_out" }] },
      { project: projectId },
    );
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(
      again.body.outputs.map((o: any) => [o.name, o.data]),
      [
        ["f_out", [1.5, -2, 0.25, 1e6]],
        ["s_out", ["ORD", "été"]],
      ],
    );
    assert.equal(again.body.id, "");
    // INT64 past 2^53 travels as decimal strings, both ways.
    const big = echoInputs();
    big[1]!.data = ["9223372036854775807", 1] as never;
    const wide = await infer(t, "/v2/models/echo/infer", { inputs: big, outputs: [{ name: "i_out" }] }, { project: projectId });
    assert.deepEqual(wide.body.outputs[0].data, ["9223372036854775807", "1"]);
  });

  it("takes the records form, one object per instance, and answers one prediction per instance", async () => {
    const { status, body } = await infer(
      t,
      "/v2/models/delay/infer",
      {
        instances: [
          { x0: 1, x1: 0 },
          { x0: -3, x1: 1 },
          { x0: null, x1: 0 },
        ],
      },
      { project: projectId },
    );
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.predictions.length, 3);
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    const p1 = sigmoid(2 * 1 - 0 + 0.5);
    assert.equal(body.predictions[0].label, 1);
    assert.ok(Math.abs(body.predictions[0].probabilities[1] - p1) < 1e-6, JSON.stringify(body.predictions[0]));
    assert.equal(body.predictions[1].label, 0);
    assert.equal(body.predictions[1].probabilities.length, 2);
    // The same rows as OIP tensors give the same answer.
    const oip = await infer(
      t,
      "/v2/models/delay/infer",
      {
        inputs: [
          { name: "x0", shape: [1, 1], datatype: "FP32", data: [1] },
          { name: "x1", shape: [1, 1], datatype: "FP32", data: [0] },
        ],
      },
      { project: projectId },
    );
    assert.deepEqual(oip.body.outputs[1].data, body.predictions[0].probabilities);
  });

  it("answers 400 naming the input and the problem: wrong shape, wrong datatype, missing input, unknown input", async () => {
    const call = (inputs: unknown[]) => infer(t, "/v2/models/echo/infer", { inputs }, { project: projectId });
    const [f, i, s, b] = echoInputs();

    const rank = await call([{ ...f, shape: [4] }, i, s, b]);
    assert.equal(rank.status, 400);
    assert.match(rank.body.error, /inputs\.f: shape \[4\] has rank 1/);

    const fixed = await call([{ ...f, shape: [1, 4] }, i, s, b]);
    assert.equal(fixed.status, 400);
    assert.match(fixed.body.error, /inputs\.f: .*has 4 at dimension 1/);

    const count = await call([{ ...f, shape: [3, 2] }, i, s, b]);
    assert.equal(count.status, 400);
    assert.match(count.body.error, /inputs\.f: shape \[3, 2\] holds 6 elements but data has 4/);

    const datatype = await call([{ ...f, datatype: "FP64" }, i, s, b]);
    assert.equal(datatype.status, 400);
    assert.match(datatype.body.error, /inputs\.f: datatype FP64 does not match the model, whose input "f" is FP32/);

    const value = await call([f, { ...i, data: [1.5, 2] }, s, b]);
    assert.equal(value.status, 400);
    assert.match(value.body.error, /inputs\.i: data\[0\] is 1\.5; INT64 takes integers/);

    const missing = await call([f, i, s]);
    assert.equal(missing.status, 400);
    assert.match(missing.body.error, /missing input "b"/);

    const unknown = await call([f, i, s, b, { name: "extra", shape: [1], datatype: "FP32", data: [1] }]);
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /unknown input "extra"; the model's inputs are f, i, s, b/);

    const output = await infer(t, "/v2/models/echo/infer", { inputs: [f, i, s, b], outputs: [{ name: "nope" }] }, { project: projectId });
    assert.equal(output.status, 400);
    assert.match(output.body.error, /unknown output "nope"/);

    const records = await infer(t, "/v2/models/delay/infer", { instances: [{ x0: 1 }, { x0: 1, x1: 2, x9: 3 }] }, { project: projectId });
    assert.equal(records.status, 400);
    assert.match(records.body.error, /instances\[0\]: missing column "x1"/);
    assert.match(records.body.error, /instances\[1\]\.x9: unknown column "x9"/);

    const text = await infer(t, "/v2/models/delay/infer", { instances: [{ x0: "high", x1: 2 }] }, { project: projectId });
    assert.equal(text.status, 400);
    assert.match(text.body.error, /instances\[0\]\.x0: is "high"; FP32 takes numbers/);

    const malformed = await infer(t, "/v2/models/echo/infer", "{not json", { project: projectId });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.error, /not valid JSON/);
  });

  it("answers 404 for an unknown model, and refuses callers without READ on the project", async () => {
    const unknown = await infer(t, "/v2/models/nobody/infer", { inputs: [] }, { project: projectId });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /nobody/);
    assert.equal((await getJson(t, "/v2/models/nobody", { project: projectId })).status, 404);
    assert.equal((await getJson(t, "/v2/models/nobody/ready", { project: projectId })).status, 404);
    assert.equal((await getJson(t, "/v2/models/echo/versions/7", { project: projectId })).status, 404);

    const res = await fetch(`${t.url}/v2/models/echo/infer`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 401);
    assert.ok(((await res.json()) as any).error);

    const stranger = await seedCaller(t, "VIEWER", await seedProject(t, "elsewhere"));
    const forbidden = await infer(t, "/v2/models/echo/infer", { inputs: echoInputs() }, { token: stranger.token, project: projectId });
    assert.equal(forbidden.status, 403);

    // A token reading exactly one project needs no header; the project may also be named.
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const implicit = await infer(t, "/v2/models/echo/infer", { inputs: echoInputs() }, { token: viewer.token });
    assert.equal(implicit.status, 200, JSON.stringify(implicit.body));
    const named = await infer(t, "/v2/models/echo/infer", { inputs: echoInputs() }, { project: "serving-oip" });
    assert.equal(named.status, 200, JSON.stringify(named.body));
    const ambiguous = await infer(t, "/v2/models/echo/infer", { inputs: echoInputs() });
    assert.equal(ambiguous.status, 400);
    assert.match(ambiguous.body.error, /X-Sluice-Project/);
  });

  it("serves GraphQL predict through the same model, and counts requests in /metrics", async () => {
    const r = dataOf(
      await t.gql(
        `query($p: ID!, $i: [JSON!]!) { predict(projectId: $p, model: "delay", instances: $i) { modelName modelVersion predictions } }`,
        {
          p: projectId,
          i: [
            { x0: 1, x1: 0 },
            { x0: -3, x1: 1 },
          ],
        },
      ),
    ).predict;
    assert.equal(r.modelName, "delay");
    assert.equal(r.modelVersion, "1");
    assert.deepEqual(
      r.predictions.map((p: any) => p.label),
      [1, 0],
    );
    const bad = await t.gql(`query($p: ID!) { predict(projectId: $p, model: "delay", instances: [{x0: 1}]) { modelName } }`, {
      p: projectId,
    });
    assert.equal(bad.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assertNames(bad.errors![0]!.message, "x1");

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /sluice_inference_requests_total\{model="delay",outcome="ok"\} [1-9]/);
    assert.match(metrics, /sluice_inference_requests_total\{model="echo",outcome="bad_request"\} [1-9]/);
    assert.match(metrics, /sluice_inference_requests_total\{model="unknown",outcome="not_found"\} [1-9]/);
    assert.match(metrics, /sluice_inference_duration_seconds_count\{model="delay"\} [1-9]/);
    assert.match(metrics, /sluice_inference_batch_rows_count\{model="delay"\} [1-9]/);
  });
});
