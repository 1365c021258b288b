import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { SlaLoop } from "../../src/slas";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { infer, linearModel, logisticModel, servedModel } from "../serving/helpers";
import { controlledLoop, CREATE_SLA, HOUR, MINUTE, plus, SLA_TEST_ENV, slaEventsOf, tickAt } from "./support";

const UPDATE = `mutation($i: UpdateSlaInput!) { updateSla(input: $i) { __typename ... on Error { message } } }`;
const X = (rows: number[][]) => ({ inputs: [{ name: "X", shape: [rows.length, 2], datatype: "FP32", data: rows.flat() }] });

describe("dataset and endpoint SLAs, judged on a controlled clock", () => {
  let t: TestServer;
  let projectId: string;
  let loop: SlaLoop;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-sla-data-"));
    // Endpoint statistics reach the database when the test flushes them.
    t = await startTestServer({ env: { ...SLA_TEST_ENV, SLUICE_DATA_ROOTS: dir, SLUICE_ENDPOINT_STATS_FLUSH_MS: "300000" } });
    projectId = await seedProject(t, "sla-data");
    ({ loop } = controlledLoop(t));
  });
  after(async () => {
    await loop.close();
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function sla(input: Record<string, unknown>): Promise<string> {
    const r = dataOf(await t.gql(CREATE_SLA, { i: { projectId, ...input } })).createSla;
    assert.equal(r.__typename, "SlaPayload", JSON.stringify(r));
    return r.sla.id;
  }

  /** A dataset `name` whose versions are ingested from `<name>.csv` in the data root. */
  async function dataset(name: string): Promise<{ id: string; ingest: (rows: number) => Promise<{ versionId: string; at: Date }> }> {
    const created = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId, name, schemaPolicy: "ALLOW_ALL" },
      }),
    );
    const id = created.createDataset.dataset.id as string;
    dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename } }`, {
        i: { datasetId: id, name: "main", kind: "FILE", paths: [`${name}.csv`], format: "csv" },
      }),
    );
    let batch = 0;
    return {
      id,
      async ingest(rows: number) {
        batch++;
        const lines = ["id,batch"];
        for (let i = 1; i <= rows; i++) lines.push(`${i},${batch}`);
        fs.writeFileSync(path.join(dir, `${name}.csv`), lines.join("\n") + "\n");
        const res = dataOf(
          await t.gql(
            `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on IngestDatasetPayload { version { id createdAt } } ... on Error { message } } }`,
            { i: { datasetId: id, source: "main" } },
          ),
        ).ingestDataset;
        assert.equal(res.__typename, "IngestDatasetPayload", JSON.stringify(res));
        return { versionId: res.version.id, at: new Date(res.version.createdAt) };
      },
    };
  }

  it("dataset freshness: stale once the newest version is older than the objective; a new version recovers it", async () => {
    const trips = await dataset("trips");
    const slaId = await sla({ name: "trips-fresh", kind: "DATASET_FRESHNESS", subjectName: "trips", objective: 6 * 3600 });
    const first = await trips.ingest(3);
    assert.equal((await tickAt(loop, plus(first.at, HOUR), slaId)).judgement.state, "OK");
    const stale = await tickAt(loop, plus(first.at, 7 * HOUR), slaId);
    assert.equal(stale.change, "BREACHED");
    assert.equal(stale.judgement.observed, 7 * 3600);
    const second = await trips.ingest(4);
    const fresh = await tickAt(loop, plus(second.at, MINUTE), slaId);
    assert.equal(fresh.change, "RECOVERED");
    assert.equal(fresh.judgement.detail.newestAt, second.at.toISOString());
  });

  it("minimum rows: the newest version below the floor breaches; a bigger one recovers", async () => {
    const orders = await dataset("orders");
    const slaId = await sla({ name: "orders-rows", kind: "DATASET_MIN_ROWS", subjectName: "orders", objective: 10 });
    assert.equal((await tickAt(loop, new Date(), slaId)).judgement.state, "NO_DATA", "no version yet");
    const small = await orders.ingest(4);
    const broke = await tickAt(loop, plus(small.at, 1000), slaId);
    assert.deepEqual([broke.change, broke.judgement.observed, broke.judgement.detail.versionId], ["BREACHED", 4, small.versionId]);
    const big = await orders.ingest(12);
    const back = await tickAt(loop, plus(big.at, 1000), slaId);
    assert.deepEqual([back.change, back.judgement.observed], ["RECOVERED", 12]);
  });

  it("validation pass rate: below the floor of passing reports in the window breaches; passing reports recover it", async () => {
    const readings = await dataset("readings");
    const v = await readings.ingest(5);
    const define = async (name: string, expectations: unknown[]) =>
      dataOf(
        await t.gql(`mutation($i: DefineValidationSuiteInput!) { defineValidationSuite(input: $i) { __typename } }`, {
          i: { datasetId: readings.id, name, expectations },
        }),
      );
    await define("passes", [{ type: "row_count_between", min: 1, max: 100 }]);
    await define("fails", [{ type: "row_count_between", min: 50, max: 100 }]);
    const validate = async (suite: string) =>
      dataOf(
        await t.gql(
          `mutation($i: ValidateDatasetInput!) { validateDataset(input: $i) { __typename ... on ValidationReportPayload { report { success createdAt } } } }`,
          { i: { versionId: v.versionId, suite } },
        ),
      ).validateDataset.report as { success: boolean; createdAt: string };
    const slaId = await sla({
      name: "readings-valid",
      kind: "DATASET_VALIDATION_PASS_RATE",
      subjectName: "readings",
      objective: 0.75,
      windowSeconds: 3600,
    });
    assert.equal((await validate("passes")).success, true);
    const failed = await validate("fails");
    assert.equal(failed.success, false);
    const broke = await tickAt(loop, plus(new Date(failed.createdAt), 1000), slaId);
    assert.deepEqual([broke.change, broke.judgement.observed, broke.judgement.detail], ["BREACHED", 0.5, { passed: 1, total: 2 }]);
    await validate("passes");
    const last = await validate("passes");
    const back = await tickAt(loop, plus(new Date(last.createdAt), 1000), slaId);
    assert.deepEqual([back.change, back.judgement.observed], ["RECOVERED", 0.75]);
  });

  it("endpoint latency, error rate and availability from the endpoint's request statistics", async () => {
    await servedModel(t, projectId, "scorer", linearModel([1, 2], 0));
    const p99 = await sla({
      name: "scorer-p99",
      kind: "ENDPOINT_LATENCY_P99",
      subjectName: "scorer",
      objective: 0.1,
      windowSeconds: 3600,
    });
    const errors = await sla({
      name: "scorer-errors",
      kind: "ENDPOINT_ERROR_RATE",
      subjectName: "scorer",
      objective: 0.2,
      windowSeconds: 3600,
    });
    const available = await sla({
      name: "scorer-available",
      kind: "ENDPOINT_AVAILABILITY",
      subjectName: "scorer",
      objective: 0.99,
      windowSeconds: 3600,
    });
    assert.equal((await tickAt(loop, new Date(), errors)).judgement.state, "NO_DATA", "no request yet");
    assert.equal((await infer(t, "/v2/models/scorer/infer", X([[1, 1]]), { project: projectId })).status, 200);
    for (let i = 0; i < 2; i++) {
      const wrong = await infer(
        t,
        "/v2/models/scorer/infer",
        { inputs: [{ name: "nope", shape: [1, 2], datatype: "FP32", data: [1, 1] }] },
        { project: projectId },
      );
      assert.equal(wrong.status, 400);
    }
    await t.server.services.endpointStatsRecorder.flush();
    const now = new Date();
    // One tick judges every SLA.
    const checks = await loop.tick(now);
    const [slow, failing, up] = [p99, errors, available].map((id) => checks.find((c) => c.slaId === id)!);
    assert.equal(slow.change, "BREACHED", "no request is answered within 0.1 ms: p99 is at least the first bucket's bound");
    assert.ok(slow.judgement.observed! >= 0.25, `p99 ${slow.judgement.observed} ms`);
    assert.equal(failing.change, "BREACHED");
    assert.equal(failing.judgement.observed, 2 / 3);
    assert.deepEqual([up.judgement.state, up.judgement.observed], ["OK", 1], "bad requests are the caller's: the endpoint was available");

    for (let i = 0; i < 9; i++) assert.equal((await infer(t, "/v2/models/scorer/infer", X([[i, 1]]), { project: projectId })).status, 200);
    await t.server.services.endpointStatsRecorder.flush();
    const later = plus(now, 1000);
    const recovered = await tickAt(loop, later, errors);
    assert.deepEqual([recovered.change, recovered.judgement.observed], ["RECOVERED", 2 / 12]);
    assert.equal((await tickAt(loop, later, p99)).change, null, "still slower than 0.1 ms");
    assert.equal(dataOf(await t.gql(UPDATE, { i: { slaId: p99, objective: 60_000 } })).updateSla.__typename, "SlaPayload");
    assert.equal((await tickAt(loop, later, p99)).change, "RECOVERED", "a looser objective is met by the same requests");
    const events = await slaEventsOf(t, errors);
    assert.deepEqual(
      events.map((e) => [e.type, e.payload.subjectKind, e.payload.subjectName, e.payload.windowSeconds]),
      [
        ["sla.breached", "ENDPOINT", "scorer", 3600],
        ["sla.recovered", "ENDPOINT", "scorer", 3600],
      ],
    );
    // An hour on, no request in the window: nothing to judge.
    assert.equal((await tickAt(loop, plus(now, 2 * HOUR), errors)).judgement.state, "NO_DATA");
  });

  it("live performance: a monitoring window whose accuracy is below the floor breaches; a better window recovers", async () => {
    await servedModel(t, projectId, "classifier", logisticModel([2, -1], 0.5));
    const monitor = dataOf(
      await t.gql(
        `mutation($i: CreateMonitorInput!) { createMonitor(input: $i) { __typename ... on MonitorPayload { monitor { id } } ... on Error { message } } }`,
        { i: { projectId, servedName: "classifier", windowSize: 1000 } },
      ),
    ).createMonitor;
    assert.equal(monitor.__typename, "MonitorPayload", JSON.stringify(monitor));
    const slaId = await sla({
      name: "classifier-accuracy",
      kind: "ENDPOINT_LIVE_PERFORMANCE",
      subjectName: "classifier",
      metric: "accuracy",
      objective: 0.8,
      windowSeconds: 86400,
    });
    /** Ten predictions whose outcomes agree with the model's labels (`right`) or contradict them; closes the window. */
    const window = async (batch: number, right: boolean): Promise<Date> => {
      const instances = Array.from({ length: 10 }, (_, i) => ({ x0: i / 10 - 0.5, x1: (i % 3) / 3 }));
      const ids = instances.map((_, i) => `b${batch}-${i}`);
      const res = await infer(t, "/v2/models/classifier/infer", { instances, parameters: { prediction_ids: ids } }, { project: projectId });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const outcomes = res.body.predictions.map((p: any, i: number) => ({ predictionId: ids[i], outcome: right ? p.label : 1 - p.label }));
      const rec = dataOf(
        await t.gql(`mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) { __typename ... on OutcomesPayload { matched } } }`, {
          i: { projectId, model: "classifier", outcomes },
        }),
      ).recordOutcomes;
      assert.equal(rec.matched, 10);
      const closed = dataOf(
        await t.gql(
          `mutation($i: MonitorIdInput!) { closeMonitoringWindow(input: $i) { __typename ... on MonitoringWindowPayload { window { closedAt } } ... on Error { message } } }`,
          { i: { monitorId: monitor.monitor.id } },
        ),
      ).closeMonitoringWindow;
      assert.equal(closed.__typename, "MonitoringWindowPayload", JSON.stringify(closed));
      return new Date(closed.window.closedAt);
    };
    const wrongAt = await window(1, false);
    const broke = await tickAt(loop, plus(wrongAt, 1000), slaId);
    assert.deepEqual([broke.change, broke.judgement.observed], ["BREACHED", 0]);
    const rightAt = await window(2, true);
    const back = await tickAt(loop, plus(rightAt, 1000), slaId);
    assert.deepEqual([back.change, back.judgement.observed], ["RECOVERED", 1]);
  });
});
