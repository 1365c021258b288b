import { randomUUID } from "node:crypto";
import { BIGINT, BOOLEAN, DOUBLE, type DuckDBAppender, DuckDBDataChunk, DuckDBVector, VARCHAR } from "@duckdb/node-api";
import * as ort from "onnxruntime-node";
import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { InvalidInputError } from "../../kernel/errors";
import { profileParquet, describeParquet, typeKind, queryJson, sqlIdent, sqlString, withDuckDb } from "../../datasets/columnar";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { answerOutputs, answerSignature, fetchesFor, readSignature } from "../../registry";
import { type OutputColumn, feedsFor, outputColumnsOf, scoreColumnsOf } from "../columns";
import { writeColumn } from "../vectors";

/** Parameters of the `score` operator. */
export interface ScoreParams {
  /** The dataset the predictions become a version of. */
  dataset: string;
  /** Input columns copied beside the predictions (keys, timestamps). @default every input column */
  keep?: string[];
  /** Rows per `session.run`. @default 65536 */
  chunkRows?: number;
  schemaPolicy?: "ALLOW_ALL" | "FAIL_ON_BREAKING" | "FAIL_ON_ANY";
}

function bad(field: string, message: string): InvalidInputError {
  return new InvalidInputError([{ field, message }]);
}

/**
 * Batch scoring: runs an ONNX model over every row of a dataset and writes the predictions,
 * beside the columns to keep, as a new version of a predictions dataset. DuckDB streams the
 * model's input columns chunk by chunk into typed arrays (no object per row), onnxruntime scores
 * each chunk, the results are appended to a DuckDB table, and one `COPY` writes the Parquet file,
 * joining the kept columns back by position — so memory holds one chunk, not the dataset.
 */
export async function score(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as ScoreParams;
  const modelIn = required(ctx.inputs, "model", "input", "score");
  const data = required(ctx.inputs, "data", "input", "score");
  const out = required(ctx.outputs, "predictions", "output", "score");
  return withInputErrorsFinal(async () => {
    const bytes = new Uint8Array(await modelIn.readBuffer());
    const sig = readSignature(bytes);
    const schema = await describeParquet(data.path);
    const types = new Map(schema.map((c) => [c.name, c.type]));
    for (const input of sig.inputs) {
      if (!types.has(input.name))
        throw bad(
          "inputs.data",
          `has no column ${input.name}, which the model takes as an input (columns: ${[...types.keys()].join(", ")})`,
        );
      if (typeKind(types.get(input.name)!) === "temporal")
        throw bad("inputs.data", `column ${input.name} is a timestamp; the model takes ${input.type}`);
    }
    const keep = p.keep ?? schema.map((c) => c.name);
    for (const k of keep) if (!types.has(k)) throw bad("params.keep", `names ${k}, which is not a column of the input`);
    // Columns of the outputs serving answers: a classifier with class names gives its names and
    // their indices, whatever shape its graph has (registry/class-label-outputs.ts).
    const answered = answerSignature(sig);
    const answerNames = answered.outputs.map((o) => o.name);
    const fetches = fetchesFor(sig, answerNames);
    const outputs = outputColumnsOf(answered);
    const clash = outputs.find((o) => keep.includes(o.column));
    if (clash) throw bad("params.keep", `keeps ${clash.column}, the name of a prediction column; drop it from keep`);

    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes);
    } catch (err) {
      throw bad("inputs.model", `onnxruntime cannot load it: ${(err as Error).message.split("\n")[0]}`);
    }
    const chunkRows = p.chunkRows ?? 65_536;
    const started = performance.now();
    const select = sig.inputs.map((s) => `CAST(${sqlIdent(s.name)} AS ${s.type === "string" ? "VARCHAR" : "DOUBLE"})`).join(", ");
    let rows = 0;
    try {
      // Two connections: a DuckDB connection that runs anything else (an appender flushing)
      // ends its pending streaming result, so the rows are read on one and written on the other.
      const table = `scored_${randomUUID().replace(/-/g, "")}`;
      rows = await withDuckDb((writer) =>
        withDuckDb(async (reader) => {
          await writer.run(`CREATE TABLE ${table} (${outputs.map((o) => `${sqlIdent(o.column)} ${o.sqlType}`).join(", ")})`);
          try {
            const appender = await writer.createAppender(table);
            const buffers = scoreColumnsOf(sig, chunkRows);
            let filled = 0;
            let total = 0;
            const flush = async () => {
              if (filled === 0) return;
              const results = answerOutputs(sig, answerNames, await session.run(feedsFor(sig, buffers, filled), fetches));
              append(appender, outputs, results, filled);
              total += filled;
              filled = 0;
            };
            const result = await reader.stream(`SELECT ${select} FROM read_parquet(${sqlString(data.path)})`);
            for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
              const n = chunk.rowCount;
              let offset = 0;
              while (offset < n) {
                const take = Math.min(n - offset, chunkRows - filled);
                for (let c = 0; c < buffers.length; c++) buffers[c]!.fill(chunk, c, offset, filled, take);
                filled += take;
                offset += take;
                if (filled === chunkRows) await flush();
              }
            }
            await flush();
            appender.closeSync();
            const [{ n: input }] = await queryJson(reader, `SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(data.path)})`);
            if (Number(input) !== total) throw new Error(`scored ${total} rows of ${String(input)}: the input was not read to its end`);
            // Both scans read the file in order (DuckDB preserves insertion order), so row i of the
            // predictions belongs to row i of the input.
            const kept = keep.map((k) => `d.${sqlIdent(k)}`);
            await writer.run(
              `COPY (SELECT ${[...kept, ...outputs.map((o) => `p.${sqlIdent(o.column)}`)].join(", ")}
                       FROM read_parquet(${sqlString(data.path)}) d POSITIONAL JOIN ${table} p)
                 TO ${sqlString(out.path)} (FORMAT parquet, COMPRESSION zstd)`,
            );
            return total;
          } finally {
            await writer.run(`DROP TABLE IF EXISTS ${table}`);
          }
        }),
      );
    } finally {
      await session.release();
    }
    const seconds = (performance.now() - started) / 1000;
    ctx.log(`scored ${rows} rows in ${seconds.toFixed(2)} s (${Math.round(rows / Math.max(seconds, 1e-9))} rows/s)`);
    ctx.metric("rows", rows);
    ctx.metric("rows_per_second", rows / Math.max(seconds, 1e-9));
    const written = await describeParquet(out.path);
    const profile = await profileParquet(out.path);
    return {
      predictions: {
        metadata: {
          dataset: p.dataset,
          rowCount: rows,
          format: "parquet",
          predictionColumns: outputs.map((o) => o.column),
          register: {
            type: "datasetVersion",
            dataset: p.dataset,
            schemaPolicy: p.schemaPolicy ?? "FAIL_ON_BREAKING",
            rowCount: rows,
            schema: written,
            profile,
            origin: { kind: "SCORING", keep, predictionColumns: outputs.map((o) => o.column) },
          },
        },
      },
    };
  });
}

