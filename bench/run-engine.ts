/**
 * Benchmark: the run engine, on the embedded PGlite and on a PostgreSQL server.
 *
 * What it measures, against the real server started as a child process (embedded local runner,
 * LOG_LEVEL=warn, SLUICE_RATE_LIMIT=0):
 *
 *   1. dag1000  — a 1,000-stage fan-out/fan-in of `noop` stages (1 root, 998 leaves, 1 join):
 *                 wall time from sending `triggerRun` to the run being SUCCEEDED (target < 5 s).
 *   2. latency  — a one-stage pipeline whose module stage writes the wall-clock time it
 *                 started (client, server, worker and agent share the machine's clock), started
 *                 one run after another, p50 and p99 over --runs runs (target p50 < 10 ms,
 *                 p99 < 50 ms), three ways:
 *                   trigger→start, local   latency from just before `triggerRun` is sent;
 *                   event→start, local     from just before `emitEvent` is sent, through an
 *                                          event rule that starts the pipeline;
 *                   event→start, remote    the same with the stage run by a `sluice runner`
 *                                          agent (a separate process) long-polling the server.
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
import { spawn } from "node:child_process";
import {
  ADMIN_TOKEN,
  REPO_ROOT,
  createDatabase,
  gql,
  liveServers,
  log,
  percentile,
  pgliteVersion,
  postgresVersion,
  startServer,
} from "./support";

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
  latencies: Record<string, number[]>;
}

/** The wall-clock time the run's stamp stage started, once the run has finished. */
async function stampOf(url: string, runId: string): Promise<number> {
  const status = await waitDone(url, runId, 2);
  if (status !== "SUCCEEDED") {
    const d = await data(url, `query($id: ID!) { run(id: $id) { error } }`, { id: runId });
    throw new Error(`latency run ${runId} ended ${status}: ${JSON.stringify(d.run.error)}`);
  }
  const d = await data(url, `query($id: ID!) { run(id: $id) { stageRuns { outputs { uri } } } }`, { id: runId });
  return Number(fs.readFileSync(new URL(d.run.stageRuns[0].outputs[0].uri), "utf8"));
}

/** Waits for run `number` of a pipeline to exist (started by a trigger) and returns its id. */
async function runNumbered(url: string, pipelineId: string, number: number): Promise<string> {
  for (;;) {
    const d = await data(url, `query($p: ID!, $n: Int!) { run(pipelineId: $p, number: $n) { id } }`, { p: pipelineId, n: number });
    if (d.run) return d.run.id;
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Latency of `runs` sequential starts, after 5 unmeasured ones that warm workers and caches. */
async function measureLatency(runs: number, start: (i: number) => Promise<{ t0: number; runId: string }>, url: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs + 5; i++) {
    const { t0, runId } = await start(i);
    const started = await stampOf(url, runId);
    if (i >= 5) out.push(started - t0);
  }
  return out;
}

const now = () => performance.timeOrigin + performance.now();

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
      const sec = (performance.now() - t0) / 1000;
      if (status !== "SUCCEEDED") throw new Error(`dag1000 run ${runId} ended ${status}`);
      dagSeconds.push(sec);
      log(`[${backend}] dag1000 #${r + 1}: ${sec.toFixed(2)} s`);
    }

    // 2. Latency, three ways.
    const fixtures = path.join(REPO_ROOT, "bench", "fixtures");
    const stampSpec = (name: string, labels: string[]) => ({
      name,
      stages: [{ name: "s", run: { module: "./stamp.ts", export: "stamp" }, outputs: { started: file }, runner: { labels } }],
    });
    const latencies: Record<string, number[]> = {};
    const direct = await apply(url, projectId, stampSpec("latency", ["local"]), fixtures);
    latencies["trigger->start, local"] = await measureLatency(
      opts.runs,
      async () => ({ t0: now(), runId: await trigger(url, direct) }),
      url,
    );
    log(`[${backend}] trigger->start local done`);

    const onEvent = async (pipelineId: string, type: string) => {
      const rule = await data(
        url,
        `mutation($i: CreateEventRuleInput!) { createEventRule(input: $i) { __typename ... on Error { message } } }`,
        { i: { pipelineId, name: `on-${type.replace(".", "-")}`, eventType: type } },
      );
      if (rule.createEventRule.__typename !== "EventRulePayload") throw new Error(rule.createEventRule.message);
      await new Promise((r) => setTimeout(r, 300)); // the rule is armed after its creation event
      return async (i: number) => {
        const t0 = now();
        await data(url, `mutation($i: EmitEventInput!) { emitEvent(input: $i) { __typename } }`, {
          i: { projectId, type, payload: { i } },
        });
        return { t0, runId: await runNumbered(url, pipelineId, i + 1) };
      };
    };
    const viaEvent = await apply(url, projectId, stampSpec("latency-event", ["local"]), fixtures);
    latencies["event->start, local"] = await measureLatency(opts.runs, await onEvent(viaEvent, "bench.local"), url);
    log(`[${backend}] event->start local done`);

    const agent = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, "bin", "sluice.js"),
        "runner",
        "--server",
        url,
        "--labels",
        "remote",
        "--concurrency",
        "2",
        "--name",
        "bench-agent",
      ],
      {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", SLUICE_TOKEN: ADMIN_TOKEN, LOG_LEVEL: "warn" },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    try {
      const remote = await apply(url, projectId, stampSpec("latency-remote", ["remote"]), fixtures);
      latencies["event->start, remote"] = await measureLatency(opts.runs, await onEvent(remote, "bench.remote"), url);
      log(`[${backend}] event->start remote done`);
    } finally {
      agent.kill("SIGTERM");
      await new Promise((r) => agent.once("exit", r));
    }
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
  console.log("backend    dag1000 s (each)             median");
  for (const r of results) {
    const sortedDag = [...r.dagSeconds].sort((a, b) => a - b);
    console.log(
      `${r.backend.padEnd(10)} ${r.dagSeconds
        .map((x) => x.toFixed(2))
        .join(", ")
        .padEnd(28)} ${percentile(sortedDag, 50).toFixed(2)} s`,
    );
  }
  console.log("");
  console.log("backend    path                      p50 ms  p99 ms  max ms  runs");
  for (const r of results) {
    for (const [name, values] of Object.entries(r.latencies)) {
      const lat = [...values].sort((a, b) => a - b);
      const cells = [percentile(lat, 50), percentile(lat, 99), lat[lat.length - 1]!].map((x) => x.toFixed(1).padStart(7));
      console.log(`${r.backend.padEnd(10)} ${name.padEnd(24)} ${cells.join(" ")} ${String(lat.length).padStart(5)}`);
    }
  }
  console.log("");
  console.log("targets: dag1000 < 5 s; event->stage start p50 < 10 ms, p99 < 50 ms (local and remote)");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  void Promise.allSettled([...liveServers].map((s) => s.stop())).then(() => process.exit(1));
});
