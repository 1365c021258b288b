import { sqlIdent, sqlString } from "../datasets/columnar";
import { aggregateSql, isWindowFeature, parseWindow, type FeatureView } from "./definition";

/**
 * Compiling a feature view to one DuckDB query that produces its *feature table*: one row per
 * (entity key, event timestamp) of the filtered source, with the key columns, the timestamp column
 * (same names as in the source) and one column per feature, in definition order.
 *
 * What a feature row at time `ts` means — the design decisions, tested in test/features:
 *
 * - Row-level features are the values of the source row at `ts`, as Feast's feature views are: the
 *   point-in-time join (training-set.ts) uses Feast's `feature_ts <= entity_ts`, so a row-level
 *   feature stamped `ts` is visible to an entity row at exactly `ts`. A row-level feature that *is*
 *   the outcome being predicted therefore leaks; that is the definition's responsibility, as in Feast.
 *
 * - Window aggregates cover the rows of the same entity with event time in `[ts - window, ts)`:
 *   the window start is included, every row at `ts` itself is excluded (`EXCLUDE GROUP` drops the
 *   current row and its peers, i.e. all rows with the same timestamp). Why: the typical training
 *   set takes its entity rows from the same events ("flight from SFO at 10:00, was it late?"), and
 *   with the `<=` join an aggregate that counted the rows at `ts` would include the label row's own
 *   outcome (and those of simultaneous rows, unknown at prediction time). Excluding `ts` makes the
 *   feature "what was known just before ts", with no leak, while keeping Feast's `<=` join for
 *   parity. The price: an entity row strictly between two event times of its entity sees the
 *   aggregate as of the earlier event time, not counting that event's own rows; the online store
 *   (online.ts) serves the same values, so training and serving agree.
 *
 * - Several source rows of one entity at one timestamp give one feature row. Aggregates are equal
 *   on all of them (the frame excludes the whole group), so any will do; for row-level features the
 *   row created last wins when the view names a `createdTimestampColumn` (Feast's rule: event
 *   time, then created time; a NULL created time is the oldest), and otherwise, or among rows
 *   created at the same instant, the last of them in the source file's row order (`file_row_number`), which
 *   is deterministic for a given file and matches "the later write wins" for append-only sources.
 *   The point-in-time join and the online store read this feature table, so both take that row.
 *
 * - Rows whose key or timestamp is NULL are left out: they cannot be joined to anything.
 */

export interface CompileOptions {
  /** Keep only feature rows with timestamp >= start; earlier source rows still feed the windows. */
  start?: Date;
  /** Keep only feature rows with timestamp < end. */
  end?: Date;
}

/** Microseconds since the epoch: comparing `epoch_us(ts)` with it is exact and independent of the session time zone. */
export function epochMicros(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError("invalid Date");
  return ms * 1000;
}

/**
 * The feature table of `view` over the source file, as a SELECT (no trailing semicolon, no ORDER
 * BY: offline.ts sorts when it writes). The view must be valid (validateFeatureView) and its SQL
 * should have been checked (checkAgainstSource): expressions are pasted in parenthesized.
 */
export function compileFeatureSql(view: FeatureView, sourceParquet: string, options: CompileOptions = {}): string {
  const ts = sqlIdent(view.timestampColumn);
  const keys = view.entities.map(sqlIdent);
  const windows = new Map<number, string>(); // window seconds -> window name
  const select: string[] = [...keys, ts];
  for (const feature of view.features) {
    let value: string;
    if (isWindowFeature(feature)) {
      const seconds = parseWindow(feature.window);
      if (seconds === undefined) throw new Error(`feature ${feature.name}: bad window ${feature.window}`);
      let name = windows.get(seconds);
      if (name === undefined) {
        name = `__sluice_w${windows.size}`;
        windows.set(seconds, name);
      }
      value = `${aggregateSql(feature.aggregation, feature.expr === undefined ? "*" : `(${feature.expr})`)} OVER ${name}`;
    } else {
      value = `(${feature.expr})`;
    }
    if (feature.type !== undefined) value = `CAST(${value} AS ${feature.type})`;
    select.push(`${value} AS ${sqlIdent(feature.name)}`);
  }
  // One row of each (key, ts) group: the newest created, then the last in file order (see the header comment).
  const newest = view.createdTimestampColumn === undefined ? [] : [`${sqlIdent(view.createdTimestampColumn)} DESC NULLS LAST`];
  select.push(
    `row_number() OVER (PARTITION BY ${[...keys, ts].join(", ")} ORDER BY ${[...newest, "file_row_number DESC"].join(", ")}) AS __sluice_rn`,
  );

  const where = [...keys, ts].map((c) => `${c} IS NOT NULL`);
  if (view.filter !== undefined) where.unshift(`(${view.filter})`);
  if (options.end !== undefined) where.push(`epoch_us(${ts}) < ${epochMicros(options.end)}`);
  if (options.start !== undefined) {
    // Source rows older than start minus the longest window cannot reach any kept row's window.
    const lookback = windows.size === 0 ? 0 : Math.max(...windows.keys());
    where.push(`epoch_us(${ts}) >= ${epochMicros(options.start) - lookback * 1_000_000}`);
  }
  const windowClause =
    windows.size === 0
      ? ""
      : `\n  WINDOW ${[...windows]
          .map(
            ([seconds, name]) =>
              `${name} AS (PARTITION BY ${keys.join(", ")} ORDER BY ${ts} RANGE BETWEEN INTERVAL ${seconds} SECOND PRECEDING AND CURRENT ROW EXCLUDE GROUP)`,
          )
          .join(",\n    ")}`;
  const outer = ["__sluice_rn = 1"];
  if (options.start !== undefined) outer.push(`epoch_us(${ts}) >= ${epochMicros(options.start)}`);
  return `SELECT * EXCLUDE (__sluice_rn) FROM (
  SELECT ${select.join(",\n    ")}
  FROM read_parquet(${sqlString(sourceParquet)}, file_row_number = true)
  WHERE ${where.join(" AND ")}${windowClause}
) WHERE ${outer.join(" AND ")}`;
}
