import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { predict, predictProba, predictRaw, trainGbt, type GbtInput, type GbtModel } from "../../src/training/gbt/boost";
import { applyBins, fitBins } from "../../src/training/gbt/binning";
import { leafOfBinned, leafOfRaw } from "../../src/training/gbt/tree";
import { inputError } from "../helpers/input-errors";
import { classificationData, regressionData, takeRows, type Synthetic } from "./gbt-data";

function mse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

function accuracy(model: GbtModel, d: Synthetic): number {
  const Xv = takeRows(d.X, d.cols, d.validRows);
  const pred = predict(model, Xv, d.validRows.length);
  let ok = 0;
  d.validRows.forEach((r, i) => (ok += pred[i] === d.y[r] ? 1 : 0));
  return ok / d.validRows.length;
}

function maxDepthOf(model: GbtModel): number {
  let max = 0;
  for (const t of model.trees) {
    const depth = (n: number): number => (t.feature[n]! < 0 ? 0 : 1 + Math.max(depth(t.left[n]!), depth(t.right[n]!)));
    max = Math.max(max, depth(0));
  }
  return max;
}

describe("gbt boosting", () => {
  it("worker threads build the same model, bit for bit, as one thread (they split features, not rows)", () => {
    // Large enough (rows × features ≥ 1M, nodes ≥ 16k rows) for the histograms to go to workers.
    const d = classificationData(160_000, 2, 11, 8, 0.05, 0.05);
    const train = (threads: number) =>
      trainGbt({ task: "binary", ...d, threads, params: { maxIter: 8, maxDepth: 4, earlyStopping: true, nIterNoChange: 100 } });
    const one = train(1);
    const two = train(2);
    assert.equal(one.trees.length, 8);
    assert.equal(JSON.stringify(two), JSON.stringify(one));
    assert.deepEqual(train(3).validLoss, one.validLoss);
  });

  it("regression on sin(x0) + x1² beats a constant predictor by a wide margin", () => {
    const d = regressionData(3000, 1, 3);
    const m = trainGbt({ task: "regression", ...d, params: { maxIter: 100, earlyStopping: false } });
    const Xv = takeRows(d.X, d.cols, d.validRows);
    const yv = Array.from(d.validRows, (r) => d.y[r]!);
    const constant = yv.map(() => m.baseline[0]!);
    const err = mse(predict(m, Xv, yv.length), yv);
    const base = mse(constant, yv);
    assert.ok(err < base / 20, `mse ${err} vs constant ${base}`);
    assert.equal(m.nIter, 100);
    assert.ok(m.trainLoss[100]! < m.trainLoss[0]!);
  });

  it("the baseline is the mean, the prior log-odds, the log class priors", () => {
    const d = regressionData(500, 3, 2);
    const r = trainGbt({ task: "regression", ...d, params: { maxIter: 0 } });
    const ys = Array.from(d.trainRows, (i) => d.y[i]!);
    assert.ok(Math.abs(r.baseline[0]! - ys.reduce((a, b) => a + b, 0) / ys.length) < 1e-12);
    const y = Float64Array.from([0, 1, 1, 1]);
    const X = new Float64Array(4);
    const b = trainGbt({ task: "binary", X, rows: 4, cols: 1, featureNames: ["a"], y, params: { maxIter: 0 } });
    assert.ok(Math.abs(b.baseline[0]! - Math.log(3)) < 1e-12);
    const y3 = Float64Array.from([0, 1, 1, 2, 2, 2]);
    const c = trainGbt({
      task: "multiclass",
      X: new Float64Array(6),
      rows: 6,
      cols: 1,
      featureNames: ["a"],
      y: y3,
      params: { maxIter: 0 },
    });
    assert.deepEqual(
      c.baseline.map((v) => v.toFixed(12)),
      [1 / 6, 2 / 6, 3 / 6].map((p) => Math.log(p).toFixed(12)),
    );
  });

  it("binary classification reaches > 0.9 accuracy", () => {
    const d = classificationData(3000, 2, 2);
    const m = trainGbt({ task: "binary", ...d, params: { maxIter: 60 } });
    const acc = accuracy(m, d);
    assert.ok(acc > 0.9, `accuracy ${acc}`);
    const p = predictProba(m, takeRows(d.X, d.cols, d.validRows), d.validRows.length);
    for (let i = 0; i < p.length; i += 2) assert.ok(Math.abs(p[i]! + p[i + 1]! - 1) < 1e-12);
  });

  it("multiclass (3 classes, one tree per class per iteration) reaches > 0.85 accuracy", () => {
    const d = classificationData(3000, 3, 5);
    const m = trainGbt({ task: "multiclass", ...d, params: { maxIter: 40 } });
    assert.equal(m.treesPerIteration, 3);
    assert.equal(m.trees.length, 3 * m.nIter);
    const acc = accuracy(m, d);
    assert.ok(acc > 0.85, `accuracy ${acc}`);
  });

  it("learns with missing values, and raw-float and binned routing agree on every row", () => {
    const d = classificationData(3000, 2, 9, 4, 0.15);
    const m = trainGbt({ task: "binary", ...d, params: { maxIter: 40 } });
    assert.ok(accuracy(m, d) > 0.8, `accuracy ${accuracy(m, d)}`);
    assert.ok(
      m.trees.some((t) => t.missingLeft.some((ml, i) => ml && t.feature[i]! >= 0)),
      "some split sends missing values left",
    );
    // trainer routing (bins) and prediction routing (float32 thresholds, as ONNX) agree row by row
    const mapper = fitBins(d.X, d.rows, d.cols, { rowIndices: d.trainRows });
    const binned = applyBins(mapper, d.X, d.rows, d.cols);
    for (const t of m.trees) for (let r = 0; r < d.rows; r++) assert.equal(leafOfBinned(t, binned, r), leafOfRaw(t, d.X, d.cols, r));
  });

  it("early stopping stops before maxIter on an easy problem and keeps the best iteration", () => {
    const d = classificationData(2000, 2, 4, 3, 0, 0.1);
    const m = trainGbt({ task: "binary", ...d, params: { maxIter: 500, learningRate: 0.5, nIterNoChange: 5 } });
    assert.ok(m.nIterRun < 500, `ran ${m.nIterRun}`);
    const best = m.validLoss.indexOf(Math.min(...m.validLoss));
    assert.equal(m.nIter, best);
    assert.equal(m.nIterRun, best + 5);
    assert.equal(m.trees.length, best);
    // the kept model scores the best validation loss
    const Xv = takeRows(d.X, d.cols, d.validRows);
    const raw = predictRaw(m, Xv, d.validRows.length);
    let loss = 0;
    d.validRows.forEach((r, i) => (loss += Math.log1p(Math.exp(raw[i]!)) - d.y[r]! * raw[i]!));
    assert.ok(Math.abs(loss / d.validRows.length - m.validLoss[best]!) < 1e-9);
  });

  it("is deterministic: same inputs give identical model JSON", () => {
    const d = regressionData(1500, 8, 4, 0.05);
    const a = trainGbt({ task: "regression", ...d, params: { maxIter: 20 } });
    const b = trainGbt({ task: "regression", ...d, params: { maxIter: 20 } });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
  });

  it("respects maxDepth and maxLeafNodes", () => {
    const d = regressionData(2000, 6, 3);
    const deep = trainGbt({ task: "regression", ...d, params: { maxIter: 5, maxDepth: 3, minSamplesLeaf: 5 } });
    assert.equal(maxDepthOf(deep), 3);
    assert.equal(deep.params.maxLeafNodes, null);
    const leafy = trainGbt({ task: "regression", ...d, params: { maxIter: 5, maxLeafNodes: 7, minSamplesLeaf: 5 } });
    for (const t of leafy.trees) assert.equal(t.feature.filter((f) => f < 0).length, 7);
    for (const t of leafy.trees) for (let i = 0; i < t.count.length; i++) assert.ok(t.count[i]! >= 5);
  });

  it("rejects malformed inputs", () => {
    const X = new Float64Array(6);
    assert.throws(
      () => trainGbt({ task: "binary", X, rows: 3, cols: 2, featureNames: ["a", "b"], y: [0, 1, 2] }),
      inputError("task", "binary", "3"),
    );
    assert.throws(
      () => trainGbt({ task: "regression", X, rows: 3, cols: 2, featureNames: ["a"], y: [0, 1, 2] }),
      inputError("featureNames"),
    );
    assert.throws(
      () => trainGbt({ task: "multiclass", X, rows: 3, cols: 2, featureNames: ["a", "b"], y: [0, 1.5, 2] }),
      inputError("y", "1.5"),
    );
    const ok: GbtInput = { task: "regression", X, rows: 3, cols: 2, featureNames: ["a", "b"], y: [0, 1, 2] };
    assert.throws(() => trainGbt({ ...ok, params: { learningRate: 0 } }), inputError("learningRate"));
    assert.throws(() => trainGbt({ ...ok, params: { maxBins: 300 } }), inputError("maxBins", "300"));
  });
});
