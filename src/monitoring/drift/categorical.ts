/**
 * Categorical drift over the union of reference and current categories, as Evidently's stattests:
 * chi-square with the reference frequencies scaled to the current count as expected counts
 * (scipy.stats.chisquare), Jensen–Shannon distance of the two frequency vectors with the natural
 * logarithm (scipy.spatial.distance.jensenshannon's default base, which Evidently keeps), and PSI.
 */
import { type CategoricalColumn, DriftInputError, psiTerm } from "./common";
import { chiSquareSurvival } from "./distributions";
import { type CategoricalReference, countCategories } from "./reference";

export interface CategoricalComparison {
  currentCount: number;
  currentMissing: number;
  /** Infinite when the current window has a category the reference never saw (expected count 0), as SciPy. */
  chiSquare: { statistic: number; pValue: number; dof: number };
  jensenShannon: number;
  psi: number;
  /** Categories in the current window that the reference lacks: their share of non-missing values and the most frequent ones. */
  unseen: { share: number; count: number; values: { value: string; count: number }[] };
  /** Plot-ready: the `maxCategories` largest categories by reference + current share, the rest summed as `other`. */
  categories: { values: string[]; reference: number[]; current: number[]; otherReference: number; otherCurrent: number };
}

export function compareCategorical(
  feature: string,
  ref: CategoricalReference,
  current: CategoricalColumn,
  options: { maxUnseen?: number; maxCategories?: number } = {},
): CategoricalComparison {
  const { counts: cur, missing } = countCategories(current);
  const n = current.length - missing;
  if (n === 0) throw new DriftInputError(feature, "the current window has no non-missing values");
  const N = ref.count;
  const refCounts = new Map<string, number>();
  for (let i = 0; i < ref.categories.length; i++) refCounts.set(ref.categories[i], ref.counts[i]);
  const keys = [...ref.categories];
  for (const k of cur.keys()) if (!refCounts.has(k)) keys.push(k);

  const scale = n / N;
  let chi = 0;
  let js = 0;
  let psi = 0;
  const unseen: { value: string; count: number }[] = [];
  let unseenCount = 0;
  for (const k of keys) {
    const r = refCounts.get(k) ?? 0;
    const c = cur.get(k) ?? 0;
    const expected = r * scale;
    chi += expected === 0 ? (c === 0 ? 0 : Infinity) : (c - expected) ** 2 / expected;
    const p = r / N;
    const q = c / n;
    const mid = (p + q) / 2;
    if (p > 0) js += p * Math.log(p / mid);
    if (q > 0) js += q * Math.log(q / mid);
    psi += psiTerm(p, q);
    if (r === 0) {
      unseen.push({ value: k, count: c });
      unseenCount += c;
    }
  }
  const dof = keys.length - 1;
  // One category on both sides: SciPy's p-value is NaN (no degrees of freedom); there is nothing to drift.
  const pValue = dof === 0 ? 1 : chi === Infinity ? 0 : chiSquareSurvival(chi, dof);
  unseen.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));

  const maxCategories = options.maxCategories ?? 30;
  const ranked = keys
    .map((k) => ({ k, r: (refCounts.get(k) ?? 0) / N, c: (cur.get(k) ?? 0) / n }))
    .sort((a, b) => b.r + b.c - (a.r + a.c) || (a.k < b.k ? -1 : 1));
  const shown = ranked.slice(0, maxCategories);
  const rest = ranked.slice(maxCategories);
  return {
    currentCount: n,
    currentMissing: missing,
    chiSquare: { statistic: chi, pValue, dof },
    jensenShannon: Math.sqrt(Math.max(0, js) / 2),
    psi,
    unseen: { share: unseenCount / n, count: unseen.length, values: unseen.slice(0, options.maxUnseen ?? 20) },
    categories: {
      values: shown.map((x) => x.k),
      reference: shown.map((x) => x.r),
      current: shown.map((x) => x.c),
      otherReference: rest.reduce((s, x) => s + x.r, 0),
      otherCurrent: rest.reduce((s, x) => s + x.c, 0),
    },
  };
}
