import type { DuckDBConnection } from "@duckdb/node-api";
import { queryJson, sqlIdent, withSandbox } from "../datasets/columnar";
import { EmptySampleError, ksTest, psi, type PsiBin } from "./distribution";
import {
  checkParameters,
  columnKind,
  describeColumns,
  duckDbMessage,
  isIntegerType,
  judgedRowSql,
  parquetSource,
  resolveColumn,
  unexpectedRowSql,
  type ColumnInfo,
} from "./predicates";
import { isRowLevel, validateSuite, type Expectation, type ExpectationType, type Severity, type SuiteDefinition } from "./suite";

/**
 * Running a suite against one Parquet file. The work is a fixed, small number of scans however
 * many expectations there are: one aggregate query computes every row-level unexpected count and
 * every column aggregate at once; then one LIMITed query per failing row-level expectation fetches
 * sample rows, and each distribution expectation runs its own queries against the reference.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface RunSuiteOptions {
  /** The Parquet file `distribution` expectations compare against. */
  referenceFile?: string;
  /** The instant `freshness` measures age from. @default the current time */
  now?: Date;
  /** Most failing rows returned per expectation. @default 20 */
  sampleSize?: number;
}

export interface ExpectationResult {
  /** Position in the suite. */
  index: number;
  id: string | null;
  type: ExpectationType;
  column: string | null;
  severity: Severity;
  success: boolean;
  /**
   * Row-level: the fraction of judged rows that pass (compare with `mostly`). `row_count_between`:
   * the row count. Column aggregates: the mean, std or quantile. `freshness`: the age in seconds of
   * the newest value. `distribution`: the PSI or KS statistic. Null when there is none (no values).
   */
  observedValue: number | string | null;
  /** Rows judged: the non-null values (every row for `not_null` and `row_count_between`). */
  elementCount: number | null;
  /** Row-level only; null for aggregates. */
  unexpectedCount: number | null;
  /** unexpectedCount / elementCount (0 when nothing was judged); null for aggregates. */
  unexpectedFraction: number | null;
  /** Row-level only; null for aggregates, which ignore it. */
  mostly: number | null;
  /**
   * Whole unexpected rows, at most `sampleSize`, only when the expectation failed. In file order,
   * except for `unique`, whose semi-join does not promise any order.
   */
  sampleFailingRows: Record<string, JsonValue>[];
  details?: Record<string, JsonValue>;
  /** Why the expectation could not be evaluated (unknown column, bad regex…); such a result is a failure. */
  error?: string;
}

export interface ValidationReport {
  suite: string;
  /** No failure of an `error`-severity expectation. */
  success: boolean;
  rowCount: number;
  startedAt: string;
  durationMs: number;
  results: ExpectationResult[];
  statistics: { evaluated: number; successful: number; failedWarn: number; failedError: number };
}

/** What the shared aggregate query computes for one expectation: named SQL aggregates. */
interface Planned {
  e: Expectation;
  index: number;
  column?: ColumnInfo;
  /** SQL of "this row is unexpected", row-level expectations only. */
  unexpected?: string;
  aggregates: Record<string, string>;
  error?: string;
}

const DEFAULT_SAMPLE_SIZE = 20;

/**
 * Evaluates `suite` against `parquetFile`. Throws `InvalidInputError` for an invalid suite and
 * DuckDB's error when the file cannot be read; a problem with one expectation (unknown column,
 * wrong column type, bad regex, missing reference) is that expectation's error result instead.
 */
export async function runSuite(parquetFile: string, suite: SuiteDefinition, options: RunSuiteOptions = {}): Promise<ValidationReport> {
  const normalized = validateSuite(suite);
  const startedAt = new Date();
  const t0 = performance.now();
  const sampleSize = Math.max(0, Math.floor(options.sampleSize ?? DEFAULT_SAMPLE_SIZE));
  const now = options.now ?? startedAt;
  const source = parquetSource(parquetFile);

  // Expectations carry user text (regexes, values, column names): quoted, and run sandboxed all the same.
  const inputs = [parquetFile, ...(options.referenceFile ? [options.referenceFile] : [])];
  return withSandbox({ read: inputs }, async (conn) => {
    const columns = await describeColumns(conn, source);
    const planned: Planned[] = [];
    for (const [index, e] of normalized.expectations.entries()) planned.push(await plan(conn, e, index, columns, source));

    const { rowCount, values } = await aggregate(conn, source, planned);
    const results: ExpectationResult[] = [];
    for (const p of planned) {
      let result: ExpectationResult;
      if (p.error) result = errorResult(p, p.error);
      else if (p.e.type === "distribution") result = await evaluateDistribution(conn, p, source, options.referenceFile);
      else result = evaluate(p, rowCount, values.get(p.index) ?? {}, now);
      if (!result.success && p.unexpected && sampleSize > 0 && (result.unexpectedCount ?? 0) > 0) {
        result.sampleFailingRows = await sampleRows(conn, source, p.unexpected, sampleSize, columns);
      }
      results.push(result);
    }

    const failed = results.filter((r) => !r.success);
    const failedError = failed.filter((r) => r.severity === "error").length;
    return {
      suite: normalized.name,
      success: failedError === 0,
      rowCount,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round((performance.now() - t0) * 10) / 10,
      results,
      statistics: {
        evaluated: results.length,
        successful: results.length - failed.length,
        failedWarn: failed.length - failedError,
        failedError,
      },
    };
  });
}

