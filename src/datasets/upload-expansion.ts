import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { InvalidInputError } from "../kernel/errors";
import { PayloadTooLargeError } from "../kernel/http";
import { queryJson, sqlString, withDuckDb } from "./columnar/duckdb";
import type { FileFormat } from "./types";

/**
 * Uploads that expand: the body is at most SLUICE_UPLOAD_LIMIT bytes, but what DuckDB reads from it
 * must be bounded too (issue #13: 0.3 MB of `bomb.csv.gz` was ingested as 78.6 M rows).
 *
 * - Compressed files: DuckDB decompresses a `.gz` or `.zst` file as it reads it. Here the server
 *   decompresses gzip itself, counting the bytes it writes and stopping at the same limit, and
 *   hands DuckDB a plain file; zstd (which Node 20 cannot decompress as a stream) is refused.
 *   Compression is recognized by content and by name, whichever says so.
 * - Parquet: run-length and dictionary encoding make 315 KB hold 100 M rows. A Parquet upload may
 *   declare (in its footer, which is what DuckDB reads by) at most as many cells, rows times
 *   columns, as the limit has bytes: no more than a CSV file of that size could hold, since every
 *   CSV cell takes at least one byte.
 */

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** All compression suffixes, so a plain file never ends in one (DuckDB would decompress it again). */
const COMPRESSED_SUFFIX = /(\.(gz|gzip|zst|zstd))+$/i;

async function head(file: string, bytes: number): Promise<Buffer> {
  const handle = await fs.open(file, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * The plain file to ingest for an uploaded `file` named `name` in `format`: `file` itself when it
 * is not compressed, else its decompressed copy beside it (the name without `.gz`); either way
 * within `maxBytes` once expanded.
 *
 * @throws PayloadTooLargeError (413) when the decompressed data, or a Parquet file's cells, are
 *   over `maxBytes`; InvalidInputError when it is zstd or not valid gzip.
 */
export async function expandUpload(
  file: string,
  name: string,
  format: FileFormat,
  maxBytes: number,
): Promise<{ file: string; name: string }> {
  const plain = await decompress(file, name, maxBytes);
  if (format === "parquet") await checkParquetCells(plain.file, maxBytes);
  return plain;
}

async function decompress(file: string, name: string, maxBytes: number): Promise<{ file: string; name: string }> {
  const magic = await head(file, 4);
  const gzip = magic.subarray(0, 2).equals(GZIP_MAGIC);
  const zstd = magic.equals(ZSTD_MAGIC);
  const plainName = name.replace(COMPRESSED_SUFFIX, "");
  if (zstd || (/\.(zst|zstd)$/i.test(name) && !gzip))
    throw new InvalidInputError([
      { field: "body", message: "zstd-compressed uploads are not supported; upload the file plain or gzip-compressed" },
    ]);
  if (!gzip) {
    if (plainName !== name)
      throw new InvalidInputError([{ field: "name", message: `${name} is named as compressed but is not gzip data` }]);
    return { file, name };
  }
  // The plain copy keeps the upload's name (in a folder of its own), so messages name that file.
  await fs.mkdir(path.join(path.dirname(file), "plain"), { recursive: true });
  const out = path.join(path.dirname(file), "plain", plainName);
  let written = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      if (written > maxBytes) done(new PayloadTooLargeError(maxBytes, "SLUICE_UPLOAD_LIMIT", "decompressed, the upload is"));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), count, createWriteStream(out));
  } catch (err) {
    await fs.rm(out, { force: true });
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError([{ field: "body", message: `is not valid gzip data: ${(err as Error).message}` }]);
  }
  // The compressed copy is no longer needed; the plain one is what DuckDB reads.
  await fs.rm(file, { force: true });
  return { file: out, name: plainName };
}

/** Refuses a Parquet file declaring more cells than `maxBytes`; one that does not parse is left to the ingestion's own error. */
async function checkParquetCells(file: string, maxBytes: number): Promise<void> {
  const cells = await withDuckDb(async (conn) => {
    try {
      const [{ rows }] = await queryJson(conn, `SELECT sum(num_rows)::DOUBLE AS rows FROM parquet_file_metadata(${sqlString(file)})`);
      const [{ leaves }] = await queryJson(
        conn,
        `SELECT count(*)::DOUBLE AS leaves FROM parquet_schema(${sqlString(file)}) WHERE coalesce(num_children, 0) = 0`,
      );
      return Number(rows) * Math.max(1, Number(leaves));
    } catch {
      return 0;
    }
  });
  if (cells > maxBytes)
    throw new PayloadTooLargeError(maxBytes, "SLUICE_UPLOAD_LIMIT", `as rows times columns (${cells} cells), the upload is`);
}
