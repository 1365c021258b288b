/**
 * A seeded table with numeric (some missing) and categorical inputs and a numeric score built from
 * them: what the export tests train on, so the linear and the strict-ONNX exports see the same data.
 */
import { categoricalColumn, mulberry32, normalSampler, numericColumn, table, type Table } from "../../src/training/data";

/** The categories of the `city` column; each moves the score by its own amount. */
export const CITIES = ["oslo", "lyon", "porto", "graz"];

/** `n` rows of `a` (numeric), `b` (numeric, about 10% missing) and `city` (about 5% null), and their score. */
export function synthetic(n: number, seed: number): { t: Table; score: Float64Array } {
  const u = mulberry32(seed);
  const normal = normalSampler(u);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const city: Array<string | null> = [];
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = 50 + 10 * normal();
    b[i] = u() < 0.1 ? NaN : normal();
    const c = Math.floor(u() * CITIES.length);
    city.push(u() < 0.05 ? null : CITIES[c]!);
    score[i] = 0.08 * (a[i]! - 50) - 1.2 * (Number.isNaN(b[i]!) ? 0 : b[i]!) + [0.5, -0.5, 1, 0][c]! + 0.3 * normal();
  }
  return { t: table([numericColumn("a", a), numericColumn("b", b), categoricalColumn("city", city)]), score };
}
