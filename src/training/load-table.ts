/**
 * Loads chosen columns of a Parquet file into a training Table: DuckDB streams the rows chunk by
 * chunk and each chunk's column vectors are copied into preallocated typed arrays, so no object
 * per row is ever built. Numeric columns become Float64Array (NULL → NaN), VARCHAR and BOOLEAN
 * (and any other non-numeric, non-temporal type) become string arrays (NULL → null).
 */
import { queryJson, sqlIdent, sqlString, withDuckDb, describeParquet, typeKind } from "../datasets/columnar";
import type { Column, Table } from "./data";

export interface LoadColumn {
  name: string;
  /** How to read the column; `auto` decides by its Parquet type. */
  as: "auto" | "numeric" | "categorical";
}

export interface LoadedTable {
  table: Table;
  /** The Parquet (DuckDB) type of every loaded column. */
  types: Record<string, string>;
  /** Rows in the file, before dropping rows without a target and sampling. */
  fileRows: number;
}

/** A load error caused by the request (unknown column, unsupported type): the same on every attempt. */
export class LoadColumnsError extends Error {
  override name = "LoadColumnsError";
}

/**
 * Reads `columns` of `file`. Rows where any of `notNull` is NULL are dropped (a missing target
 * cannot be trained on); `maxRows` keeps a seeded reservoir sample of that many rows.
 */
export async function loadTable(
  file: string,
  columns: LoadColumn[],
  opts: { notNull?: string[]; maxRows?: number; seed?: number } = {},
): Promise<LoadedTable> {
  const schema = await describeParquet(file);
  const byName = new Map(schema.map((c) => [c.name, c.type]));
  const kinds: Array<"numeric" | "categorical"> = [];
  const types: Record<string, string> = {};
  for (const c of columns) {
    const type = byName.get(c.name);
    if (type === undefined) {
      throw new LoadColumnsError(`the input has no column "${c.name}" (columns: ${schema.map((s) => s.name).join(", ")})`);
    }
    types[c.name] = type;
    const kind = typeKind(type);
    if (kind === "temporal") throw new LoadColumnsError(`column "${c.name}" is ${type}: temporal columns cannot be features or targets`);
    const natural = kind === "numeric" ? "numeric" : "categorical";
    if (c.as === "numeric" && natural !== "numeric") throw new LoadColumnsError(`column "${c.name}" is ${type}, not numeric`);
    kinds.push(c.as === "auto" ? natural : c.as);
  }
  const from = `read_parquet(${sqlString(file)})`;
  const where = (opts.notNull ?? []).map((n) => `${sqlIdent(n)} IS NOT NULL`).join(" AND ");
  const select = columns.map((c, i) => `CAST(${sqlIdent(c.name)} AS ${kinds[i] === "numeric" ? "DOUBLE" : "VARCHAR"}) AS c${i}`).join(", ");
  let source = `SELECT * FROM ${from}${where ? ` WHERE ${where}` : ""}`;
  return withDuckDb(async (conn) => {
    const [{ n: fileRows }] = (await queryJson(conn, `SELECT count(*)::BIGINT AS n FROM ${from}`)) as [{ n: number }];
    const [{ n: kept }] = (await queryJson(conn, `SELECT count(*)::BIGINT AS n FROM (${source})`)) as [{ n: number }];
    if (opts.maxRows !== undefined && Number(kept) > opts.maxRows) {
      const seed = Math.abs(Math.trunc(opts.seed ?? 42)) % 2147483647;
      source = `SELECT * FROM (${source}) USING SAMPLE reservoir(${Math.trunc(opts.maxRows)} ROWS) REPEATABLE (${seed})`;
    }
    // Materialized once so every column is read from the same rows in the same order.
    await conn.run(`CREATE TEMP TABLE load_rows AS SELECT ${select} FROM (${source})`);
    try {
      const [{ n: counted }] = (await queryJson(conn, `SELECT count(*)::BIGINT AS n FROM load_rows`)) as [{ n: number }];
      const rows = Number(counted);
      const numeric = kinds.map((k) => (k === "numeric" ? new Float64Array(rows) : null));
      const strings = kinds.map((k) => (k === "categorical" ? new Array<string | null>(rows).fill(null) : null));
      const result = await conn.stream(`SELECT * FROM load_rows ORDER BY rowid`);
      let offset = 0;
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        const n = chunk.rowCount;
        for (let c = 0; c < columns.length; c++) {
          const values = chunk.getColumnValues(c);
          const num = numeric[c];
          if (num) {
            for (let r = 0; r < n; r++) {
              const v = values[r];
              num[offset + r] = v === null || v === undefined ? NaN : Number(v);
            }
          } else {
            const str = strings[c]!;
            for (let r = 0; r < n; r++) {
              const v = values[r];
              str[offset + r] = v === null || v === undefined ? null : String(v);
            }
          }
        }
        offset += n;
      }
      if (offset !== rows) throw new Error(`read ${offset} rows, expected ${rows}`);
      const out: Column[] = columns.map((c, i) =>
        numeric[i] ? { name: c.name, kind: "numeric", values: numeric[i]! } : { name: c.name, kind: "categorical", values: strings[i]! },
      );
      return { table: { rows, columns: out }, types, fileRows: Number(fileRows) };
    } finally {
      await conn.run(`DROP TABLE IF EXISTS load_rows`);
    }
  });
}
