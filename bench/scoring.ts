/**
 * Benchmark: batch scoring (`score` operator) of the flights data with a gradient-boosted
 * classifier, the model the flights example trains, against raw onnxruntime on the same rows.
 *
 *   1. train  — the `train` stage function on 200,000 flights (hour, day of week, month,
 *               distance → delayed > 15 min), 100 trees of depth 6, exported to ONNX.
 *   2. raw    — `session.run` alone over all rows, in chunks of 65,536 with the inputs already in
 *               typed arrays: the floor.
 *   3. score  — the `score` stage function over the 3,000,000-row Parquet file: read, score,
 *               append, write the predictions Parquet beside `id`, and profile it.
 *               Target: ≥ 1,000,000 rows/s.
 *
 * Run by hand (builds first): npx tsc -p . && node dist/bench/scoring.js [rows]
 * Figures go to bench/RESULTS.md.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import type { StageContext, StageInput, StageOutputTarget } from "../runners/local/stage";
import { queryJson, sqlString, withDuckDb } from "../src/datasets/columnar/duckdb";
import { readSignature } from "../src/registry/signature";
import { score } from "../src/scoring/operators/score";
import { train } from "../src/training/operators/train";

const FLIGHTS = path.resolve(__dirname, "../../node_modules/vega-datasets/data/flights-3m.parquet");
const rows = Number(process.argv[2] ?? 3_000_000);

function input(p: string): StageInput {
  return {
    path: p,
    readText: () => fs.readFile(p, "utf8"),
    readJson: async () => JSON.parse(await fs.readFile(p, "utf8")),
    readBuffer: () => fs.readFile(p),
  } as unknown as StageInput;
}

function output(p: string): StageOutputTarget {
  return {
    path: p,
    writeText: (t: string) => fs.writeFile(p, t),
    writeJson: (v: unknown) => fs.writeFile(p, JSON.stringify(v)),
    writeBuffer: (d: Uint8Array) => fs.writeFile(p, d),
    dir: () => p,
  } as unknown as StageOutputTarget;
}

function context(
  params: Record<string, unknown>,
  inputs: Record<string, StageInput>,
  outputs: Record<string, StageOutputTarget>,
): StageContext {
  return {
    runId: "bench",
    stageRunId: "bench",
    stageName: "bench",
    attempt: 1,
    workDir: os.tmpdir(),
    params,
    inputs,
    outputs,
    signal: new AbortController().signal,
    log: () => undefined,
    metric: () => undefined,
  } as unknown as StageContext;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function main() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-bench-scoring-"));
  try {
    const data = path.join(dir, "flights.parquet");
    const sample = path.join(dir, "sample.parquet");
    await withDuckDb(async (conn) => {
      const features = `row_number() OVER () AS id, hour(date)::DOUBLE AS hour, dayofweek(date)::DOUBLE AS day_of_week,
        month(date)::DOUBLE AS month, distance::DOUBLE AS distance, (delay > 15)::INTEGER AS delayed`;
      await conn.run(
        `COPY (SELECT ${features} FROM read_parquet(${sqlString(FLIGHTS)}) LIMIT ${rows}) TO ${sqlString(data)} (FORMAT parquet)`,
      );
      await conn.run(
        `COPY (SELECT * FROM read_parquet(${sqlString(data)}) USING SAMPLE reservoir(200000 ROWS) REPEATABLE (42)) TO ${sqlString(sample)} (FORMAT parquet)`,
      );
      const [{ n }] = await queryJson(conn, `SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlString(data)})`);
      console.log(`rows: ${n}`);
    });

    const modelFile = path.join(dir, "model.onnx");
    let t0 = performance.now();
    await train(
      context(
        {
          algorithm: "gbt_classifier",
          target: "delayed",
          features: ["hour", "day_of_week", "month", "distance"],
          hyperparameters: { maxIter: 100, maxDepth: 6, learningRate: 0.1, earlyStopping: false },
          seed: 42,
        },
        { data: input(sample) },
        { model: output(modelFile) },
      ),
    );
    console.log(`train (200,000 rows, 100 trees, depth 6): ${((performance.now() - t0) / 1000).toFixed(2)} s`);

    // Raw onnxruntime on the same rows, inputs already in typed arrays.
    const bytes = await fs.readFile(modelFile);
    const sig = readSignature(bytes);
    const session = await ort.InferenceSession.create(bytes);
    const columns = await withDuckDb(async (conn) => {
      const cols: Record<string, Float32Array> = {};
      for (const s of sig.inputs) cols[s.name] = new Float32Array(rows);
      const result = await conn.stream(`SELECT ${sig.inputs.map((s) => s.name).join(", ")} FROM read_parquet(${sqlString(data)})`);
      let offset = 0;
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        sig.inputs.forEach((s, c) => {
          const values = chunk.getColumnValues(c);
          const into = cols[s.name]!;
          for (let r = 0; r < chunk.rowCount; r++) into[offset + r] = Number(values[r]);
        });
        offset += chunk.rowCount;
      }
      return cols;
    });
    const CHUNK = 65_536;
    // CPU seconds (all threads) beside wall time: on a shared machine they move far less.
    let cpu0 = process.cpuUsage();
    t0 = performance.now();
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      const feeds: Record<string, ort.Tensor> = {};
      for (const s of sig.inputs) feeds[s.name] = new ort.Tensor("float32", columns[s.name]!.slice(start, start + n), [n, 1]);
      await session.run(feeds);
    }
    const raw = (performance.now() - t0) / 1000;
    const rawCpu = cpuSeconds(cpu0);
    if (process.env.KEEP_MODEL) await fs.copyFile(modelFile, process.env.KEEP_MODEL);
    await session.release();
    console.log(`raw session.run: ${raw.toFixed(2)} s, ${Math.round(rows / raw).toLocaleString("en")} rows/s, CPU ${rawCpu.toFixed(2)} s`);

    const predictions = path.join(dir, "predictions.parquet");
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    await score(
      context({ dataset: "bench", keep: ["id"] }, { model: input(modelFile), data: input(data) }, { predictions: output(predictions) }),
    );
    const scored = (performance.now() - t0) / 1000;
    const scoreCpu = cpuSeconds(cpu0);
    await withDuckDb(async (conn) => {
      const [r] = await queryJson(
        conn,
        `SELECT count(*)::INTEGER AS n, count(probability_1)::INTEGER AS scored FROM read_parquet(${sqlString(predictions)})`,
      );
      console.log(`predictions file: ${r!.n} rows, ${r!.scored} scored`);
    });
    console.log(
      `score operator: ${scored.toFixed(2)} s, ${Math.round(rows / scored).toLocaleString("en")} rows/s (target ≥ 1,000,000), ${(scored / raw).toFixed(2)}× raw, CPU ${scoreCpu.toFixed(2)} s (${(scoreCpu / rawCpu).toFixed(2)}× raw)`,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

void main();
