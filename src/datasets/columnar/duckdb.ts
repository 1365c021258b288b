import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

/**
 * One in-memory DuckDB instance per process, shared by every columnar job (ingestion,
 * profiling, validation, feature joins). DuckDB parallelizes each query over its own threads,
 * so a single instance with a connection per job is the intended shape; jobs never share a
 * connection, so their temporary views cannot collide.
 */
let instance: Promise<DuckDBInstance> | undefined;

function shared(): Promise<DuckDBInstance> {
  // DuckDB uses every core by default; SLUICE_DUCKDB_THREADS caps it on shared machines.
  const threads = process.env.SLUICE_DUCKDB_THREADS;
  instance ??= DuckDBInstance.create(":memory:", threads ? { threads } : {});
  return instance;
}

/** Runs `fn` on a fresh connection of the shared instance, closed afterwards. */
export async function withDuckDb<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await shared()).connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/** Rows of a query as plain JSON values (BIGINT as number when safe, timestamps as ISO strings). */
export async function queryJson(conn: DuckDBConnection, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql, params as never);
  return reader.getRowObjectsJson() as Record<string, unknown>[];
}

/** A SQL string literal: single quotes doubled. For paths and names DuckDB cannot take as parameters. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A quoted SQL identifier: double quotes doubled. */
export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
