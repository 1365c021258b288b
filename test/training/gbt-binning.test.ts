import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyBins, binOf, fitBins, MISSING_BIN, sortFloat32, thresholdBetween } from "../../src/training/gbt/binning";
import { inputError } from "../helpers/input-errors";
import { prng } from "./gbt-data";

/** The next float32 above a float32 value (positive, finite). */
function nextUp(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0]! += x >= 0 ? 1 : -1;
  return f[0]!;
}

describe("gbt binning", () => {
  it("gives one bin per distinct value when there are few, with thresholds between them", () => {
    const X = Float64Array.from([3, 1, 2, 1, NaN, 3, 2, 2]);
    const m = fitBins(X, 8, 1);
    assert.deepEqual(Array.from(m.thresholds[0]!), [1.5, 2.5]);
    assert.equal(m.hasMissing[0], true);
    const b = applyBins(m, X, 8, 1);
    assert.deepEqual(Array.from(b.bins), [2, 0, 1, 0, MISSING_BIN, 2, 1, 1]);
  });

  it("caps the bins at maxBins with roughly equal counts on continuous data", () => {
    const rand = prng(7);
    const n = 10000;
    const X = Float64Array.from({ length: n }, () => rand() * 100);
    for (const maxBins of [255, 16]) {
      const m = fitBins(X, n, 1, { maxBins });
      const t = m.thresholds[0]!;
      assert.ok(t.length <= maxBins - 1 && t.length >= maxBins - 2, `${t.length} thresholds for maxBins ${maxBins}`);
      for (let i = 1; i < t.length; i++) assert.ok(t[i]! > t[i - 1]!, "thresholds strictly increase");
      const counts = new Array<number>(t.length + 1).fill(0);
      for (const v of X) counts[binOf(t, v)]!++;
      const expected = n / (t.length + 1);
      for (const c of counts) assert.ok(c > expected * 0.5 && c < expected * 1.5, `bin count ${c} vs ~${expected}`);
      assert.equal(m.hasMissing[0], false);
    }
  });

  it("radix-sorts float32 values like a numeric sort, signs and infinities included", () => {
    const rand = prng(3);
    const v = Float32Array.from({ length: 5000 }, (_, i) =>
      i % 97 === 0 ? [Infinity, -Infinity, 0, 1e-45][i % 4]! : (rand() - 0.5) * 10 ** ((i % 9) - 4),
    );
    assert.deepEqual(Array.from(sortFloat32(v)), Array.from(v.slice().sort()));
  });

  it("fits on the given training rows only", () => {
    const X = Float64Array.from([0, 1, 2, 100, 200]);
    const m = fitBins(X, 5, 1, { rowIndices: [0, 1, 2] });
    assert.deepEqual(Array.from(m.thresholds[0]!), [0.5, 1.5]);
  });

  it("separates adjacent float32 values", () => {
    const a = Math.fround(1.1);
    const b = nextUp(a);
    const t = thresholdBetween(a, b);
    assert.ok(a <= t && t < b);
    assert.equal(Math.fround(t), t);
  });

  it("routes every value by float32 threshold comparison exactly as by bins (the ONNX equivalence)", () => {
    const rand = prng(11);
    const n = 4000;
    const cols = 3;
    const X = new Float64Array(n * cols);
    for (let r = 0; r < n; r++) {
      // continuous doubles (many share a float32), a few distinct float32 neighbours, heavy ties + extremes
      X[r * cols] = rand() * 2 - 1;
      X[r * cols + 1] = r % 7 === 0 ? NaN : nextUp(Math.fround(0.3)) * (1 + (r % 5) * 1.2e-7);
      X[r * cols + 2] = [0, 1e30, -1e30, Infinity, -Infinity, 5e-324, 3.4028235677973366e38][r % 7]!;
    }
    const extremes = fitBins(X, n, cols).thresholds[2]!;
    // 5e-324 rounds to float32 0 and the value just past FLT_MAX to Infinity: five distinct float32 values
    assert.equal(extremes.length, 4);
    assert.ok(extremes.every((t) => !Number.isNaN(t)));
    for (const maxBins of [255, 32, 3]) {
      const m = fitBins(X, n, cols, { maxBins });
      const binned = applyBins(m, X, n, cols);
      // values never seen in training too: thresholds themselves, their float32 neighbours, and doubles just around them
      const probes: number[] = [];
      for (const t of m.thresholds) for (const v of t) probes.push(v, nextUp(v), v + 1e-12, v - 1e-12, v * (1 + 1e-9));
      for (let f = 0; f < cols; f++) {
        const t = m.thresholds[f]!;
        for (let r = 0; r < n; r++) {
          const v = X[r * cols + f]!;
          const bin = binned.bins[f * n + r]!;
          if (Number.isNaN(v)) {
            assert.equal(bin, MISSING_BIN);
            continue;
          }
          for (let s = 0; s < t.length; s++) assert.equal(bin <= s, Math.fround(v) <= t[s]!, `feature ${f} value ${v} split ${s}`);
        }
        for (const v of probes) {
          const bin = binOf(t, v);
          for (let s = 0; s < t.length; s++) assert.equal(bin <= s, Math.fround(v) <= t[s]!);
        }
      }
    }
  });

  it("rejects maxBins outside [2, 255]", () => {
    assert.throws(() => fitBins(new Float64Array(1), 1, 1, { maxBins: 256 }), inputError("maxBins", "256"));
    assert.throws(() => fitBins(new Float64Array(1), 1, 1, { maxBins: 1 }), inputError("maxBins", "1"));
  });
});
