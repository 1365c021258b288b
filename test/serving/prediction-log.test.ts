import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { infer, linearModel, logisticModel, servedModel } from "./helpers";

const PREDICTIONS = `query($p: ID!, $m: String!, $first: Int, $after: String) {
  predictions(projectId: $p, model: $m, first: $first, after: $after) {
    nodes { predictionId requestId rowIndex inputs outputs outcome modelVersionId registeredModelId servedName variant }
    pageInfo { hasNextPage endCursor }
  }
}`;
const OUTCOME = `mutation($i: RecordOutcomeInput!) { recordOutcome(input: $i) {
  __typename ... on OutcomesPayload { matched unmatched unmatchedIds updatedRows }
  ... on InvalidInputError { problems { field message } } ... on NotFoundError { message } } }`;
const OUTCOMES = `mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) {
  __typename ... on OutcomesPayload { matched unmatched unmatchedIds updatedRows }
  ... on InvalidInputError { problems { field message } } ... on NotFoundError { message } } }`;

async function logged(t: TestServer, projectId: string, model: string, first = 500): Promise<any[]> {
  return dataOf(await t.gql(PREDICTIONS, { p: projectId, m: model, first })).predictions.nodes;
}

/** A counter's value in /metrics. */
async function counter(t: TestServer, name: string): Promise<number> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

