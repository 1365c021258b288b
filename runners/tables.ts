/**
 * Datasets as tables for stage code: reads a Dataset input (a Parquet file) with DuckDB — all
 * rows, batch by batch, its shape, or SQL over it — and writes rows as the Parquet file of a
 * Dataset output. Used by the local runner's `StageContext` (in a worker thread or a sandboxed
 * host: DuckDB is opened lazily, in the stage's own process) and by the process runner, which
 * gives command stages their Dataset inputs as JSON lines and turns JSON lines or CSV they write
 * into Parquet.
 * @internal used by `local/context.ts` and `process/datasets.ts`.
 */
import { appendFile, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { TableColumn, TableInfo, TableRow, TableValue } from "./local/stage";

/**
 * The most rows `rows()` and `query()` return at once: past it they refuse, naming
 * `batches()`, rather than hold a large dataset in the stage's memory.
 */
export const ROWS_LIMIT = 100_000;

/** The default number of rows in a batch of `batches()`. */
export const DEFAULT_BATCH_SIZE = 2048;

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** DuckDB's value as JSON-friendly data: BIGINT → number when safe (else its decimal string), binary → base64. */
export function plainValue(value: unknown): TableValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof Date) return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(plainValue);
  if (typeof value === "object") {
    const out: Record<string, TableValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValue(v);
    return out;
  }
  return String(value);
}

function plainRow(row: Record<string, unknown>): TableRow {
  const out: TableRow = {};
  for (const [k, v] of Object.entries(row)) out[k] = plainValue(v);
  return out;
}

/**
 * One lazily opened in-memory DuckDB for a stage attempt, shared by its inputs and outputs and
 * closed by `close()` when the attempt ends (a warm sandboxed host must be left with nothing open).
 */
export class TableSession {
  private opening?: Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }>;

  /** `tempDir`: where DuckDB may spill (the attempt's own folder). */
  constructor(private readonly tempDir: string) {}

  async connection(): Promise<DuckDBConnection> {
    this.opening ??= (async () => {
      // Loaded here, not at the top: stages that never touch a table do not pay for DuckDB.
      const { DuckDBInstance } = require("@duckdb/node-api") as typeof import("@duckdb/node-api");
      const threads = process.env.SLUICE_DUCKDB_THREADS;
      const instance = await DuckDBInstance.create(":memory:", {
        ...(threads ? { threads } : {}),
        autoload_known_extensions: "false",
        autoinstall_known_extensions: "false",
      });
      const conn = await instance.connect();
      await conn.run(`SET temp_directory = ${sqlString(path.join(this.tempDir, ".sluice-duckdb"))}`);
      return { instance, conn };
    })();
    return (await this.opening).conn;
  }

  close(): void {
    const opening = this.opening;
    this.opening = undefined;
    void opening?.then(
      ({ instance, conn }) => {
        conn.closeSync();
        instance.closeSync();
      },
      () => undefined,
    );
  }

  /** Closes and waits for it (the instance is closed synchronously once it has opened). */
  async closed(): Promise<void> {
    const opening = this.opening;
    this.close();
    await opening?.catch(() => undefined);
  }
}

/** The relation a Dataset input is: its Parquet file, or every Parquet file of its folder. */
export function parquetRelation(file: string, isDirectory = false): string {
  return `read_parquet(${sqlString(isDirectory ? path.join(file, "**", "*.parquet") : file)})`;
}

/** Column names and DuckDB types of `sql`'s result, without running it. */
async function describe(conn: DuckDBConnection, sql: string): Promise<TableColumn[]> {
  const reader = await conn.runAndReadAll(`DESCRIBE ${sql}`);
  return (reader.getRowObjectsJson() as Array<{ column_name: string; column_type: string }>).map((r) => ({
    name: r.column_name,
    type: r.column_type,
  }));
}

/** What a Dataset input offers a stage: reading it as rows, batches or SQL. */
export interface TableReader {
  rows(): Promise<TableRow[]>;
  batches(options?: { size?: number }): AsyncIterableIterator<TableRow[]>;
  table(): Promise<TableInfo>;
  query(sql: string): Promise<TableRow[]>;
}

/**
 * Readers over the Parquet at `file`, named `name` in messages. `query(sql)` runs `sql` as a
 * subquery (one SELECT: it cannot write) with the input as `input`; like the stage itself it runs
 * in the stage's process (sandboxed for project code), where the input file is read-only.
 */
