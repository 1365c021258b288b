import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { once } from "node:events";
import pg from "pg";
import { InvalidInputError } from "../../kernel/errors";
import { duckMessage } from "../columnar/read";
import { describeQuery } from "../columnar/schema";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "../columnar/duckdb";
import type { ColumnSchema, PostgresQuerySourceConfig } from "../types";

/** PostgreSQL type OIDs and the DuckDB type each becomes; everything else is kept as its text. */
const TYPES: Record<number, string> = {
  16: "BOOLEAN",
  20: "BIGINT",
  21: "SMALLINT",
  23: "INTEGER",
  700: "FLOAT",
  701: "DOUBLE",
  // NUMERIC has no fixed scale to map to DECIMAL(p,s); DOUBLE is what analysis wants anyway.
  1700: "DOUBLE",
  1082: "DATE",
  1083: "TIME",
  1114: "TIMESTAMP",
  1184: "TIMESTAMPTZ",
};

export interface QueryOptions {
  /** Rows fetched per round trip. @default 10,000 */
  batchRows?: number;
  /**
   * Longest the query may run, in ms: each round trip (PostgreSQL's `statement_timeout`) and all
   * of them together. The server passes `SLUICE_SQL_SOURCE_TIMEOUT_MS`. @default 60000
   */
  statementTimeoutMs?: number;
  /** Most rows the query may return; one more is refused, not cut. The server passes `SLUICE_SQL_SOURCE_MAX_ROWS`. @default 10,000,000 */
  maxRows?: number;
}

/** PostgreSQL's SQLSTATE for a statement cancelled by `statement_timeout`. */
const QUERY_CANCELED = "57014";

/** Whether the server cancelled the statement for its timeout, or the driver gave up waiting. */
function timedOut(err: unknown): boolean {
  return (err as { code?: string }).code === QUERY_CANCELED || /Query read timeout/.test((err as Error).message ?? "");
}

function tooSlow(timeoutMs: number): InvalidInputError {
  return new InvalidInputError([
    { field: "config.query", message: `the query ran longer than ${timeoutMs} ms, the limit set by SLUICE_SQL_SOURCE_TIMEOUT_MS` },
  ]);
}

/** The rows, columns and folder a query produced on its way to Parquet. */
export interface MaterializedQuery {
  rowCount: number;
  schema: ColumnSchema[];
}

const textParser = { getTypeParser: () => (value: string) => value };

/**
 * Runs `config.query` against the database at `url` and writes its rows to `outFile` as Parquet.
 * The query runs in a READ ONLY transaction through a cursor, so it cannot write (PostgreSQL
 * refuses any INSERT, UPDATE, DDL or nextval) and its result streams in batches to a scratch
 * file beside `outFile` — never held whole in memory. Values travel as PostgreSQL's text and are
 * cast by DuckDB, so no precision is lost on the way through JavaScript. The URL is never put
 * in an error or a log.
 */
