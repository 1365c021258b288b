/**
 * DuckDB vectors as typed arrays, for batch scoring's hot loop.
 *
 * `@duckdb/node-api` reads and writes vectors one value at a time (`getItem`/`setItem`, or the
 * appender's `appendDouble`… `endRow`, a native call per value). Scoring moves millions of
 * doubles each way, so it uses the bindings underneath the same API (the package `node-api` is
 * built on, at the version it pins): a DOUBLE vector's data read as one Float64Array, and a
 * column of predictions copied into a data chunk's vector in one call.
 */
import duckdb from "@duckdb/node-bindings";
import type { DuckDBDataChunk } from "@duckdb/node-api";

/** A DOUBLE column of one chunk: its values, and its validity bits (null when every value is valid). */
export interface DoubleColumn {
  values: Float64Array;
  /** Bit i (little-endian 64-bit words, so byte i >> 3, bit i & 7) is set when row i is not NULL. */
  validity: Uint8Array | null;
}

/** Column `column` (a DOUBLE) of the first `rows` rows of `chunk`. */
export function readDoubles(chunk: DuckDBDataChunk, column: number, rows: number): DoubleColumn {
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  const data = duckdb.vector_get_data(vector, rows * Float64Array.BYTES_PER_ELEMENT);
  const values = new Float64Array(data.buffer, data.byteOffset, rows);
  const validity = (duckdb.vector_get_validity(vector, Math.ceil(rows / 64) * 8) as Uint8Array | null) ?? null;
  return { values, validity };
}

/** Whether row `row` of a column with these validity bits holds a value. */
export function isValid(validity: Uint8Array | null, row: number): boolean {
  return validity === null || (validity[row >> 3]! & (1 << (row & 7))) !== 0;
}

/**
 * Copies the first `rows` values of `values` into column `column` of `chunk` (a DOUBLE column for
 * a Float64Array, BIGINT for a BigInt64Array); every value is valid, as in a new chunk.
 */
export function writeColumn(chunk: DuckDBDataChunk, column: number, values: Float64Array | BigInt64Array, rows: number): void {
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  duckdb.copy_data_to_vector(vector, 0, values.buffer as ArrayBuffer, values.byteOffset, rows * values.BYTES_PER_ELEMENT);
}
