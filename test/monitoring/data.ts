/**
 * Seeded test data for the drift tests. The reference values in the tests were computed once
 * with SciPy 1.10.1 (Debian's python3-scipy) on exactly these arrays; Python is not needed to run them.
 */

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n normal(mean, sd) values by Box–Muller; `round` keeps that many decimals (0: integers, ties galore). */
export function normal(seed: number, n: number, mean = 0, sd = 1, round?: number): Float64Array {
  const u = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    const v = mean + sd * z;
    out[i] = round === undefined ? v : Math.round(v * 10 ** round) / 10 ** round;
  }
  return out;
}

/** n categories drawn with the given weights. */
export function categories(seed: number, n: number, weights: Record<string, number>): string[] {
  const u = rng(seed);
  const keys = Object.keys(weights);
  const total = keys.reduce((s, k) => s + weights[k], 0);
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let x = u() * total;
    let k = 0;
    while (k < keys.length - 1 && x >= weights[keys[k]]) x -= weights[keys[k++]];
    out[i] = keys[k];
  }
  return out;
}
