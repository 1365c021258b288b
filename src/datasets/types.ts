/**
 * The data plane's shared shapes: sources, column schemas, profiles and schema diffs. Pure types;
 * the columnar work (DuckDB) lives in `columnar/`, the bookkeeping in the dataset service.
 */

/**
 * File formats a source can hold. `json` is a JSON array of objects (one row each) or objects one
 * after another (a single object is one row); `jsonl` is one object per line.
 */
export type FileFormat = "csv" | "parquet" | "json" | "jsonl";

/** CSV reading options; omitted ones are detected. */
export interface CsvOptions {
  delimiter?: string;
  header?: boolean;
  quote?: string;
  escape?: string;
  /** The text that stands for a null value. */
  nullString?: string;
}

/**
 * Files on the server's machine: paths or globs (`data/*.csv`, `events/**\/*.parquet`), relative
 * to the first allowed root, each inside an allowed root (`SLUICE_DATA_ROOTS`).
 */
export interface FileSourceConfig {
  kind: "FILE";
  paths: string[];
  format: FileFormat;
  /** Read `key=value` folder names as columns (Hive-style partitioned folders). @default false */
  hivePartitioning?: boolean;
  csv?: CsvOptions;
}

/** A read-only SQL query against a PostgreSQL database whose URL is the secret named `secret`. */
export interface PostgresQuerySourceConfig {
  kind: "POSTGRES_QUERY";
  /** Name of a project secret holding a `postgres://…` URL. */
  secret: string;
  query: string;
}

export type SourceConfig = FileSourceConfig | PostgresQuerySourceConfig;

/** One column as stored: its name, its DuckDB type (e.g. `BIGINT`, `VARCHAR`, `TIMESTAMP`). */
export interface ColumnSchema {
  name: string;
  type: string;
  nullable: boolean;
}

/** One bin of a numeric histogram: `[lower, upper)` (the last bin includes `upper`). */
export interface HistogramBin {
  lower: number;
  upper: number;
  count: number;
}

/**
 * What a version's profile says of one column. Numeric columns have `mean`, `std`, `quantiles`
 * and a `histogram`; text and other categorical columns have `topValues`. `min`/`max` are JSON
 * values (numbers, strings, ISO timestamps).
 */
export interface ColumnProfile {
  name: string;
  type: string;
  /** `numeric`, `categorical`, `temporal` or `boolean`. */
  kind: "numeric" | "categorical" | "temporal" | "boolean";
  count: number;
  nullCount: number;
  /** Distinct non-null values: counted exactly when `distinctExact`, else a HyperLogLog estimate. */
  distinctCount: number;
  /** Whether `distinctCount` is exact (the version has at most EXACT_PROFILE_MAX_ROWS rows). */
  distinctExact: boolean;
  /**
   * `distinctCount` under its older name, kept for readers of profiles stored before exact counts
   * (whose `distinctExact` is missing: they were estimates).
   */
  distinctEstimate: number;
  min: number | string | boolean | null;
  max: number | string | boolean | null;
  mean: number | null;
  std: number | null;
  /**
   * At q = 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99. Exact when `quantilesExact`: an integer or
   * decimal column's quantile is a value of the column (the smallest whose share of values at or
   * below it reaches q), a floating-point column's is interpolated between the two values around
   * it; else t-digest estimates.
   */
  quantiles: Array<{ q: number; value: number }>;
  /** Whether `quantiles` are exact (false for estimates, and for profiles stored before exact quantiles). */
  quantilesExact: boolean;
  histogram: HistogramBin[];
  /** The most frequent values (up to 10), most frequent first. */
  topValues: Array<{ value: string; count: number }>;
}

export interface DatasetProfile {
  rowCount: number;
  columns: ColumnProfile[];
}

/** How a new version's columns differ from the previous version's. */
export interface SchemaDiff {
  added: ColumnSchema[];
  removed: ColumnSchema[];
  /** Same name, another type; `widening` when every old value fits the new type (INTEGER → BIGINT). */
  retyped: Array<{ name: string; from: string; to: string; widening: boolean }>;
  /** A removed and an added column that look like one column renamed (same type, similar name or values). */
  renamed: Array<{ from: string; to: string; type: string; reason: string }>;
  /** Whether any change can break a reader of the previous version. */
  breaking: boolean;
  changed: boolean;
}

/** What a dataset accepts from a new version's schema. */
export type SchemaPolicy = "ALLOW_ALL" | "FAIL_ON_BREAKING" | "FAIL_ON_ANY";
