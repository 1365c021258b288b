/**
 * Hand timing, not a test: Sluice's trainers beside scikit-learn's on the same flights rows, in one
 * run. `node dist/bench/training-vs-sklearn.js [rows] [gbtIters] [rounds]` after a build; needs Debian's
 * python3-sklearn for /usr/bin/python3 (SLUICE_BENCH_PYTHON overrides the interpreter).
 *
 * 1. DuckDB builds a classification set from flights-3m.parquet: label = departure delay > 15 min,
 *    nine numeric features (the flights example's hour, day of week and distance, plus month, day of
 *    month, origin/destination as codes and their traffic), for `rows` flights picked by a hash of the row.
 * 2. One seeded 80/20 split. Preprocessing is fitted by Sluice on the training rows (none for GBT,
 *    standard scaling for logistic regression) and the resulting float32 matrices are written to
 *    temporary files: sklearn trains on exactly the values Sluice trains on.
 * 3. Training wall time only (no loading, no preprocessing) on each side; both sides' validation
 *    probabilities are scored by the same code (Sluice's rocAuc, sklearn's definition).
 * 4. Sluice's ONNX export and onnxruntime parity check (what the `train` operator does) are timed too.
 * 5. `rounds` rounds (default 3), each running scikit-learn then Sluice (GBT with the default thread
 *    count, then with one thread, checked to give the same trees), with the load average around
 *    them: on a shared machine the figures move with the load, and the ratio within a round is the
 *    fairer comparison. The last line gives the best time of each side.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { queryJson, sqlString, withDuckDb } from "../src/datasets/columnar/duckdb";
import { rocAuc } from "../src/evaluation/classification";
import { numericColumn, trainValidationSplit, type Table } from "../src/training/data";
import { exportGbtModel } from "../src/training/export-gbt";
import { exportLinearModel, verifyExport } from "../src/training/export-linear";
import { predictProba as gbtPredictProba, trainGbt, type GbtParams } from "../src/training/gbt/boost";
import { defaultThreads } from "../src/training/gbt/histogram";
import { predictProba as lrPredictProba, trainLogisticRegression } from "../src/training/linear";
import { fitPreprocessor, transform } from "../src/training/preprocess";
import { log, REPO_ROOT } from "./support";

const ROWS = Number(process.argv[2] ?? 1_250_000);
const GBT_ITERS = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 3);
const PYTHON = process.env.SLUICE_BENCH_PYTHON ?? "/usr/bin/python3";
const PARQUET = path.join(REPO_ROOT, "node_modules", "vega-datasets", "data", "flights-3m.parquet");
const SEED = 42;

const FEATURES = [
  "hour",
  "day_of_week",
  "day_of_month",
  "month",
  "distance",
  "origin_code",
  "destination_code",
  "origin_flights",
  "destination_flights",
] as const;

/** The flights example's settings (maxIter 100, maxDepth 6, learning rate 0.1), no early stopping. */
const GBT: Required<Pick<GbtParams, "learningRate" | "maxIter" | "maxDepth" | "minSamplesLeaf" | "l2" | "maxBins">> & {
  maxLeafNodes: number | null;
} = { learningRate: 0.1, maxIter: GBT_ITERS, maxDepth: 6, maxLeafNodes: null, minSamplesLeaf: 20, l2: 0, maxBins: 255 };
/** sklearn's LogisticRegression defaults: C = 1 (l2 = 1/C), max_iter 100, tol 1e-4. */
const LOGISTIC = { l2: 1, maxIter: 100, tol: 1e-4 };

