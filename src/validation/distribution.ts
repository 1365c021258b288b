import type { DuckDBConnection } from "@duckdb/node-api";
import { queryJson, sqlIdent } from "../datasets/columnar";
import { sqlNumber } from "./predicates";

/**
 * Distribution distances between a current and a reference sample of one column, computed in
 * DuckDB so that neither side is ever loaded into JavaScript: only bins (at most `maxBins`) and
 * single numbers come back. Shared by validation suites and drift monitoring.
 *
 * `currentSql` and `referenceSql` are FROM-clause relations: `read_parquet('a.parquet')`, a table
 * name, or a parenthesized subquery. Null values are left out on both sides.
 */

export interface PsiBin {
  /** The category, or the numeric bin as `[lower, upper)`. */
  label: string;
  /** Numeric bins only: bounds, null for the open ends. */
  lower?: number | null;
  upper?: number | null;
  referenceCount: number;
  currentCount: number;
  /** Shares of the non-null rows of each side; an empty bin counts as `epsilon`. */
  referenceShare: number;
  currentShare: number;
  /** This bin's term of the sum: (current − reference) · ln(current / reference). */
  contribution: number;
}

export interface PsiResult {
  psi: number;
  referenceCount: number;
  currentCount: number;
  /** How many bins or categories the sum ran over. */
  binCount: number;
  /** Numeric: every bin in order. Categorical: the `maxBins` largest contributions, largest first. */
  bins: PsiBin[];
}

export interface PsiOptions {
  /** Numeric bins, cut at the reference's quantiles. @default 10 */
  bins?: number;
  /** The share an empty bin counts as, so the logarithm stays finite. @default 1e-4 */
  epsilon?: number;
  /** Categorical bins returned (the PSI always sums over every category). @default 20 */
  maxBins?: number;
}

export interface KsResult {
  /** D: the largest absolute difference between the two empirical CDFs. */
  statistic: number;
  /** Two-sided, from the asymptotic Kolmogorov distribution; rough for samples under ~50 values. */
  pValue: number;
  referenceCount: number;
  currentCount: number;
}

/** Thrown when a side has no non-null values, so that no distance exists. */
export class EmptySampleError extends Error {
  constructor(side: "current" | "reference", column: string) {
    super(`the ${side} data has no non-null values in column ${JSON.stringify(column)}`);
    this.name = "EmptySampleError";
  }
}

const num = (v: unknown): number => Number(v);

/**
 * PSI of a numeric column over quantile bins of the reference: with `k` bins the cut points are
 * the reference's quantiles (`quantile_cont`) at 1/k … (k−1)/k, duplicates merged, and bin i holds
 * values `v` with `cut[i-1] <= v < cut[i]`.
 */
export async function psiNumeric(
  conn: DuckDBConnection,
  currentSql: string,
  referenceSql: string,
  column: string,
  options: PsiOptions = {},
): Promise<PsiResult> {
  const bins = options.bins ?? 10;
  const epsilon = options.epsilon ?? 1e-4;
  const c = sqlIdent(column);
  const v = `CAST(${c} AS DOUBLE)`;
  const qs = Array.from({ length: bins - 1 }, (_, i) => (i + 1) / bins);
  const [edgeRow] = await queryJson(conn, `SELECT quantile_cont(${v}, [${qs.join(", ")}]) AS cuts, count(${c}) AS n FROM ${referenceSql}`);
  if (num(edgeRow.n) === 0) throw new EmptySampleError("reference", column);
  // Quantiles of discrete data repeat; a repeated cut would only make an always-empty bin.
  const cuts = [...new Set((edgeRow.cuts as unknown[]).map(num).filter(Number.isFinite))].sort((a, b) => a - b);
  const binOf =
    cuts.length === 0 ? "0" : `CASE ${cuts.map((cut, i) => `WHEN ${v} < ${sqlNumber(cut)} THEN ${i}`).join(" ")} ELSE ${cuts.length} END`;
  const rows = await queryJson(
    conn,
    `WITH r AS (SELECT ${binOf} AS b, count(*) AS n FROM ${referenceSql} WHERE ${c} IS NOT NULL GROUP BY b),
          k AS (SELECT ${binOf} AS b, count(*) AS n FROM ${currentSql} WHERE ${c} IS NOT NULL GROUP BY b),
          all_bins AS (SELECT unnest(range(${cuts.length + 1})) AS b)
     ${sharesSql("all_bins.b AS b", "all_bins LEFT JOIN r ON r.b = all_bins.b LEFT JOIN k ON k.b = all_bins.b", epsilon)}
     ORDER BY b`,
  );
  const result = psiFrom(rows, column);
  result.bins = rows.map((row) => {
    const b = num(row.b);
    const lower = b === 0 ? null : cuts[b - 1];
    const upper = b === cuts.length ? null : cuts[b];
    return { label: `[${lower ?? "-inf"}, ${upper ?? "inf"})`, lower, upper, ...binCounts(row) };
  });
  return result;
}

