import type { ColumnProfile, DatasetProfile, HistogramBin } from "../types";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "./duckdb";
import { describeQuery, typeKind } from "./schema";

/** Quantiles every numeric column reports (DuckDB's approximate t-digest quantiles). */
export const PROFILE_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;
/** Equal-width bins of a numeric histogram: enough to see a shape, few enough to plot as bars. */
export const HISTOGRAM_BINS = 20;
const TOP_VALUES = 10;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Profiles a Parquet file column by column, in three passes over the data whatever the number
 * of columns: one for every count, distinct estimate, min/max, mean, std and quantile; one for
 * every numeric histogram (bins need min and max first); and one grouped count per categorical
 * column for its top values. Nothing but the aggregates reaches JavaScript.
 */
export async function profileParquet(file: string): Promise<DatasetProfile> {
  return withDuckDb(async (conn) => {
    const from = `read_parquet(${sqlString(file)})`;
    const schema = await describeQuery(conn, `SELECT * FROM ${from}`);
    const cols = schema.map((c, i) => ({ ...c, i, q: sqlIdent(c.name), kind: typeKind(c.type) }));
    const aggregates = cols.flatMap((c) => {
      const base = [
        `count(${c.q}) AS c${c.i}_count`,
        `approx_count_distinct(${c.q}) AS c${c.i}_distinct`,
        c.kind === "numeric" ? `min(${c.q})::DOUBLE AS c${c.i}_min` : `min(${c.q})::VARCHAR AS c${c.i}_min`,
        c.kind === "numeric" ? `max(${c.q})::DOUBLE AS c${c.i}_max` : `max(${c.q})::VARCHAR AS c${c.i}_max`,
      ];
      if (c.kind !== "numeric") return base;
      return [
        ...base,
        `avg(${c.q}::DOUBLE) AS c${c.i}_mean`,
        `stddev_samp(${c.q}::DOUBLE) AS c${c.i}_std`,
        `approx_quantile(${c.q}::DOUBLE, [${PROFILE_QUANTILES.join(", ")}]) AS c${c.i}_quantiles`,
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
      const quantiles = (stats[`c${c.i}_quantiles`] as number[] | null | undefined) ?? null;
      columns.push({
        name: c.name,
        type: c.type,
        kind: c.kind,
        count,
        nullCount: rowCount - count,
        distinctEstimate: Number(stats[`c${c.i}_distinct`]),
        min: c.kind === "numeric" ? num(stats[`c${c.i}_min`]) : ((stats[`c${c.i}_min`] as string | null) ?? null),
        max: c.kind === "numeric" ? num(stats[`c${c.i}_max`]) : ((stats[`c${c.i}_max`] as string | null) ?? null),
        mean: c.kind === "numeric" ? num(stats[`c${c.i}_mean`]) : null,
        std: c.kind === "numeric" ? num(stats[`c${c.i}_std`]) : null,
        quantiles: quantiles ? PROFILE_QUANTILES.map((q, k) => ({ q, value: Number(quantiles[k]) })) : [],
        histogram: histograms.get(c.i) ?? [],
        topValues,
      });
    }
    return { rowCount, columns };
  });
}
