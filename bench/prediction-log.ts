/**
 * Benchmark: the prediction log's background writer (src/serving/prediction-log) on PGlite and on
 * PostgreSQL.
 *
 *   1. throughput — the rows/s the writer sustains: `--rows` one-row requests offered at once into
 *      a queue large enough for all of them, timed until `flush` (every row written).
 *   2. paced      — the log as the server configures it by default (queue 10,000 rows, INSERTs of
 *      500), offered one-row requests open-loop at each `--rates` requests/s for `--seconds`:
 *      rows dropped (the target is 0 at the serving rate bench/serving.ts measured), the deepest
 *      backlog (offered − written − dropped), and the event loop's delay meanwhile — on PGlite the
 *      INSERTs run on the server's own thread, so this is what logging costs the requests it logs.
 *
 * Rows look like the serving bench's: five raw inputs, a label and two probabilities, an id.
 * PGlite is opened on a temporary folder (as a server's data dir); PostgreSQL is a fresh database
 * on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432), dropped afterwards.
 *
 * Run: npm run bench:predlog -- [--rows 50000] [--rates 3000,5000] [--seconds 8] [--backends pglite,postgres]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pino from "pino";
import { type Database, openDatabase } from "../src/db/data-source";
import { entities } from "../src/app/entities";
import { migrate } from "../src/db/migrate";
import { PredictionLog } from "../src/serving/prediction-log/prediction-log";
import type { PredictionDraft } from "../src/serving/prediction-log/prediction-rows";
import { createDatabase, log, pgliteVersion, postgresVersion } from "./support";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "50000" },
    rates: { type: "string", default: "3000,5000" },
    seconds: { type: "string", default: "8" },
    backends: { type: "string", default: "pglite,postgres" },
  },
});
const ROWS = Number(args.rows);
const RATES = args.rates!.split(",").map(Number);
const SECONDS = Number(args.seconds);
const BASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const silent = pino({ level: "silent" });

const IDS = {
  projectId: "00000000-0000-4000-8000-000000000001",
  registeredModelId: "00000000-0000-4000-8000-000000000002",
  modelVersionId: "00000000-0000-4000-8000-000000000003",
  servedName: "flights-delay",
  variant: "primary",
};
const CARRIERS = ["AA", "UA", "DL", "WN", "US"];
const ORIGINS = ["SFO", "JFK", "ORD", "ATL", "LAX", "DEN"];

let seq = 0;
/** One request's row, as predictionRows builds it for a one-instance records-form request. */
function draft(): PredictionDraft {
  const n = seq++;
  const p = (n % 97) / 97;
  return {
    ...IDS,
    requestId: `req-${n}`,
    rowIndex: 0,
    predictionId: `req-${n}`,
    inputs: { hour: n % 24, distance: 200 + (n % 2500), day_of_week: n % 7, carrier: CARRIERS[n % 5], origin: ORIGINS[n % 6] },
    outputs: { label: p > 0.5 ? 1 : 0, probabilities: [1 - p, p] },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function throughput(db: Database): Promise<number> {
  const plog = new PredictionLog(db.dataSource, { sample: 1, queueRows: ROWS, batchRows: 500, flushMs: 50 }, silent);
  const started = performance.now();
  for (let i = 0; i < ROWS; i++) plog.offer([draft()]);
  await plog.flush();
  const seconds = (performance.now() - started) / 1000;
  if (plog.stats.written !== ROWS) throw new Error(`wrote ${plog.stats.written} of ${ROWS} rows (dropped ${plog.stats.dropped})`);
  return ROWS / seconds;
}

interface Paced {
  rate: number;
  offered: number;
  written: number;
  dropped: number;
  achieved: number;
  maxBacklog: number;
  drainMs: number;
  lagP99: number;
  lagMax: number;
}

/** Offers one-row requests open-loop at `rate`/s: each tick offers what is due by the clock. */
async function paced(db: Database, rate: number): Promise<Paced> {
  const plog = new PredictionLog(db.dataSource, { sample: 1, queueRows: 10_000, batchRows: 500, flushMs: 50 }, silent);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  let offered = 0;
  let maxBacklog = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  for (let now = started; now < end; now = performance.now()) {
    const due = Math.floor(((now - started) / 1000) * rate);
    for (; offered < due; offered++) plog.offer([draft()]);
    maxBacklog = Math.max(maxBacklog, plog.stats.offered - plog.stats.written - plog.stats.dropped);
    await sleep(1);
  }
  const elapsed = (performance.now() - started) / 1000;
  const drainStart = performance.now();
  await plog.flush();
  const drainMs = performance.now() - drainStart;
  lag.disable();
  return {
    rate,
    offered,
    written: plog.stats.written,
    dropped: plog.stats.dropped,
    achieved: offered / elapsed,
    maxBacklog,
    drainMs,
    lagP99: lag.percentile(99) / 1e6,
    lagMax: lag.max / 1e6,
  };
}

async function bench(kind: "pglite" | "postgres"): Promise<void> {
  let db: Database;
  let cleanup: () => Promise<void>;
  let version: string;
  if (kind === "pglite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-predlog-"));
    db = await openDatabase({ databaseUrl: undefined, dataDir: dir, entities });
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
    version = `PGlite ${pgliteVersion()} (file-backed)`;
  } else {
    const created = await createDatabase(BASE_URL);
    db = await openDatabase({ databaseUrl: created.url, dataDir: "memory://", entities });
    cleanup = created.drop;
    version = `PostgreSQL ${await postgresVersion(BASE_URL)}`;
  }
  try {
    await migrate(db);
    log(`${kind}: throughput over ${ROWS} rows…`);
    const rowsPerSecond = await throughput(db);
    console.log(`\n${version}`);
    console.log(
      `  writer throughput: ${Math.round(rowsPerSecond).toLocaleString("en-US")} rows/s (${ROWS} one-row requests, INSERTs of 500)`,
    );
    console.log(`  paced, default queue (10,000 rows), ${SECONDS} s each:`);
    console.log(`  rate req/s  achieved  offered  written  dropped  max backlog  drain ms  loop delay p99 / max ms`);
    for (const rate of RATES) {
      log(`${kind}: paced at ${rate}/s…`);
      const r = await paced(db, rate);
      console.log(
        `  ${String(r.rate).padStart(10)}  ${r.achieved.toFixed(0).padStart(8)}  ${String(r.offered).padStart(7)}  ${String(r.written).padStart(7)}  ${String(r.dropped).padStart(7)}  ${String(r.maxBacklog).padStart(11)}  ${r.drainMs.toFixed(0).padStart(8)}  ${r.lagP99.toFixed(1)} / ${r.lagMax.toFixed(1)}`,
      );
    }
  } finally {
    await db.close();
    await cleanup();
  }
}

async function main(): Promise<void> {
  console.log(
    `prediction log bench, ${new Date().toISOString()}, ${os.cpus().length} × ${os.cpus()[0]?.model}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  for (const kind of args.backends!.split(",") as Array<"pglite" | "postgres">) await bench(kind);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
