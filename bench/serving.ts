/**
 * Hand benchmark of real-time inference, not a test: `node dist/bench/serving.js [seconds per figure] [training rows]`.
 *
 * 1. Trains a flights-like gradient-boosted classifier (synthetic departures: hour, distance,
 *    day of week, carrier, origin → delayed) with the built-in GBT trainer and exports it to ONNX
 *    with its preprocessing, as the `train` operator does.
 * 2. Starts a Sluice server in this process (PGlite in memory, rate limit off, logs silent),
 *    registers the model with an auto-approving policy and makes it the champion.
 * 3. Measures, in this process, on the same one-row input:
 *    - raw `session.run` latency (sequential) and throughput (32 and 64 concurrent callers);
 *    - an empty HTTP handler (express + express.json, same body, fixed small answer): the floor;
 *    - `POST /v2/models/flights-delay/infer` through the whole server (auth, decode, batcher, encode).
 *    HTTP load comes from a keep-alive load loop in a child process (bench/load-client.ts), so
 *    the generator does not share the server's event loop.
 * Target (issue #6): HTTP overhead ≤ 1.5 × raw + floor.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import express from "express";
import * as ort from "onnxruntime-node";
import { loadConfig } from "../src/app/config";
import { createLogger } from "../src/kernel/logger";
import { startServer } from "../src/app/server";
import { categoricalColumn, numericColumn, table, trainValidationSplit } from "../src/training/data";
import { exportGbtModel } from "../src/training/export-gbt";
import { trainGbt } from "../src/training/gbt/boost";
import { fitPreprocessor, transform } from "../src/training/preprocess";
import { prng } from "../test/training/gbt-data";
import { log, percentile } from "./support";

const SECONDS = Number(process.argv[2] ?? 8);
const TRAIN_ROWS = Number(process.argv[3] ?? 100_000);
const TOKEN = "slc_bench_admin_token_serving_0123456789";
const CARRIERS = ["AA", "DL", "UA", "WN", "B6", "AS", "NK", "F9", "HA", "G4"];
const ORIGINS = ["ATL", "ORD", "DFW", "DEN", "LAX", "JFK", "SFO", "SEA", "LAS", "MCO", "CLT", "PHX", "IAH", "MIA", "BOS"];

/** Synthetic departures whose delay depends on hour, carrier, origin and distance, with noise. */
function flightsModel(rows: number): Uint8Array {
  const rand = prng(7);
  const hour = new Float64Array(rows);
  const distance = new Float64Array(rows);
  const dow = new Float64Array(rows);
  const carrier: string[] = [];
  const origin: string[] = [];
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    hour[r] = Math.floor(rand() * 24);
    distance[r] = 100 + rand() * 2900;
    dow[r] = 1 + Math.floor(rand() * 7);
    const c = Math.floor(rand() * CARRIERS.length);
    const o = Math.floor(rand() * ORIGINS.length);
    carrier.push(CARRIERS[c]!);
    origin.push(ORIGINS[o]!);
    const z =
      -1.5 + 0.09 * hour[r]! + 0.15 * (c % 4) + 0.1 * (o % 5) - 0.0002 * distance[r]! + (dow[r] === 5 ? 0.4 : 0) + (rand() - 0.5) * 2;
    y[r] = z > 0 ? 1 : 0;
  }
  const t = table([
    numericColumn("hour", hour),
    numericColumn("distance", distance),
    numericColumn("day_of_week", dow),
    categoricalColumn("carrier", carrier),
    categoricalColumn("origin", origin),
  ]);
  const split = trainValidationSplit(rows, 0.1, 1);
  const fitted = fitPreprocessor(t, split.train, [
    { column: "hour" },
    { column: "distance", impute: "median" },
    { column: "day_of_week" },
    { column: "carrier", oneHot: {} },
    { column: "origin", oneHot: {} },
  ]);
  const X = Float64Array.from(transform(fitted, t, split.train).matrix);
  const model = trainGbt({
    task: "binary",
    X,
    rows: split.train.length,
    cols: fitted.cols,
    featureNames: fitted.featureNames,
    y: Array.from(split.train, (r) => y[r]!),
    params: { maxIter: 100, maxDepth: 6, learningRate: 0.1, earlyStopping: false },
  });
  return exportGbtModel(fitted, model).bytes;
}

const ROW = { hour: 17, distance: 733, day_of_week: 5, carrier: "DL", origin: "ATL" };

