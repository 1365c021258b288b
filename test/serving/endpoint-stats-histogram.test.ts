import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  LATENCY_BUCKET_BOUNDS_MS,
  LATENCY_BUCKETS,
  emptyBuckets,
  histogramQuantile,
  latencyBucket,
} from "../../src/serving/endpoint-stats/histogram";

describe("latency buckets and quantiles from them", () => {
  it("puts a latency in the first bucket whose bound is at least it, and past the last bound in +Inf", () => {
    assert.equal(LATENCY_BUCKETS, LATENCY_BUCKET_BOUNDS_MS.length + 1);
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(0.25), 0);
    assert.equal(latencyBucket(0.26), 1);
    assert.equal(latencyBucket(1), 2);
    assert.equal(latencyBucket(7), 5); // (5, 10]
    assert.equal(latencyBucket(10_000), LATENCY_BUCKET_BOUNDS_MS.length - 1);
    assert.equal(latencyBucket(10_001), LATENCY_BUCKET_BOUNDS_MS.length);
  });

  it("interpolates inside the bucket holding the rank, as histogram_quantile does (hand-computed)", () => {
    const bounds = [1, 2, 5, 10];
    // 10 observations in (0,1], 30 in (1,2], 50 in (2,5], 10 in (5,10]: 100 in all.
    const counts = [10, 30, 50, 10, 0];
    // p50: rank 50; 40 below bucket (2,5] of 50 → 2 + 3 × (10/50) = 2.6
    assert.equal(histogramQuantile(0.5, counts, bounds), 2.6);
    // p99: rank 99; 90 below (5,10] of 10 → 5 + 5 × (9/10) = 9.5
    assert.equal(histogramQuantile(0.99, counts, bounds), 9.5);
    // p10: rank 10, all of the first bucket → its upper bound
    assert.equal(histogramQuantile(0.1, counts, bounds), 1);
    // p5: rank 5 in (0,1] → 0.5
    assert.equal(histogramQuantile(0.05, counts, bounds), 0.5);
    // p100: the top of the last non-empty bucket
    assert.equal(histogramQuantile(1, counts, bounds), 10);
  });

  it("answers the largest finite bound for a quantile in +Inf, and null without observations", () => {
    const bounds = [1, 2];
    assert.equal(histogramQuantile(0.99, [1, 0, 99], bounds), 2);
    assert.equal(histogramQuantile(0.5, [0, 0, 0], bounds), null);
    assert.equal(histogramQuantile(0.5, emptyBuckets()), null);
  });

  it("skips empty buckets and works on the default bounds", () => {
    const counts = emptyBuckets();
    counts[latencyBucket(3)] = 4; // (2,5]
    counts[latencyBucket(40)] = 4; // (25,50]
    // p50: rank 4, all of (2,5] → 5; p75: rank 6, 2 of 4 in (25,50] → 37.5
    assert.equal(histogramQuantile(0.5, counts), 5);
    assert.equal(histogramQuantile(0.75, counts), 37.5);
  });

  it("refuses a quantile outside [0, 1] and counts that do not match the bounds", () => {
    assert.throws(() => histogramQuantile(1.5, [1, 1], [1]), RangeError);
    assert.throws(() => histogramQuantile(Number.NaN, [1, 1], [1]), RangeError);
    assert.throws(() => histogramQuantile(0.5, [1, 1, 1], [1]), /3 bucket counts for 1 bounds/);
  });
});
