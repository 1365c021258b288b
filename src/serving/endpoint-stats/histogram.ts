/**
 * The latency histogram of endpoint statistics: fixed bucket bounds (so minute rows from every
 * server process add up element by element), and quantiles estimated from bucket counts the way
 * Prometheus's `histogram_quantile` does. Pure: no I/O.
 */

/**
 * Upper bounds of the latency buckets, in milliseconds; a request of `ms` falls in the first
 * bucket whose bound is >= ms, and past the last finite bound in a final +Inf bucket. The stored
 * arrays have `LATENCY_BUCKET_BOUNDS_MS.length + 1` counts (not cumulative). Changing the bounds
 * needs a migration of the stored arrays: rows of different lengths cannot be added.
 */
export const LATENCY_BUCKET_BOUNDS_MS: readonly number[] = Object.freeze([
  0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
]);

/** Number of stored buckets: one per bound plus the +Inf bucket. */
export const LATENCY_BUCKETS = LATENCY_BUCKET_BOUNDS_MS.length + 1;

/** The bucket `ms` falls in (the last, +Inf, for anything over the largest bound). */
export function latencyBucket(ms: number, bounds: readonly number[] = LATENCY_BUCKET_BOUNDS_MS): number {
  for (let i = 0; i < bounds.length; i++) if (ms <= bounds[i]!) return i;
  return bounds.length;
}

/** An empty histogram (all counts zero). */
export function emptyBuckets(bounds: readonly number[] = LATENCY_BUCKET_BOUNDS_MS): number[] {
  return new Array<number>(bounds.length + 1).fill(0);
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of the observations counted in `counts` (one count per bucket, not
 * cumulative; `counts.length === bounds.length + 1`, the last being +Inf). An ESTIMATE from the
 * buckets, as Prometheus's `histogram_quantile`: the bucket holding the q·total-th observation is
 * found, and the value interpolated linearly between its lower bound (the previous bucket's upper
 * bound, or 0 for the first) and its upper bound — so the answer is exact only at bucket bounds.
 * A quantile falling in the +Inf bucket answers the largest finite bound. Null when there are no
 * observations.
 *
 * @throws RangeError when q is outside [0, 1] or the counts do not match the bounds
 */
export function histogramQuantile(
  q: number,
  counts: readonly number[],
  bounds: readonly number[] = LATENCY_BUCKET_BOUNDS_MS,
): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  if (counts.length !== bounds.length + 1) {
    throw new RangeError(`${counts.length} bucket counts for ${bounds.length} bounds: expected ${bounds.length + 1} (the last is +Inf)`);
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (count > 0 && below + count >= rank) {
      if (i === bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return bounds[bounds.length - 1]!;
}

/** `into[i] += add[i]` for every bucket. */
export function addBuckets(into: number[], add: readonly number[]): number[] {
  for (let i = 0; i < add.length; i++) into[i] = (into[i] ?? 0) + add[i]!;
  return into;
}
