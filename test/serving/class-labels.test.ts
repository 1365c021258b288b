import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, getJson, infer, servedModel, setChampion } from "./helpers";

/**
 * Class names end to end: a multiclass model trained on the penguins (species as the target) and a
 * binary one (sex, a text target) are registered from their run outputs and served; the version,
 * the OIP metadata, OIP answers, the records form and GraphQL `predict` all answer the class name
 * as `label` (as scikit-learn/skl2onnx do) and keep its index as `label_index`. Files of other
 * shapes answer the same: names recorded only in metadata_props, and the earlier export (`label`
 * the index, `class_label` the names) of versions stored before.
 */

const SPECIES = ["Adelie", "Chinstrap", "Gentoo"];

/** vega-datasets' penguins as JSON lines, with column names a pipeline can use. */
function penguinsJsonl(): string {
  const rows = JSON.parse(fs.readFileSync(path.resolve("node_modules/vega-datasets/data/penguins.json"), "utf8")) as Array<
    Record<string, unknown>
  >;
  return rows
    .map((r) =>
      JSON.stringify({
        species: r.Species,
        island: r.Island,
        beak_length: r["Beak Length (mm)"],
        beak_depth: r["Beak Depth (mm)"],
        flipper_length: r["Flipper Length (mm)"],
        body_mass: r["Body Mass (g)"],
        sex: r.Sex === "." ? null : r.Sex,
      }),
    )
    .join("\n");
}

/** Three typical birds, one of each species (measurements from the data set's rows). */
const BIRDS = [
  { island: "Torgersen", beak_length: 39.1, beak_depth: 18.7, flipper_length: 181, body_mass: 3750, sex: "MALE" },
  { island: "Dream", beak_length: 46.5, beak_depth: 17.9, flipper_length: 192, body_mass: 3500, sex: "FEMALE" },
  { island: "Biscoe", beak_length: 46.1, beak_depth: 13.2, flipper_length: 211, body_mass: 4500, sex: "FEMALE" },
];

/** The OIP `inputs` form of `rows` for per-column inputs. */
function oipInputs(rows: Array<Record<string, string | number>>, inputs: Array<{ name: string; datatype: string }>) {
  return inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [rows.length, 1], data: rows.map((r) => r[i.name]) }));
}

