import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inputError } from "../helpers/input-errors";
import { mulberry32, normalSampler } from "../../src/training/data";
import { predictClass, predictLinear, predictProba, trainLinearRegression, trainLogisticRegression } from "../../src/training/linear";

function close(actual: number, expected: number, tol: number, what = "") {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

/** n × d standard normal features from the seeded PRNG. */
function gaussian(n: number, d: number, seed: number): Float64Array {
  const normal = normalSampler(mulberry32(seed));
  const m = new Float64Array(n * d);
  for (let i = 0; i < m.length; i++) m[i] = normal();
  return m;
}

describe("ridge regression", () => {
  it("matches the closed form (X'X + λI)⁻¹X'y on a hand-made 2-feature problem", () => {
    const matrix = Float64Array.from([1, 0, 0, 1, 1, 1, 2, 1]);
    const y = [1, 2, 2.5, 4];
    const l2 = 0.5;
    // X'X = [[6, 3], [3, 3]], X'y = [1 + 2.5 + 8, 2 + 2.5 + 4] = [11.5, 8.5]
    const [a, b, c] = [6 + l2, 3, 3 + l2];
    const det = a * c - b * b;
    const w0 = (c * 11.5 - b * 8.5) / det;
    const w1 = (-b * 11.5 + a * 8.5) / det;
    const model = trainLinearRegression({ matrix, cols: 2 }, y, { l2, fitIntercept: false });
    close(model.coefficients[0]!, w0, 1e-12, "w0");
    close(model.coefficients[1]!, w1, 1e-12, "w1");
    assert.equal(model.intercept, 0);
  });

  it("recovers an exact linear relation with an unpenalized intercept", () => {
    const matrix = gaussian(50, 3, 7);
    const y = Array.from({ length: 50 }, (_, i) => 2 * matrix[i * 3]! - matrix[i * 3 + 1]! + 0.5 * matrix[i * 3 + 2]! + 3);
    const model = trainLinearRegression({ matrix, cols: 3 }, y, { l2: 0 });
    [2, -1, 0.5].forEach((w, j) => close(model.coefficients[j]!, w, 1e-9, `w${j}`));
    close(model.intercept, 3, 1e-9, "intercept");
    const pred = predictLinear(model, { matrix, cols: 3 });
    pred.forEach((p, i) => close(p, y[i]!, 1e-9, `row ${i}`));
    // The intercept is not shrunk: a large l2 sends weights to 0 and the intercept to mean(y).
    const heavy = trainLinearRegression({ matrix, cols: 3 }, y, { l2: 1e9 });
    close(heavy.intercept, y.reduce((s, v) => s + v, 0) / 50, 1e-3, "intercept under heavy l2");
  });

  it("refuses collinear features without l2", () => {
    const matrix = Float64Array.from([1, 2, 2, 4, 3, 6, 4, 8]);
    assert.throws(() => trainLinearRegression({ matrix, cols: 2 }, [1, 2, 3, 4]), inputError("l2", "singular"));
    assert.doesNotThrow(() => trainLinearRegression({ matrix, cols: 2 }, [1, 2, 3, 4], { l2: 1e-3 }));
  });
});

describe("logistic regression", () => {
  const trueW = [1.5, -2, 0.5];
  const trueB = 0.3;
  function binaryData(n: number, seed: number) {
    const matrix = gaussian(n, 3, seed);
    const u = mulberry32(seed + 1);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const z = trueB + trueW.reduce((s, w, j) => s + w * matrix[i * 3 + j]!, 0);
      y[i] = u() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    }
    return { X: { matrix: Float32Array.from(matrix), cols: 3 }, y };
  }

  it("recovers known coefficients (binary, sigmoid) and is deterministic", () => {
    const { X, y } = binaryData(20000, 42);
    const model = trainLogisticRegression(X, y, { classes: 2, l2: 1e-3, seed: 1 });
    assert.ok(model.converged, `converged after ${model.iterations} iterations`);
    assert.equal(model.coefficients.length, 3);
    trueW.forEach((w, j) => close(model.coefficients[j]!, w, 0.1, `w${j}`));
    close(model.intercepts[0]!, trueB, 0.1, "intercept");
    const again = trainLogisticRegression(X, y, { classes: 2, l2: 1e-3, seed: 1 });
    assert.deepEqual(again.coefficients, model.coefficients);
    assert.deepEqual(again.intercepts, model.intercepts);
    const p = predictProba(model, X);
    for (let i = 0; i < 10; i++) close(p[i * 2]! + p[i * 2 + 1]!, 1, 1e-12, "row sums to 1");
  });

  it("gives bit-identical coefficients on worker threads as on one thread (fixed row chunks)", () => {
    // 700k × 3 = 2.1M values: large enough for the data pass to go to workers.
    const { X, y } = binaryData(700_000, 7);
    const one = trainLogisticRegression(X, y, { classes: 2, l2: 1, threads: 1 });
    const two = trainLogisticRegression(X, y, { classes: 2, l2: 1, threads: 2 });
    assert.ok(one.converged);
    assert.deepEqual(two.coefficients, one.coefficients);
    assert.deepEqual(two.intercepts, one.intercepts);
    assert.equal(two.iterations, one.iterations);
    trueW.forEach((w, j) => close(one.coefficients[j]!, w, 0.05, `w${j}`));
  });

  it("fits 3 classes with softmax and classifies well", () => {
    const n = 3000;
    const matrix = gaussian(n, 2, 9);
    const centres = [
      [0, 3],
      [3, -2],
      [-3, -2],
    ];
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 3;
      matrix[i * 2] = matrix[i * 2]! + centres[i % 3]![0]!;
      matrix[i * 2 + 1] = matrix[i * 2 + 1]! + centres[i % 3]![1]!;
    }
    const X = { matrix, cols: 2 };
    const model = trainLogisticRegression(X, y, { classes: 3, l2: 1 });
    assert.ok(model.converged);
    assert.equal(model.coefficients.length, 6);
    const pred = predictClass(model, X);
    const accuracy = pred.reduce((s, c, i) => s + (c === y[i] ? 1 : 0), 0) / n;
    assert.ok(accuracy > 0.95, `accuracy ${accuracy}`);
    const p = predictProba(model, X);
    close(p[0]! + p[1]! + p[2]!, 1, 1e-12, "row sums to 1");
  });

  it("rejects labels outside the classes", () => {
    assert.throws(() => trainLogisticRegression({ matrix: new Float64Array(2), cols: 1 }, [0, 2], { classes: 2 }), inputError("y", "2"));
    assert.throws(() => trainLogisticRegression({ matrix: new Float64Array(2), cols: 1 }, [0, 1], { classes: 1 }), inputError("classes"));
    assert.throws(() => trainLinearRegression({ matrix: new Float64Array(2), cols: 1 }, [0, 1], { l2: -1 }), inputError("l2"));
  });
});
