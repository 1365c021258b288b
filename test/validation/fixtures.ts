import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { queryJson, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";

/** A temporary folder for one test file's Parquet files, removed by `cleanup`. */
export function tempDir(): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-validation-"));
  return { dir, file: (name) => path.join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes `rows` as a Parquet file with exactly the DuckDB `columns` types given, so that tests can
 * compute expected values in JavaScript from the very same arrays.
 */
export async function writeParquet(file: string, columns: Record<string, string>, rows: Record<string, unknown>[]): Promise<string> {
  const json = `${file}.jsonl`;
  writeFileSync(json, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const spec = `{${Object.entries(columns)
    .map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`)
    .join(", ")}}`;
  const select = Object.keys(columns)
    .map((name) => `"${name}"`)
    .join(", ");
  await withDuckDb(async (conn) => {
    // An empty JSONL file has no rows to infer from; the explicit columns make it a typed, empty table.
    await conn.run(
      `COPY (SELECT ${select} FROM read_json(${sqlString(json)}, format = 'newline_delimited', columns = ${spec})) TO ${sqlString(file)} (FORMAT parquet)`,
    );
  });
  rmSync(json);
  return file;
}

/** Every row of a Parquet file, in file order (tests only: the files are tiny). */
export async function readParquet(file: string): Promise<Record<string, unknown>[]> {
  return withDuckDb((conn) => queryJson(conn, `SELECT * FROM read_parquet(${sqlString(file)})`));
}

/** The column names of a Parquet file, in order. */
export async function columnNames(file: string): Promise<string[]> {
  const rows = await withDuckDb((conn) => queryJson(conn, `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`));
  return rows.map((r) => String(r.column_name));
}

/** numpy's default (linear) quantile of sorted values, which is DuckDB's quantile_cont. */
export function quantileSorted(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
