import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadSpecFile } from "../../src/pipelines/load";
import { waitUntil } from "../helpers/eventually";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { queryJson, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";

const REPO = path.resolve(__dirname, "../../..");
const SPEC = path.join(REPO, "examples/flights/pipeline.ts");

/**
 * The flights example end to end, as `sluice apply examples/flights/pipeline.ts` and
 * `sluice run flights` would run it: two monthly snapshots of the real data set, validated,
 * featurized and joined point-in-time. Slow-ish (real data), so the label sample is small.
 */
describe("examples/flights", () => {
  let t: TestServer;
  let projectId: string;
  let approver: Awaited<ReturnType<typeof seedCaller>>;
  let previousRoots: string | undefined;
  before(async () => {
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = REPO;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: REPO } });
    projectId = await seedProject(t, "flights");
    approver = await seedCaller(t, "APPROVER", projectId);
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
  });

  it("ingests monthly versions, validates them and builds a point-in-time training set", async () => {
    const { spec, baseDir } = await loadSpecFile(SPEC);
    const { pipelineId } = await applyPipeline(t, projectId, spec as unknown as Record<string, unknown>, baseDir);
    const params = (month: string) => ({ ingest: { where: `date < TIMESTAMP '${month}'` }, labels: { sample: 5000 } });

    // Each month's classifier waits at the gate for an approver (the default policy: one person
    // other than whoever started the run), then the run finishes.
    const throughTheGate = async (runId: string) => {
      const waiting = await waitForRun(t, runId, 120_000, (r) => ["WAITING", "FAILED", "SKIPPED"].includes(stage(r, "approval").status));
      assert.equal(
        stage(waiting, "approval").status,
        "WAITING",
        JSON.stringify(waiting.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])),
      );
      const request: any = await waitUntil(
        "the open approval request",
        async () =>
          dataOf(
            await t.gql(
              `query($p: ID) { approvalRequests(filter: { projectId: $p, status: OPEN }) { nodes { status checks { name } modelVersion { id metrics lineage } } } }`,
              {
                p: projectId,
              },
            ),
          ).approvalRequests.nodes[0],
        { intervalMs: 100 },
      );
      assert.equal(request.modelVersion.lineage.runId, runId);
      assert.ok(request.modelVersion.metrics.roc_auc > 0.6, JSON.stringify(request.modelVersion.metrics));
      const decision = dataOf(
        await t.gql(
          `mutation($i: DecideModelVersionInput!) { approveModelVersion(input: $i) { __typename ... on ApprovalDecisionPayload { modelVersion { status } } } }`,
          { i: { modelVersionId: request.modelVersion.id, comment: "checked the evaluation report" } },
          approver.token,
        ),
      ).approveModelVersion;
      assert.equal(decision.modelVersion.status, "APPROVED");
      return waitForRun(t, runId, 60_000);
    };
    const january = await throughTheGate(await triggerRun(t, pipelineId, params("2001-02-01")));
    assert.equal(january.status, "SUCCEEDED", JSON.stringify(january.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])));
    const february = await throughTheGate(await triggerRun(t, pipelineId, params("2001-03-01")));
    assert.equal(february.status, "SUCCEEDED", JSON.stringify(february.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])));
    const versions = dataOf(
      await t.gql(
        `query($p: ID!) { registeredModel(projectId: $p, name: "flight-delays") { versions { nodes { version status evaluationReports { totalCount } } } } }`,
        {
          p: projectId,
        },
      ),
    ).registeredModel.versions.nodes;
    assert.deepEqual(
      versions.map((v: any) => [v.version, v.status]),
      [
        [2, "APPROVED"],
        [1, "APPROVED"],
      ],
    );
    assert.ok(
      versions.every((v: any) => v.evaluationReports.totalCount === 1),
      "each version carries its evaluation report",
    );

    assert.equal(stage(february, "train").outputs[0]?.kind, "Model", "a delay classifier trained and verified in ONNX");
    const flights = dataOf(
      await t.gql(
        `query($p: ID) { dataset(projectId: $p, name: "flights") { versions(orderBy: { field: VERSION, direction: ASC }) {
          nodes { version rowCount schemaDiff { changed } profile { columns { name max } } validationReports { nodes { success } } } } } }`,
        { p: projectId },
      ),
    ).dataset.versions.nodes;
    assert.equal(flights.length, 2, "one version per monthly snapshot");
    assert.ok(flights[1].rowCount > flights[0].rowCount);
    assert.equal(flights[1].schemaDiff.changed, false);
    assert.ok(String(flights[0].profile.columns.find((c: any) => c.name === "date").max.value).startsWith("2001-01-31"));
    assert.equal(flights[1].validationReports.nodes[0].success, true);

    const sets = dataOf(
      await t.gql(`query($p: ID) { trainingSets(filter: { projectId: $p }) { nodes { rowCount columns { name } artifact { id } } } }`, {
        p: projectId,
      }),
    ).trainingSets.nodes;
    assert.equal(sets.length, 2);
    const columns = sets[0].columns.map((c: any) => c.name);
    for (const c of [
      "hour",
      "day_of_week",
      "distance",
      "delayed",
      "origin_delay_rate_7d",
      "destination_delay_rate_7d",
      "origin_flights_7d",
    ]) {
      assert.ok(columns.includes(c), `${c} in ${columns}`);
    }

    // Point-in-time: recompute one row's origin delay rate from the raw data, with only flights
    // strictly before the origin's latest event at or before the row's time, within 7 days.
    const output = stage(february, "training-set").outputs[0]!;
    const file = await t.server.services.artifacts.localPath(
      (await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [output.id]))[0].uri,
    );
    const raw = path.join(REPO, "node_modules/vega-datasets/data/flights-3m.parquet");
    await withDuckDb(async (conn) => {
      const [row] = await queryJson(
        conn,
        `SELECT origin, event_timestamp::VARCHAR AS ts, origin_delay_rate_7d AS rate FROM read_parquet(${sqlString(file)})
          WHERE origin_delay_rate_7d IS NOT NULL AND event_timestamp > TIMESTAMP '2001-02-15' ORDER BY event_timestamp, origin LIMIT 1`,
      );
      const [expected] = await queryJson(
        conn,
        `WITH last AS (SELECT max(date) AS t FROM read_parquet(${sqlString(raw)}) WHERE origin = ${sqlString(String(row!.origin))} AND date <= TIMESTAMP '${row!.ts}')
         SELECT avg(CASE WHEN delay > 15 THEN 1.0 ELSE 0.0 END) AS rate FROM read_parquet(${sqlString(raw)}), last
          WHERE origin = ${sqlString(String(row!.origin))} AND date < last.t AND date >= last.t - INTERVAL 7 DAY`,
      );
      assert.ok(
        Math.abs(Number(row!.rate) - Number(expected!.rate)) < 1e-9,
        `${row!.rate} vs ${expected!.rate} for ${row!.origin} at ${row!.ts}`,
      );
    });
  });
});
