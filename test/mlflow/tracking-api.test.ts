import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { mlflowClient } from "./client";
import { assertNames } from "../helpers/names";

describe("the MLflow tracking API", () => {
  let t: TestServer;
  let call: ReturnType<typeof mlflowClient>;
  let projectId: string;
  let experimentId: string;
  let runId: string;
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "tracking");
    await seedProject(t, "elsewhere");
    call = mlflowClient(t, { project: "tracking" });
  });
  after(async () => t.close());

  it("creates an experiment and reads it back by id and by name in MLflow's JSON", async () => {
    const created = await call("POST", "experiments/create", { name: "churn", tags: [{ key: "team", value: "growth" }] });
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.body), ["experiment_id"]);
    experimentId = created.body.experiment_id;
    const got = await call("GET", "experiments/get", { experiment_id: experimentId });
    assert.equal(got.status, 200);
    const e = got.body.experiment;
    assert.deepEqual(Object.keys(e).sort(), [
      "artifact_location",
      "creation_time",
      "experiment_id",
      "last_update_time",
      "lifecycle_stage",
      "name",
      "tags",
    ]);
    assert.equal(e.experiment_id, experimentId);
    assert.equal(e.name, "churn");
    assert.equal(e.lifecycle_stage, "active");
    assert.equal(typeof e.creation_time, "number");
    assert.equal(typeof e.last_update_time, "number");
    assert.equal(e.artifact_location, `mlflow-artifacts:/${experimentId}`);
    assert.deepEqual(e.tags, [{ key: "team", value: "growth" }]);
    const byName = await call("GET", "experiments/get-by-name", { experiment_name: "churn" });
    assert.deepEqual(byName.body, got.body);
  });

  it("answers MLflow's errors: taken name, missing experiment, missing parameter, unknown endpoint", async () => {
    const dup = await call("POST", "experiments/create", { name: "churn" });
    assert.equal(dup.status, 400);
    assert.equal(dup.body.error_code, "RESOURCE_ALREADY_EXISTS");
    assert.deepEqual(Object.keys(dup.body).sort(), ["error_code", "message"]);
    const missing = await call("GET", "experiments/get", { experiment_id: "5d7a6b2e-1111-4222-8333-444455556666" });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error_code, "RESOURCE_DOES_NOT_EXIST");
    const noName = await call("GET", "experiments/get-by-name", { experiment_name: "nope" });
    assert.equal(noName.status, 404);
    assert.equal(noName.body.error_code, "RESOURCE_DOES_NOT_EXIST");
    const noParam = await call("GET", "experiments/get", {});
    assert.equal(noParam.status, 400);
    assert.deepEqual(noParam.body, {
      error_code: "INVALID_PARAMETER_VALUE",
      message: "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters.",
    });
    const emptyName = await call("POST", "experiments/create", { name: "" });
    assert.equal(emptyName.body.error_code, "INVALID_PARAMETER_VALUE");
    const unknown = await call("POST", "experiments/teleport", {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error_code, "ENDPOINT_NOT_FOUND");
  });

  it("searches experiments by name with order_by and page tokens; deletes, restores and renames", async () => {
    for (const name of ["churn-b", "churn-c", "other"]) assert.equal((await call("POST", "experiments/create", { name })).status, 200);
    const first = await call("POST", "experiments/search", { filter: "name LIKE 'churn%'", order_by: ["name DESC"], max_results: 2 });
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.experiments.map((e: any) => e.name),
      ["churn-c", "churn-b"],
    );
    assert.equal(typeof first.body.next_page_token, "string");
    const second = await call("POST", "experiments/search", {
      filter: "name LIKE 'churn%'",
      order_by: ["name DESC"],
      max_results: 2,
      page_token: first.body.next_page_token,
    });
    assert.deepEqual(
      second.body.experiments.map((e: any) => e.name),
      ["churn"],
    );
    assert.equal(second.body.next_page_token, undefined);
    const byTag = await call("POST", "experiments/search", { filter: "tags.team = 'growth'" });
    assert.deepEqual(
      byTag.body.experiments.map((e: any) => e.name),
      ["churn"],
    );

    const other = (await call("GET", "experiments/get-by-name", { experiment_name: "other" })).body.experiment.experiment_id;
    assert.deepEqual((await call("POST", "experiments/update", { experiment_id: other, new_name: "renamed" })).body, {});
    assert.deepEqual((await call("POST", "experiments/delete", { experiment_id: other })).body, {});
    assert.equal((await call("GET", "experiments/get", { experiment_id: other })).body.experiment.lifecycle_stage, "deleted");
    const active = await call("POST", "experiments/search", {});
    assert.ok(!active.body.experiments.some((e: any) => e.name === "renamed"));
    const deleted = await call("POST", "experiments/search", { view_type: "DELETED_ONLY" });
    assert.deepEqual(
      deleted.body.experiments.map((e: any) => e.name),
      ["renamed"],
    );
    const refused = await call("POST", "runs/create", { experiment_id: other });
    assert.equal(refused.body.error_code, "INVALID_PARAMETER_VALUE");
    assert.equal((await call("POST", "experiments/restore", { experiment_id: other })).status, 200);
    assert.equal((await call("GET", "experiments/get", { experiment_id: other })).body.experiment.lifecycle_stage, "active");
  });

  it("creates a run and logs params, metrics and tags; get-run answers MLflow's exact JSON", async () => {
    const created = await call("POST", "runs/create", {
      experiment_id: experimentId,
      run_name: "baseline",
      start_time: 1_700_000_000_000,
      tags: [{ key: "mlflow.source.name", value: "train.py" }],
    });
    assert.equal(created.status, 200);
    runId = created.body.run.info.run_id;
    assert.deepEqual(created.body.run, {
      info: {
        run_id: runId,
        run_uuid: runId,
        run_name: "baseline",
        experiment_id: experimentId,
        user_id: "admin",
        status: "RUNNING",
        start_time: 1_700_000_000_000,
        artifact_uri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
        lifecycle_stage: "active",
      },
      data: {
        tags: [
          { key: "mlflow.runName", value: "baseline" },
          { key: "mlflow.source.name", value: "train.py" },
          { key: "mlflow.user", value: "admin" },
        ],
      },
      inputs: {},
    });
    assert.deepEqual((await call("POST", "runs/log-parameter", { run_id: runId, key: "lr", value: "0.1" })).body, {});
    assert.deepEqual(
      (await call("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 0.9, timestamp: 1000, step: 0 })).body,
      {},
    );
    await call("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 0.5, timestamp: 2000, step: 1 });
    await call("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 0.7, timestamp: 3000, step: 0 });
    assert.deepEqual((await call("POST", "runs/set-tag", { run_id: runId, key: "stage", value: "dev" })).body, {});
    const batch = await call("POST", "runs/log-batch", {
      run_id: runId,
      metrics: [
        { key: "auc", value: 0.81, timestamp: 4000, step: 2 },
        { key: "weird", value: "NaN", timestamp: 4000, step: 0 },
      ],
      params: [{ key: "depth", value: "6" }],
      tags: [{ key: "stage", value: "prod" }],
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    const got = await call("GET", "runs/get", { run_id: runId });
    assert.deepEqual(got.body.run.data, {
      metrics: [
        { key: "auc", value: 0.81, timestamp: 4000, step: 2 },
        { key: "loss", value: 0.5, timestamp: 2000, step: 1 },
        { key: "weird", value: "NaN", timestamp: 4000, step: 0 },
      ],
      params: [
        { key: "depth", value: "6" },
        { key: "lr", value: "0.1" },
      ],
      tags: [
        { key: "mlflow.runName", value: "baseline" },
        { key: "mlflow.source.name", value: "train.py" },
        { key: "mlflow.user", value: "admin" },
        { key: "stage", value: "prod" },
      ],
    });
  });

  it("keeps params immutable: the same value again is fine, a different one is INVALID_PARAMETER_VALUE", async () => {
    assert.equal((await call("POST", "runs/log-parameter", { run_id: runId, key: "lr", value: "0.1" })).status, 200);
    const changed = await call("POST", "runs/log-parameter", { run_id: runId, key: "lr", value: "0.2" });
    assert.equal(changed.status, 400);
    assert.equal(changed.body.error_code, "INVALID_PARAMETER_VALUE");
    assert.match(changed.body.message, /Changing param values is not allowed. Param with key='lr' was already logged with value='0.1'/);
    const batch = await call("POST", "runs/log-batch", {
      run_id: runId,
      params: [{ key: "depth", value: "7" }],
      metrics: [{ key: "m", value: 1, timestamp: 1 }],
    });
    assert.equal(batch.status, 400);
    // All or nothing: the batch's metric was not logged either.
    const history = await call("GET", "metrics/get-history", { run_id: runId, metric_key: "m" });
    assert.deepEqual(history.body, {});
    const dupes = await call("POST", "runs/log-batch", {
      run_id: runId,
      params: [
        { key: "a", value: "1" },
        { key: "a", value: "2" },
      ],
    });
    assert.match(dupes.body.message, /Duplicate parameter keys have been submitted: \['a'\]/);
  });

  it("enforces MLflow's log-batch limits and key rules", async () => {
    const metrics = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `m${i}`, value: i, timestamp: 1, step: 0 }));
    const kvs = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: "v" }));
    const tooManyMetrics = await call("POST", "runs/log-batch", { run_id: runId, metrics: metrics(1001) });
    assert.equal(tooManyMetrics.status, 400);
    assert.deepEqual(tooManyMetrics.body, {
      error_code: "INVALID_PARAMETER_VALUE",
      message:
        "A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.",
    });
    assert.match(
      (await call("POST", "runs/log-batch", { run_id: runId, params: kvs(101) })).body.message,
      /at most 100 params. Got 101 params/,
    );
    assert.match((await call("POST", "runs/log-batch", { run_id: runId, tags: kvs(101) })).body.message, /at most 100 tags. Got 101 tags/);
    const total = await call("POST", "runs/log-batch", { run_id: runId, metrics: metrics(950), params: kvs(60) });
    assert.match(total.body.message, /at most 1000 metrics, params, and tags. Got 1010/);
    assert.equal((await call("POST", "runs/log-batch", { run_id: runId, metrics: metrics(1000) })).status, 200);
    const badKey = await call("POST", "runs/log-metric", { run_id: runId, key: "../up", value: 1, timestamp: 1 });
    assert.equal(badKey.body.error_code, "INVALID_PARAMETER_VALUE");
    assert.match(badKey.body.message, /Invalid metric name: '..\/up'/);
    const badChars = await call("POST", "runs/log-parameter", { run_id: runId, key: "a*b", value: "1" });
    assert.match(badChars.body.message, /Invalid parameter name: 'a\*b'. Names may only contain alphanumerics/);
    const longValue = await call("POST", "runs/log-parameter", { run_id: runId, key: "long", value: "x".repeat(6001) });
    assert.match(longValue.body.message, /Param value '.*' had length 6001, which exceeded length limit of 6000/);
    const badValue = await call("POST", "runs/log-metric", { run_id: runId, key: "x", value: "abc", timestamp: 1 });
    assert.match(badValue.body.message, /Got invalid value abc for metric 'x'/);
  });

  it("returns metric history in logging order, a page at a time", async () => {
    const all = await call("GET", "metrics/get-history", { run_id: runId, metric_key: "loss" });
    assert.deepEqual(all.body, {
      metrics: [
        { key: "loss", value: 0.9, timestamp: 1000, step: 0 },
        { key: "loss", value: 0.5, timestamp: 2000, step: 1 },
        { key: "loss", value: 0.7, timestamp: 3000, step: 0 },
      ],
    });
    const p1 = await call("GET", "metrics/get-history", { run_id: runId, metric_key: "loss", max_results: 2 });
    assert.equal(p1.body.metrics.length, 2);
    const p2 = await call("GET", "metrics/get-history", {
      run_id: runId,
      metric_key: "loss",
      max_results: 2,
      page_token: p1.body.next_page_token,
    });
    assert.deepEqual(p2.body, { metrics: [{ key: "loss", value: 0.7, timestamp: 3000, step: 0 }] });
    const missing = await call("GET", "metrics/get-history", { run_id: "4f1f2b9e-0000-4000-8000-000000000000", metric_key: "loss" });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      error_code: "RESOURCE_DOES_NOT_EXIST",
      message: "Run with id=4f1f2b9e-0000-4000-8000-000000000000 not found",
    });
  });

  it("updates, tags, deletes and restores runs", async () => {
    const updated = await call("POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: 1_700_000_100_000 });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.run_info.status, "FINISHED");
    assert.equal(updated.body.run_info.end_time, 1_700_000_100_000);
    assert.deepEqual(Object.keys(updated.body), ["run_info"]);
    assert.equal((await call("POST", "runs/update", { run_id: runId, status: "DONE" })).body.error_code, "INVALID_PARAMETER_VALUE");
    assert.equal((await call("POST", "runs/delete-tag", { run_id: runId, key: "stage" })).status, 200);
    const noTag = await call("POST", "runs/delete-tag", { run_id: runId, key: "stage" });
    assert.equal(noTag.status, 404);
    assert.equal(noTag.body.message, `No tag with name: stage in run with id ${runId}`);
    assert.equal((await call("POST", "runs/delete", { run_id: runId })).status, 200);
    assert.equal((await call("GET", "runs/get", { run_id: runId })).body.run.info.lifecycle_stage, "deleted");
    const refused = await call("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 1, timestamp: 1 });
    assert.equal(refused.body.error_code, "INVALID_PARAMETER_VALUE");
    assert.match(refused.body.message, /must be in the 'active' state/);
    assert.equal((await call("POST", "runs/restore", { run_id: runId })).status, 200);
    assert.equal((await call("GET", "runs/get", { run_id: runId })).body.run.info.lifecycle_stage, "active");
  });

  it("searches runs with MLflow's filter syntax, order_by and page tokens; child runs name their parent", async () => {
    const exp = (await call("POST", "experiments/create", { name: "search" })).body.experiment_id;
    const parent = (await call("POST", "runs/create", { experiment_id: exp, run_name: "search", start_time: 100 })).body.run.info.run_id;
    const trials: string[] = [];
    for (const [i, [model, rmse]] of (
      [
        ["gbt", 0.3],
        ["gbt", 0.2],
        ["linear", 0.6],
        ["gbt", 0.45],
      ] as const
    ).entries()) {
      const r = await call("POST", "runs/create", {
        experiment_id: exp,
        run_name: `trial-${i}`,
        start_time: 200 + i,
        tags: [{ key: "mlflow.parentRunId", value: parent }],
      });
      const id = r.body.run.info.run_id;
      trials.push(id);
      await call("POST", "runs/log-batch", {
        run_id: id,
        metrics: [{ key: "rmse", value: rmse, timestamp: 1, step: 0 }],
        params: [{ key: "model", value: model }],
        tags: [{ key: "kind", value: "trial" }],
      });
      if (i < 2) await call("POST", "runs/update", { run_id: id, status: "FINISHED" });
    }
    const names = (body: any) => (body.runs ?? []).map((r: any) => r.info.run_name);
    const search = (body: Record<string, unknown>) => call("POST", "runs/search", { experiment_ids: [exp], ...body });
    assert.deepEqual(
      names((await search({ filter: "metrics.rmse < 0.5 and params.model = 'gbt'", order_by: ["metrics.rmse ASC"] })).body),
      ["trial-1", "trial-0", "trial-3"],
    );
    assert.deepEqual(names((await search({ filter: "attributes.status = 'FINISHED'", order_by: ["attributes.start_time DESC"] })).body), [
      "trial-1",
      "trial-0",
    ]);
    assert.deepEqual(names((await search({ filter: `tags.mlflow.parentRunId = '${parent}'`, order_by: ["metrics.rmse DESC"] })).body), [
      "trial-2",
      "trial-3",
      "trial-0",
      "trial-1",
    ]);
    assert.deepEqual(names((await search({ filter: "tags.kind LIKE 'tri%' and metrics.rmse >= 0.45" })).body), ["trial-3", "trial-2"]);
    assert.deepEqual(names((await search({ filter: `attributes.run_id IN ('${trials[0]}', '${trials[2]}')` })).body), [
      "trial-2",
      "trial-0",
    ]);
    assert.deepEqual(names((await search({ filter: "params.`model` != 'gbt'" })).body), ["trial-2"]);
    // Default order: newest start first; the parent has no rmse so it sorts last when ordering by it.
    assert.deepEqual(names((await search({ order_by: ["metrics.rmse ASC"] })).body).slice(-1), ["search"]);
    const page1 = await search({ max_results: 3 });
    assert.deepEqual(names(page1.body), ["trial-3", "trial-2", "trial-1"]);
    const page2 = await search({ max_results: 3, page_token: page1.body.next_page_token });
    assert.deepEqual(names(page2.body), ["trial-0", "search"]);
    assert.equal(page2.body.next_page_token, undefined);
    const none = await search({ filter: "metrics.rmse > 10" });
    assert.deepEqual(none.body, {});
    const bad = await search({ filter: "metrics.rmse ~ 1" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error_code, "INVALID_PARAMETER_VALUE");
    const orFilter = await search({ filter: "metrics.rmse > 1 or metrics.rmse < 0" });
    assert.equal(orFilter.body.error_code, "INVALID_PARAMETER_VALUE");

    // The same runs in GraphQL: the experiment, its child runs, latest metrics and history.
    const gql = dataOf(
      await t.gql(
        `query($e: ID!, $p: ID!) { experiment(id: $e) { name } trackingRuns(experimentId: $e, filter: { parentRunId: $p }, first: 10) { totalCount nodes { name parentRunId params latestMetrics { key value step } metricHistory(key: "rmse") { value } } } }`,
        { e: exp, p: parent },
      ),
    );
    assert.equal(gql.experiment.name, "search");
    assert.equal(gql.trackingRuns.totalCount, 4);
    assert.deepEqual(gql.trackingRuns.nodes[0], {
      name: "trial-3",
      parentRunId: parent,
      params: { model: "gbt" },
      latestMetrics: [{ key: "rmse", value: 0.45, step: 0 }],
      metricHistory: [{ value: 0.45 }],
    });
    const listed = dataOf(await t.gql(`query($p: ID!) { experiments(filter: { projectId: $p }) { nodes { name } } }`, { p: projectId }));
    assert.ok(listed.experiments.nodes.some((e: any) => e.name === "search"));
  });

  it("logs into MLflow's default experiment 0 and scopes calls to the token's project", async () => {
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const editor = await seedCaller(t, "EDITOR", projectId);
    // An editor bound to one project needs no header: a stock client with only a token works.
    const stock = mlflowClient(t, { token: editor.token });
    const run = await stock("POST", "runs/create", { experiment_id: "0" });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.match(run.body.run.info.run_name, /^[a-z]+-[a-z]+-\d+$/);
    assert.equal(run.body.run.info.user_id, run.body.run.data.tags.find((x: any) => x.key === "mlflow.user").value);
    const dflt = await stock("GET", "experiments/get", { experiment_id: "0" });
    assert.equal(dflt.body.experiment.name, "Default");
    assert.equal(dflt.body.experiment.experiment_id, run.body.run.info.experiment_id);
    // The admin sees two projects: without a header the call cannot be placed.
    const unplaced = await call("POST", "experiments/search", {}, { project: null });
    assert.equal(unplaced.status, 400);
    assert.equal(unplaced.body.error_code, "INVALID_PARAMETER_VALUE");
    assertNames(unplaced.body.message, "X-Sluice-Project");
    const byId = await call("POST", "experiments/search", {}, { project: projectId });
    assert.equal(byId.status, 200);
    // Auth: no token 401 UNAUTHENTICATED; a viewer reads but cannot write (403 PERMISSION_DENIED).
    const anonymous = await call("GET", "runs/get", { run_id: runId }, { token: null });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error_code, "UNAUTHENTICATED");
    const badToken = await call("GET", "runs/get", { run_id: runId }, { token: "slc_nope" });
    assert.equal(badToken.status, 401);
    assert.equal(badToken.body.error_code, "UNAUTHENTICATED");
    const reader = mlflowClient(t, { token: viewer.token });
    assert.equal((await reader("GET", "runs/get", { run_id: runId })).status, 200);
    const denied = await reader("POST", "runs/log-metric", { run_id: runId, key: "loss", value: 0.1, timestamp: 5 });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error_code, "PERMISSION_DENIED");
    const deniedCreate = await reader("POST", "experiments/create", { name: "mine" });
    assert.equal(deniedCreate.status, 403);
    // Another project's token sees neither the run nor the experiment.
    const outsider = await seedCaller(t, "EDITOR", await seedProject(t));
    const foreign = await mlflowClient(t, { token: outsider.token })("GET", "runs/get", { run_id: runId });
    assert.equal(foreign.status, 403);
  });

  it("audits every MLflow write, refusals included", async () => {
    const audit = dataOf(await t.gql(`query { auditEvents(first: 500) { nodes { action outcome projectId targetId } } }`)).auditEvents
      .nodes as Array<{ action: string; outcome: string; projectId: string; targetId: string }>;
    const actions = new Set(audit.map((a) => `${a.action}:${a.outcome}`));
    for (const a of [
      "tracking.experiment.create:SUCCEEDED",
      "tracking.experiment.rename:SUCCEEDED",
      "tracking.experiment.delete:SUCCEEDED",
      "tracking.run.create:SUCCEEDED",
      "tracking.run.logBatch:SUCCEEDED",
      "tracking.run.logBatch:FAILED",
      "tracking.run.logParam:FAILED",
      "tracking.run.logMetric:DENIED",
      "tracking.run.update:SUCCEEDED",
      "tracking.run.deleteTag:SUCCEEDED",
      "tracking.run.delete:SUCCEEDED",
    ]) {
      assert.ok(actions.has(a), `audit has ${a}`);
    }
    const logged = audit.find((a) => a.action === "tracking.run.logBatch" && a.outcome === "SUCCEEDED")!;
    assert.equal(logged.projectId, projectId);
  });
});
