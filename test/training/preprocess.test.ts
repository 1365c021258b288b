import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { allRows, categoricalColumn, numericColumn, table, trainValidationSplit } from "../../src/training/data";
import { GraphBuilder, valueInfo } from "../../src/training/onnx/builder";
import { exportPreprocessor, fitPreprocessor, onnxFeeds, transform, type FittedPreprocessor } from "../../src/training/preprocess";
import { inputError } from "../helpers/input-errors";
import type { Table } from "../../src/training/data";

/** Runs the exported preprocessing alone and returns its matrix, to compare with `transform` bit for bit. */
async function runGraph(fitted: FittedPreprocessor, t: Table, rows: Uint32Array): Promise<Float32Array> {
  const g = new GraphBuilder();
  const { inputs, output } = exportPreprocessor(fitted, g);
  g.node("Identity", [output], ["features"]);
  const session = await ort.InferenceSession.create(g.build({ inputs, outputs: [valueInfo("features", "float", [null, fitted.cols])] }));
  const feeds = Object.fromEntries(Object.entries(onnxFeeds(fitted, t, rows)).map(([k, f]) => [k, new ort.Tensor(f.type, f.data, f.dims)]));
  const out = await session.run(feeds);
  await session.release();
  return out.features!.data as Float32Array;
}

describe("trainValidationSplit", () => {
  it("partitions the rows, deterministically for a seed", () => {
    const a = trainValidationSplit(1000, 0.2, 5);
    assert.equal(a.validation.length, 200);
    assert.equal(a.train.length, 800);
    const all = new Set([...a.train, ...a.validation]);
    assert.equal(all.size, 1000);
    assert.deepEqual(trainValidationSplit(1000, 0.2, 5), a);
    assert.notDeepEqual(trainValidationSplit(1000, 0.2, 6).validation, a.validation);
  });
});

