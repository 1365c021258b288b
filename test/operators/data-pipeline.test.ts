import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

/**
 * The data-plane operators in real pipelines on a real server: worker threads compute, and the
 * stage's completion records dataset versions, reports, materializations and training sets.
 */
describe("data-plane operators in a pipeline", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-operators-"));
    // Worker threads read the data roots from the environment, as a server's would.
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "dataops");
    // Trips of three drivers over three days; one trip with a negative distance.
    const trips = ["driver,ts,km"];
    const day = (d: number, h: number) => `2026-01-0${d} ${String(h).padStart(2, "0")}:00:00`;
    for (const [driver, d, h, km] of [
      ["ann", 1, 8, 10],
      ["ann", 1, 12, 20],
      ["ann", 2, 9, 30],
      ["bob", 1, 9, 5],
      ["bob", 3, 9, 7],
      ["cat", 2, 10, -4],
    ] as const)
      trips.push(`${driver},${day(d, h)},${km}`);
    fs.writeFileSync(path.join(dir, "trips.csv"), trips.join("\n") + "\n");
    fs.writeFileSync(
      path.join(dir, "labels.csv"),
      `driver,event_timestamp,label\nann,${day(2, 0)},1\nann,${day(3, 0)},0\nbob,${day(1, 10)},1\nzed,${day(3, 0)},0\n`,
    );
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const view = {
    name: "driver_stats",
    entities: ["driver"],
    timestampColumn: "ts",
    source: { dataset: "trips" },
    features: [
      { name: "km", expr: "km" },
      { name: "km_sum_2d", aggregation: "sum", expr: "km", window: "2d" },
    ],
  };
  const suite = {
    name: "trips-basic",
    expectations: [
      { type: "between", column: "km", min: 0 },
      { type: "not_null", column: "driver" },
    ],
  };

  function spec(name: string, opts: { quarantine?: boolean; withReport?: boolean } = {}) {
    return {
      name,
      stages: [
        {
          name: "ingest-trips",
          run: { operator: "ingest" },
          params: { dataset: "trips", paths: ["trips.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "check",
          run: { operator: "validate" },
          inputs: { data: { from: "ingest-trips.data" } },
          params: { suite, quarantine: opts.quarantine ?? false },
          outputs: {
            ...(opts.withReport === false ? {} : { report: { kind: "Report" } }),
            ...(opts.quarantine ? { passed: { kind: "Dataset" }, quarantine: { kind: "Dataset" } } : {}),
          },
        },
        {
          name: "ingest-labels",
          run: { operator: "ingest" },
          params: { dataset: "labels", paths: ["labels.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "features",
          run: { operator: "features.materialize" },
          inputs: { source: { from: "ingest-trips.data" }, gate: { from: "check.report" } },
          params: { view },
          outputs: { features: { kind: "FeatureSet" } },
        },
        {
          name: "training-set",
          run: { operator: "features.trainingSet" },
          inputs: { entities: { from: "ingest-labels.data" }, drivers: { from: "features.features" } },
          params: { name: "driver-labels" },
          outputs: { trainingSet: { kind: "FeatureSet" } },
        },
      ],
    };
  }

  it("refuses at apply time a stage that breaks its operator's contract, naming the field", async () => {
    await assert.rejects(applyPipeline(t, projectId, spec("broken", { withReport: false })), /stages\[1\]\.outputs\.report/);
    const bad = spec("broken-params");
    (bad.stages[0]!.params as Record<string, unknown>).format = "xlsx";
    await assert.rejects(applyPipeline(t, projectId, bad), /stages\[0\]\.params\.format/);
  });

  it("ingests, validates with quarantine, materializes features and builds a point-in-time training set", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, spec("drivers", { quarantine: true }));
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));

    const trips = dataOf(
      await t.gql(
        `query($p: ID) { dataset(projectId: $p, name: "trips") { latestVersion { id version rowCount producedBy
          validationReports { nodes { success quarantineVersionId stageRunId results { type unexpectedCount } } } } } }`,
        { p: projectId },
      ),
    ).dataset.latestVersion;
    assert.equal(trips.rowCount, 6);
    assert.equal(trips.producedBy, stage(run, "ingest-trips").id);
    const [report] = trips.validationReports.nodes;
    assert.equal(report.success, false, "the breach is reported even though quarantine let the run continue");
    assert.equal(report.stageRunId, stage(run, "check").id);
    const q = dataOf(await t.gql(`query($id: ID) { datasetVersion(id: $id) { rowCount } }`, { id: report.quarantineVersionId }));
    assert.equal(q.datasetVersion.rowCount, 1);

    const fv = dataOf(
      await t.gql(
        `query($p: ID) { featureView(projectId: $p, name: "driver_stats") { version latestMaterialization { rowCount onlineRows sourceVersion { id } } } }`,
        {
          p: projectId,
        },
      ),
    ).featureView;
    assert.equal(fv.latestMaterialization.sourceVersion.id, trips.id);
    assert.equal(fv.latestMaterialization.onlineRows, 3);
    const online = dataOf(
      await t.gql(
        `query($p: ID!) { onlineFeatures(projectId: $p, view: "driver_stats", entityKeys: [["ann"], ["nobody"]]) { vectors { found values } } }`,
        {
          p: projectId,
        },
      ),
    ).onlineFeatures.vectors;
    // ann's latest trip is day 2 09:00 (30 km); the two trips before it in 2 days sum to 30.
    assert.deepEqual(online[0], { found: true, values: { km: 30, km_sum_2d: 30 } });
    assert.equal(online[1].found, false);

    const sets = dataOf(
      await t.gql(
        `query($p: ID) { trainingSets(filter: { projectId: $p }) { nodes { name rowCount entityVersion { id } views { materialization { sourceVersion { id } } } } } }`,
        {
          p: projectId,
        },
      ),
    ).trainingSets.nodes;
    assert.equal(sets.length, 1);
    assert.equal(sets[0].name, "driver-labels");
    assert.equal(sets[0].rowCount, 4);
    assert.equal(sets[0].views[0].materialization.sourceVersion.id, trips.id, "lineage from the training set to the source version");

    // Running again reads the same files: the same versions, no new ones.
    const again = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(again.status, "SUCCEEDED");
    const versions = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "trips") { versions { totalCount } } }`, { p: projectId }),
    );
    assert.equal(versions.dataset.versions.totalCount, 1);
  });

  it("stops the pipeline at a failed gate with GATE_FAILED, stores the report and emits validation.failed", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, spec("gated"));
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "FAILED");
    const check = stage(run, "check");
    assert.equal(check.status, "FAILED");
    assert.equal(check.failure?.type, "GATE_FAILED");
    assert.equal(check.attempts.length, 1, "a gate failure is not retried");
    assert.equal(stage(run, "features").status, "SKIPPED");
    assert.equal(stage(run, "training-set").status, "SKIPPED");
    const [{ n }] = await t.server.services.db.dataSource.query(
      `SELECT count(*)::int AS n FROM events WHERE type = 'validation.failed' AND payload->>'stageRunId' = $1`,
      [check.id],
    );
    assert.equal(n, 1);
    const reports = dataOf(
      await t.gql(
        `query($p: ID) { validationReports(filter: { projectId: $p, success: false }) { nodes { stageRunId results { success sampleFailingRows } } } }`,
        {
          p: projectId,
        },
      ),
    ).validationReports.nodes;
    const mine = reports.find((r: any) => r.stageRunId === check.id);
    assert.ok(mine, "the failed gate's report is stored");
    assert.deepEqual(
      mine.results[0].sampleFailingRows.map((r: any) => r.driver),
      ["cat"],
    );
  });

  it("fails an ingest stage whose data breaks the dataset's schema policy, recording no version", async () => {
    fs.writeFileSync(path.join(dir, "trips2.csv"), "driver,ts\nann,2026-01-05 00:00:00\n");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "shrinking",
      stages: [
        {
          name: "ingest",
          run: { operator: "ingest" },
          params: { dataset: "trips", paths: ["trips2.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "FAILED");
    assert.equal(stage(run, "ingest").failure?.type, "OUTPUT_REJECTED");
    assert.match(String(stage(run, "ingest").failure?.message), /km/);
    const versions = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "trips") { versions { totalCount } } }`, { p: projectId }),
    );
    assert.equal(versions.dataset.versions.totalCount, 1);
  });
});
