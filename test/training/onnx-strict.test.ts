/**
 * Every built-in algorithm's export with every kind of preprocessing passes ONNX's strictest
 * check — `onnx.checker.check_model(model, full_check=True)`, run by the `onnx` Python package —
 * which needs a type and shape for every intermediate value (value_info), and still predicts what
 * the trainer predicted under onnxruntime. Classifiers given class names answer them as `label`
 * (skl2onnx's convention) and their index as `label_index`.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { trainValidationSplit } from "../../src/training/data";
import { decodeModel, exportLinearModel, verifyExport } from "../../src/training/export-linear";
import { exportGbtModel } from "../../src/training/export-gbt";
import type { TrainAlgorithm } from "../../src/training/hyperparameters";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";
import { CLASS_LABELS_METADATA, LABEL_INDEX_OUTPUT } from "../../src/training/onnx/class-labels";
import { columnFeed, fitPreprocessor, transform, type PreprocessStep } from "../../src/training/preprocess";
import { runTrial, type TrialData } from "../../src/training/trial";
import { synthetic } from "./mixed-data";

const PYTHON = "/usr/bin/python3";
const onnxMissing = (() => {
  const r = spawnSync(PYTHON, ["-c", "import onnx"], { encoding: "utf8" });
  return r.status === 0
    ? false
    : `the Python onnx package is not importable by ${PYTHON} (apt-get install python3-onnx): ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
})();

const CHECK = "import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)";

/** Class names that are not indices: the exported `label` must give them back. */
const SPECIES = ["Adelie", "Chinstrap", "Gentoo"];

/** impute, scale, oneHot and bucketize, each at least once. */
const STEPS: PreprocessStep[] = [
  { column: "a", scale: "standard" },
  { column: "a", bucketize: { boundaries: [40, 60] } },
  { column: "b", impute: "median", scale: "minmax" },
  { column: "city", impute: "most_frequent", oneHot: {} },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-onnx-strict-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const CASES: Array<{ algorithm: TrainAlgorithm; classes?: string[] }> = [
  { algorithm: "linear_regression" },
  { algorithm: "gbt_regressor" },
  { algorithm: "logistic_regression", classes: ["lost", "kept"] },
  { algorithm: "logistic_regression", classes: SPECIES },
  { algorithm: "gbt_classifier", classes: ["lost", "kept"] },
  { algorithm: "gbt_classifier", classes: SPECIES },
];

describe("exports pass onnx.checker full_check and keep their predictions", { skip: onnxMissing }, () => {
  for (const c of CASES) {
    const what = c.classes ? `${c.algorithm} (${c.classes.length} classes)` : c.algorithm;
    it(what, async () => {
      const { t, score } = synthetic(1200, 7);
      const { train, validation } = trainValidationSplit(t.rows, 0.25, 7);
      const fitted = fitPreprocessor(t, train, STEPS);
      const K = c.classes?.length ?? 0;
      // Classes by score quantile-ish cut points; regression targets are the score itself.
      const target = (r: number) =>
        K === 0 ? score[r]! : K === 2 ? (score[r]! > 0.2 ? 1 : 0) : score[r]! < -0.3 ? 0 : score[r]! < 0.7 ? 1 : 2;
      const data: TrialData = {
        algorithm: c.algorithm,
        classes: c.classes,
        cols: fitted.cols,
        featureNames: fitted.featureNames,
        Xtr: transform(fitted, t, train).matrix,
        ytr: Float64Array.from(train, target),
        Xva: transform(fitted, t, validation).matrix,
        yva: Float64Array.from(validation, target),
        seed: 7,
      };
      const { model, expected } = runTrial(data, c.algorithm.startsWith("gbt_") ? { maxIter: 20 } : {});
      const exported = "format" in model ? exportGbtModel(fitted, model, c.classes) : exportLinearModel(fitted, model, c.classes);

      // Every intermediate is typed: the strict checker (full shape inference) accepts the model.
      const file = path.join(dir, `${c.algorithm}-${K}.onnx`);
      fs.writeFileSync(file, exported.bytes);
      const proto = decodeModel(exported.bytes);
      const outputs = new Set(proto.graph!.output!.map((o) => o.name));
      const typed = new Set(proto.graph!.valueInfo!.map((v) => v.name));
      for (const n of proto.graph!.node!) for (const o of n.output!) assert.ok(outputs.has(o) || typed.has(o), `${o} has no value_info`);
      execFileSync(PYTHON, ["-c", CHECK, file], { stdio: ["ignore", "pipe", "pipe"] });

      // onnxruntime still reproduces the trainer.
      await verifyExport(exported.bytes, t, validation, expected, 1e-5);

      if (!c.classes) {
        assert.ok(!outputs.has(LABEL_INDEX_OUTPUT));
        assert.ok(!outputs.has("class_label"));
        return;
      }
      // The class names: `label` holds them (skl2onnx's order: label, probabilities), the index is
      // kept as `label_index`, and the metadata records them; the graph's outputs are the signature's.
      const expectedOutputs = [
        ["label", "string"],
        ["probabilities", "float"],
        [LABEL_INDEX_OUTPUT, "int64"],
      ];
      assert.deepEqual(
        exported.signature.outputs.map((o) => [o.name, o.type]),
        expectedOutputs,
      );
      assert.deepEqual(
        proto.graph!.output!.map((o) => o.name),
        expectedOutputs.map(([name]) => name),
      );
      const meta = proto.metadataProps!.find((p) => p.key === CLASS_LABELS_METADATA);
      assert.deepEqual(JSON.parse(meta!.value!), c.classes);
      const session = await ort.InferenceSession.create(exported.bytes);
      try {
        const feeds: Record<string, ort.Tensor> = {};
        for (const name of session.inputNames) {
          const feed = columnFeed(t, name, validation);
          feeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
        }
        const out = await session.run(feeds);
        const index = out[LABEL_INDEX_OUTPUT]!.data as BigInt64Array;
        const names = out.label!.data as string[];
        assert.equal(names.length, validation.length);
        for (let i = 0; i < names.length; i++) assert.equal(names[i], c.classes[Number(index[i])]);
        assert.ok(new Set(names).size > 1, "the validation rows span several classes");
      } finally {
        await session.release();
      }
    });
  }
});

describe("the graph builder's typed intermediates", () => {
  it("an exporter's build refuses an intermediate without a type, naming it", () => {
    const g = new GraphBuilder();
    g.node("Scaler", ["x"], ["untyped"], { offset: { floats: [0] }, scale: { floats: [2] } }, ML_DOMAIN);
    g.node("Identity", ["untyped"], ["y"]);
    const io = { inputs: [valueInfo("x", "float", [null, 1])], outputs: [valueInfo("y", "float", [null, 1])] };
    assert.throws(() => g.build({ ...io, requireTypes: true }), /value_info\): untyped$/);
    g.typed("untyped", "float", [null, 1]);
    const proto = decodeModel(g.build({ ...io, requireTypes: true }));
    assert.deepEqual(
      proto.graph!.valueInfo!.map((v) => v.name),
      ["untyped"],
    );
  });
});
