import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import { numericColumn, table, trainValidationSplit } from "../../src/training/data";
import { inputError } from "../helpers/input-errors";
import { decodeModel, ExportMismatchError, exportLinearModel, verifyExport } from "../../src/training/export-linear";
import { predictLinear, predictProba, trainLinearRegression, trainLogisticRegression } from "../../src/training/linear";
import { fitPreprocessor, transform, type PreprocessStep } from "../../src/training/preprocess";
import { synthetic } from "./mixed-data";

const STEPS: PreprocessStep[] = [
  { column: "a", scale: "standard" },
  { column: "a", bucketize: { boundaries: [40, 60] } },
  { column: "b", impute: "median", scale: "minmax" },
  { column: "city", impute: "most_frequent" },
];

function setup(n: number, seed: number) {
  const { t, score } = synthetic(n, seed);
  const { train, validation } = trainValidationSplit(n, 0.25, seed);
  const fitted = fitPreprocessor(t, train, STEPS);
  const Xtrain = transform(fitted, t, train);
  const Xval = transform(fitted, t, validation);
  return { t, score, train, validation, fitted, Xtrain, Xval };
}

describe("linear model export", () => {
  it("ridge with numeric and categorical inputs reproduces the trainer within 1e-5", async () => {
    const { t, score, train, validation, fitted, Xtrain, Xval } = setup(2000, 3);
    const y = Float64Array.from(train, (r) => 100 * score[r]! + 1000); // large targets exercise the relative bound
    const model = trainLinearRegression(Xtrain, y, { l2: 1 });
    const { bytes, signature } = exportLinearModel(fitted, model);
    assert.deepEqual(signature, {
      inputs: [
        { name: "a", type: "float", shape: [null, 1] },
        { name: "b", type: "float", shape: [null, 1] },
        { name: "city", type: "string", shape: [null, 1] },
      ],
      outputs: [{ name: "variable", type: "float", shape: [null, 1] }],
    });
    const expected = predictLinear(model, Xval);
    const result = await verifyExport(bytes, t, validation, { kind: "regression", values: expected });
    assert.equal(result.rows, 500);
    assert.ok(result.maxAbsDiff < 1e-2, `max abs diff ${result.maxAbsDiff}`);
  });

  it("binary logistic regression: labels and [1 - p, p] probabilities", async () => {
    const { t, score, train, validation, fitted, Xtrain, Xval } = setup(2000, 4);
    const y = Int32Array.from(train, (r) => (score[r]! > 0.2 ? 1 : 0));
    const model = trainLogisticRegression(Xtrain, y, { classes: 2, l2: 1 });
    const { bytes, signature } = exportLinearModel(fitted, model);
    assert.deepEqual(signature.outputs, [
      { name: "label", type: "int64", shape: [null] },
      { name: "probabilities", type: "float", shape: [null, 2] },
    ]);
    const result = await verifyExport(bytes, t, validation, {
      kind: "classification",
      classes: 2,
      probabilities: predictProba(model, Xval),
    });
    assert.ok(result.maxAbsDiff < 1e-5, `max abs diff ${result.maxAbsDiff}`);
  });

  it("multinomial logistic regression with softmax", async () => {
    const { t, score, train, validation, fitted, Xtrain, Xval } = setup(2000, 5);
    const y = Int32Array.from(train, (r) => (score[r]! < -0.5 ? 0 : score[r]! < 0.5 ? 1 : 2));
    const model = trainLogisticRegression(Xtrain, y, { classes: 3, l2: 1 });
    const { bytes } = exportLinearModel(fitted, model);
    const result = await verifyExport(bytes, t, validation, {
      kind: "classification",
      classes: 3,
      probabilities: predictProba(model, Xval),
    });
    assert.ok(result.maxAbsDiff < 1e-5, `max abs diff ${result.maxAbsDiff}`);
    // The graph runs as serving would run it, one row and a category it never saw included.
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({
      a: new ort.Tensor("float32", Float32Array.from([50]), [1, 1]),
      b: new ort.Tensor("float32", Float32Array.from([NaN]), [1, 1]),
      city: new ort.Tensor("string", ["atlantis"], [1, 1]),
    });
    await session.release();
    assert.deepEqual(out.probabilities!.dims, [1, 3]);
  });

  it("a model changed after export fails verification", async () => {
    const { t, score, train, validation, fitted, Xtrain, Xval } = setup(1000, 6);
    const y = Int32Array.from(train, (r) => (score[r]! > 0 ? 1 : 0));
    const model = trainLogisticRegression(Xtrain, y, { classes: 2, l2: 1 });
    const proto = decodeModel(exportLinearModel(fitted, model).bytes);
    const node = proto.graph?.node?.find((nd) => nd.opType === "LinearClassifier");
    const coefficients = node?.attribute?.find((at) => at.name === "coefficients")?.floats;
    assert.ok(coefficients && coefficients.length > 0);
    coefficients[0] = coefficients[0]! + 0.5;
    const corrupted = onnx.ModelProto.encode(proto).finish();
    await assert.rejects(
      verifyExport(corrupted, t, validation, { kind: "classification", classes: 2, probabilities: predictProba(model, Xval) }),
      (err: unknown) => err instanceof ExportMismatchError && /does not reproduce the trainer/.test(err.message),
    );
  });

  it("refuses a column whose name clashes with the graph's outputs", () => {
    const t = table([numericColumn("variable", [1, 2, 3])]);
    const rows = Uint32Array.from([0, 1, 2]);
    const fitted = fitPreprocessor(t, rows, [{ column: "variable" }]);
    const model = trainLinearRegression(transform(fitted, t, rows), [1, 2, 3]);
    assert.throws(() => exportLinearModel(fitted, model), inputError("variable", "rename"));
  });
});