export async function materializePostgresQuery(
  config: PostgresQuerySourceConfig,
  url: string,
  outFile: string,
  opts: QueryOptions = {},
): Promise<MaterializedQuery> {
  const query = config.query.trim().replace(/;+\s*$/, "");
  if (!query) throw new InvalidInputError([{ field: "config.query", message: "must be a SELECT query" }]);
  const scratch = path.join(path.dirname(outFile), "rows.jsonl");
  const timeoutMs = Math.max(1, Math.floor(opts.statementTimeoutMs ?? 60_000));
  const maxRows = Math.max(1, Math.floor(opts.maxRows ?? 10_000_000));
  const client = new pg.Client({
    connectionString: url,
    application_name: "sluice-ingest",
    // Client-side bounds too, for a server that never answers (the server-side timeout answers first).
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs + 5_000,
  });
  try {
    await client.connect();
  } catch (err) {
    // The driver's message can carry the host and user; never the password, but keep it short.
    throw new InvalidInputError([{ field: "config.secret", message: `cannot connect to the database: ${(err as Error).message}` }]);
  }
  let columns: Array<{ name: string; type: string }> = [];
  let rowCount = 0;
  const deadline = Date.now() + timeoutMs;
  try {
    await client.query("BEGIN TRANSACTION READ ONLY");
    await client.query(`SET LOCAL statement_timeout = ${timeoutMs}`);
    await client.query("SET LOCAL TIME ZONE 'UTC'");
    try {
      // The extended protocol takes one statement only: `SELECT 1; DROP TABLE t` cannot ride along.
      await client.query({ text: `DECLARE sluice_source NO SCROLL CURSOR FOR ${query}`, queryMode: "extended" } as pg.QueryConfig);
    } catch (err) {
      if (timedOut(err)) throw tooSlow(timeoutMs);
      throw new InvalidInputError([{ field: "config.query", message: `the query cannot run read-only: ${(err as Error).message}` }]);
    }
    const out = createWriteStream(scratch);
    const batch = Math.max(1, opts.batchRows ?? 10_000);
    try {
      for (;;) {
        // One row past the limit tells "exactly the limit" from "more": the query is refused, never silently cut.
        const want = Math.min(batch, maxRows + 1 - rowCount);
        const res = await client.query({ text: `FETCH ${want} FROM sluice_source`, rowMode: "array", types: textParser });
        if (columns.length === 0) {
          columns = res.fields.map((f) => ({ name: f.name, type: TYPES[f.dataTypeID] ?? "VARCHAR" }));
          const names = columns.map((c) => c.name);
          const dup = names.find((n, i) => names.indexOf(n) !== i);
          if (dup) throw new InvalidInputError([{ field: "config.query", message: `the query returns two columns named ${dup}` }]);
        }
        for (const row of res.rows as Array<Array<string | null>>) {
          if (!out.write(JSON.stringify(row) + "\n")) await once(out, "drain");
        }
        rowCount += res.rows.length;
        if (rowCount > maxRows)
          throw new InvalidInputError([
            {
              field: "config.query",
              message: `the query returns more than ${maxRows} rows, the limit set by SLUICE_SQL_SOURCE_MAX_ROWS; aggregate or filter it in SQL`,
            },
          ]);
        if (res.rows.length < want) break;
        // statement_timeout bounds each FETCH; this bounds a query that is slow batch after batch.
        if (Date.now() > deadline) throw tooSlow(timeoutMs);
      }
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      if (timedOut(err)) throw tooSlow(timeoutMs);
      throw new InvalidInputError([{ field: "config.query", message: `the query failed: ${(err as Error).message}` }]);
    } finally {
      out.end();
      await once(out, "close");
    }
    await client.query("COMMIT");
  } finally {
    await client.end().catch(() => undefined);
  }
  try {
    if (rowCount === 0) throw new InvalidInputError([{ field: "config.query", message: "the query returned no rows" }]);
    return await withDuckDb(async (conn) => {
      // Each line is a JSON array of texts; take it as one VARCHAR[] and cast element by element.
      const select = columns.map((c, i) => `CAST(r[${i + 1}] AS ${c.type}) AS ${sqlIdent(c.name)}`).join(", ");
      const source = `(SELECT json::VARCHAR[] AS r FROM read_ndjson_objects(${sqlString(scratch)}))`;
      try {
        await queryJson(conn, `COPY (SELECT ${select} FROM ${source}) TO ${sqlString(outFile)} (FORMAT parquet, COMPRESSION zstd)`);
      } catch (err) {
        throw new InvalidInputError([{ field: "config.query", message: `cannot convert the query's rows: ${duckMessage(err)}` }]);
      }
      const schema = await describeQuery(conn, `SELECT * FROM read_parquet(${sqlString(outFile)})`);
      return { rowCount, schema };
    });
  } finally {
    await fs.rm(scratch, { force: true });
  }
}