async function loadFlights(rows: number): Promise<{ table: Table; y: Uint8Array; fileRows: number }> {
  return withDuckDb(async (conn) => {
    const [{ n }] = (await queryJson(conn, `SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(PARQUET)})`)) as [{ n: number }];
    // Codes and traffic are counted over the whole file: they carry no label information.
    await conn.run(`CREATE TEMP TABLE bench_rows AS
      WITH f AS (SELECT * FROM read_parquet(${sqlString(PARQUET)}) WHERE delay IS NOT NULL AND distance IS NOT NULL),
           coded AS (
             SELECT date, origin, destination, distance, delay,
                    dense_rank() OVER (ORDER BY origin) AS origin_code,
                    dense_rank() OVER (ORDER BY destination) AS destination_code,
                    count(*) OVER (PARTITION BY origin) AS origin_flights,
                    count(*) OVER (PARTITION BY destination) AS destination_flights
             FROM f),
           -- A hash order, not a reservoir sample: the same rows on every run and with any thread count.
           sampled AS (SELECT * FROM coded ORDER BY hash(date, origin, destination, distance, delay), date, origin, destination LIMIT ${Math.trunc(rows)})
      SELECT hour(date) + minute(date) / 60.0 AS hour, dayofweek(date) AS day_of_week, day(date) AS day_of_month,
             month(date) AS month, distance, origin_code, destination_code, origin_flights, destination_flights,
             (delay > 15)::UTINYINT AS delayed
      FROM sampled ORDER BY date, origin, destination, distance, delay`);
    const [{ m }] = (await queryJson(conn, `SELECT count(*)::BIGINT AS m FROM bench_rows`)) as [{ m: number }];
    const count = Number(m);
    const cols = FEATURES.map(() => new Float64Array(count));
    const y = new Uint8Array(count);
    const result = await conn.stream(`SELECT ${FEATURES.map((f) => `${f}::DOUBLE`).join(", ")}, delayed FROM bench_rows ORDER BY rowid`);
    let offset = 0;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      for (let c = 0; c <= FEATURES.length; c++) {
        const values = chunk.getColumnValues(c);
        const target = c < FEATURES.length ? cols[c]! : y;
        for (let r = 0; r < chunk.rowCount; r++) target[offset + r] = Number(values[r]);
      }
      offset += chunk.rowCount;
    }
    return { table: { rows: count, columns: FEATURES.map((f, i) => numericColumn(f, cols[i]!)) }, y, fileRows: Number(n) };
  });
}

function writeRaw(file: string, a: Float32Array | Uint8Array): void {
  fs.writeFileSync(file, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}

function readFloat64(file: string): Float64Array {
  const b = fs.readFileSync(file);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function timed<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, (performance.now() - t0) / 1000];
}

