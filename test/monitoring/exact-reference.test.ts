import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { driftReport, EXACT_REFERENCE_VALUES, summarizeReference, type NumericReference } from "../../src/monitoring/drift";
import { normal } from "./data";

/**
 * Drift statistics are exact against the whole reference up to EXACT_REFERENCE_VALUES values per
 * feature, and labelled as sampled above. Checked on a reference larger than the old 100,000-value
 * sample against a plain two-sample KS computed here, and against SciPy when it is installed.
 */

/** The two-sample KS statistic sup |F_ref − F_cur|, by merging the two sorted samples: the textbook way. */
function plainKs(a: Float64Array, b: Float64Array): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/** Plain 1-Wasserstein distance: ∫|F_ref − F_cur| over the merged sorted values. */
function plainWasserstein(a: Float64Array, b: Float64Array): number {
  const all = Float64Array.from([...a, ...b]).sort();
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let w = 0;
  for (let k = 0; k < all.length - 1; k++) {
    while (i < x.length && x[i] <= all[k]) i++;
    while (j < y.length && y[j] <= all[k]) j++;
    w += Math.abs(i / x.length - j / y.length) * (all[k + 1] - all[k]);
  }
  return w;
}

/** SciPy's ks_2samp and wasserstein_distance on the same arrays, or undefined when SciPy is not importable. */
function scipy(ref: Float64Array, cur: Float64Array): { d: number; p: number; w: number } | undefined {
  const probe = spawnSync("/usr/bin/python3", ["-c", "import scipy"], { encoding: "utf8" });
  if (probe.status !== 0) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-scipy-"));
  try {
    fs.writeFileSync(path.join(dir, "ref.f64"), Buffer.from(ref.buffer));
    fs.writeFileSync(path.join(dir, "cur.f64"), Buffer.from(cur.buffer));
    const script = [
      "import json, sys, numpy as np",
      "from scipy import stats",
      "ref = np.fromfile(sys.argv[1], dtype='<f8'); cur = np.fromfile(sys.argv[2], dtype='<f8')",
      "r = stats.ks_2samp(ref, cur)",
      "print(json.dumps({'d': float(r.statistic), 'p': float(r.pvalue), 'w': float(stats.wasserstein_distance(ref, cur))}))",
    ].join("\n");
    const out = spawnSync("/usr/bin/python3", ["-c", script, path.join(dir, "ref.f64"), path.join(dir, "cur.f64")], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout) as { d: number; p: number; w: number };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("exact drift statistics by default", () => {
  // 150,000 reference values: above the old default sample of 100,000.
  const ref = normal(11, 150_000, 0, 1);
  const cur = normal(12, 4_000, 0.05, 1.02);
  const reference = summarizeReference({ x: ref });
  const report = driftReport(reference, { x: cur }, { features: { x: { method: "ks" } } });
  const feature = report.features[0];

  it("keeps every reference value below the limit, and says the statistics are not sampled", () => {
    const summary = reference.features.x as NumericReference;
    assert.equal(summary.exact, true);
    assert.equal(summary.sample.length, 150_000);
    assert.equal(feature.referenceSampled, false);
    assert.equal(feature.referenceSampleSize, 150_000);
    assert.equal(report.sampled, false);
  });

  it("computes the KS statistic and Wasserstein distance of the full reference", () => {
    const d = plainKs(ref, cur);
    assert.ok(Math.abs(feature.statistic - d) <= 1e-12, `KS ${feature.statistic} vs ${d}`);
    const w = plainWasserstein(ref, cur);
    assert.ok(Math.abs(feature.numeric!.wasserstein - w) <= 1e-9 * Math.max(1, w), `W1 ${feature.numeric!.wasserstein} vs ${w}`);
  });

  it("matches SciPy's ks_2samp and wasserstein_distance on the full reference", (t) => {
    const expected = scipy(ref, cur);
    if (!expected) {
      t.skip("SciPy is not importable by /usr/bin/python3");
      return;
    }
    assert.ok(Math.abs(feature.statistic - expected.d) <= 1e-12, `KS ${feature.statistic} vs SciPy ${expected.d}`);
    assert.ok(Math.abs(feature.pValue! - expected.p) <= 1e-6 * expected.p, `p ${feature.pValue} vs SciPy ${expected.p}`);
    assert.ok(Math.abs(feature.numeric!.wasserstein - expected.w) <= 1e-9, `W1 ${feature.numeric!.wasserstein} vs SciPy ${expected.w}`);
  });

  it("labels a statistic computed on a sample of a larger reference as sampled, within 1/k of the exact one", () => {
    const k = 100_000;
    const sampled = driftReport(summarizeReference({ x: ref }, { maxSample: k }), { x: cur }, { features: { x: { method: "ks" } } });
    const f = sampled.features[0];
    assert.equal(f.referenceSampled, true);
    assert.equal(f.referenceSampleSize, k);
    assert.equal(f.referenceCount, 150_000);
    assert.equal(sampled.sampled, true);
    assert.ok(Math.abs(f.statistic - plainKs(ref, cur)) <= 1 / k);
  });

  it("samples by default only above EXACT_REFERENCE_VALUES values", () => {
    const big = new Float64Array(EXACT_REFERENCE_VALUES + 1);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 1000;
    const summary = summarizeReference({ x: big }).features.x as NumericReference;
    assert.equal(summary.exact, false);
    assert.equal(summary.sample.length, EXACT_REFERENCE_VALUES);
    const atLimit = summarizeReference({ x: big.subarray(0, EXACT_REFERENCE_VALUES) }).features.x as NumericReference;
    assert.equal(atLimit.exact, true);
  });

  it("never samples categorical references", () => {
    const r = driftReport(summarizeReference({ c: ["a", "b", "a"] }), { c: ["a", "b", "b"] });
    assert.equal(r.features[0].referenceSampled, false);
    assert.equal(r.features[0].referenceSampleSize, 3);
    assert.equal(r.sampled, false);
  });
});