describe("class labels on versions and in answers", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-class-labels-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "penguins");
    fs.writeFileSync(path.join(dir, "penguins.jsonl"), penguinsJsonl());
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Registers a run's Model output in a new auto-approving model and makes it the champion. */
  async function register(name: string, artifactId: string) {
    const modelId = await createModel(t, projectId, name, true);
    const res = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename
           ... on ModelVersionPayload { modelVersion { version classLabels signature } } ... on Error { code message } } }`,
        { i: { registeredModelId: modelId, artifactId } },
      ),
    ).createModelVersion;
    assert.equal(res.__typename, "ModelVersionPayload", JSON.stringify(res));
    await setChampion(t, modelId, res.modelVersion.version);
    return res.modelVersion as { version: number; classLabels: string[] | null; signature: any };
  }

  it("a multiclass and a binary model trained on text targets answer the class name as label, the index as label_index", async () => {
    const features = ["island", "beak_length", "beak_depth", "flipper_length", "body_mass", "sex"];
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "penguins",
      stages: [
        {
          name: "ingest",
          run: { operator: "ingest" },
          params: { dataset: "penguins", paths: ["penguins.jsonl"], format: "jsonl" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "species",
          run: { operator: "train" },
          inputs: { data: { from: "ingest.data" } },
          params: { algorithm: "gbt_classifier", target: "species", features, hyperparameters: { maxIter: 30, maxDepth: 3 } },
          outputs: { model: { kind: "Model" } },
        },
        {
          name: "sex",
          run: { operator: "train" },
          inputs: { data: { from: "ingest.data" } },
          params: { algorithm: "logistic_regression", target: "sex", features: features.filter((f) => f !== "sex") },
          outputs: { model: { kind: "Model" } },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));

    const species = await register("species", stage(run, "species").outputs[0]!.id);
    assert.deepEqual(species.classLabels, SPECIES);
    assert.deepEqual(
      species.signature.outputs.map((o: any) => [o.name, o.type]),
      [
        ["label", "string"],
        ["probabilities", "float"],
        ["label_index", "int64"],
      ],
      "the graph itself answers skl2onnx's label (the names) and keeps the index",
    );
    const sex = await register("sex", stage(run, "sex").outputs[0]!.id);
    assert.deepEqual(sex.classLabels, ["FEMALE", "MALE"]);

    // OIP model metadata: both outputs listed with their datatypes, and the class names stated.
    const meta = await getJson(t, "/v2/models/species", { project: projectId });
    assert.equal(meta.status, 200, JSON.stringify(meta.body));
    assert.deepEqual(meta.body.parameters, { class_labels: SPECIES });
    assert.deepEqual(meta.body.outputs, [
      { name: "label", datatype: "BYTES", shape: [-1], parameters: { class_labels: SPECIES } },
      { name: "probabilities", datatype: "FP32", shape: [-1, 3] },
      { name: "label_index", datatype: "INT64", shape: [-1], parameters: { class_labels: SPECIES } },
    ]);

    // OIP answer: label (BYTES names) and label_index (INT64) agree, and name the species.
    const r = await infer(t, "/v2/models/species/infer", { inputs: oipInputs(BIRDS, meta.body.inputs) }, { project: projectId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const out = Object.fromEntries(r.body.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(out.label, { name: "label", datatype: "BYTES", shape: [3], data: SPECIES }, "each typical bird is recognised");
    assert.deepEqual(out.label_index, { name: "label_index", datatype: "INT64", shape: [3], data: [0, 1, 2] });
    assert.equal(out.class_label, undefined, "no class_label any more");

    // Only the names when only they are asked for; class_label is no output.
    const only = await infer(
      t,
      "/v2/models/species/infer",
      { inputs: oipInputs(BIRDS, meta.body.inputs), outputs: [{ name: "label" }] },
      { project: projectId },
    );
    assert.deepEqual(
      only.body.outputs.map((o: any) => o.name),
      ["label"],
    );
    const gone = await infer(
      t,
      "/v2/models/species/infer",
      { inputs: oipInputs(BIRDS, meta.body.inputs), outputs: [{ name: "class_label" }] },
      { project: projectId },
    );
    assert.equal(gone.status, 400, JSON.stringify(gone.body));

    // The records form and GraphQL predict carry both too.
    const records = await infer(
      t,
      "/v2/models/sex/infer",
      { instances: [BIRDS[0], BIRDS[2]].map(({ sex: _, ...bird }) => bird) },
      { project: projectId },
    );
    assert.equal(records.status, 200, JSON.stringify(records.body));
    for (const p of records.body.predictions) {
      assert.ok(["FEMALE", "MALE"].includes(p.label), JSON.stringify(p));
      assert.equal(p.label, ["FEMALE", "MALE"][p.label_index]);
    }
    const predicted = dataOf(
      await t.gql(`query($p: ID!, $i: [JSON!]!) { predict(projectId: $p, model: "species", instances: $i) { predictions } }`, {
        p: projectId,
        i: BIRDS,
      }),
    ).predict.predictions;
    assert.deepEqual(
      predicted.map((p: any) => [p.label, p.label_index]),
      SPECIES.map((name, i) => [name, i]),
    );
    assert.ok(predicted.every((p: any) => !("class_label" in p)));
  });

  /**
   * A binary classifier whose file records class names in metadata_props only; with `legacyNames`,
   * its graph also maps them as `class_label`, as the built-in trainers exported before `label` held the names.
   */
  function classifierRecordingNames(names: string[], legacyNames = false): Uint8Array {
    const g = new GraphBuilder();
    const [X] = g.node("Concat", ["x0", "x1"], [g.value("X", "float", [null, 2])], { axis: { int: 1 } });
    g.node(
      "LinearClassifier",
      [X!],
      ["label", "probabilities"],
      {
        coefficients: { floats: [1, -1] },
        intercepts: { floats: [0] },
        classlabels_ints: { ints: [0, 1] },
        post_transform: { string: "LOGISTIC" },
      },
      ML_DOMAIN,
    );
    if (legacyNames) {
      g.node(
        "LabelEncoder",
        ["label"],
        ["class_label"],
        { keys_int64s: { ints: names.map((_, i) => i) }, values_strings: { strings: names }, default_string: { string: "" } },
        ML_DOMAIN,
      );
    }
    return g.build({
      inputs: [valueInfo("x0", "float", [null, 1]), valueInfo("x1", "float", [null, 1])],
      outputs: [
        valueInfo("label", "int64", [null]),
        valueInfo("probabilities", "float", [null, 2]),
        ...(legacyNames ? [valueInfo("class_label", "string", [null])] : []),
      ],
      metadata: { "sluice.class_labels": JSON.stringify(names) },
    });
  }

  /** The two-row OIP request of the approval classifiers: x0 = 3 (granted), then -3 (denied). */
  const APPROVAL_INPUTS = [
    { name: "x0", datatype: "FP32", shape: [2, 1], data: [3, -3] },
    { name: "x1", datatype: "FP32", shape: [2, 1], data: [0, 0] },
  ];

  it("names recorded only in a file's metadata are mapped by the server: label the name, label_index the index", async () => {
    const { modelId } = await servedModel(t, projectId, "approval", classifierRecordingNames(["denied", "granted"]));
    const v = dataOf(
      await t.gql(`query($m: ID) { modelVersion(registeredModelId: $m, alias: "champion") { classLabels } }`, { m: modelId }),
    ).modelVersion;
    assert.deepEqual(v.classLabels, ["denied", "granted"]);
    const meta = await getJson(t, "/v2/models/approval", { project: projectId });
    assert.deepEqual(
      meta.body.outputs.map((o: any) => [o.name, o.datatype]),
      [
        ["label", "BYTES"],
        ["probabilities", "FP32"],
        ["label_index", "INT64"],
      ],
    );
    const r = await infer(t, "/v2/models/approval/infer", { inputs: APPROVAL_INPUTS }, { project: projectId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const out = Object.fromEntries(r.body.outputs.map((o: any) => [o.name, o]));
    assert.deepEqual(out.label, { name: "label", datatype: "BYTES", shape: [2], data: ["granted", "denied"] });
    assert.deepEqual(out.label_index, { name: "label_index", datatype: "INT64", shape: [2], data: [1, 0] });
    // Only the index: the server still fetches the graph's label to give it.
    const index = await infer(
      t,
      "/v2/models/approval/infer",
      { inputs: APPROVAL_INPUTS, outputs: [{ name: "label_index" }] },
      { project: projectId },
    );
    assert.deepEqual(index.body.outputs, [{ name: "label_index", datatype: "INT64", shape: [2], data: [1, 0] }]);
  });

  it("a stored version of the earlier shape (label the index, class_label the names) answers the new shape", async () => {
    await servedModel(t, projectId, "approval-v1", classifierRecordingNames(["denied", "granted"], true));
    const meta = await getJson(t, "/v2/models/approval-v1", { project: projectId });
    assert.deepEqual(
      meta.body.outputs.map((o: any) => [o.name, o.datatype]),
      [
        ["label", "BYTES"],
        ["probabilities", "FP32"],
        ["label_index", "INT64"],
      ],
      "class_label is not listed: its names are label now",
    );
    const r = await infer(t, "/v2/models/approval-v1/infer", { inputs: APPROVAL_INPUTS }, { project: projectId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(
      r.body.outputs.map((o: any) => [o.name, o.datatype, o.data]),
      [
        ["label", "BYTES", ["granted", "denied"]],
        ["probabilities", "FP32", r.body.outputs[1].data],
        ["label_index", "INT64", [1, 0]],
      ],
    );
    const predicted = dataOf(
      await t.gql(`query($p: ID!, $i: [JSON!]!) { predict(projectId: $p, model: "approval-v1", instances: $i) { predictions } }`, {
        p: projectId,
        i: [
          { x0: -3, x1: 0 },
          { x0: 3, x1: 0 },
        ],
      }),
    ).predict.predictions;
    assert.deepEqual(
      predicted.map((p: any) => [p.label, p.label_index, "class_label" in p]),
      [
        ["denied", 0, false],
        ["granted", 1, false],
      ],
    );
  });

  it("refuses a file whose recorded class names do not fit its outputs", async () => {
    const modelId = await createModel(t, projectId, "mislabelled", true);
    const res = await fetch(`${t.url}/registered-models/${modelId}/versions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/octet-stream" },
      body: classifierRecordingNames(["a", "b", "c"]),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.match(JSON.stringify(body), /"model"/, JSON.stringify(body));
  });
});
