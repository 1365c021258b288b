import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, type TestServer } from "../helpers/server";
import { createModel, setChampion } from "./helpers";

/**
 * The enrichment tests' world: three drivers' trips in January 2026 (files in `dir`, which must be
 * in SLUICE_DATA_ROOTS), the feature view `driver_stats` (km, km_sum_2d; `ttlSeconds` when given)
 * materialized online, and a model `drivers` trained on it with the hour, served as champion.
 */
export async function setUpDriverModel(t: TestServer, projectId: string, dir: string, ttlSeconds?: number): Promise<void> {
  // Trips of three drivers; long trips make a late arrival likely.
  const day = (d: number, h: number) => `2026-01-${String(d).padStart(2, "0")} ${String(h).padStart(2, "0")}:00:00`;
  const trips = ["driver,ts,km"];
  const labels = ["driver,event_timestamp,hour,late"];
  const drivers = ["ann", "bob", "cat"];
  const kmOf = (driver: string, d: number) => (driver === "ann" ? 40 + d : driver === "bob" ? 5 + (d % 3) : 15 + (d % 5));
  for (let d = 1; d <= 20; d++) for (const driver of drivers) trips.push(`${driver},${day(d, 8)},${kmOf(driver, d)}`);
  let seed = 3;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let d = 2; d <= 20; d++) {
    for (const driver of drivers) {
      for (let k = 0; k < 4; k++) {
        const hour = 9 + Math.floor(rand() * 12);
        const p = 1 / (1 + Math.exp(-(kmOf(driver, d) - 20) / 8 - (hour - 14) / 4));
        labels.push(`${driver},${day(d, hour)},${hour},${rand() < p ? 1 : 0}`);
      }
    }
  }
  fs.writeFileSync(path.join(dir, "trips.csv"), trips.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "labels.csv"), labels.join("\n") + "\n");

  const view = {
    name: "driver_stats",
    entities: ["driver"],
    timestampColumn: "ts",
    ...(ttlSeconds !== undefined && { ttlSeconds }),
    source: { dataset: "trips" },
    features: [
      { name: "km", expr: "km", type: "DOUBLE" },
      { name: "km_sum_2d", aggregation: "sum", expr: "km", window: "2d" },
    ],
  };
  const { pipelineId } = await applyPipeline(t, projectId, {
    name: "drivers",
    stages: [
      {
        name: "ingest-trips",
        run: { operator: "ingest" },
        params: { dataset: "trips", paths: ["trips.csv"], format: "csv" },
        outputs: { data: { kind: "Dataset" } },
      },
      {
        name: "features",
        run: { operator: "features.materialize" },
        inputs: { source: { from: "ingest-trips.data" } },
        params: { view },
        outputs: { features: { kind: "FeatureSet" } },
      },
      {
        name: "ingest-labels",
        run: { operator: "ingest" },
        params: { dataset: "labels", paths: ["labels.csv"], format: "csv" },
        outputs: { data: { kind: "Dataset" } },
      },
      {
        name: "training-set",
        run: { operator: "features.trainingSet" },
        inputs: { entities: { from: "ingest-labels.data" }, drivers: { from: "features.features" } },
        outputs: { trainingSet: { kind: "FeatureSet" } },
      },
      {
        name: "train",
        run: { operator: "train" },
        inputs: { data: { from: "training-set.trainingSet" } },
        params: { algorithm: "logistic_regression", target: "late", features: ["hour", "km", "km_sum_2d"], seed: 1 },
        outputs: { model: { kind: "Model" } },
      },
    ],
  });
  const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
  assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));

  const modelId = await createModel(t, projectId, "drivers", true);
  const created = dataOf(
    await t.gql(
      `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename
         ... on ModelVersionPayload { modelVersion { version status lineage signature } } ... on Error { code message } } }`,
      { i: { registeredModelId: modelId, artifactId: stage(run, "train").outputs[0]!.id } },
    ),
  ).createModelVersion;
  assert.equal(created.__typename, "ModelVersionPayload", JSON.stringify(created));
  assert.equal(created.modelVersion.status, "APPROVED");
  assert.equal(created.modelVersion.lineage.featureViewIds.length, 1, "the lineage names the view");
  assert.deepEqual(
    created.modelVersion.signature.inputs.map((i: { name: string }) => i.name),
    ["hour", "km", "km_sum_2d"],
  );
  await setChampion(t, modelId, created.modelVersion.version);
}