function rawFeeds(): Record<string, ort.Tensor> {
  return {
    hour: new ort.Tensor("float32", Float32Array.from([ROW.hour]), [1, 1]),
    distance: new ort.Tensor("float32", Float32Array.from([ROW.distance]), [1, 1]),
    day_of_week: new ort.Tensor("float32", Float32Array.from([ROW.day_of_week]), [1, 1]),
    carrier: new ort.Tensor("string", [ROW.carrier], [1, 1]),
    origin: new ort.Tensor("string", [ROW.origin], [1, 1]),
  };
}

const OIP_BODY = JSON.stringify({
  inputs: [
    { name: "hour", shape: [1, 1], datatype: "FP32", data: [ROW.hour] },
    { name: "distance", shape: [1, 1], datatype: "FP32", data: [ROW.distance] },
    { name: "day_of_week", shape: [1, 1], datatype: "FP32", data: [ROW.day_of_week] },
    { name: "carrier", shape: [1, 1], datatype: "BYTES", data: [ROW.carrier] },
    { name: "origin", shape: [1, 1], datatype: "BYTES", data: [ROW.origin] },
  ],
});

interface Figures {
  p50: number;
  p99: number;
  rps: number;
}

/** Raw session.run: sequential latency, or throughput with `concurrency` callers for `seconds`. */
async function raw(session: ort.InferenceSession, concurrency: number, seconds: number): Promise<Figures> {
  const fetches = ["label", "probabilities"];
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const caller = async () => {
    while (performance.now() < end) {
      const feeds = rawFeeds(); // built per call, as a request builds its tensors
      const t0 = performance.now();
      await session.run(feeds, fetches);
      latencies.push(performance.now() - t0);
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), rps: done / elapsed };
}

/** The load loop (bench/load-client.ts) in a child process against `url`; its figures. */
function load(url: string, connections: number, seconds: number, headers: Record<string, string>): Promise<Figures & { errors: number }> {
  const args = [path.join(__dirname, "load-client.js"), url, String(connections), String(seconds), JSON.stringify(headers), OIP_BODY];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => {
      try {
        resolve(JSON.parse(out) as Figures & { errors: number });
      } catch (err) {
        reject(new Error(`the load client exited ${code}: ${(err as Error).message}\n${out.slice(0, 500)}`));
      }
    });
  });
}