export function tableReader(session: TableSession, name: string, file: string, isDirectory: boolean): TableReader {
  const relation = parquetRelation(file, isDirectory);
  const bounded = async (sql: string, what: string): Promise<TableRow[]> => {
    const conn = await session.connection();
    // A line break before `)`: a trailing `-- comment` in the stage's SQL must not swallow it.
    const result = await conn.stream(`WITH input AS (SELECT * FROM ${relation}) SELECT * FROM (${sql}\n) LIMIT ${ROWS_LIMIT + 1}`);
    const rows: TableRow[] = [];
    for await (const chunk of result.yieldRowObjectJs()) for (const row of chunk) rows.push(plainRow(row));
    if (rows.length > ROWS_LIMIT) {
      throw new RangeError(
        `${what} has more than ${ROWS_LIMIT} rows, too many to return at once: read it with ` +
          `ctx.inputs.${name}.batches({ size }) (or narrow it with query() and LIMIT or an aggregate)`,
      );
    }
    return rows;
  };
  return {
    rows: () => bounded(`SELECT * FROM ${relation}`, `input "${name}"`),
    async *batches(options = {}) {
      const size = options.size ?? DEFAULT_BATCH_SIZE;
      if (!Number.isInteger(size) || size < 1) throw new RangeError(`batches: size must be a positive integer, got ${size}`);
      const conn = await session.connection();
      const result = await conn.stream(`SELECT * FROM ${relation}`);
      let batch: TableRow[] = [];
      for await (const chunk of result.yieldRowObjectJs()) {
        for (const row of chunk) {
          batch.push(plainRow(row));
          if (batch.length === size) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    },
    async table() {
      const conn = await session.connection();
      const query = `SELECT * FROM ${relation}`;
      const columns = await describe(conn, query);
      const reader = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${relation}`);
      const n = reader.getRowObjectsJS()[0]?.n as bigint;
      return { columns, rowCount: Number(n), query };
    },
    async query(sql) {
      if (typeof sql !== "string" || sql.trim() === "") throw new TypeError("query: sql must be a non-empty string");
      // `input` is a CTE of this statement, not a view: two inputs queried at once do not meet.
      return bounded(sql.trim().replace(/;\s*$/, ""), `the result of query() on input "${name}"`);
    },
  };
}

/** Row objects as JSON lines; a `Date` as its ISO string (DuckDB reads it back as a timestamp). */
export function jsonLines(rows: readonly TableRow[]): string {
  let out = "";
  for (const row of rows) {
    if (!row || typeof row !== "object" || Array.isArray(row)) throw new TypeError("every row must be a plain object");
    out += `${JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}\n`;
  }
  return out;
}

/**
 * Converts a JSON-lines or CSV file to Parquet at `target`, types inferred from every row (not
 * a sample, so a late float does not break an integer column); returns its shape. An empty
 * file makes an empty table only when it has a CSV header: JSON lines without a row have no columns.
 */
export async function toParquet(
  session: TableSession,
  source: string,
  format: "jsonl" | "csv",
  target: string,
): Promise<{ rowCount: number; columns: TableColumn[] }> {
  const conn = await session.connection();
  const read =
    format === "jsonl"
      ? `read_json(${sqlString(source)}, format = 'newline_delimited', sample_size = -1)`
      : `read_csv(${sqlString(source)}, header = true, sample_size = -1)`;
  await conn.run(`COPY (SELECT * FROM ${read}) TO ${sqlString(target)} (FORMAT parquet)`);
  const columns = await describe(conn, `SELECT * FROM ${parquetRelation(target)}`);
  const reader = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${parquetRelation(target)}`);
  return { rowCount: Number(reader.getRowObjectsJS()[0]?.n as bigint), columns };
}

/** Writes Parquet at `target` from batches of rows, through a JSON-lines scratch file beside it. */
export async function writeRowsAsParquet(
  session: TableSession,
  target: string,
  batches: AsyncIterable<readonly TableRow[]> | Iterable<readonly TableRow[]>,
): Promise<{ rowCount: number; columns: TableColumn[] }> {
  await mkdir(path.dirname(target), { recursive: true });
  const scratch = path.join(path.dirname(path.dirname(target)), `.sluice-rows-${path.basename(target)}.jsonl`);
  await rm(scratch, { force: true });
  let written = 0;
  try {
    for await (const batch of batches) {
      if (!Array.isArray(batch)) throw new TypeError("writeTable: every batch must be an array of row objects");
      if (batch.length === 0) continue;
      await appendFile(scratch, jsonLines(batch));
      written += batch.length;
    }
    if (written === 0) throw new RangeError("a Dataset output needs at least one row (its columns come from the rows)");
    return await toParquet(session, scratch, "jsonl", target);
  } finally {
    await rm(scratch, { force: true });
  }
}
