import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";

/** Small hand-made Parquet files for the feature store tests. */

export type Cell = string | number | boolean | null;

/** A temporary directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "sluice-features-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function literal(value: Cell): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return sqlString(value);
  return String(value);
}

/**
 * Writes `rows` to a Parquet file, in the given order, with `columns` as `[name, DuckDB type]`;
 * each value is cast from its literal (timestamps as 'YYYY-MM-DD HH:MM:SS' strings).
 */
export async function writeParquet(file: string, columns: Array<[string, string]>, rows: Cell[][]): Promise<string> {
  const values = rows.map((r) => `(${r.map(literal).join(", ")})`).join(",\n");
  const names = columns.map(([n]) => sqlIdent(n)).join(", ");
  const casts = columns.map(([n, t]) => `CAST(${sqlIdent(n)} AS ${t}) AS ${sqlIdent(n)}`).join(", ");
  await withDuckDb((conn) =>
    queryJson(conn, `COPY (SELECT ${casts} FROM (VALUES ${values}) AS t(${names})) TO ${sqlString(file)} (FORMAT parquet)`),
  );
  return file;
}

/** Every row of a Parquet file in file order, with `select` as the projection. */
export async function readParquet(file: string, select = "*"): Promise<Record<string, unknown>[]> {
  return withDuckDb((conn) => queryJson(conn, `SELECT ${select} FROM read_parquet(${sqlString(file)})`));
}

/** Numbers from DuckDB's JSON (BIGINT and HUGEINT come as strings), nulls kept. */
export function num(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