const DUCKDB_TYPES = { DOUBLE, BIGINT, VARCHAR, BOOLEAN } as const;

/**
 * Appends one scored chunk as whole DuckDB data chunks (the vector size, 2,048 rows): numeric
 * columns are gathered into a typed array and copied into the chunk's vector in one call, instead
 * of one native call per value and per row (`appendDouble`… `endRow`), which cost as much as the
 * scoring around it. Strings and booleans (rare outputs) go value by value.
 */
function append(appender: DuckDBAppender, outputs: OutputColumn[], results: Record<string, ort.OnnxValue>, n: number): void {
  const size = DuckDBVector.standardSize();
  const types = outputs.map((o) => DUCKDB_TYPES[o.sqlType]);
  const doubles = new Float64Array(size);
  const bigints = new BigInt64Array(size);
  const sources = outputs.map((o) => ({ o, data: results[o.output]!.data as ArrayLike<unknown> }));
  for (let start = 0; start < n; start += size) {
    const rows = Math.min(size, n - start);
    const chunk = DuckDBDataChunk.create(types, rows);
    sources.forEach(({ o, data }, c) => {
      const at = (i: number) => data[(start + i) * o.width + o.index];
      if (o.sqlType === "DOUBLE") {
        for (let i = 0; i < rows; i++) doubles[i] = Number(at(i));
        writeColumn(chunk, c, doubles, rows);
      } else if (o.sqlType === "BIGINT") {
        for (let i = 0; i < rows; i++) {
          const v = at(i);
          bigints[i] = typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v)));
        }
        writeColumn(chunk, c, bigints, rows);
      } else {
        const vector = chunk.getColumnVector(c);
        for (let i = 0; i < rows; i++) vector.setItem(i, o.sqlType === "VARCHAR" ? String(at(i)) : Boolean(at(i)));
        vector.flush();
      }
    });
    appender.appendDataChunk(chunk);
  }
}