/** PSI over categories (values compared as text); a category missing on one side counts as `epsilon`. */
export async function psiCategorical(
  conn: DuckDBConnection,
  currentSql: string,
  referenceSql: string,
  column: string,
  options: PsiOptions = {},
): Promise<PsiResult> {
  const epsilon = options.epsilon ?? 1e-4;
  const maxBins = options.maxBins ?? 20;
  const c = sqlIdent(column);
  const rows = await queryJson(
    conn,
    `WITH r AS (SELECT CAST(${c} AS VARCHAR) AS b, count(*) AS n FROM ${referenceSql} WHERE ${c} IS NOT NULL GROUP BY b),
          k AS (SELECT CAST(${c} AS VARCHAR) AS b, count(*) AS n FROM ${currentSql} WHERE ${c} IS NOT NULL GROUP BY b)
     SELECT * FROM (${sharesSql("coalesce(r.b, k.b) AS b", "r FULL OUTER JOIN k ON r.b = k.b", epsilon)})
     ORDER BY contribution DESC, b LIMIT ${Math.max(1, Math.floor(maxBins))}`,
  );
  const result = psiFrom(rows, column);
  result.bins = rows.map((row) => ({ label: String(row.b), ...binCounts(row) }));
  return result;
}

/** PSI with numeric bins for numeric columns and categories for any other. */
export async function psi(
  conn: DuckDBConnection,
  currentSql: string,
  referenceSql: string,
  column: string,
  numeric: boolean,
  options: PsiOptions = {},
): Promise<PsiResult> {
  return numeric
    ? psiNumeric(conn, currentSql, referenceSql, column, options)
    : psiCategorical(conn, currentSql, referenceSql, column, options);
}

/**
 * Per-bin counts, shares and PSI terms over `r` (reference) and `k` (current) counts joined by
 * `joinSql`; every row also carries the totals and the whole sum, so a LIMIT on bins keeps them.
 */
function sharesSql(binSelect: string, joinSql: string, epsilon: number): string {
  const eps = sqlNumber(epsilon);
  return `SELECT *, (cs - rs) * ln(cs / rs) AS contribution, sum((cs - rs) * ln(cs / rs)) OVER () AS psi, count(*) OVER () AS bin_count
          FROM (SELECT *, CASE WHEN rn = 0 THEN ${eps} ELSE rn / r_total END AS rs, CASE WHEN cn = 0 THEN ${eps} ELSE cn / c_total END AS cs
                FROM (SELECT *, sum(rn) OVER () AS r_total, sum(cn) OVER () AS c_total
                      FROM (SELECT ${binSelect}, CAST(coalesce(r.n, 0) AS DOUBLE) AS rn, CAST(coalesce(k.n, 0) AS DOUBLE) AS cn FROM ${joinSql})))`;
}

