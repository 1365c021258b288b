/**
 * The data plane's shared shapes: sources, column schemas, profiles and schema diffs. Pure types;
 * the columnar work (DuckDB) lives in `columnar/`, the bookkeeping in the dataset service.
 */

/** File formats a source can hold. */
export type FileFormat = "csv" | "parquet" | "jsonl";

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
  /** HyperLogLog estimate of distinct non-null values. */
  distinctEstimate: number;
  min: number | string | boolean | null;
  max: number | string | boolean | null;
  mean: number | null;
  std: number | null;
  /** At q = 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99 (approximate). */
  quantiles: Array<{ q: number; value: number }>;
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
