/**
 * Benchmark: the run engine's streams, against the real server (a child process) on PostgreSQL.
 *
 *   1. metrics — ingestion of metric points through the public API (`logMetrics`, batches of
 *      10,000 points, --clients concurrent clients) into the real PostgreSQL, in points per
 *      second, beside a raw `COPY … FROM STDIN` of the same number of rows into the same table
 *      in the same run (targets: ≥ 100,000 points/s and ≥ 50 % of COPY).
 *   2. fanout  — subscription fan-out: --subscribers graphql-ws clients subscribed to one run's
 *      `runMetrics` stream; a one-point `logMetrics` is sent --events times, and each delivery's
 *      latency is measured from just before the mutation was sent (target p99 < 100 ms).
 *
 *   npm run bench:streams
 *   npm run bench:streams -- --points 1000000 --clients 4 --subscribers 1000 --events 30
 *
 * Run by hand, not part of `npm test`; results go in bench/RESULTS.md.
 */
import os from "node:os";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createClient } from "graphql-ws";
import { Client } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import WebSocket from "ws";
import { ADMIN_TOKEN, createDatabase, gql, liveServers, log, percentile, postgresVersion, startServer } from "./support";

interface Options {
  points: number;
  clients: number;
  subscribers: number;
  events: number;
  pgUrl: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    points: 1_000_000,
    clients: 4,
    subscribers: 1000,
    events: 30,
    pgUrl: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = Number(argv[++i]);
    if (a === "--points") o.points = v;
    else if (a === "--clients") o.clients = v;
    else if (a === "--subscribers") o.subscribers = v;
    else if (a === "--events") o.events = v;
    else if (a === "--pg-url") o.pgUrl = argv[i]!;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function data(url: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await gql(url, query, variables);
  if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data;
}

/** A project with one finished one-stage run, whose id the metrics are logged against. */
async function makeRun(url: string): Promise<string> {
  const p = await data(url, `mutation { createProject(input: { name: "bench" }) { ... on ProjectPayload { project { id } } } }`);
  const a = await data(
    url,
    `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { ... on ApplyPipelinePayload { pipeline { id } } } }`,
    {
      i: { projectId: p.createProject.project.id, spec: { name: "m", stages: [{ name: "x", run: { operator: "noop" } }] } },
    },
  );
  const r = await data(url, `mutation($p: ID!) { triggerRun(input: { pipelineId: $p }) { ... on RunPayload { run { id } } } }`, {
    p: a.applyPipeline.pipeline.id,
  });
  return r.triggerRun.run.id;
}

const LOG = `mutation($i: LogMetricsInput!) { logMetrics(input: $i) { __typename ... on LogMetricsPayload { count } ... on Error { message } } }`;

async function ingestViaApi(url: string, runId: string, total: number, clients: number): Promise<number> {
  const batch = 10_000;
  const batches = Math.ceil(total / batch);
  const body = (b: number) =>
    JSON.stringify({
      query: LOG,
      variables: {
        i: {
          runId,
          points: Array.from({ length: batch }, (_, i) => ({ key: `loss_${i % 10}`, value: Math.random(), step: b * batch + i })),
        },
      },
    });
  const bodies = Array.from({ length: Math.min(batches, 8) }, (_, b) => body(b)); // built before timing
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < batches) {
        const b = next++;
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
          body: bodies[b % bodies.length],
        });
        const json = (await res.json()) as any;
        if (json.errors || json.data.logMetrics.__typename !== "LogMetricsPayload")
          throw new Error(JSON.stringify(json.errors ?? json.data));
      }
    }),
  );
  return (batches * batch) / ((performance.now() - t0) / 1000);
}