function aucOf(y: Int32Array, scores: Float64Array): number {
  const m = rocAuc(y, scores);
  if (m.value === null) throw new Error(`AUC undefined: ${m.reason}`);
  return m.value;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-sklearn-"));
  try {
    log(`loading a ${ROWS}-row sample of ${PARQUET} …`);
    const [{ table, y, fileRows }, loadS] = await timed(() => loadFlights(ROWS));
    const split = trainValidationSplit(table.rows, 0.2, SEED);
    const nt = split.train.length;
    const nv = split.validation.length;
    const ytr = new Uint8Array(nt);
    for (let i = 0; i < nt; i++) ytr[i] = y[split.train[i]!]!;
    const yva = new Int32Array(nv);
    for (let i = 0; i < nv; i++) yva[i] = y[split.validation[i]!]!;
    const positives = ytr.reduce((s, v) => s + v, 0) / nt;

    const gbtFitted = fitPreprocessor(
      table,
      split.train,
      FEATURES.map((column) => ({ column })),
    );
    const lrFitted = fitPreprocessor(
      table,
      split.train,
      FEATURES.map((column) => ({ column, scale: "standard" as const })),
    );
    const gbtTr = transform(gbtFitted, table, split.train);
    const gbtVa = transform(gbtFitted, table, split.validation);
    const lrTr = transform(lrFitted, table, split.train);
    const lrVa = transform(lrFitted, table, split.validation);
    const files = {
      gbt_train: path.join(tmp, "gbt_train.f32"),
      gbt_valid: path.join(tmp, "gbt_valid.f32"),
      lr_train: path.join(tmp, "lr_train.f32"),
      lr_valid: path.join(tmp, "lr_valid.f32"),
      train_y: path.join(tmp, "train_y.u8"),
      gbt_pred: path.join(tmp, "gbt_pred.f64"),
      lr_pred: path.join(tmp, "lr_pred.f64"),
    };
    writeRaw(files.gbt_train, gbtTr.matrix);
    writeRaw(files.gbt_valid, gbtVa.matrix);
    writeRaw(files.lr_train, lrTr.matrix);
    writeRaw(files.lr_valid, lrVa.matrix);
    writeRaw(files.train_y, ytr);
    log(`${table.rows} rows (${nt} train, ${nv} validation, ${(positives * 100).toFixed(1)}% delayed) in ${loadS.toFixed(1)} s`);

    const specFile = path.join(tmp, "spec.json");
    fs.writeFileSync(specFile, JSON.stringify({ cols: FEATURES.length, files, gbt: GBT, logistic: LOGISTIC }));
    const Xg = Float64Array.from(gbtTr.matrix);
    const Xgv = Float64Array.from(gbtVa.matrix);
    const threads = defaultThreads();
    const trainSluiceGbt = (t: number) =>
      timed(() =>
        trainGbt({
          task: "binary",
          X: Xg,
          rows: nt,
          cols: gbtFitted.cols,
          featureNames: gbtFitted.featureNames,
          y: ytr,
          threads: t,
          params: { ...GBT, maxLeafNodes: GBT.maxLeafNodes ?? undefined, earlyStopping: false },
        }),
      );
    const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
    const load = () =>
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ");
    console.log(
      `flights-3m.parquet (${fileRows} rows): ${table.rows}-row sample, ${nt} train / ${nv} validation, ` +
        `${FEATURES.length} float32 features, ${(positives * 100).toFixed(1)}% positive; ${ROUNDS} round(s), each side in turn`,
    );
    console.log(`GBT settings: ${JSON.stringify(GBT)}, early stopping off`);
    console.log(`logistic settings: ${JSON.stringify(LOGISTIC)} (sklearn C = 1/l2, lbfgs), standardized inputs`);

    const best = { sk: Infinity, sluice: Infinity, sluice1: Infinity, skLr: Infinity, lr: Infinity };
    for (let round = 1; round <= ROUNDS; round++) {
      // scikit-learn in its own process; only fit() is timed there.
      log(`round ${round}: scikit-learn HistGradientBoostingClassifier and LogisticRegression …`);
      const loadBefore = load();
      const py = spawnSync(PYTHON, [path.join(REPO_ROOT, "bench", "training-vs-sklearn.py"), specFile], { encoding: "utf8" });
      if (py.status !== 0) throw new Error(`${PYTHON} failed (${py.status ?? py.error?.message}): ${py.stderr}`);
      const sk = JSON.parse(py.stdout.trim().split("\n").pop()!) as {
        threads: Record<string, number>;
        gbt: { fitSeconds: number; iterations: number };
        logistic: { fitSeconds: number; iterations: number };
      };
      log(`round ${round}: Sluice trainGbt (${threads} threads, then 1) …`);
      const [gbt, gbtS] = await trainSluiceGbt(threads);
      const [gbt1, gbt1S] = threads > 1 ? await trainSluiceGbt(1) : [gbt, gbtS];
      if (JSON.stringify(gbt1.trees) !== JSON.stringify(gbt.trees)) throw new Error("the GBT model depends on the thread count");
      const [gbtProba, gbtPredS] = await timed(() => gbtPredictProba(gbt, Xgv, nv));
      const [gbtExport, gbtExportS] = await timed(() => exportGbtModel(gbtFitted, gbt));
      const [gbtVerify, gbtVerifyS] = await timed(() =>
        verifyExport(gbtExport.bytes, table, split.validation, { kind: "classification", classes: 2, probabilities: gbtProba }, 1e-5),
      );
      const gbtScores = new Float64Array(nv);
      for (let i = 0; i < nv; i++) gbtScores[i] = gbtProba[2 * i + 1]!;

      log(`round ${round}: Sluice trainLogisticRegression …`);
      const [lr, lrS] = await timed(() => trainLogisticRegression(lrTr, ytr, { classes: 2, ...LOGISTIC }));
      const [lrProba, lrPredS] = await timed(() => lrPredictProba(lr, lrVa));
      const [lrExport, lrExportS] = await timed(() => exportLinearModel(lrFitted, lr));
      const [lrVerify, lrVerifyS] = await timed(() =>
        verifyExport(lrExport.bytes, table, split.validation, { kind: "classification", classes: 2, probabilities: lrProba }, 1e-5),
      );
      const lrScores = new Float64Array(nv);
      for (let i = 0; i < nv; i++) lrScores[i] = lrProba[2 * i + 1]!;

      const skGbtAuc = aucOf(yva, readFloat64(files.gbt_pred));
      const skLrAuc = aucOf(yva, readFloat64(files.lr_pred));
      const gbtAuc = aucOf(yva, gbtScores);
      const lrAuc = aucOf(yva, lrScores);
      best.sk = Math.min(best.sk, sk.gbt.fitSeconds);
      best.sluice = Math.min(best.sluice, gbtS);
      best.sluice1 = Math.min(best.sluice1, gbt1S);
      best.skLr = Math.min(best.skLr, sk.logistic.fitSeconds);
      best.lr = Math.min(best.lr, lrS);

      const lines = [
        `round ${round} (load average ${loadBefore} → ${load()}); threads: Sluice ${threads} for GBT histograms, 1 for logistic; sklearn ${JSON.stringify(sk.threads)}`,
        `  GBT      Sluice ${gbtS.toFixed(2)} s (1 thread: ${gbt1S.toFixed(2)} s)  AUC ${gbtAuc.toFixed(4)}  (${gbt.trees.length} trees) | ` +
          `sklearn ${sk.gbt.fitSeconds.toFixed(2)} s  AUC ${skGbtAuc.toFixed(4)}  (${sk.gbt.iterations} iterations)`,
        `           ratio ${(gbtS / sk.gbt.fitSeconds).toFixed(2)}× (target ≤ 1.5×: ${verdict(gbtS <= 1.5 * sk.gbt.fitSeconds)}), ` +
          `ΔAUC ${(gbtAuc - skGbtAuc).toFixed(4)} (target |Δ| ≤ 0.005: ${verdict(Math.abs(gbtAuc - skGbtAuc) <= 0.005)}); ` +
          `predict ${nv} rows ${gbtPredS.toFixed(2)} s, ONNX export ${(gbtExportS * 1000).toFixed(0)} ms (${gbtExport.bytes.length} bytes), ` +
          `onnxruntime parity check ${gbtVerifyS.toFixed(2)} s (max |Δ| ${gbtVerify.maxAbsDiff.toExponential(2)})`,
        `  logistic Sluice ${lrS.toFixed(2)} s  AUC ${lrAuc.toFixed(4)}  (${lr.iterations} iterations, converged ${lr.converged}) | ` +
          `sklearn ${sk.logistic.fitSeconds.toFixed(2)} s  AUC ${skLrAuc.toFixed(4)}  (${sk.logistic.iterations} iterations)`,
        `           ratio ${(lrS / sk.logistic.fitSeconds).toFixed(2)}× (target ≤ 1.5×: ${verdict(lrS <= 1.5 * sk.logistic.fitSeconds)}), ` +
          `ΔAUC ${(lrAuc - skLrAuc).toFixed(4)} (target |Δ| ≤ 0.005: ${verdict(Math.abs(lrAuc - skLrAuc) <= 0.005)}); ` +
          `predict ${nv} rows ${lrPredS.toFixed(2)} s, ONNX export ${(lrExportS * 1000).toFixed(0)} ms (${lrExport.bytes.length} bytes), ` +
          `onnxruntime parity check ${lrVerifyS.toFixed(2)} s (max |Δ| ${lrVerify.maxAbsDiff.toExponential(2)})`,
      ];
      console.log(lines.join("\n"));
    }
    console.log(
      `best of ${ROUNDS}: GBT Sluice ${best.sluice.toFixed(2)} s (1 thread ${best.sluice1.toFixed(2)} s), sklearn ${best.sk.toFixed(2)} s: ` +
        `${(best.sluice / best.sk).toFixed(2)}× (target ≤ 1.5×: ${verdict(best.sluice <= 1.5 * best.sk)}); ` +
        `logistic Sluice ${best.lr.toFixed(2)} s, sklearn ${best.skLr.toFixed(2)} s: ${(best.lr / best.skLr).toFixed(2)}× ` +
        `(target ≤ 1.5×: ${verdict(best.lr <= 1.5 * best.skLr)})`,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