async function plan(conn: DuckDBConnection, e: Expectation, index: number, columns: ColumnInfo[], source: string): Promise<Planned> {
  const planned: Planned = { e, index, aggregates: {} };
  const { column, error } = resolveColumn(e, columns);
  if (error) return { ...planned, error };
  const paramError = await checkParameters(conn, e);
  if (paramError) return { ...planned, error: paramError };
  planned.column = column;
  if (isRowLevel(e)) {
    planned.unexpected = unexpectedRowSql(e, column!, source);
    planned.aggregates.unexpected = `count(*) FILTER (WHERE ${planned.unexpected})`;
    planned.aggregates.judged = e.type === "not_null" ? "count(*)" : `count(*) FILTER (WHERE ${judgedRowSql(e, column!)})`;
    return planned;
  }
  if (e.type === "row_count_between" || e.type === "distribution") return planned;
  const c = sqlIdent(column!.name);
  planned.aggregates.judged = `count(${c})`;
  switch (e.type) {
    case "mean_between":
      planned.aggregates.value = `avg(CAST(${c} AS DOUBLE))`;
      break;
    case "std_between":
      // The sample standard deviation (n − 1), as GE and pandas report it.
      planned.aggregates.value = `stddev_samp(CAST(${c} AS DOUBLE))`;
      break;
    case "quantile_between":
      // Exact, which costs a sort per column (the slowest part of a typical suite, ~0.3 s per 3M
      // rows); on the native type, since a cast to DOUBLE first makes that sort slower still.
      planned.aggregates.value = `quantile_cont(${c}, ${e.quantile})`;
      break;
    case "freshness":
      // epoch() of a TIMESTAMP reads it as UTC; a TIMESTAMPTZ or DATE gives its true instant.
      planned.aggregates.value = `epoch(max(${c}))`;
      planned.aggregates.newest = `CAST(max(${c}) AS VARCHAR)`;
      break;
  }
  return planned;
}

/**
 * Every planned aggregate in one scan. Should DuckDB refuse the combined query (a value it cannot
 * convert, say), each expectation's aggregates are retried alone so that only the culprit fails.
 */
async function aggregate(
  conn: DuckDBConnection,
  source: string,
  planned: Planned[],
): Promise<{ rowCount: number; values: Map<number, Record<string, unknown>> }> {
  const alias = (index: number, name: string) => sqlIdent(`e${index}_${name}`);
  const selectOf = (ps: Planned[]) =>
    ["count(*) AS n", ...ps.flatMap((p) => Object.entries(p.aggregates).map(([name, sql]) => `${sql} AS ${alias(p.index, name)}`))].join(
      ",\n       ",
    );
  const split = (row: Record<string, unknown>, ps: Planned[]) => {
    const values = new Map<number, Record<string, unknown>>();
    for (const p of ps)
      values.set(p.index, Object.fromEntries(Object.keys(p.aggregates).map((name) => [name, row[`e${p.index}_${name}`]])));
    return values;
  };
  const live = planned.filter((p) => !p.error && Object.keys(p.aggregates).length > 0);
  try {
    const [row] = await queryJson(conn, `SELECT ${selectOf(live)} FROM ${source}`);
    return { rowCount: Number(row.n), values: split(row, live) };
  } catch (err) {
    if (live.length === 0) throw err;
  }
  const [countRow] = await queryJson(conn, `SELECT count(*) AS n FROM ${source}`);
  const values = new Map<number, Record<string, unknown>>();
  for (const p of live) {
    try {
      const [row] = await queryJson(conn, `SELECT ${selectOf([p])} FROM ${source}`);
      values.set(p.index, split(row, [p]).get(p.index)!);
    } catch (err) {
      p.error = duckDbMessage(err);
    }
  }
  return { rowCount: Number(countRow.n), values };
}

function base(p: Planned): ExpectationResult {
  const row = isRowLevel(p.e);
  return {
    index: p.index,
    id: p.e.id ?? null,
    type: p.e.type,
    column: "column" in p.e ? p.e.column : null,
    severity: p.e.severity,
    success: false,
    observedValue: null,
    elementCount: null,
    unexpectedCount: null,
    unexpectedFraction: null,
    mostly: row ? p.e.mostly : null,
    sampleFailingRows: [],
  };
}

function errorResult(p: Planned, error: string): ExpectationResult {
  return { ...base(p), error };
}

/** A finite number, or null (NaN and infinities are rendered as strings by DuckDB and are not JSON numbers). */
function finiteOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

function within(x: number, min?: number, max?: number): boolean {
  return (min === undefined || x >= min) && (max === undefined || x <= max);
}