async function ingestViaCopy(dbUrl: string, runId: string, total: number): Promise<number> {
  const c = new Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const now = new Date().toISOString();
    let i = 0;
    const rows = new Readable({
      read() {
        let chunk = "";
        for (let k = 0; k < 10_000 && i < total; k++, i++) chunk += `${runId}\tloss_${i % 10}\t${Math.random()}\t${i}\t${now}\n`;
        this.push(i < total || chunk ? chunk : null);
        if (i >= total && chunk) this.push(null);
      },
    });
    const t0 = performance.now();
    await pipeline(rows, c.query(copyFrom(`COPY run_metrics (run_id, key, value, step, at) FROM STDIN`)));
    return total / ((performance.now() - t0) / 1000);
  } finally {
    await c.end();
  }
}

async function fanout(url: string, runId: string, subscribers: number, events: number): Promise<number[]> {
  const wsUrl = url.replace(/^http/, "ws");
  const latencies: number[] = [];
  let sentAt = 0;
  let received = 0;
  const clients = Array.from({ length: subscribers }, () =>
    createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
  );
  let ready = 0;
  await new Promise<void>((resolve, reject) => {
    for (const client of clients) {
      client.on("connected", () => {
        if (++ready === subscribers) setTimeout(resolve, 500); // let every subscribe register
      });
      client.subscribe(
        { query: `subscription($r: ID!) { runMetrics(runId: $r, keys: ["tick"]) { value } }`, variables: { r: runId } },
        {
          next: () => {
            latencies.push(performance.now() - sentAt);
            received++;
          },
          error: (e) => reject(new Error(JSON.stringify(e))),
          complete: () => undefined,
        },
      );
    }
  });
  for (let e = 0; e < events; e++) {
    received = 0;
    sentAt = performance.now();
    await data(url, LOG, { i: { runId, points: [{ key: "tick", value: e, step: e }] } });
    const deadline = Date.now() + 10_000;
    while (received < subscribers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    if (received < subscribers) log(`event ${e}: only ${received}/${subscribers} deliveries within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // dispose() returns a promise only when the socket is still open.
  await Promise.all(clients.map(async (c) => c.dispose()));
  return latencies;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const pg = await postgresVersion(opts.pgUrl);
  const db = await createDatabase(opts.pgUrl);
  const server = await startServer({ DATABASE_URL: db.url, SLUICE_RUNNERS: "local", SLUICE_BODY_LIMIT: "4mb" });
  try {
    const runId = await makeRun(server.url);
    log("metrics: API ingestion");
    const api = await ingestViaApi(server.url, runId, opts.points, opts.clients);
    log("metrics: COPY");
    const copy = await ingestViaCopy(db.url, runId, opts.points);
    log(`fan-out: ${opts.subscribers} subscribers`);
    const lat = (await fanout(server.url, runId, opts.subscribers, opts.events)).sort((a, b) => a - b);
    console.log(`Streams benchmark — ${new Date().toISOString()}`);
    console.log(
      `machine: ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores, Node ${process.version}; PostgreSQL ${pg} (same machine)`,
    );
    console.log("");
    console.log(`metric ingestion, ${opts.points.toLocaleString("en")} points in batches of 10,000 over ${opts.clients} clients:`);
    console.log(`  logMetrics API   ${Math.round(api).toLocaleString("en").padStart(12)} points/s`);
    console.log(`  raw COPY         ${Math.round(copy).toLocaleString("en").padStart(12)} points/s`);
    console.log(`  API / COPY       ${((api / copy) * 100).toFixed(0).padStart(11)} %`);
    console.log("");
    console.log(`subscription fan-out: ${opts.subscribers} subscribers x ${opts.events} events = ${lat.length} deliveries`);
    console.log(
      `  latency p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, max ${lat[lat.length - 1]?.toFixed(1)} ms`,
    );
    console.log("");
    console.log("targets: ingestion >= 100,000 points/s and >= 50 % of COPY; fan-out p99 < 100 ms");
  } finally {
    await server.stop();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  void Promise.allSettled([...liveServers].map((s) => s.stop())).then(() => process.exit(1));
});
