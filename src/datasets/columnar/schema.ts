import type { DuckDBConnection } from "@duckdb/node-api";
import type { ColumnSchema } from "../types";
import { queryJson, sqlString, withDuckDb } from "./duckdb";

/** The columns of a query's result, as DuckDB types them. */
export async function describeQuery(conn: DuckDBConnection, sql: string): Promise<ColumnSchema[]> {
  const rows = await queryJson(conn, `DESCRIBE ${sql}`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type), nullable: r.null !== "NO" }));
}

/** The columns of a Parquet file. */
export async function describeParquet(file: string): Promise<ColumnSchema[]> {
  return withDuckDb((conn) => describeQuery(conn, `SELECT * FROM read_parquet(${sqlString(file)})`));
}

/** The kind of a DuckDB type, which decides how a column is profiled and compared. */
export function typeKind(type: string): "numeric" | "categorical" | "temporal" | "boolean" {
  const t = type.toUpperCase();
  // Nested values (a JSON object or array: STRUCT, LIST, MAP) are profiled by their text, whatever
  // they hold: BIGINT[] is a list, not a number.
  if (/\]$/.test(t) || /^(STRUCT|MAP|UNION|LIST)\b/.test(t)) return "categorical";
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL)/.test(t))
    return "numeric";
  if (/^(DATE|TIME|TIMESTAMP|INTERVAL)/.test(t)) return "temporal";
  if (t === "BOOLEAN") return "boolean";
  return "categorical";
}

const INTEGER_RANK = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"];
const UNSIGNED_RANK = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"];

/**
 * Whether every value of type `from` is exactly representable in `to`, so a reader of the old
 * column keeps working: wider integers, integers or FLOAT into DOUBLE, DATE into TIMESTAMP.
 */
export function isWidening(from: string, to: string): boolean {
  const f = from.toUpperCase();
  const t = to.toUpperCase();
  if (f === t) return true;
  for (const rank of [INTEGER_RANK, UNSIGNED_RANK]) {
    if (rank.includes(f) && rank.includes(t)) return rank.indexOf(t) > rank.indexOf(f);
  }
  // An unsigned integer fits a signed one of the next width up.
  if (UNSIGNED_RANK.includes(f) && INTEGER_RANK.includes(t)) return INTEGER_RANK.indexOf(t) > UNSIGNED_RANK.indexOf(f);
  if (t === "DOUBLE") return ["TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER", "FLOAT", "REAL"].includes(f);
  if (f === "DATE" && t.startsWith("TIMESTAMP")) return true;
  return false;
}
