import { checkSameLength, type MetricSet } from "./common";

/** A categorical column: one value per row, null for missing (kept as its own group, so missing data stays visible). */
export type GroupColumn = ReadonlyArray<string | null>;

export interface Group {
  value: string | null;
  /** Rows of this group, ascending. Empty for an expected value that never occurs. */
  indices: Int32Array;
}

/**
 * Splits row numbers by group value in two passes over the column (id per row, then fill),
 * avoiding a growing JS array per group at a million rows. Groups come out ordered by value,
 * null last, so two reports list them in the same order. `expected` values that never occur
 * are returned empty, so a category that vanished from the evaluation set shows as count 0
 * instead of silently disappearing.
 */
export function groupRows(groups: GroupColumn, expected: ReadonlyArray<string | null> = []): Group[] {
  const ids = new Map<string | null, number>();
  const rowGroup = new Int32Array(groups.length);
  for (let i = 0; i < groups.length; i++) {
    const v = groups[i] ?? null;
    let id = ids.get(v);
    if (id === undefined) {
      id = ids.size;
      ids.set(v, id);
    }
    rowGroup[i] = id;
  }
  for (const v of expected) if (!ids.has(v)) ids.set(v, ids.size);
  const counts = new Int32Array(ids.size);
  for (let i = 0; i < rowGroup.length; i++) counts[rowGroup[i]]++;
  const indices = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(ids.size);
  for (let i = 0; i < rowGroup.length; i++) indices[rowGroup[i]][fill[rowGroup[i]]++] = i;
  const out = [...ids].map(([value, id]) => ({ value, indices: indices[id] }));
  out.sort((a, b) => (a.value === b.value ? 0 : a.value === null ? 1 : b.value === null ? -1 : a.value < b.value ? -1 : 1));
  return out;
}

export interface Slice {
  value: string | null;
  count: number;
  /**
   * Fewer rows than the report's minCount: metrics are still computed, but too noisy to act on,
   * and a dashboard should grey them out rather than rank them.
   */
  belowMinCount: boolean;
  metrics: Record<string, number | null>;
  undefinedReasons: Record<string, string>;
}

export interface SliceReport {
  column: string;
  minCount: number;
  slices: Slice[];
}

export interface SliceOptions {
  /** Groups with fewer rows are marked belowMinCount. @default 30 */
  minCount?: number;
  /** Values to report even when absent (count 0). */
  expectedValues?: ReadonlyArray<string | null>;
}

/**
 * Runs `compute` (the whole-set metric code, given a group's row numbers) on every group of a
 * categorical column. Empty groups are computed too, which yields null metrics with "no rows"
 * reasons instead of a special case.
 */
export function sliceMetrics(
  column: string,
  groups: GroupColumn,
  n: number,
  compute: (indices: Int32Array) => MetricSet,
  options: SliceOptions = {},
): SliceReport {
  checkSameLength(`slice column ${JSON.stringify(column)}`, n, groups.length);
  const minCount = options.minCount ?? 30;
  const slices = groupRows(groups, options.expectedValues).map((g): Slice => {
    const m = compute(g.indices);
    return {
      value: g.value,
      count: g.indices.length,
      belowMinCount: g.indices.length < minCount,
      metrics: m.values,
      undefinedReasons: m.undefinedReasons,
    };
  });
  return { column, minCount, slices };
}
