import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { predictProba, predictRaw, trainGbt, type GbtModel } from "../../src/training/gbt/boost";
import { addTreeEnsemble, exportTreesOnnx, TreeExportMismatchError, verifyTreeExport } from "../../src/training/export-trees";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";
import { classificationData, regressionData, takeRows, type Synthetic } from "./gbt-data";

function expected(model: GbtModel, X: Float64Array, rows: number): Float64Array {
  return model.task === "regression" ? predictRaw(model, X, rows) : predictProba(model, X, rows);
}

async function roundTrip(model: GbtModel, d: Synthetic) {
  const Xv = takeRows(d.X, d.cols, d.validRows);
  const { bytes, signature } = exportTreesOnnx(model);
  const result = await verifyTreeExport(bytes, Xv, d.validRows.length, expected(model, Xv, d.validRows.length));
  // the training rows too: every split threshold is exercised by them
  await verifyTreeExport(bytes, d.X, d.rows, expected(model, d.X, d.rows));
  return { bytes, signature, result };
}

describe("gbt ONNX export", () => {
  it("regression: TreeEnsembleRegressor agrees with the trainer within 1e-5", async () => {
    const d = regressionData(1500, 21, 3);
    const m = trainGbt({ task: "regression", ...d, params: { maxIter: 30 } });
    const { signature, result } = await roundTrip(m, d);
    assert.equal(result.output, "variable");
    assert.ok(result.maxAbsDiff < 1e-5);
    assert.deepEqual(signature, {
      inputs: [{ name: "X", type: "float", shape: [null, 3] }],
      outputs: [{ name: "variable", type: "float", shape: [null, 1] }],
    });
  });

  it("binary: TreeEnsembleClassifier (LOGISTIC, one score per tree) gives [N, 2] probabilities and labels", async () => {
    const d = classificationData(1500, 2, 22);
    const m = trainGbt({ task: "binary", ...d, params: { maxIter: 30 } });
    const { bytes, signature, result } = await roundTrip(m, d);
    assert.equal(result.output, "probabilities");
    assert.deepEqual(signature.outputs, [
      { name: "label", type: "int64", shape: [null] },
      { name: "probabilities", type: "float", shape: [null, 2] },
    ]);
    // onnxruntime expands the single score column into [1 − σ(s), σ(s)] and labels by σ(s) > 0.5
    const Xv = takeRows(d.X, d.cols, d.validRows);
    const s = await ort.InferenceSession.create(bytes);
    const out = await s.run({ X: new ort.Tensor("float32", Float32Array.from(Xv), [d.validRows.length, d.cols]) });
    assert.deepEqual(out.probabilities!.dims, [d.validRows.length, 2]);
    const p = predictProba(m, Xv, d.validRows.length);
    const labels = out.label!.data as BigInt64Array;
    for (let i = 0; i < d.validRows.length; i++) assert.equal(labels[i], p[2 * i + 1]! > 0.5 ? 1n : 0n);
    await s.release();
  });

  it("binary with only positive leaf weights still gets the logistic transform", async () => {
    // onnxruntime has a separate code path when all class weights are positive; make sure it is not a plain 1 − s
    const d = classificationData(600, 2, 23);
    const m = trainGbt({ task: "binary", ...d, params: { maxIter: 2, maxLeafNodes: 3 } });
    for (const t of m.trees) t.value = t.value.map((v, i) => (t.feature[i]! < 0 ? Math.abs(v) + 0.01 : v));
    await roundTrip(m, d);
  });

  it("multiclass: TreeEnsembleClassifier (SOFTMAX, one class id per tree) agrees within 1e-5", async () => {
    const d = classificationData(1500, 3, 24);
    const m = trainGbt({ task: "multiclass", ...d, params: { maxIter: 20 } });
    const { signature } = await roundTrip(m, d);
    assert.deepEqual(signature.outputs[1], { name: "probabilities", type: "float", shape: [null, 3] });
  });

  it("missing values route the same way in onnxruntime (nodes_missing_value_tracks_true)", async () => {
    const d = classificationData(1500, 2, 25, 4, 0.2);
    const m = trainGbt({ task: "binary", ...d, params: { maxIter: 25 } });
    assert.ok(m.trees.some((t) => t.missingLeft.some((ml, i) => ml && t.feature[i]! >= 0)));
    await roundTrip(m, d);
    // and a feature that never had missing values in training, NaN only at prediction time
    const r = regressionData(1000, 26, 3);
    const mr = trainGbt({ task: "regression", ...r, params: { maxIter: 10 } });
    const Xn = r.X.slice();
    for (let i = 0; i < Xn.length; i += 4) Xn[i] = NaN;
    const { bytes } = exportTreesOnnx(mr);
    await verifyTreeExport(bytes, Xn, r.rows, predictRaw(mr, Xn, r.rows));
  });

  it("a corrupted export (one leaf weight altered) fails verification with a clear error", async () => {
    const d = regressionData(800, 27, 3);
    const m = trainGbt({ task: "regression", ...d, params: { maxIter: 10 } });
    const Xv = takeRows(d.X, d.cols, d.validRows);
    const want = predictRaw(m, Xv, d.validRows.length);
    const bad: GbtModel = structuredClone(m);
    const t = bad.trees[3]!;
    const leaf = t.feature.findIndex((f) => f < 0);
    t.value[leaf] += 1e-3;
    const { bytes } = exportTreesOnnx(bad);
    await assert.rejects(verifyTreeExport(bytes, d.X, d.rows, predictRaw(m, d.X, d.rows)), (e: unknown) => {
      assert.ok(e instanceof TreeExportMismatchError);
      assert.match(e.message, /ONNX export disagrees with the trainer at row \d+, column 0 of "variable"/);
      return true;
    });
    // the uncorrupted one passes on the same rows
    await verifyTreeExport(exportTreesOnnx(m).bytes, Xv, d.validRows.length, want);
  });

  it("chains after another graph through a named float input", async () => {
    const d = classificationData(600, 3, 28, 2);
    const m = trainGbt({ task: "multiclass", ...d, params: { maxIter: 5 } });
    const g = new GraphBuilder();
    // stand-in for a preprocessing graph: a Scaler that leaves values unchanged
    const [features] = g.node(
      "Scaler",
      ["raw"],
      [g.typed("features", "float", [null, 2])],
      { offset: { floats: [0, 0] }, scale: { floats: [1, 1] } },
      ML_DOMAIN,
    );
    const out = addTreeEnsemble(g, m, features!, { label: "cls", probabilities: "proba" });
    assert.equal(out.signature.inputs[0]!.name, "features");
    const bytes = g.build({
      inputs: [valueInfo("raw", "float", [null, 2])],
      outputs: [valueInfo("cls", "int64", [null]), valueInfo("proba", "float", [null, 3])],
    });
    const s = await ort.InferenceSession.create(bytes);
    const res = await s.run({ raw: new ort.Tensor("float32", Float32Array.from(d.X), [d.rows, 2]) });
    const want = predictProba(m, d.X, d.rows);
    const got = res.proba!.data as Float32Array;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5);
    await s.release();
  });
});