function evaluate(p: Planned, rowCount: number, values: Record<string, unknown>, now: Date): ExpectationResult {
  if (p.error) return errorResult(p, p.error);
  const result = base(p);
  const e = p.e;
  if (isRowLevel(e)) {
    const judged = Number(values.judged);
    const unexpected = Number(values.unexpected);
    const passFraction = judged === 0 ? 1 : (judged - unexpected) / judged;
    return {
      ...result,
      // Nothing judged passes vacuously, as in GE; the small slack absorbs rounding of mostly · n.
      success: judged === 0 || judged - unexpected >= e.mostly * judged - 1e-9,
      observedValue: passFraction,
      elementCount: judged,
      unexpectedCount: unexpected,
      unexpectedFraction: judged === 0 ? 0 : unexpected / judged,
      details: { missingCount: e.type === "not_null" ? unexpected : rowCount - judged },
    };
  }
  switch (e.type) {
    case "row_count_between":
      return { ...result, success: within(rowCount, e.min, e.max), observedValue: rowCount, elementCount: rowCount };
    case "mean_between":
    case "std_between":
    case "quantile_between": {
      const observed = finiteOrNull(values.value);
      return {
        ...result,
        success: observed !== null && within(observed, e.min, e.max),
        observedValue: observed,
        elementCount: Number(values.judged),
        ...(observed === null ? { details: { reason: "no finite value to compare (no non-null values, or NaN/infinite values)" } } : {}),
      };
    }
    case "freshness": {
      const newestEpoch = finiteOrNull(values.value);
      const age = newestEpoch === null ? null : now.getTime() / 1000 - newestEpoch;
      return {
        ...result,
        success: age !== null && age <= e.maxAgeSeconds,
        observedValue: age,
        elementCount: Number(values.judged),
        details: { newest: (values.newest as string | null) ?? null, now: now.toISOString(), maxAgeSeconds: e.maxAgeSeconds },
      };
    }
    default:
      throw new Error(`no evaluation for ${e.type}`);
  }
}

async function evaluateDistribution(
  conn: DuckDBConnection,
  p: Planned,
  source: string,
  referenceFile?: string,
): Promise<ExpectationResult> {
  const e = p.e;
  if (e.type !== "distribution") throw new Error("not a distribution expectation");
  if (!referenceFile) return errorResult(p, "distribution needs a reference data set (options.referenceFile)");
  const reference = parquetSource(referenceFile);
  try {
    const refColumns = await describeColumns(conn, reference);
    const { error } = resolveColumn(e, refColumns);
    if (error) return errorResult(p, `in the reference: ${error}`);
    const numeric = columnKind(p.column!.type) === "numeric";
    if (e.metric === "ks") {
      const ks = await ksTest(conn, source, reference, e.column);
      return {
        ...base(p),
        success: ks.statistic <= e.threshold,
        observedValue: ks.statistic,
        elementCount: ks.currentCount,
        details: {
          metric: "ks",
          threshold: e.threshold,
          pValue: ks.pValue,
          referenceCount: ks.referenceCount,
          currentCount: ks.currentCount,
        },
      };
    }
    const result = await psi(conn, source, reference, e.column, numeric);
    return {
      ...base(p),
      success: result.psi <= e.threshold,
      observedValue: result.psi,
      elementCount: result.currentCount,
      details: {
        metric: "psi",
        binning: numeric ? "reference quantiles" : "categories",
        threshold: e.threshold,
        referenceCount: result.referenceCount,
        currentCount: result.currentCount,
        binCount: result.binCount,
        bins: result.bins.map((b: PsiBin) => ({ ...b }) as { [key: string]: JsonValue }),
      },
    };
  } catch (err) {
    return errorResult(p, err instanceof EmptySampleError ? err.message : duckDbMessage(err));
  }
}

async function sampleRows(
  conn: DuckDBConnection,
  source: string,
  unexpected: string,
  limit: number,
  columns: ColumnInfo[],
): Promise<Record<string, JsonValue>[]> {
  const rows = await queryJson(conn, `SELECT * FROM ${source} WHERE ${unexpected} LIMIT ${limit}`);
  return rows.map((row) => jsonRow(row, columns));
}

/**
 * A row as JSON values. DuckDB renders 64-bit and wider integers and DECIMALs as strings; they
 * become numbers where a double holds them exactly, and stay strings otherwise.
 */
export function jsonRow(row: Record<string, unknown>, columns: readonly ColumnInfo[]): Record<string, JsonValue> {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(row)) {
    const type = types.get(key) ?? "";
    if (typeof value === "string" && isIntegerType(type)) {
      const n = Number(value);
      out[key] = Number.isSafeInteger(n) ? n : value;
    } else if (typeof value === "string" && type.toUpperCase().startsWith("DECIMAL")) {
      const n = Number(value);
      out[key] = Number.isFinite(n) ? n : value;
    } else out[key] = toJson(value);
  }
  return out;
}

function toJson(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return String(value);
}
