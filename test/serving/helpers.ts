import assert from "node:assert/strict";
import { onnx } from "onnx-proto";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";
import { dataOf, type TestServer } from "../helpers/server";

/** y = X·coefficients + intercept over X float [N, k]: distinct coefficients give distinct files and answers. */
export function linearModel(coefficients: number[], intercept: number): Uint8Array {
  const g = new GraphBuilder();
  g.node(
    "LinearRegressor",
    ["X"],
    ["variable"],
    { coefficients: { floats: coefficients }, intercepts: { floats: [intercept] } },
    ML_DOMAIN,
  );
  return g.build({ inputs: [valueInfo("X", "float", [null, coefficients.length])], outputs: [valueInfo("variable", "float", [null, 1])] });
}

/** A binary logistic classifier over two float columns fed separately, as Sluice's trainers export. */
export function logisticModel(coefficients: [number, number], intercept: number): Uint8Array {
  const g = new GraphBuilder();
  g.node("Concat", ["x0", "x1"], ["X"], { axis: { int: 1 } });
  g.node(
    "LinearClassifier",
    ["X"],
    ["label", "probabilities"],
    {
      coefficients: { floats: coefficients },
      intercepts: { floats: [intercept] },
      classlabels_ints: { ints: [0, 1] },
      post_transform: { string: "LOGISTIC" },
    },
    ML_DOMAIN,
  );
  return g.build({
    inputs: [valueInfo("x0", "float", [null, 1]), valueInfo("x1", "float", [null, 1])],
    outputs: [valueInfo("label", "int64", [null]), valueInfo("probabilities", "float", [null, 2])],
  });
}

function boolInfo(name: string, shape: Array<number | null>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.BOOL,
        shape: { dim: shape.map((d) => (d === null ? { dimParam: "N" } : { dimValue: d })) },
      },
    },
  };
}

/**
 * Echoes four inputs of four datatypes — f FP32 [N, 2], i INT64 [N], s BYTES [N, 1], b BOOL [N] —
 * as outputs f_out, i_out, s_out, b_out, so a request's tensors come back exactly as decoded.
 */
export function echoModel(): Uint8Array {
  const g = new GraphBuilder();
  g.node("Identity", ["f"], ["f_out"]);
  g.node("Identity", ["i"], ["i_out"]);
  g.node("Identity", ["s"], ["s_out"]);
  g.node("Identity", ["b"], ["b_out"]);
  return g.build({
    inputs: [
      valueInfo("f", "float", [null, 2]),
      valueInfo("i", "int64", [null]),
      valueInfo("s", "string", [null, 1]),
      boolInfo("b", [null]),
    ],
    outputs: [
      valueInfo("f_out", "float", [null, 2]),
      valueInfo("i_out", "int64", [null]),
      valueInfo("s_out", "string", [null, 1]),
      boolInfo("b_out", [null]),
    ],
  });
}

/**
 * out = X[row, idx[row]] (GatherElements on axis 1) over X float [N, 3], idx int64 [N, 1]: an
 * index past 2 makes onnxruntime fail the run — a request that passes every check and still
 * breaks the batch it is in.
 */
export function gatherModel(): Uint8Array {
  const g = new GraphBuilder();
  g.node("GatherElements", ["X", "idx"], ["picked"], { axis: { int: 1 } });
  return g.build({
    inputs: [valueInfo("X", "float", [null, 3]), valueInfo("idx", "int64", [null, 1])],
    outputs: [valueInfo("picked", "float", [null, 1])],
  });
}

export async function createModel(t: TestServer, projectId: string, name: string, autoApprove: boolean): Promise<string> {
  const r = dataOf(
    await t.gql(
      `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { __typename ... on RegisteredModelPayload { registeredModel { id } } ... on Error { message } } }`,
      { i: { projectId, name } },
    ),
  ).createRegisteredModel;
  assert.equal(r.__typename, "RegisteredModelPayload", JSON.stringify(r));
  if (autoApprove) {
    // A policy with no approvals required: versions are APPROVED as they are registered.
    const p = dataOf(
      await t.gql(`mutation($i: SetModelPolicyInput!) { setModelPolicy(input: $i) { __typename ... on Error { message } } }`, {
        i: { registeredModelId: r.registeredModel.id, policy: { approvals: { required: 0 } } },
      }),
    ).setModelPolicy;
    assert.equal(p.__typename, "ModelPolicyPayload", JSON.stringify(p));
  }
  return r.registeredModel.id;
}

export async function uploadVersion(t: TestServer, modelId: string, bytes: Uint8Array, token = t.adminToken) {
  const res = await fetch(`${t.url}/registered-models/${modelId}/versions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { versionId: string; version: number; status: string };
}

export async function setChampion(t: TestServer, modelId: string, version: number): Promise<void> {
  const r = dataOf(
    await t.gql(`mutation($i: SetModelAliasInput!) { setModelAlias(input: $i) { __typename ... on Error { message } } }`, {
      i: { registeredModelId: modelId, alias: "champion", version },
    }),
  ).setModelAlias;
  assert.equal(r.__typename, "ModelAliasPayload", JSON.stringify(r));
}

/** Creates a model, uploads `bytes` (approved at once when `autoApprove`) and makes it the champion. */
export async function servedModel(t: TestServer, projectId: string, name: string, bytes: Uint8Array, autoApprove = true) {
  const modelId = await createModel(t, projectId, name, autoApprove);
  const v = await uploadVersion(t, modelId, bytes);
  await setChampion(t, modelId, v.version);
  return { modelId, ...v };
}

/** POSTs to an OIP route; answers status and parsed body. */
export async function infer(
  t: TestServer,
  path: string,
  body: unknown,
  opts: { token?: string; project?: string } = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${opts.token ?? t.adminToken}`,
      ...(opts.project ? { "x-sluice-project": opts.project } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

export async function getJson(t: TestServer, path: string, opts: { token?: string | null; project?: string } = {}) {
  const token = opts.token === undefined ? t.adminToken : opts.token;
  const res = await fetch(`${t.url}${path}`, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.project ? { "x-sluice-project": opts.project } : {}) },
  });
  return { status: res.status, body: (await res.json()) as any };
}