async function main(): Promise<void> {
  log(`training the flights-like GBT model (${TRAIN_ROWS} rows, 100 trees, depth 6)…`);
  const t0 = performance.now();
  const bytes = flightsModel(TRAIN_ROWS);
  log(`  trained and exported in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(bytes.length / 1024).toFixed(0)} KiB`);

  const server = await startServer(
    loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      SLUICE_DATA_DIR: "memory://",
      SLUICE_RATE_LIMIT: "0",
      SLUICE_ADMIN_TOKEN: TOKEN,
      SLUICE_RUNNERS: "none",
      // The prediction log is part of serving (every request logged, as by default); 0 measures without it.
      SLUICE_PREDICTION_LOG_SAMPLE: process.env.SLUICE_PREDICTION_LOG_SAMPLE ?? "1",
    }),
    { log: createLogger("silent") },
  );
  const auth = { authorization: `Bearer ${TOKEN}` };
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ query, variables }),
    });
    return ((await res.json()) as { data: any }).data;
  };
  const projectId = (
    await gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { ... on ProjectPayload { project { id } } } }`, {
      i: { name: "bench" },
    })
  ).createProject.project.id as string;
  const modelId = (
    await gql(
      `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
      {
        i: { projectId, name: "flights-delay" },
      },
    )
  ).createRegisteredModel.registeredModel.id as string;
  await gql(`mutation($i: SetModelPolicyInput!) { setModelPolicy(input: $i) { __typename } }`, {
    i: { registeredModelId: modelId, policy: { approvals: { required: 0 } } },
  });
  const up = await fetch(`${server.url}/registered-models/${modelId}/versions`, { method: "POST", headers: auth, body: bytes });
  if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
  await gql(`mutation($i: SetModelAliasInput!) { setModelAlias(input: $i) { __typename } }`, {
    i: { registeredModelId: modelId, alias: "champion", version: 1 },
  });
  const inferUrl = `${server.url}/v2/models/flights-delay/infer`;
  const headers = { ...auth, "x-sluice-project": projectId };
  const check = await fetch(inferUrl, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: OIP_BODY });
  const sample = await check.text();
  log(`  infer answers ${check.status}: ${sample.slice(0, 200)}`);

  // The floor: an empty handler on the same stack (express + JSON body parsing), same body.
  const floorApp = express();
  // It answers the very bytes infer answers, so both pay the same serialization and write.
  const answer = JSON.parse(sample) as unknown;
  floorApp.post("/floor", express.json(), (_req, res) => {
    res.json(answer);
  });
  const floorServer = floorApp.listen(0, "127.0.0.1");
  await new Promise((r) => floorServer.once("listening", r));
  const floorUrl = `http://127.0.0.1:${(floorServer.address() as { port: number }).port}/floor`;

  const session = await ort.InferenceSession.create(bytes);
  await raw(session, 1, 1); // warm-up
  await load(inferUrl, 8, 2, headers); // warm-up

  // The serving path without HTTP: resolve, decode, batcher, session.run, encode.
  const ref = { projectId, name: "flights-delay" };
  const parsed = JSON.parse(OIP_BODY) as unknown;
  const inProcess: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t1 = performance.now();
    await server.services.serving.infer(ref, parsed);
    if (i >= 2000) inProcess.push(performance.now() - t1);
  }
  inProcess.sort((a, b) => a - b);

  const rows: Array<{ what: string; c: number; raw: Figures; floor: Figures; http: Figures & { errors: number } }> = [];
  for (const c of [1, 32, 64]) {
    log(`measuring at ${c} concurrent client(s), ${SECONDS} s each…`);
    const r = await raw(session, c, SECONDS);
    const floor = await load(floorUrl, c, SECONDS, {});
    const http = await load(inferUrl, c, SECONDS, headers);
    rows.push({ what: c === 1 ? "batch 1, one client" : `${c} concurrent clients`, c, raw: r, floor, http });
  }

  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const batchSum = Number(/sluice_inference_batch_rows_sum\{model="flights-delay"\} ([\d.e+]+)/.exec(metrics)?.[1] ?? NaN);
  const batchCount = Number(/sluice_inference_batch_rows_count\{model="flights-delay"\} ([\d.e+]+)/.exec(metrics)?.[1] ?? NaN);

  console.log(
    `serving benchmark — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, onnxruntime-node ${ort.env.versions.node}`,
  );
  console.log(`model: flights-like GBT, 100 trees depth 6, 5 raw columns (3 float, 2 string) → label + probabilities; one row per request`);
  console.log(
    `HTTP: keep-alive load loop in a child process (bench/load-client.ts), ${SECONDS} s per figure; latencies in ms; throughput in requests/s`,
  );
  console.log("");
  console.log(
    "| load | raw session.run p50 / p99 | empty handler p50 / p99 | HTTP infer p50 / p99 | raw req/s | empty req/s | HTTP req/s | HTTP errors |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  const f = (x: number) => (x < 1 ? x.toFixed(3) : x.toFixed(2));
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${f(r.raw.p50)} / ${f(r.raw.p99)} | ${f(r.floor.p50)} / ${f(r.floor.p99)} | ${f(r.http.p50)} / ${f(r.http.p99)} | ${r.raw.rps.toFixed(0)} | ${r.floor.rps.toFixed(0)} | ${r.http.rps.toFixed(0)} | ${r.http.errors} |`,
    );
  }
  console.log("");
  console.log(
    `serving path in process, no HTTP (resolve, decode, batcher, session.run, encode), one request at a time: p50 ${percentile(inProcess, 50).toFixed(3)} ms, p99 ${percentile(inProcess, 99).toFixed(3)} ms`,
  );
  console.log("");
  console.log("Target: HTTP ≤ 1.5 × raw + floor (latency at batch 1; time per request under load, i.e. 1/throughput):");
  for (const r of rows) {
    if (r.c === 1) {
      const bound = 1.5 * r.raw.p50 + r.floor.p50;
      console.log(
        `- batch 1 p50: HTTP ${f(r.http.p50)} ms vs bound 1.5 × ${f(r.raw.p50)} + ${f(r.floor.p50)} = ${f(bound)} ms → ${r.http.p50 <= bound ? "met" : "NOT met"}`,
      );
    } else {
      const perReq = (rps: number) => 1000 / rps;
      const bound = 1.5 * perReq(r.raw.rps) + perReq(r.floor.rps);
      console.log(
        `- ${r.c} clients: HTTP ${f(perReq(r.http.rps))} ms/request vs bound 1.5 × ${f(perReq(r.raw.rps))} + ${f(perReq(r.floor.rps))} = ${f(bound)} ms → ${perReq(r.http.rps) <= bound ? "met" : "NOT met"}`,
      );
    }
  }
  console.log(
    `micro-batching over the whole run: ${batchCount} session.run calls, ${(batchSum / batchCount).toFixed(1)} rows each on average`,
  );

  await session.release();
  floorServer.close();
  await server.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
