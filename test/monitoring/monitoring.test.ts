import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runSystemChange } from "../../src/events/system-change";
import { driftReport, parseReferenceSummary } from "../../src/monitoring/drift";
import { mulberry32 } from "../../src/training/data";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { applyPipeline } from "../helpers/pipelines";
import { firstOutcome } from "../helpers/subscriptions";
import { createEventRule, firesOf } from "../triggers/support";
import { createModel, infer, linearModel, logisticModel, setChampion } from "../serving/helpers";
import { waitUntil } from "../helpers/eventually";

const WINDOW_FIELDS = `id sequence reason rows outcomes modelVersionId datasetDrift driftedShare drift performance problem servedName
  firstPredictionAt lastPredictionAt closedAt metrics { metric feature value }`;
const CREATE_MONITOR = `mutation($i: CreateMonitorInput!) { createMonitor(input: $i) {
  __typename ... on MonitorPayload { monitor { id servedName variant windowSize windowSeconds featureOverrides { feature method threshold } } }
  ... on InvalidInputError { problems { field message } } ... on Error { message } } }`;
const SET_REFERENCE = `mutation($i: SetMonitoringReferenceInput!) { setMonitoringReference(input: $i) {
  __typename ... on MonitoringReferencePayload { reference { id source features predictionColumn rows datasetVersionId summary } }
  ... on InvalidInputError { problems { field message } } ... on Error { message } } }`;
const WINDOWS = `query($p: ID!, $s: String!) { monitoringWindows(projectId: $p, servedName: $s, first: 100, orderBy: { field: SEQUENCE, direction: ASC }) {
  totalCount nodes { ${WINDOW_FIELDS} } } }`;
const CREATE_RULE = `mutation($i: CreateAlertRuleInput!) { createAlertRule(input: $i) {
  __typename ... on AlertRulePayload { rule { id name metric feature op threshold windows severity monitorId } }
  ... on InvalidInputError { problems { field message } } ... on Error { message } } }`;
const ALERTS = `query($p: ID!, $f: AlertFilter) { alerts(projectId: $p, filter: $f, first: 50) { nodes {
  id ruleId servedName metric feature severity status value threshold windowId acknowledgedBy resolvedBy resolvedWindowId note } } }`;
const CLOSE = `mutation($i: MonitorIdInput!) { closeMonitoringWindow(input: $i) {
  __typename ... on MonitoringWindowPayload { window { ${WINDOW_FIELDS} } } ... on Error { message } } }`;
const ACK = `mutation($i: AlertActionInput!) { acknowledgeAlert(input: $i) { __typename ... on AlertPayload { alert { status acknowledgedBy note } } ... on Error { message } } }`;
const RESOLVE = `mutation($i: AlertActionInput!) { resolveAlert(input: $i) { __typename ... on AlertPayload { alert { status resolvedBy } } ... on Error { message code } } }`;

/** Standard normal draws from a seeded generator (Box–Muller). */
function normals(seed: number, n: number): number[] {
  const rand = mulberry32(seed);
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

function rows(seed: number, n: number, shift = 0): Array<{ x0: number; x1: number }> {
  const a = normals(seed, n);
  const b = normals(seed + 7919, n);
  return a.map((x, i) => ({ x0: Math.round((x + shift) * 1e4) / 1e4, x1: Math.round((b[i] + shift) * 1e4) / 1e4 }));
}

function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  return waitUntil(what, probe, { timeoutMs });
}

