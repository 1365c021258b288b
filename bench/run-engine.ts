/**
 * Benchmark: the run engine, on the embedded PGlite and on a PostgreSQL server.
 *
 * What it measures, against the real server started as a child process (embedded local runner,
 * LOG_LEVEL=warn, SLUICE_RATE_LIMIT=0):
 *
 *   1. dag1000  — a 1,000-stage fan-out/fan-in of `noop` stages (1 root, 998 leaves, 1 join):
 *                 wall time from sending `triggerRun` to the run being SUCCEEDED (target < 5 s).
 *   2. latency  — trigger → stage start: a one-stage pipeline whose module stage writes the
 *                 wall-clock time it started; latency = that time − the time just before the
 *                 client sent `triggerRun` (client, server and worker share the machine's
 *                 clock). Runs are started one after another; p50 and p99 over --runs runs
 *                 (target p50 < 10 ms, p99 < 50 ms).
 *
 * Run it (builds first):
 *
 *   npm run bench:engine
 *   npm run bench:engine -- --only postgres --runs 200 --repeat 3
 *
 * Run by hand, not part of `npm test`; results go in bench/RESULTS.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT, createDatabase, gql, liveServers, log, percentile, pgliteVersion, postgresVersion, startServer } from "./support";

interface Options {
  only?: "pglite" | "postgres";
  runs: number;
  repeat: number;
  pgUrl: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { runs: 200, repeat: 3, pgUrl: process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? "";
    if (a === "--only") opts.only = next() as Options["only"];
    else if (a === "--runs") opts.runs = Number(next());
    else if (a === "--repeat") opts.repeat = Number(next());
    else if (a === "--pg-url") opts.pgUrl = next();
    else throw new Error(`unknown argument ${a}; use --only pglite|postgres, --runs N, --repeat N, --pg-url URL`);
  }
  return opts;
}

async function data(url: string, query: string, variables?: Record<string, unknown>): Promise<any> {
  const res = await gql(url, query, variables);
  if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
  return res.body.data;
}

async function apply(url: string, projectId: string, spec: unknown, baseDir: string): Promise<string> {
  const d = await data(
    url,
    `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on ApplyPipelinePayload { pipeline { id } } ... on Error { message } } }`,
    {
      i: { projectId, spec, baseDir },
    },
  );
  if (d.applyPipeline.__typename !== "ApplyPipelinePayload") throw new Error(d.applyPipeline.message);
  return d.applyPipeline.pipeline.id;
}

async function trigger(url: string, pipelineId: string): Promise<string> {
  const d = await data(
    url,
    `mutation($p: ID!) { triggerRun(input: { pipelineId: $p }) { ... on RunPayload { run { id } } ... on Error { message } } }`,
    { p: pipelineId },
  );
  if (!d.triggerRun.run) throw new Error(d.triggerRun.message);
  return d.triggerRun.run.id;
}

async function waitDone(url: string, runId: string, pollMs: number): Promise<string> {
  for (;;) {
    const d = await data(url, `query($id: ID!) { run(id: $id) { status } }`, { id: runId });
    if (["SUCCEEDED", "FAILED", "CANCELED"].includes(d.run.status)) return d.run.status;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

interface BackendResult {
  backend: string;
  dagSeconds: number[];
  latencies: number[];
}

async function benchBackend(backend: string, env: Record<string, string>, opts: Options): Promise<BackendResult> {
  const server = await startServer({ ...env, SLUICE_LOCAL_THREADS: String(Math.max(1, os.availableParallelism() - 1)) });
  try {
    const url = server.url;
    const p = await data(url, `mutation { createProject(input: { name: "bench" }) { ... on ProjectPayload { project { id } } } }`);
    const projectId = p.createProject.project.id;
    const file = { kind: "File" };

    // 1. A 1,000-stage fan-out/fan-in.
    const stages: unknown[] = [{ name: "root", run: { operator: "noop" }, outputs: { out: file } }];
    for (let i = 0; i < 998; i++)
      stages.push({ name: `leaf-${i}`, run: { operator: "noop" }, inputs: { in: { from: "root.out" } }, outputs: { out: file } });
    stages.push({
      name: "join",
      run: { operator: "noop" },
      inputs: Object.fromEntries(Array.from({ length: 998 }, (_, i) => [`in${i}`, { from: `leaf-${i}.out` }])),
    });
    const dagId = await apply(url, projectId, { name: "dag1000", stages }, REPO_ROOT);
    const dagSeconds: number[] = [];
    for (let r = 0; r < opts.repeat; r++) {
      const t0 = performance.now();
      const runId = await trigger(url, dagId);
      const status = await waitDone(url, runId, 20);
      const s = (performance.now() - t0) / 1000;
      if (status !== "SUCCEEDED") throw new Error(`dag1000 run ${runId} ended ${status}`);
      dagSeconds.push(s);
      log(`[${backend}] dag1000 #${r + 1}: ${s.toFixed(2)} s`);
    }

    // 2. Trigger -> stage start latency.
    const latId = await apply(
      url,
      projectId,
      { name: "latency", stages: [{ name: "s", run: { module: "./stamp.ts", export: "stamp" }, outputs: { started: file } }] },
      path.join(REPO_ROOT, "bench", "fixtures"),
    );
    const latencies: number[] = [];
    for (let i = 0; i < opts.runs + 5; i++) {
      const t0 = performance.timeOrigin + performance.now();
      const runId = await trigger(url, latId);
      await waitDone(url, runId, 2);
      const d = await data(url, `query($id: ID!) { run(id: $id) { stageRuns { outputs { uri } } } }`, { id: runId });
      const started = Number(fs.readFileSync(new URL(d.run.stageRuns[0].outputs[0].uri), "utf8"));
      if (i >= 5) latencies.push(started - t0); // the first few warm the worker and caches
    }
    log(`[${backend}] latency: ${latencies.length} runs`);
    return { backend, dagSeconds, latencies };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const results: BackendResult[] = [];
  let pg = "";
  const onSignal = () => void Promise.allSettled([...liveServers].map((s) => s.stop())).then(() => process.exit(130));
  process.on("SIGINT", onSignal);
  if (opts.only !== "postgres") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-engine-"));
    try {
      results.push(await benchBackend("pglite", { SLUICE_DATA_DIR: dir }, opts));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (opts.only !== "pglite") {
    pg = await postgresVersion(opts.pgUrl);
    const db = await createDatabase(opts.pgUrl);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-engine-"));
    try {
      results.push(await benchBackend("postgres", { DATABASE_URL: db.url, SLUICE_DATA_DIR: dir }, opts));
    } finally {
      await db.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const cpu = os.cpus()[0]?.model ?? "?";
  console.log(`Run engine benchmark — ${new Date().toISOString()}`);
  console.log(
    `machine: ${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; PGlite ${pgliteVersion()}${pg ? `; PostgreSQL ${pg}` : ""}`,
  );
  console.log("");
  console.log("backend    dag1000 s (each)           dag1000 median  trigger->start p50 ms  p99 ms  max ms  runs");
  for (const r of results) {
    const sortedDag = [...r.dagSeconds].sort((a, b) => a - b);
    const lat = [...r.latencies].sort((a, b) => a - b);
    console.log(
      [
        r.backend.padEnd(10),
        r.dagSeconds
          .map((s) => s.toFixed(2))
          .join(", ")
          .padEnd(26),
        `${percentile(sortedDag, 50).toFixed(2)} s`.padStart(14),
        percentile(lat, 50).toFixed(1).padStart(22),
        percentile(lat, 99).toFixed(1).padStart(7),
        lat[lat.length - 1]!.toFixed(1).padStart(7),
        String(lat.length).padStart(5),
      ].join(" "),
    );
  }
  console.log("");
  console.log("targets: dag1000 < 5 s; trigger->stage start p50 < 10 ms, p99 < 50 ms");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  void Promise.allSettled([...liveServers].map((s) => s.stop())).then(() => process.exit(1));
});