function psiFrom(rows: Record<string, unknown>[], column: string): PsiResult {
  const first = rows[0];
  if (!first || num(first.r_total) === 0) throw new EmptySampleError("reference", column);
  if (num(first.c_total) === 0) throw new EmptySampleError("current", column);
  return {
    psi: num(first.psi),
    referenceCount: num(first.r_total),
    currentCount: num(first.c_total),
    binCount: num(first.bin_count),
    bins: [],
  };
}

function binCounts(row: Record<string, unknown>): Omit<PsiBin, "label" | "lower" | "upper"> {
  return {
    referenceCount: num(row.rn),
    currentCount: num(row.cn),
    referenceShare: num(row.rs),
    currentShare: num(row.cs),
    contribution: num(row.contribution),
  };
}

/**
 * The two-sample Kolmogorov–Smirnov statistic of a numeric column: both samples are reduced to
 * counts per distinct value, and D is the largest gap between the running shares.
 */
export async function ksTest(conn: DuckDBConnection, currentSql: string, referenceSql: string, column: string): Promise<KsResult> {
  const c = sqlIdent(column);
  const v = `CAST(${c} AS DOUBLE)`;
  const [row] = await queryJson(
    conn,
    `WITH k AS (SELECT ${v} AS v, count(*) AS n FROM ${currentSql} WHERE ${c} IS NOT NULL GROUP BY v),
          r AS (SELECT ${v} AS v, count(*) AS n FROM ${referenceSql} WHERE ${c} IS NOT NULL GROUP BY v),
          j AS (SELECT coalesce(k.v, r.v) AS v, CAST(coalesce(k.n, 0) AS DOUBLE) AS kn, CAST(coalesce(r.n, 0) AS DOUBLE) AS rn
                FROM k FULL OUTER JOIN r ON k.v = r.v),
          cdf AS (SELECT sum(kn) OVER w AS kc, sum(rn) OVER w AS rc, sum(kn) OVER () AS k_total, sum(rn) OVER () AS r_total
                  FROM j WINDOW w AS (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
     SELECT max(abs(kc / k_total - rc / r_total)) AS d, any_value(k_total) AS n, any_value(r_total) AS m FROM cdf`,
  );
  const n = num(row?.n ?? 0);
  const m = num(row?.m ?? 0);
  if (!(n > 0)) throw new EmptySampleError("current", column);
  if (!(m > 0)) throw new EmptySampleError("reference", column);
  const statistic = num(row.d);
  return { statistic, pValue: ksPValue(statistic, n, m), currentCount: n, referenceCount: m };
}

/**
 * The asymptotic two-sided p-value of a two-sample KS statistic `d` for sample sizes `n` and `m`:
 * Q(√(nm/(n+m)) · d), Q being the Kolmogorov survival function.
 */
export function ksPValue(d: number, n: number, m: number): number {
  if (!(d > 0)) return 1;
  return kolmogorovSurvival(Math.sqrt((n * m) / (n + m)) * d);
}

/** P(K > x) for the Kolmogorov distribution, by whichever of its two series converges fast at x. */
export function kolmogorovSurvival(x: number): number {
  if (x <= 0) return 1;
  if (x < 1) {
    // The alternating series needs many terms near 0; Jacobi's form converges fast there.
    const k = (Math.PI * Math.PI) / (8 * x * x);
    let sum = 0;
    for (let j = 1; j <= 50; j++) {
      const term = Math.exp(-(2 * j - 1) * (2 * j - 1) * k);
      sum += term;
      if (term < 1e-17) break;
    }
    return clamp01(1 - (Math.sqrt(2 * Math.PI) / x) * sum);
  }
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * x * x);
    sum += (j % 2 === 1 ? 2 : -2) * term;
    if (term < 1e-17) break;
  }
  return clamp01(sum);
}

function clamp01(p: number): number {
  return Math.min(1, Math.max(0, p));
}
