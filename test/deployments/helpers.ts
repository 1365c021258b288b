import assert from "node:assert/strict";
import { dataOf, type TestServer } from "../helpers/server";
import { infer } from "../serving/helpers";
import { waitUntil } from "../helpers/eventually";

const RESULT = `__typename
  ... on DeploymentPayload { deployment { id name version alias mode revision shadowVersion canary { version percent } status servingVersion statusReason } }
  ... on InvalidInputError { message problems { field message } }
  ... on NotFoundError { message }
  ... on ConflictError { message }
  ... on VersionNotApprovedError { code field registeredModelId modelName version status alias }`;

/** Calls one deployment mutation (`deployModel`, `setCanary`…) with `input`; answers its result union member. */
export async function deployMutation(t: TestServer, name: string, inputType: string, input: Record<string, unknown>, token?: string) {
  const res = await t.gql(`mutation($i: ${inputType}!) { ${name}(input: $i) { ${RESULT} } }`, { i: input }, token);
  return { res, result: res.data?.[name] as any };
}

/** Like deployMutation, failing unless it succeeded; answers the deployment. */
export async function deployed(t: TestServer, name: string, inputType: string, input: Record<string, unknown>, token?: string) {
  const { res, result } = await deployMutation(t, name, inputType, input, token);
  assert.equal(result?.__typename, "DeploymentPayload", JSON.stringify(res.errors ?? result));
  return result.deployment;
}

/** Approves a model version as `approverToken` (policies that need one approval). */
export async function approve(t: TestServer, versionId: string, approverToken: string): Promise<void> {
  const r = dataOf(
    await t.gql(
      `mutation($i: DecideModelVersionInput!) { approveModelVersion(input: $i) { __typename ... on Error { message } } }`,
      { i: { modelVersionId: versionId, comment: "looks right" } },
      approverToken,
    ),
  ).approveModelVersion;
  assert.equal(r.__typename, "ApprovalDecisionPayload", JSON.stringify(r));
}

/** One OIP request `X = [a, b]` to `/v2/models/{name}/infer`. */
export const oipX = (a: number, b: number) => ({ inputs: [{ name: "X", shape: [1, 2], datatype: "FP32", data: [a, b] }] });

export async function inferX(t: { url: string; adminToken: string }, name: string, project: string, a = 1, b = 2) {
  return infer(t as TestServer, `/v2/models/${name}/infer`, oipX(a, b), { project });
}

/** Polls `check` until it holds (or fails after `ms`). */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  await waitUntil(what, check, { timeoutMs: ms });
}

/**
 * `clients` loops of requests to `name` while `during` runs (and `settleMs` after it); answers
 * every status and version seen.
 */
export async function underLoad(
  t: { url: string; adminToken: string },
  name: string,
  during: () => Promise<void>,
  opts: { project: string; clients?: number; settleMs?: number },
): Promise<Array<{ status: number; version: string; error?: string }>> {
  const seen: Array<{ status: number; version: string; error?: string }> = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      const r = await inferX(t, name, opts.project);
      seen.push({ status: r.status, version: String(r.body.model_version), error: r.body.error });
    }
  };
  const n = opts.clients ?? 8;
  const clients = Array.from({ length: n }, client);
  // The old state has answered before the change starts (a loaded machine may be slow to get going).
  await eventually("the clients are running", async () => seen.length >= n);
  await during();
  await new Promise((r) => setTimeout(r, opts.settleMs ?? 300)); // time must pass: the clients keep calling after the change
  stop = true;
  await Promise.all(clients);
  return seen;
}
