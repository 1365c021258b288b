/**
 * What a stage function sees: the types of its context and result. Type-only; stage code imports
 * them with `import type { StageContext } from "sluice"`. The local runner builds this context
 * (runners/local/context.ts); `runners/PROTOCOL.md` ("The local runner") describes it in prose.
 */
import type { ArtifactKind } from "./spec";

/**
 * A value in a table row, as DuckDB gives it and takes it: numbers (a BIGINT as a number when it
 * is safe, else its decimal string), strings, booleans, null, `Date` for DATE and TIMESTAMP
 * (a stage may write ISO strings too), lists and structs of these; BLOBs are base64 strings.
 */
export type TableValue = null | boolean | number | string | Date | TableValue[] | { [key: string]: TableValue };

/** One row of a table: column name → value. */
export type TableRow = Record<string, TableValue>;

/** A column of a table: its name and DuckDB type (`BIGINT`, `DOUBLE`, `VARCHAR`, `TIMESTAMP`…). */
export interface TableColumn {
  name: string;
  type: string;
}

/** The shape of a Dataset input. */
export interface TableInfo {
  columns: TableColumn[];
  rowCount: number;
  /** DuckDB SQL that reads the input (`SELECT * FROM read_parquet('…')`). */
  query: string;
}

/** Where a Dataset output written with `writeRows`/`writeTable` goes besides its Parquet file. */
export interface TableWriteOptions {
  /**
   * Registers the output as the next version of this dataset of the run's project (created when
   * missing), as `ingest` does; the server reads its schema, row count and profile from the file.
   */
  dataset?: string;
  /** The policy a dataset created here gets (`FAIL_ON_BREAKING` by default). */
  schemaPolicy?: "ALLOW_ALL" | "FAIL_ON_BREAKING" | "FAIL_ON_ANY";
}

/** An input as a runner hands it to a stage: the artifact, resolved to a local file or folder. */
export interface ResolvedInput {
  artifactId: string;
  kind: ArtifactKind;
  /** Content hash (`sha256:<hex>`). */
  hash: string;
  size: number;
  /** A readable local path: a file, or a folder for multi-file artifacts. Never write to it. */
  path: string;
  metadata: Record<string, unknown>;
}

/** One input as a stage function sees it: the resolved artifact and ways to read it. */
export interface StageInput extends ResolvedInput {
  /** The file's content as UTF-8 text (rejects for a folder). */
  readText(): Promise<string>;
  /** The file's content parsed as JSON. */
  readJson<T = unknown>(): Promise<T>;
  readBuffer(): Promise<Buffer>;
  /**
   * Every row of a Dataset input (its Parquet file, read with DuckDB in the stage's process) as
   * plain objects. Bounded: rejects with a `RangeError` above 100,000 rows; read larger inputs
   * with `batches()`.
   */
  rows(): Promise<TableRow[]>;
  /** The rows in batches of `size` (default 2048), streamed: memory stays bounded whatever the input's size. */
  batches(options?: { size?: number }): AsyncIterableIterator<TableRow[]>;
  /** The input's columns (names and DuckDB types), row count, and the SQL that reads it. */
  table(): Promise<TableInfo>;
  /**
   * DuckDB SQL over the input, which it sees as the table `input`
   * (`query("SELECT carrier, avg(delay) AS delay FROM input GROUP BY ALL")`); bounded like `rows()`.
   */
  query(sql: string): Promise<TableRow[]>;
}

/**
 * Where one declared output goes: `path` is `workDir/outputs/<name>`, not yet created. Write it
 * as a file (`writeText`, `writeJson`, `writeBuffer`, or any code writing to `path`) or as a
 * folder (`dir()`, then files inside it).
 */
export interface StageOutputTarget {
  readonly path: string;
  /** Writes `text` (UTF-8) as the output file. Writes not awaited are awaited before the outputs are checked. */
  writeText(text: string): Promise<void>;
  /** Writes `JSON.stringify(value)` as the output file. */
  writeJson(value: unknown): Promise<void>;
  writeBuffer(data: Uint8Array): Promise<void>;
  /**
   * Writes `rows` (plain objects with the same keys) as the output's Parquet file, column types
   * inferred from all rows; with `options.dataset` the server registers it as a dataset version.
   * At least one row. Resolves with what was written.
   */
  writeRows(rows: readonly TableRow[], options?: TableWriteOptions): Promise<{ rowCount: number; columns: TableColumn[] }>;
  /** As `writeRows`, from batches of rows (an async iterable, e.g. an input's `batches()` mapped): streamed. */
  writeTable(
    batches: AsyncIterable<readonly TableRow[]> | Iterable<readonly TableRow[]>,
    options?: TableWriteOptions,
  ): Promise<{ rowCount: number; columns: TableColumn[] }>;
  /** Creates the output as a folder (idempotent) and returns its path. */
  dir(): string;
}

/** The context a stage function is called with. */
export interface StageContext {
  readonly runId: string;
  readonly stageRunId: string;
  readonly stageName: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** An empty folder owned by this attempt; scratch space (outputs go in `outputs`). */
  readonly workDir: string;
  /** The resolved, validated parameters. */
  readonly params: Record<string, unknown>;
  readonly inputs: Record<string, StageInput>;
  readonly outputs: Record<string, StageOutputTarget>;
  /**
   * The project secrets the stage's spec grants (`secrets: { API_KEY: "WAREHOUSE_KEY" }` gives
   * `ctx.secrets.API_KEY`), decrypted; empty without a grant. Not in `process.env`: a sandboxed
   * module process may serve other stages of the project after this one. A value the stage logs
   * is stored as `***`.
   */
  readonly secrets: Readonly<Record<string, string>>;
  /** Aborted on cancel or timeout; pass it to long calls (`fetch`, timers) or check `signal.aborted`. */
  readonly signal: AbortSignal;
  /** A stdout log line, formatted like `console.log`. `console.*` is routed to the log too. */
  log(...args: unknown[]): void;
  /**
   * A numeric metric, with an optional step (an epoch, an iteration).
   * @throws TypeError when `value` is not a finite number or `step` not a non-negative integer.
   */
  metric(key: string, value: number, step?: number): void;
}

/** What a stage may return for an output: metadata to attach, and optionally another path (relative to `workDir/outputs`). */
export interface StageOutputResult {
  path?: string;
  metadata?: Record<string, unknown>;
}

/** A stage function (and an operator): returns nothing, or metadata for some of its outputs by name. */
export type StageFunction = (
  ctx: StageContext,
) => void | Record<string, StageOutputResult> | Promise<void | Record<string, StageOutputResult>>;
