import type { ColumnProfile, DatasetProfile, HistogramBin } from "../types";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "./duckdb";
import { describeQuery, typeKind } from "./schema";

/** Quantiles every numeric column reports. */
export const PROFILE_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;
/**
 * Up to this many rows, distinct counts and quantiles are exact (`count(DISTINCT)`,
 * `quantile_disc`/`quantile_cont`); above it they are estimates (HyperLogLog, t-digest) and the
 * profile says so. Exact statistics hold every value of a column in memory at once; on
 * flights-3m (3 M rows, 5 columns, 2 threads) the exact pass took 0.68 s against 0.41 s for the
 * estimated one, so 10 M rows stays a few seconds and a few hundred MB.
 */
export const EXACT_PROFILE_MAX_ROWS = 10_000_000;
const INTEGER_OR_DECIMAL = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DECIMAL)/i;
/** Equal-width bins of a numeric histogram: enough to see a shape, few enough to plot as bars. */
export const HISTOGRAM_BINS = 20;
const TOP_VALUES = 10;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Profiles a Parquet file column by column, in three passes over the data whatever the number
 * of columns: one for every count, distinct count, min/max, mean, std and quantile; one for
 * every numeric histogram (bins need min and max first); and one grouped count per categorical
 * column for its top values. Nothing but the aggregates reaches JavaScript. Distinct counts and
 * quantiles are exact up to `exactMaxRows` rows (the Parquet footer says how many), estimated
 * above, and each column's profile says which.
 */
export async function profileParquet(file: string, opts: { exactMaxRows?: number } = {}): Promise<DatasetProfile> {
  return withDuckDb(async (conn) => {
    const from = `read_parquet(${sqlString(file)})`;
    const schema = await describeQuery(conn, `SELECT * FROM ${from}`);
    const [{ rows }] = await queryJson(
      conn,
      `SELECT coalesce(sum(num_rows), 0)::DOUBLE AS rows FROM parquet_file_metadata(${sqlString(file)})`,
    );
    const exact = Number(rows) <= (opts.exactMaxRows ?? EXACT_PROFILE_MAX_ROWS);
    const cols = schema.map((c, i) => ({ ...c, i, q: sqlIdent(c.name), kind: typeKind(c.type) }));
    const quantiles = (c: (typeof cols)[number]) => {
      const qs = `[${PROFILE_QUANTILES.join(", ")}]`;
      if (!exact) return `approx_quantile(${c.q}::DOUBLE, ${qs})`;
      // Integers and decimals: values that occur in the data; floats: interpolated, as numpy's default.
      return INTEGER_OR_DECIMAL.test(c.type) ? `quantile_disc(${c.q}, ${qs})::DOUBLE[]` : `quantile_cont(${c.q}::DOUBLE, ${qs})`;
    };
    const aggregates = cols.flatMap((c) => {
      const base = [
        `count(${c.q}) AS c${c.i}_count`,
        exact ? `count(DISTINCT ${c.q}) AS c${c.i}_distinct` : `approx_count_distinct(${c.q}) AS c${c.i}_distinct`,
        c.kind === "numeric" ? `min(${c.q})::DOUBLE AS c${c.i}_min` : `min(${c.q})::VARCHAR AS c${c.i}_min`,
        c.kind === "numeric" ? `max(${c.q})::DOUBLE AS c${c.i}_max` : `max(${c.q})::VARCHAR AS c${c.i}_max`,
      ];
      if (c.kind !== "numeric") return base;
      return [
        ...base,
        `avg(${c.q}::DOUBLE) AS c${c.i}_mean`,
        `stddev_samp(${c.q}::DOUBLE) AS c${c.i}_std`,
        `${quantiles(c)} AS c${c.i}_quantiles`,
      ];
    });
    const [stats] = await queryJson(
      conn,
      `SELECT count(*) AS row_count${aggregates.length ? ", " + aggregates.join(", ") : ""} FROM ${from}`,
    );
    const rowCount = Number(stats.row_count);

    const numeric = cols.filter((c) => c.kind === "numeric" && num(stats[`c${c.i}_min`]) !== null);
    const histograms = new Map<number, HistogramBin[]>();
    if (numeric.length > 0) {
      const parts = numeric.map((c) => {
        const min = Number(stats[`c${c.i}_min`]);
        const width = (Number(stats[`c${c.i}_max`]) - min) / HISTOGRAM_BINS;
        // All values equal: one bin holds them all.
        const bin = width > 0 ? `least(floor((${c.q}::DOUBLE - ${min}) / ${width}), ${HISTOGRAM_BINS - 1})::INTEGER` : "0";
        return `histogram(CASE WHEN ${c.q} IS NOT NULL THEN ${bin} END) AS h${c.i}`;
      });
      const [row] = await queryJson(conn, `SELECT ${parts.join(", ")} FROM ${from}`);
      for (const c of numeric) {
        const min = Number(stats[`c${c.i}_min`]);
        const max = Number(stats[`c${c.i}_max`]);
        const counts = new Map<number, number>(
          ((row[`h${c.i}`] as Array<{ key: string; value: string }> | null) ?? []).map((e) => [Number(e.key), Number(e.value)]),
        );
        const width = (max - min) / HISTOGRAM_BINS;
        const bins = width > 0 ? HISTOGRAM_BINS : 1;
        histograms.set(
          c.i,
          Array.from({ length: bins }, (_, b) => ({
            lower: min + b * width,
            upper: b === bins - 1 ? max : min + (b + 1) * width,
            count: counts.get(b) ?? 0,
          })),
        );
      }
    }

    const columns: ColumnProfile[] = [];
    for (const c of cols) {
      let topValues: ColumnProfile["topValues"] = [];
      if (c.kind === "categorical" || c.kind === "boolean") {
        const rows = await queryJson(
          conn,
          `SELECT ${c.q}::VARCHAR AS value, count(*) AS n FROM ${from} WHERE ${c.q} IS NOT NULL GROUP BY 1 ORDER BY n DESC, value LIMIT ${TOP_VALUES}`,
        );
        topValues = rows.map((r) => ({ value: String(r.value), count: Number(r.n) }));
      }
      const count = Number(stats[`c${c.i}_count`]);
      const quantileValues = (stats[`c${c.i}_quantiles`] as number[] | null | undefined) ?? null;
      columns.push({
        name: c.name,
        type: c.type,
        kind: c.kind,
        count,
        nullCount: rowCount - count,
        distinctCount: Number(stats[`c${c.i}_distinct`]),
        distinctExact: exact,
        distinctEstimate: Number(stats[`c${c.i}_distinct`]),
        min: c.kind === "numeric" ? num(stats[`c${c.i}_min`]) : ((stats[`c${c.i}_min`] as string | null) ?? null),
        max: c.kind === "numeric" ? num(stats[`c${c.i}_max`]) : ((stats[`c${c.i}_max`] as string | null) ?? null),
        mean: c.kind === "numeric" ? num(stats[`c${c.i}_mean`]) : null,
        std: c.kind === "numeric" ? num(stats[`c${c.i}_std`]) : null,
        quantiles: quantileValues ? PROFILE_QUANTILES.map((q, k) => ({ q, value: Number(quantileValues[k]) })) : [],
        quantilesExact: exact,
        histogram: histograms.get(c.i) ?? [],
        topValues,
      });
    }
    return { rowCount, columns };
  });
}
