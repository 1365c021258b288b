import { categories, normal } from "./data";

/** The fixed samples the SciPy reference values were computed on. */
export const FIXTURES = {
  /** Exact KS, unequal sizes (SciPy's inside method). */
  ksSmall: { ref: normal(1, 200), cur: normal(2, 150, 0.3) },
  /** Exact KS, equal sizes (SciPy's outside-square method), integer data with ties. */
  ksSquare: { ref: normal(3, 300, 0, 10, 0), cur: normal(4, 300, 2, 10, 0) },
  /** Asymptotic KS (max size > 10,000): kstwo.sf(d, round(en)). */
  ksLarge: { ref: normal(5, 20_000), cur: normal(6, 30_000, 0.03) },
  /** Asymptotic KS with one small sample (en ≤ 140: the Durbin matrix region). */
  ksLopsided: { ref: normal(7, 120), cur: normal(8, 12_000, 0.1) },
  /** Wasserstein on continuous data (many gaps where the CDFs cross). */
  wContinuous: { ref: normal(9, 5_000, 0, 2), cur: normal(10, 4_000, 0.5, 2.5) },
  /** Wasserstein on rounded data (ties), current partly outside the reference range. */
  wTies: { ref: normal(11, 3_000, 10, 5, 1), cur: normal(12, 2_500, 14, 7, 1) },
  /** Categorical: the same categories, shifted weights. */
  cat: {
    ref: categories(13, 900, { a: 40, b: 25, c: 20, d: 10, e: 5 }),
    cur: categories(14, 700, { a: 30, b: 30, c: 20, d: 12, e: 8 }),
  },
  /** Categorical, large: Jensen–Shannon. */
  catLarge: {
    ref: categories(15, 20_000, { NYC: 30, LAX: 25, ORD: 20, ATL: 15, DEN: 10 }),
    cur: categories(16, 15_000, { NYC: 20, LAX: 25, ORD: 25, ATL: 15, DEN: 15 }),
  },
};