describe("preprocessing", () => {
  it("fits statistics on the training rows only", () => {
    // Training rows 0..3 are around 10, validation rows 4..5 far away: the scaler must not see them.
    const t = table([numericColumn("x", [8, 10, 12, NaN, 1000, 2000])]);
    const train = Uint32Array.from([0, 1, 2, 3]);
    const fitted = fitPreprocessor(t, train, [{ column: "x", impute: "mean", scale: "standard" }]);
    const step = fitted.steps[0]!;
    assert.equal(step.kind, "numeric");
    if (step.kind !== "numeric") return;
    assert.equal(step.impute, 10);
    // imputed training values 8, 10, 12, 10: mean 10, population std 2^0.5
    assert.equal(step.offset, 10);
    assert.equal(step.scale, Math.fround(1 / Math.SQRT2));
    const { matrix } = transform(fitted, t, allRows(6));
    assert.equal(matrix[3], 0);
    assert.equal(matrix[4], Math.fround(990 * Math.fround(1 / Math.SQRT2)));
  });

  it("imputes median, most frequent and constants; min-max scales", () => {
    const t = table([
      numericColumn("a", [1, 2, 100, NaN]),
      numericColumn("b", [3, 3, 5, NaN]),
      numericColumn("c", [0, 5, 10, NaN]),
      categoricalColumn("k", ["u", "v", "v", null]),
    ]);
    const fitted = fitPreprocessor(t, allRows(4), [
      { column: "a", impute: "median" },
      { column: "b", impute: "most_frequent" },
      { column: "c", impute: { constant: -1 }, scale: "minmax" },
      { column: "k", impute: { constant: "none" } },
    ]);
    assert.deepEqual(fitted.featureNames, ["a", "b", "c", "k=none", "k=u", "k=v"]);
    const { matrix } = transform(fitted, t, Uint32Array.from([3]));
    // median of 1, 2, 100 = 2; mode 3; (-1 - (-1)) / 11 = 0; missing category → the constant, itself a category
    assert.deepEqual(Array.from(matrix), [2, 3, 0, 1, 0, 0]);
  });

  it("one-hot encodes, sending unseen, dropped and missing categories to zeros", async () => {
    const t = table([categoricalColumn("color", ["red", "red", "blue", "green", "red", "mauve", null, ""])]);
    const train = Uint32Array.from([0, 1, 2, 3, 4]);
    const fitted = fitPreprocessor(t, train, [{ column: "color", oneHot: { maxCategories: 2 } }]);
    // red (3) and then blue before green on the tie; sorted by name in the encoding
    assert.deepEqual(fitted.featureNames, ["color=blue", "color=red"]);
    const rows = allRows(8);
    const { matrix } = transform(fitted, t, rows);
    assert.deepEqual(Array.from(matrix), [0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(await runGraph(fitted, t, rows), matrix);
  });

  it("imputes the most frequent category, in JS and ONNX alike", async () => {
    const t = table([categoricalColumn("k", ["a", "b", "b", null, "", "zzz"])]);
    const fitted = fitPreprocessor(t, allRows(4), [{ column: "k", impute: "most_frequent" }]);
    const rows = allRows(6);
    const { matrix } = transform(fitted, t, rows);
    assert.deepEqual(Array.from(matrix), [1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0]);
    assert.deepEqual(await runGraph(fitted, t, rows), matrix);
  });

  it("bucketizes with boundaries going to the bucket above and NaN to zeros", async () => {
    const t = table([numericColumn("age", [5, 18, 30, 65, 90, NaN, -Infinity, Infinity])]);
    const fitted = fitPreprocessor(t, allRows(8), [{ column: "age", bucketize: { boundaries: [18, 65] } }]);
    assert.deepEqual(fitted.featureNames, ["age<18", "age[18,65)", "age>=65"]);
    const rows = allRows(8);
    const { matrix } = transform(fitted, t, rows);
    assert.deepEqual(Array.from(matrix), [1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    assert.deepEqual(await runGraph(fitted, t, rows), matrix);
  });

  it("exports a mixed pipeline that reproduces transform bit for bit", async () => {
    const n = 200;
    const x = Array.from({ length: n }, (_, i) => (i % 17 === 0 ? NaN : Math.sin(i) * 1e3 + i / 7));
    const cats = Array.from({ length: n }, (_, i) => (i % 13 === 0 ? null : `c${i % 5}`));
    const t = table([numericColumn("x", x), categoricalColumn("k", cats)]);
    const { train, validation } = trainValidationSplit(n, 0.3, 1);
    const fitted = fitPreprocessor(t, train, [
      { column: "x", impute: "median", scale: "standard" },
      { column: "x", impute: "mean", bucketize: { boundaries: [-500, 0, 500] } },
      { column: "k", impute: "most_frequent" },
    ]);
    assert.equal(fitted.inputs.length, 2);
    const { matrix } = transform(fitted, t, validation);
    assert.deepEqual(await runGraph(fitted, t, validation), matrix);
  });

  it("rejects steps that do not fit the column", () => {
    const t = table([numericColumn("x", [1, 2]), categoricalColumn("k", ["a", "b"])]);
    assert.throws(() => fitPreprocessor(t, allRows(2), [{ column: "x", oneHot: {} }]), inputError("x", "numeric", "oneHot"));
    assert.throws(() => fitPreprocessor(t, allRows(2), [{ column: "k", scale: "standard" }]), inputError("k", "categorical"));
    assert.throws(() => fitPreprocessor(t, allRows(2), [{ column: "k", impute: "mean" }]), inputError("k", "categorical", "mean"));
    assert.throws(
      () => fitPreprocessor(t, allRows(2), [{ column: "x", bucketize: { boundaries: [2, 1] } }]),
      inputError("x", "increasing"),
    );
    assert.throws(() => fitPreprocessor(t, allRows(2), [{ column: "nope" }]), inputError("nope", "x", "k"));
    assert.throws(() => fitPreprocessor(t, allRows(2), []), inputError("preprocessing"));
  });
});