describe("the prediction log and outcomes", () => {
  let t: TestServer;
  let projectId: string;
  let modelId: string;
  let versionId: string;

  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "predlog");
    const m = await servedModel(t, projectId, "churn", logisticModel([2, -1], 0.5));
    modelId = m.modelId;
    versionId = m.versionId;
    await servedModel(t, projectId, "linear", linearModel([1, 2], 0));
  });
  after(async () => {
    await t.close();
  });

  it("logs each instance of a records-form request with its inputs, outputs and prediction id", async () => {
    const { status, body } = await infer(
      t,
      "/v2/models/churn/infer",
      {
        id: "req-a",
        instances: [
          { x0: 1, x1: 0 },
          { x0: -3, x1: 2 },
        ],
      },
      { project: projectId },
    );
    assert.equal(status, 200, JSON.stringify(body));
    const rows = (await logged(t, projectId, "churn")).filter((r) => r.requestId === "req-a").sort((a, b) => a.rowIndex - b.rowIndex);
    assert.equal(rows.length, 2);
    assert.deepEqual(
      rows.map((r) => [r.predictionId, r.inputs, r.outputs.label]),
      [
        ["req-a:0", { x0: 1, x1: 0 }, body.predictions[0].label],
        ["req-a:1", { x0: -3, x1: 2 }, body.predictions[1].label],
      ],
    );
    assert.deepEqual(rows[0].outputs, body.predictions[0]);
    assert.equal(rows[0].registeredModelId, modelId);
    assert.equal(rows[0].modelVersionId, versionId);
    assert.deepEqual([rows[0].servedName, rows[0].variant], ["churn", "primary"]);
  });

  it("logs OIP tensor requests row by row, keyed by parameters.prediction_ids, and GraphQL predict too", async () => {
    const { status, body } = await infer(
      t,
      "/v2/models/linear/infer",
      {
        id: "oip-1",
        parameters: { prediction_ids: ["p-1", "p-2"] },
        inputs: [{ name: "X", shape: [2, 2], datatype: "FP32", data: [1, 1, 2, 3] }],
      },
      { project: projectId },
    );
    assert.equal(status, 200, JSON.stringify(body));
    const rows = (await logged(t, projectId, "linear")).sort((a, b) => a.rowIndex - b.rowIndex);
    assert.deepEqual(
      rows.map((r) => [r.predictionId, r.requestId, r.inputs, r.outputs]),
      [
        ["p-1", "oip-1", { X: [1, 1] }, { variable: 3 }],
        ["p-2", "oip-1", { X: [2, 3] }, { variable: 8 }],
      ],
    );
    const p = await t.gql(`query($p: ID!) { predict(projectId: $p, model: "churn", instances: [{x0: 5, x1: 5}]) { modelVersion } }`, {
      p: projectId,
    });
    dataOf(p);
    const viaGraphql = (await logged(t, projectId, "churn")).filter((r) => r.inputs.x0 === 5);
    assert.equal(viaGraphql.length, 1);
    assert.equal(viaGraphql[0].predictionId, null, "no id, no prediction id");
  });

  it("joins outcomes by prediction id, singly and in batches, and reports the ids it could not match", async () => {
    const one = dataOf(await t.gql(OUTCOME, { i: { projectId, model: "churn", predictionId: "req-a:1", outcome: 1 } })).recordOutcome;
    assert.deepEqual(one, { __typename: "OutcomesPayload", matched: 1, unmatched: 0, unmatchedIds: [], updatedRows: 1 });
    const many = dataOf(
      await t.gql(OUTCOMES, {
        i: {
          projectId,
          model: "linear",
          outcomes: [
            { predictionId: "p-1", outcome: { y: 2.5 } },
            { predictionId: "p-2", outcome: { y: 8 } },
            { predictionId: "nobody", outcome: 0 },
          ],
        },
      }),
    ).recordOutcomes;
    assert.deepEqual(many, { __typename: "OutcomesPayload", matched: 2, unmatched: 1, unmatchedIds: ["nobody"], updatedRows: 2 });
    const churn = (await logged(t, projectId, "churn")).filter((r) => r.requestId === "req-a").sort((a, b) => a.rowIndex - b.rowIndex);
    assert.deepEqual(
      churn.map((r) => r.outcome),
      [null, 1],
    );
    const linear = (await logged(t, projectId, "linear")).sort((a, b) => a.rowIndex - b.rowIndex);
    assert.deepEqual(
      linear.map((r) => r.outcome),
      [{ y: 2.5 }, { y: 8 }],
    );
  });

  it("names the bad field, 404s an unknown model, needs EDITOR and audits", async () => {
    const bad = dataOf(
      await t.gql(OUTCOMES, { i: { projectId, model: "churn", outcomes: [{ predictionId: " ", outcome: 1 }] } }),
    ).recordOutcomes;
    assert.equal(bad.__typename, "InvalidInputError");
    assert.deepEqual(
      bad.problems.map((p: any) => p.field),
      ["outcomes[0].predictionId"],
    );
    const missing = dataOf(await t.gql(OUTCOME, { i: { projectId, model: "nope", predictionId: "x", outcome: 1 } })).recordOutcome;
    assert.equal(missing.__typename, "NotFoundError");
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const denied = await t.gql(OUTCOME, { i: { projectId, model: "churn", predictionId: "req-a:0", outcome: 0 } }, viewer.token);
    assert.ok(denied.errors?.length, "a VIEWER cannot record outcomes");
    const audit = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(filter: { projectId: $p, action: "prediction.recordOutcomes" }) { nodes { outcome } } }`, {
        p: projectId,
      }),
    ).auditEvents.nodes;
    assert.ok(audit.length >= 3, JSON.stringify(audit));
  });

  it("filters by prediction id and outcome", async () => {
    const q = `query($p: ID!, $f: LoggedPredictionFilter) { predictions(projectId: $p, model: "churn", filter: $f) { nodes { predictionId } } }`;
    const withOutcome = dataOf(await t.gql(q, { p: projectId, f: { hasOutcome: true } })).predictions.nodes;
    assert.deepEqual(withOutcome, [{ predictionId: "req-a:1" }]);
    const byId = dataOf(await t.gql(q, { p: projectId, f: { predictionId: "req-a:0" } })).predictions.nodes;
    assert.deepEqual(byId, [{ predictionId: "req-a:0" }]);
  });

  it("pages through the log", async () => {
    const first = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "churn", first: 1 })).predictions;
    assert.equal(first.nodes.length, 1);
    assert.equal(first.pageInfo.hasNextPage, true);
    const rest = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "churn", first: 10, after: first.pageInfo.endCursor })).predictions;
    assert.equal(rest.nodes.length, 2);
  });
});

describe("prediction log sampling", () => {
  it("logs nothing at SLUICE_PREDICTION_LOG_SAMPLE=0 and still answers", async () => {
    const t = await startTestServer({ env: { SLUICE_PREDICTION_LOG_SAMPLE: "0" } });
    try {
      const projectId = await seedProject(t, "predlog-sample");
      await servedModel(t, projectId, "churn", logisticModel([2, -1], 0.5));
      for (let i = 0; i < 5; i++) {
        const r = await infer(t, "/v2/models/churn/infer", { id: `s${i}`, instances: [{ x0: i, x1: 1 }] }, { project: projectId });
        assert.equal(r.status, 200);
      }
      assert.equal((await logged(t, projectId, "churn")).length, 0);
    } finally {
      await t.close();
    }
  });

  it("logs about half at 0.5, whole requests at a time", async () => {
    const t = await startTestServer({ env: { SLUICE_PREDICTION_LOG_SAMPLE: "0.5" } });
    try {
      const projectId = await seedProject(t, "predlog-half");
      await servedModel(t, projectId, "churn", logisticModel([2, -1], 0.5));
      for (let i = 0; i < 200; i++) {
        const r = await infer(
          t,
          "/v2/models/churn/infer",
          {
            id: `h${i}`,
            instances: [
              { x0: i, x1: 1 },
              { x0: 0, x1: i },
            ],
          },
          { project: projectId },
        );
        assert.equal(r.status, 200);
      }
      const rows = await logged(t, projectId, "churn");
      const requests = new Set(rows.map((r) => r.requestId));
      assert.equal(rows.length, requests.size * 2, "a sampled request is logged whole");
      assert.ok(requests.size > 60 && requests.size < 140, `${requests.size} of 200 requests logged`);
    } finally {
      await t.close();
    }
  });
});

describe("prediction log overload", () => {
  it("with a tiny queue, answers every prediction, drops and counts the rest: written + dropped = total", async () => {
    const t = await startTestServer({ env: { SLUICE_PREDICTION_LOG_QUEUE: "5" } });
    try {
      const projectId = await seedProject(t, "predlog-overload");
      await servedModel(t, projectId, "churn", logisticModel([2, -1], 0.5));
      const requests = 100; // 400 rows: under one 500-row page
      const perRequest = 4;
      const results = await Promise.all(
        Array.from({ length: requests }, (_, i) =>
          infer(
            t,
            "/v2/models/churn/infer",
            { id: `o${i}`, instances: Array.from({ length: perRequest }, (_, r) => ({ x0: i, x1: r })) },
            { project: projectId },
          ),
        ),
      );
      assert.deepEqual(
        results.filter((r) => r.status !== 200),
        [],
      );
      const rows = await logged(t, projectId, "churn"); // flushes the queue first
      const written = await counter(t, "sluice_prediction_log_written_total");
      const dropped = await counter(t, "sluice_prediction_log_dropped_total");
      assert.ok(dropped > 0, "a queue of 5 cannot hold this burst");
      assert.equal(written, rows.length);
      assert.equal(written + dropped, requests * perRequest);
    } finally {
      await t.close();
    }
  });
});