describe("monitoring: windows, drift series and alerts", () => {
  let t: TestServer;
  let projectId: string;
  let datasetVersionId: string;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_MONITORING_INTERVAL_MS: "100" } });
    projectId = await seedProject(t, "monitoring");
    // The training reference: 500 rows of two standard normal features, uploaded as a dataset version.
    const ds = dataOf(
      await t.gql(
        `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { __typename ... on DatasetPayload { dataset { id } } } }`,
        {
          i: { projectId, name: "training" },
        },
      ),
    ).createDataset;
    const csv =
      "x0,x1\n" +
      rows(1, 500)
        .map((r) => `${r.x0},${r.x1}`)
        .join("\n") +
      "\n";
    const res = await fetch(`${t.url}/datasets/${ds.dataset.id}/uploads?format=csv&name=training.csv`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "text/csv" },
      body: csv,
    });
    assert.equal(res.status, 201, await res.clone().text());
    datasetVersionId = ((await res.json()) as { versionId: string }).versionId;
  });
  after(async () => {
    await t.close();
  });

  /** A served logistic model (baseline roc_auc 0.9 in its metrics) whose reference is the training dataset. */
  async function served(name: string): Promise<{ modelId: string; versionId: string }> {
    const modelId = await createModel(t, projectId, name, true);
    const up = await fetch(
      `${t.url}/registered-models/${modelId}/versions?metrics=${encodeURIComponent(JSON.stringify({ roc_auc: 0.9 }))}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/octet-stream" },
        body: logisticModel([2, -1], 0.5),
      },
    );
    assert.equal(up.status, 201, await up.clone().text());
    const v = (await up.json()) as { versionId: string; version: number };
    await setChampion(t, modelId, v.version);
    const r = dataOf(await t.gql(SET_REFERENCE, { i: { modelVersionId: v.versionId, datasetVersionId } })).setMonitoringReference;
    assert.equal(r.__typename, "MonitoringReferencePayload", JSON.stringify(r));
    return { modelId, versionId: v.versionId };
  }

  async function monitor(servedName: string, settings: Record<string, unknown>): Promise<string> {
    const r = dataOf(await t.gql(CREATE_MONITOR, { i: { projectId, servedName, ...settings } })).createMonitor;
    assert.equal(r.__typename, "MonitorPayload", JSON.stringify(r));
    return r.monitor.id;
  }

  async function send(name: string, instances: Array<Record<string, unknown>>, ids?: string[]) {
    const { status, body } = await infer(
      t,
      `/v2/models/${name}/infer`,
      { instances, ...(ids ? { parameters: { prediction_ids: ids } } : {}) },
      { project: projectId },
    );
    assert.equal(status, 200, JSON.stringify(body));
    return body;
  }

  async function windows(servedName: string): Promise<any[]> {
    return dataOf(await t.gql(WINDOWS, { p: projectId, s: servedName })).monitoringWindows.nodes;
  }

  async function logged(model: string): Promise<any[]> {
    const r = dataOf(
      await t.gql(
        `query($p: ID!, $m: String!) { predictions(projectId: $p, model: $m, first: 500, orderBy: { field: CREATED_AT, direction: ASC }) { nodes { inputs outputs outcome } } }`,
        { p: projectId, m: model },
      ),
    );
    return r.predictions.nodes;
  }

  it("stores the training reference of a version from a dataset version: the inputs, and the prediction scored on it", async () => {
    const { versionId } = await served("ref-model");
    const r = dataOf(
      await t.gql(
        `query($v: ID!) { monitoringReference(modelVersionId: $v) { source features predictionColumn rows datasetVersionId summary } }`,
        {
          v: versionId,
        },
      ),
    ).monitoringReference;
    assert.deepEqual(
      [r.source, r.features, r.predictionColumn, r.rows, r.datasetVersionId],
      ["DATASET", ["x0", "x1"], "probabilities[1]", 500, datasetVersionId],
    );
    const summary = parseReferenceSummary(r.summary);
    assert.equal(summary.features.x0.kind, "numeric");
    const p = summary.features["probabilities[1]"];
    assert.equal(p.kind, "numeric");
    // σ(2·x0 − x1 + 0.5) lies in (0, 1) and is centred well above 0.5 for standard normal inputs.
    if (p.kind === "numeric") assert.ok(p.min > 0 && p.max < 1 && p.mean > 0.5 && p.mean < 0.7, JSON.stringify([p.min, p.max, p.mean]));
  });

  it("closes a window every N predictions, and stores drift values equal to the pure statistics on the same rows", async () => {
    await served("count-model");
    await monitor("count-model", { windowSize: 60, featureOverrides: [{ feature: "x1", method: "psi", threshold: 0.2 }] });
    const sent = rows(2, 90);
    await send("count-model", sent.slice(0, 45));
    await send("count-model", sent.slice(45));
    const [w] = await until("a count window", async () => {
      const ws = await windows("count-model");
      return ws.length >= 1 && ws;
    });
    await new Promise((r) => setTimeout(r, 400)); // time must pass: a second window, were one due, would close within it
    assert.equal((await windows("count-model")).length, 1, "30 rows left: no second window yet");
    assert.deepEqual([w.sequence, w.reason, w.rows, w.outcomes, w.problem], [1, "COUNT", 60, 0, null]);

    // The same 60 rows, as logged, through the pure statistics with the same reference and overrides.
    const ref = dataOf(
      await t.gql(`query($v: ID!) { monitoringReference(modelVersionId: $v) { summary } }`, { v: w.modelVersionId }),
    ).monitoringReference;
    const first = (await logged("count-model")).slice(0, 60);
    const expected = driftReport(
      parseReferenceSummary(ref.summary),
      {
        x0: Float64Array.from(first.map((r) => r.inputs.x0)),
        x1: Float64Array.from(first.map((r) => r.inputs.x1)),
        "probabilities[1]": Float64Array.from(first.map((r) => r.outputs.probabilities[1])),
      },
      { features: { x1: { method: "psi", threshold: 0.2 } } },
    );
    const metric = (name: string, feature = "") => w.metrics.find((m: any) => m.metric === name && m.feature === feature)?.value;
    for (const f of expected.features) {
      assert.equal(metric("drift_score", f.feature), f.score, `${f.feature} score`);
      assert.equal(metric("drift_statistic", f.feature), f.statistic);
      assert.equal(metric("psi", f.feature), f.psi);
      assert.equal(metric("feature_drift", f.feature), f.drifted ? 1 : 0);
      assert.equal(metric("null_share", f.feature), 0);
      assert.equal(metric("out_of_range_share", f.feature), f.outOfRangeShare);
    }
    assert.equal(expected.features.find((f) => f.feature === "x1")!.method, "psi");
    assert.equal(metric("p_value", "x0"), expected.features[0].pValue);
    assert.equal(metric("dataset_drift_share"), expected.driftedShare);
    assert.equal(w.driftedShare, expected.driftedShare);
    assert.equal(metric("prediction_drift_score", "probabilities[1]"), expected.prediction!.score);
    assert.equal(w.drift.features[0].method, "ks");
    assert.equal(metric("rows"), 60);

    // The series query: one point per window, plot-ready.
    await send("count-model", rows(3, 30));
    await until("a second window", async () => (await windows("count-model")).length === 2);
    const series = dataOf(
      await t.gql(
        `query($p: ID!, $s: String!) { driftMetrics(projectId: $p, servedName: $s, metric: "drift_score") { series { metric feature points { sequence value at } } } }`,
        {
          p: projectId,
          s: "count-model",
        },
      ),
    ).driftMetrics.series;
    assert.deepEqual(
      series.map((s: any) => [s.metric, s.feature, s.points.map((p: any) => p.sequence)]),
      [
        ["drift_score", "x0", [1, 2]],
        ["drift_score", "x1", [1, 2]],
      ],
    );
    assert.equal(series[0].points[0].value, expected.features[0].score);
  });

  it("closes a window by time with the predictions of the period", async () => {
    await served("time-model");
    // Logged before the monitor exists: history, left out unless includeHistory.
    await send("time-model", rows(5, 3));
    await monitor("time-model", { windowSeconds: 1 });
    await send("time-model", rows(4, 7));
    const [w] = await until("a time window", async () => {
      const ws = await windows("time-model");
      return ws.length >= 1 && ws;
    });
    assert.deepEqual([w.reason, w.rows], ["TIME", 7]);
    // With includeHistory, the rows logged before the monitor are windowed too.
    await served("history-model");
    await send("history-model", rows(6, 4));
    const withHistory = await monitor("history-model", { windowSize: 1000, includeHistory: true });
    const closed = dataOf(await t.gql(CLOSE, { i: { monitorId: withHistory } })).closeMonitoringWindow;
    assert.deepEqual([closed.__typename, closed.window?.rows], ["MonitoringWindowPayload", 4]);
    assert.ok(new Date(w.closedAt).getTime() >= new Date(w.firstPredictionAt).getTime());
  });

  it("fires an alert on a shifted stream (once, while open) and not on the unshifted control; acknowledge, auto-resolve and resolve", async () => {
    const events = async () =>
      (await t.server.services.db.dataSource.query(
        `SELECT type, payload FROM events WHERE project_id = $1 AND type LIKE 'alert.%' ORDER BY id`,
        [projectId],
      )) as Array<{ type: string; payload: any }>;
    for (const name of ["control", "shifted"]) {
      await served(name);
      await monitor(name, { windowSize: 50 });
      const r = dataOf(
        await t.gql(CREATE_RULE, {
          i: {
            projectId,
            servedName: name,
            name: `${name}-drift`,
            metric: "dataset_drift_share",
            op: "GTE",
            threshold: 0.5,
            windows: 2,
            severity: "CRITICAL",
          },
        }),
      ).createAlertRule;
      assert.equal(r.__typename, "AlertRulePayload", JSON.stringify(r));
    }
    // An event rule on alert.fired starts a "retraining" pipeline with the alert's details as parameters.
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "retrain",
      stages: [{ name: "x", run: { operator: "noop" }, params: { n: 0 } }],
    });
    const eventRule = await createEventRule(t, {
      pipelineId,
      name: "retrain-on-drift",
      eventType: "alert.fired",
      filter: { "payload.severity": "CRITICAL", "payload.servedName": "shifted" },
      params: { x: { alert: "$.payload.alertId", metric: "$.payload.metric", value: "$.payload.value" } },
    });
    assert.equal(eventRule.__typename, "EventRulePayload", JSON.stringify(eventRule));
    // Two windows each: the control from the training distribution, the other shifted by +1.5 on both features.
    for (const [i, seed] of [10, 11].entries()) {
      await send("control", rows(seed, 50));
      await send("shifted", rows(seed + 100, 50, 1.5));
      await until(
        `window ${i + 1}`,
        async () => (await windows("control")).length === i + 1 && (await windows("shifted")).length === i + 1,
      );
    }
    const control = await windows("control");
    const shifted = await windows("shifted");
    assert.deepEqual(
      control.map((w) => w.datasetDrift),
      [false, false],
    );
    assert.deepEqual(
      shifted.map((w) => w.datasetDrift),
      [true, true],
    );
    let alerts = dataOf(await t.gql(ALERTS, { p: projectId, f: { status: "FIRING" } })).alerts.nodes;
    assert.equal(alerts.length, 1, JSON.stringify(alerts));
    const alert = alerts[0];
    assert.deepEqual(
      [alert.servedName, alert.metric, alert.severity, alert.value, alert.windowId],
      ["shifted", "dataset_drift_share", "CRITICAL", 1, shifted[1].id],
    );
    const fired = (await events()).filter((e) => e.type === "alert.fired");
    assert.equal(fired.length, 1);
    assert.equal(fired[0].payload.alertId, alert.id);
    assert.equal(fired[0].payload.rule, "shifted-drift");
    assert.deepEqual(
      [
        fired[0].payload.projectId,
        fired[0].payload.servedName,
        fired[0].payload.metric,
        fired[0].payload.value,
        fired[0].payload.severity,
        fired[0].payload.windowId,
      ],
      [projectId, "shifted", "dataset_drift_share", 1, "CRITICAL", shifted[1].id],
    );

    const fires = await until("the event rule's fire", async () => {
      const f = await firesOf(t, "eventRule", eventRule.eventRule.id);
      return f.length > 0 && f;
    });
    assert.equal(fires[0].outcome, "STARTED", JSON.stringify(fires[0].detail));
    assert.deepEqual(fires[0].run!.params.x, { alert: alert.id, metric: "dataset_drift_share", value: 1 });

    // A third drifting window: no second alert while this one is open.
    await send("shifted", rows(300, 50, 1.5));
    await until("window 3", async () => (await windows("shifted")).length === 3);
    assert.equal((await events()).filter((e) => e.type === "alert.fired").length, 1);

    const viewer = await seedCaller(t, "VIEWER", projectId);
    const denied = await t.gql(ACK, { i: { alertId: alert.id } }, viewer.token);
    assert.equal(denied.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(denied));
    const ack = dataOf(await t.gql(ACK, { i: { alertId: alert.id, note: "looking" } })).acknowledgeAlert;
    assert.deepEqual([ack.__typename, ack.alert.status, ack.alert.note], ["AlertPayload", "ACKNOWLEDGED", "looking"]);

    // Back to normal: the next window resolves it on its own.
    await send("shifted", rows(301, 50));
    await until("window 4", async () => (await windows("shifted")).length === 4);
    alerts = dataOf(await t.gql(ALERTS, { p: projectId, f: { servedName: "shifted" } })).alerts.nodes;
    assert.deepEqual(
      [alerts[0].status, alerts[0].resolvedBy, alerts[0].resolvedWindowId],
      ["RESOLVED", null, (await windows("shifted"))[3].id],
    );
    assert.deepEqual(
      (await events()).map((e) => e.type),
      ["alert.fired", "alert.acknowledged", "alert.resolved"],
    );
    const again = dataOf(await t.gql(RESOLVE, { i: { alertId: alert.id } })).resolveAlert;
    assert.equal(again.__typename, "ConflictError");

    // A one-window rule fires on the next drifting window; resolved by hand it records who did.
    const quick = dataOf(
      await t.gql(CREATE_RULE, {
        i: { projectId, servedName: "shifted", name: "x0-drift", metric: "feature_drift:x0", op: "GTE", threshold: 1 },
      }),
    ).createAlertRule;
    assert.deepEqual(
      [quick.rule.metric, quick.rule.feature, quick.rule.windows, quick.rule.severity],
      ["feature_drift", "x0", 1, "WARNING"],
    );
    await send("shifted", rows(302, 50, 1.5));
    await until("window 5", async () => (await windows("shifted")).length === 5);
    const open = dataOf(await t.gql(ALERTS, { p: projectId, f: { ruleId: quick.rule.id } })).alerts.nodes;
    assert.equal(open.length, 1);
    assert.equal(open[0].status, "FIRING");
    const resolved = dataOf(await t.gql(RESOLVE, { i: { alertId: open[0].id } })).resolveAlert;
    assert.equal(resolved.alert.status, "RESOLVED");
    assert.ok(resolved.alert.resolvedBy);
    assert.equal(
      dataOf(await t.gql(ALERTS, { p: projectId, f: { servedName: "control" } })).alerts.nodes.length,
      0,
      "the control never alerts",
    );
  });

  it("measures live performance from the rows with outcomes, against the version's baseline", async () => {
    await served("perf-model");
    const monitorId = await monitor("perf-model", { windowSize: 1000 });
    const sent = rows(20, 40);
    const ids = sent.map((_, i) => `perf-${i}`);
    const body = await send("perf-model", sent, ids);
    // Outcomes: a noisy truth (30 of the 40 rows), so AUC is neither 0 nor 1.
    const rand = mulberry32(99);
    const outcomes = sent
      .slice(0, 30)
      .map((r, i) => ({ predictionId: ids[i], outcome: rand() < 1 / (1 + Math.exp(-(r.x0 - r.x1))) ? 1 : 0 }));
    const rec = dataOf(
      await t.gql(`mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) { __typename ... on OutcomesPayload { matched } } }`, {
        i: { projectId, model: "perf-model", outcomes },
      }),
    ).recordOutcomes;
    assert.equal(rec.matched, 30);
    const closed = dataOf(await t.gql(CLOSE, { i: { monitorId } })).closeMonitoringWindow;
    assert.equal(closed.__typename, "MonitoringWindowPayload", JSON.stringify(closed));
    const w = closed.window;
    assert.deepEqual([w.reason, w.rows, w.outcomes], ["MANUAL", 40, 30]);
    // Expected by brute force over pairs, and by definition.
    const y = outcomes.map((o) => o.outcome);
    const p = body.predictions.slice(0, 30).map((r: any) => r.probabilities[1]);
    let pairs = 0;
    let wins = 0;
    for (let i = 0; i < 30; i++)
      for (let j = 0; j < 30; j++)
        if (y[i] === 1 && y[j] === 0) {
          pairs++;
          wins += p[i] > p[j] ? 1 : p[i] === p[j] ? 0.5 : 0;
        }
    const auc = wins / pairs;
    const logLoss = -y.reduce((s, v, i) => s + (v === 1 ? Math.log(p[i]) : Math.log(1 - p[i])), 0) / 30;
    const accuracy = y.filter((v, i) => v === body.predictions[i].label).length / 30;
    const metric = (name: string) => w.metrics.find((m: any) => m.metric === name && m.feature === "")?.value;
    assert.ok(Math.abs(metric("roc_auc") - auc) < 1e-12, `${metric("roc_auc")} vs ${auc}`);
    assert.ok(Math.abs(metric("log_loss") - logLoss) < 1e-9);
    assert.equal(metric("accuracy"), accuracy);
    assert.ok(Math.abs(metric("roc_auc_delta") - (auc - 0.9)) < 1e-12);
    assert.deepEqual([w.performance.task, w.performance.baseline], ["classification", { roc_auc: 0.9 }]);
    const none = dataOf(await t.gql(CLOSE, { i: { monitorId } })).closeMonitoringWindow;
    assert.equal(none.__typename, "ConflictError", "no new predictions, no window");
  });

  it("measures a regressor's RMSE and MAE, and says why there is no drift when a version has no reference", async () => {
    const modelId = await createModel(t, projectId, "reg-model", true);
    const up = await fetch(`${t.url}/registered-models/${modelId}/versions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/octet-stream" },
      body: linearModel([1, 2], 0.5),
    });
    assert.equal(up.status, 201);
    await setChampion(t, modelId, ((await up.json()) as { version: number }).version);
    const monitorId = await monitor("reg-model", { windowSize: 1000 });
    const xs = rows(50, 6).map((r) => ({ X: [r.x0, r.x1] }));
    const ids = xs.map((_, i) => `r-${i}`);
    const body = await send("reg-model", xs as never, ids);
    const truth = xs.map((x, i) => x.X[0] + 2 * x.X[1] + 0.5 + (i % 2 ? 0.25 : -0.5));
    await t.gql(`mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) { __typename } }`, {
      i: { projectId, model: "reg-model", outcomes: truth.map((y, i) => ({ predictionId: ids[i], outcome: y })) },
    });
    const w = dataOf(await t.gql(CLOSE, { i: { monitorId } })).closeMonitoringWindow.window;
    assert.match(w.problem, /no training data in its lineage/);
    assert.equal(w.drift, null);
    const predicted: number[] = body.predictions.map((p: any) => (Array.isArray(p.variable) ? p.variable[0] : p.variable));
    const errors = predicted.map((f, i) => f - truth[i]);
    const metric = (name: string) => w.metrics.find((m: any) => m.metric === name)?.value;
    assert.ok(Math.abs(metric("rmse") - Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / 6)) < 1e-12);
    assert.ok(Math.abs(metric("mae") - errors.reduce((s, e) => s + Math.abs(e), 0) / 6) < 1e-12);
    assert.equal(w.performance.task, "regression");
  });

  it("stores a window once when two closers race from the same cursor", async () => {
    await served("race-model");
    const monitorId = await monitor("race-model", { windowSize: 1000 });
    await send("race-model", rows(40, 9));
    const services = t.server.services;
    const row = (await services.monitoring.monitor(monitorId))!;
    // Two processes would each read the same rows from the same monitor state.
    const a = (await services.monitoring.windows.prepare(row, true))!;
    const b = (await services.monitoring.windows.prepare(row, true))!;
    const first = await runSystemChange(services, (tx) => services.monitoring.windows.commit(tx, a));
    const second = await runSystemChange(services, (tx) => services.monitoring.windows.commit(tx, b));
    assert.ok(first);
    assert.equal(second, null);
    const stored = await windows("race-model");
    assert.deepEqual(
      stored.map((w) => [w.sequence, w.rows]),
      [[1, 9]],
    );
  });

  it("streams each window as it closes over the driftMetricEvents subscription", async () => {
    await served("sub-model");
    const monitorId = await monitor("sub-model", { windowSize: 1000 });
    await send("sub-model", rows(30, 12));
    const client = t.ws();
    const outcome = firstOutcome(client, {
      // From the first event on (`after: "0"`): however late the subscription starts, the window is replayed, so no wait is needed.
      query: `subscription($p: ID!, $s: String!) { driftMetricEvents(projectId: $p, servedName: $s, after: "0") { servedName sequence rows reason metrics { metric feature value } } }`,
      variables: { p: projectId, s: "sub-model" },
    });
    const closed = dataOf(await t.gql(CLOSE, { i: { monitorId } })).closeMonitoringWindow;
    assert.equal(closed.__typename, "MonitoringWindowPayload");
    const got = await outcome;
    assert.equal(got.kind, "data", JSON.stringify(got));
    const w = (got as any).data.driftMetricEvents;
    assert.deepEqual([w.servedName, w.sequence, w.rows, w.reason], ["sub-model", 1, 12, "MANUAL"]);
    assert.ok(w.metrics.some((m: any) => m.metric === "drift_score" && m.feature === "x0"));
  });

  it("refuses bad input, naming the field", async () => {
    const problems = async (query: string, input: Record<string, unknown>, _field: string) => {
      const r = Object.values(dataOf(await t.gql(query, { i: input })))[0] as any;
      assert.equal(r.__typename, "InvalidInputError", JSON.stringify(r));
      return r.problems.map((p: any) => p.field);
    };
    assert.deepEqual(await problems(CREATE_MONITOR, { projectId, servedName: "x", windowSize: -1 }, "windowSize"), ["windowSize"]);
    assert.deepEqual(await problems(CREATE_MONITOR, { projectId, servedName: "x" }, "windowSize"), ["windowSize"]);
    assert.deepEqual(await problems(CREATE_MONITOR, { projectId, servedName: "x", windowSeconds: 5, variant: "blue" }, "variant"), [
      "variant",
    ]);
    assert.deepEqual(
      await problems(
        CREATE_MONITOR,
        { projectId, servedName: "x", windowSize: 5, featureOverrides: [{ feature: "x0", method: "zscore" }] },
        "",
      ),
      ["featureOverrides[0].method"],
    );
    await monitor("bad-input", { windowSize: 10 });
    const rule = { projectId, servedName: "bad-input", name: "r", op: "GT", threshold: 1 };
    assert.deepEqual(await problems(CREATE_RULE, { ...rule, metric: "drift" }, ""), ["metric"]);
    assert.deepEqual(await problems(CREATE_RULE, { ...rule, metric: "feature_drift" }, ""), ["feature"]);
    assert.deepEqual(await problems(CREATE_RULE, { ...rule, metric: "roc_auc", windows: 0 }, ""), ["windows"]);
    // An id that is not a UUID is refused before the resolver, naming the field.
    const malformed = await t.gql(CLOSE, { i: { monitorId: "not-an-id" } });
    assert.equal(malformed.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(malformed));
    assert.deepEqual(
      malformed.errors?.[0]?.extensions?.problems.map((p: { field: string }) => p.field),
      ["$i.monitorId"],
    );
    const unknown = dataOf(await t.gql(CLOSE, { i: { monitorId: "00000000-0000-4000-8000-000000000000" } })).closeMonitoringWindow;
    assert.equal(unknown.__typename, "NotFoundError", JSON.stringify(unknown));
    const unknownRef = dataOf(
      await t.gql(SET_REFERENCE, { i: { modelVersionId: "00000000-0000-0000-0000-000000000000" } }),
    ).setMonitoringReference;
    assert.equal(unknownRef.__typename, "NotFoundError", JSON.stringify(unknownRef));
    const dup = dataOf(await t.gql(CREATE_MONITOR, { i: { projectId, servedName: "bad-input", windowSize: 3 } })).createMonitor;
    assert.equal(dup.__typename, "ConflictError");
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const denied = await t.gql(CREATE_MONITOR, { i: { projectId, servedName: "other", windowSize: 3 } }, viewer.token);
    assert.equal(denied.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(denied));
  });
});
