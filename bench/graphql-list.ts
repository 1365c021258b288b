/**
 * Benchmark: GraphQL list-query throughput and latency, embedded PGlite vs a PostgreSQL server.
 *
 * What it measures: requests per second and p50/p99 latency of one read-only list query,
 *
 *   query { projects(first: 20) { totalCount edges { cursor node { id name createdAt } } } }
 *
 * sent by N concurrent keep-alive HTTP clients (default 50) with autocannon, against the real
 * server started as a child process (`node bin/sluice.js server --port 0`), once per back-end:
 *
 *   1. pglite    — the embedded database, in a fresh temporary SLUICE_DATA_DIR;
 *   2. postgres  — the PostgreSQL server at postgres://postgres@127.0.0.1:5432 (override with
 *                  --pg-url or BENCH_POSTGRES_URL), in a fresh database this script creates
 *                  and drops afterwards.
 *
 * Per back-end: start the server (LOG_LEVEL=warn, SLUICE_RATE_LIMIT=0 so the per-token limiter
 * does not cap the load, a fixed SLUICE_ADMIN_TOKEN), seed ~200 projects through the
 * createProject mutation, warm up for 2 s, then measure for 10 s. Warm-up and measurement are
 * one autocannon run on the same connections: the measured window opens once the warm-up time
 * has passed and every connection has had a response (so it is the steady state of N active
 * clients), and how long new connections waited for their first response is printed apart.
 * Throughput is responses completed in the window divided by its length; latency percentiles
 * are over those responses (nearest rank). Every response is checked: connection errors,
 * timeouts, non-2xx statuses and 2xx bodies that are not a full page without GraphQL `errors`
 * are all counted and printed (in the window, and autocannon's totals for the whole run).
 *
 * The load generator, the server and (for the second back-end) PostgreSQL share the machine;
 * the load average before and after is printed so a busy machine shows in the figures.
 *
 * Run it (builds first):
 *
 *   npm run bench:graphql
 *   npm run bench:graphql -- --duration 10 --connections 50 --warmup 2 --projects 200
 *   npm run bench:graphql -- --only pglite          # or --only postgres
 *
 * It is run by hand and is not part of `npm test`. Results are recorded in bench/RESULTS.md.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
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

const PAGE_SIZE = 20;
const LIST_QUERY = `query BenchProjects { projects(first: ${PAGE_SIZE}) { totalCount edges { cursor node { id name createdAt } } } }`;

type Backend = "pglite" | "postgres";

interface Options {
  duration: number;
  connections: number;
  warmup: number;
  projects: number;
  pgUrl: string;
  only: Backend | undefined;
}

function usage(): never {
  process.stderr.write(
    [
      "usage: node dist/bench/graphql-list.js [--duration S] [--connections N] [--warmup S] [--projects N]",
      "                                      [--pg-url URL] [--only pglite|postgres]",
      "defaults: --duration 10 --connections 50 --warmup 2 --projects 200 --pg-url postgres://postgres@127.0.0.1:5432",
      "",
    ].join("\n"),
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    duration: 10,
    connections: 50,
    warmup: 2,
    projects: 200,
    pgUrl: process.env.BENCH_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432",
    only: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage();
      return v;
    };
    const positive = (name: string, v: string, allowZero = false) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
        process.stderr.write(`${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${JSON.stringify(v)}\n`);
        usage();
      }
      return n;
    };
    switch (flag) {
      case "--duration":
      case "-d":
        opts.duration = positive("--duration", value());
        break;
      case "--connections":
      case "-c":
        opts.connections = Math.floor(positive("--connections", value()));
        break;
      case "--warmup":
        opts.warmup = positive("--warmup", value(), true);
        break;
      case "--projects":
        opts.projects = Math.floor(positive("--projects", value()));
        break;
      case "--pg-url":
        opts.pgUrl = value();
        break;
      case "--only": {
        const v = value();
        if (v !== "pglite" && v !== "postgres") usage();
        opts.only = v;
        break;
      }
      case "--help":
      case "-h":
        usage();
      // eslint-disable-next-line no-fallthrough -- usage() exits
      default:
        process.stderr.write(`unknown argument ${arg}\n`);
        usage();
    }
  }
  return opts;
}

/** The server under test, as a child process. */
const CREATE_PROJECT = `mutation BenchSeed($input: CreateProjectInput!) {
  createProject(input: $input) { __typename ... on ProjectPayload { project { id } } ... on Error { message } }
}`;

/** Creates `count` projects through the API, a few at a time; fails loudly on any refusal. */
async function seed(url: string, count: number): Promise<void> {
  const runId = randomBytes(3).toString("hex");
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const name = `bench-${runId}-${String(i).padStart(4, "0")}`;
      const { status, body } = await gql(url, CREATE_PROJECT, { input: { name, description: `benchmark project ${i}` } });
      if (status !== 200 || body.errors || body.data?.createProject?.__typename !== "ProjectPayload") {
        throw new Error(`seeding ${name} failed: HTTP ${status} ${JSON.stringify(body).slice(0, 500)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const check = await gql(url, LIST_QUERY);
  const total = check.body?.data?.projects?.totalCount;
  if (
    check.status !== 200 ||
    check.body.errors ||
    total !== count ||
    check.body.data.projects.edges.length !== Math.min(PAGE_SIZE, count)
  ) {
    throw new Error(`list query check failed after seeding: HTTP ${check.status} ${JSON.stringify(check.body).slice(0, 500)}`);
  }
}

interface Measured {
  backend: Backend;
  /** Successful responses (2xx, expected page, no GraphQL errors) completed inside the measured window. */
  requests: number;
  windowS: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** Connection errors (timeouts included) inside the window. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** 2xx responses whose body had GraphQL `errors` or not a full page, inside the window. */
  mismatches: number;
  statusCodes: Record<string, number>;
  /** autocannon's own totals over the whole run, warm-up included: nothing is left out. */
  wholeRun: { requests: number; errors: number; timeouts: number; non2xx: number; mismatches: number };
  /** Actual warm-up: until the window opened (at least --warmup, and every connection answered). */
  warmupS: number;
  /** Slowest first response on a newly opened connection (warm-up part of the run). */
  slowestFirstResponse: number;
  serverProblems: string[];
  serverLogLevels: Record<string, number>;
  /** A few distinct failures (bodies, request errors), for the report. */
  failures: string[];
}

/** If some connection has still had no response this long after the warm-up, measure anyway. */
const MAX_EXTRA_WARMUP_S = 30;

/**
 * One autocannon run: warm-up, then the measured window, on the same keep-alive connections.
 * The window opens once the warm-up time has passed AND every connection has had its first
 * response, so it measures the steady state of N active clients; it closes after `duration`
 * seconds, when the run is stopped (requests in flight then are not counted). A separate
 * warm-up run would close its connections, and the measured run would then fold the set-up of
 * N new connections into the latency figures; that set-up time is reported on its own instead
 * ("slowest first response on a new connection").
 */
async function measure(backend: Backend, url: string, opts: Options): Promise<Omit<Measured, "serverProblems" | "serverLogLevels">> {
  const expectedEdges = Math.min(PAGE_SIZE, opts.projects);
  const warmupMs = opts.warmup * 1000;
  const durationMs = opts.duration * 1000;
  let start = 0;
  let windowStart = 0;
  let windowEnd = 0;
  let forcedWindow = false;
  const inWindow = () => windowStart > 0 && windowEnd === 0;
  /** Latencies of successful responses (2xx with the expected page) in the window. */
  const latencies: number[] = [];
  let last: { status: number; responseTime: number; inWindow: boolean } | undefined;
  const statusCodes: Record<string, number> = {};
  const failures = new Set<string>();
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let mismatches = 0;
  const seenClients = new WeakSet<object>();
  let connectionsAnswered = 0;
  let slowestFirstResponse = 0;
  const note = (s: string) => {
    if (failures.size < 5) failures.add(s.length > 300 ? `${s.slice(0, 300)}…` : s);
  };

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: "POST",
        connections: opts.connections,
        // An upper bound: the run is stopped when the measured window is complete.
        duration: opts.warmup + opts.duration + MAX_EXTRA_WARMUP_S + 5,
        timeout: 10,
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ query: LIST_QUERY }),
        // A 200 with GraphQL `errors`, or without a full page, is not a success.
        verifyBody: (body: string) => {
          let ok = false;
          try {
            const parsed = JSON.parse(body) as { errors?: unknown; data?: { projects?: { totalCount?: number; edges?: unknown[] } } };
            ok =
              !parsed.errors && parsed.data?.projects?.totalCount === opts.projects && parsed.data.projects.edges?.length === expectedEdges;
          } catch {
            ok = false;
          }
          // autocannon calls this right after the "response" event of the same response.
          const r = last;
          last = undefined;
          const is2xx = r !== undefined && r.status >= 200 && r.status <= 299;
          if (!ok) note(`bad body${r ? ` (HTTP ${r.status})` : ""}: ${body}`);
          if (r?.inWindow && is2xx) {
            if (ok) latencies.push(r.responseTime);
            else mismatches++;
          }
          return ok;
        },
      } as autocannon.Options,
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    const tick = () => {
      const now = performance.now();
      if (windowStart === 0 && now - start >= warmupMs) {
        forcedWindow = now - start >= warmupMs + MAX_EXTRA_WARMUP_S * 1000;
        if (connectionsAnswered >= opts.connections || forcedWindow) windowStart = now;
      }
      if (windowStart > 0 && windowEnd === 0 && now - windowStart >= durationMs) {
        windowEnd = windowStart + durationMs;
        instance.stop();
      }
    };
    const ticker = setInterval(tick, 5);
    instance.on("start", () => {
      start = performance.now();
    });
    instance.on("done", () => clearInterval(ticker));
    instance.on("response", (client: object, statusCode: number, _bytes: number, responseTime: number) => {
      tick();
      if (!seenClients.has(client)) {
        seenClients.add(client);
        connectionsAnswered++;
        slowestFirstResponse = Math.max(slowestFirstResponse, responseTime);
      }
      last = { status: statusCode, responseTime, inWindow: inWindow() };
      if (!inWindow()) return;
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode < 200 || statusCode > 299) non2xx++;
    });
    instance.on("reqError", (err: Error) => {
      tick();
      note(`request error: ${err.message}`);
      if (!inWindow()) return;
      errors++;
      if (/timed out/.test(err.message)) timeouts++;
    });
  });
  if (windowStart === 0) throw new Error(`[${backend}] the measured window never opened (run ended after ${result.duration} s)`);
  if (windowEnd === 0) windowEnd = performance.now();
  if (forcedWindow)
    note(
      `only ${connectionsAnswered}/${opts.connections} connections had answered ${MAX_EXTRA_WARMUP_S} s after the warm-up; measured anyway`,
    );
  const windowS = (windowEnd - windowStart) / 1000;
  latencies.sort((x, y) => x - y);
  return {
    backend,
    requests: latencies.length,
    windowS,
    rps: latencies.length / windowS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    mean: latencies.reduce((sum, v) => sum + v, 0) / Math.max(1, latencies.length),
    max: latencies[latencies.length - 1] ?? NaN,
    errors,
    timeouts,
    non2xx,
    mismatches,
    statusCodes,
    warmupS: (windowStart - start) / 1000,
    wholeRun: {
      requests: result.requests.total,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      mismatches: result.mismatches,
    },
    slowestFirstResponse,
    failures: [...failures],
  };
}

async function benchBackend(backend: Backend, opts: Options, env: Record<string, string>): Promise<Measured> {
  log(`[${backend}] starting server`);
  const server = await startServer(env);
  try {
    log(`[${backend}] serving at ${server.url}; seeding ${opts.projects} projects via createProject`);
    const seedStart = Date.now();
    await seed(server.url, opts.projects);
    log(`[${backend}] seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    log(`[${backend}] ${opts.connections} connections: ${opts.warmup} s warm-up, then ${opts.duration} s measured`);
    const m = await measure(backend, server.url, opts);
    log(
      `[${backend}] ${m.requests} ok responses in the window; whole run: ${m.wholeRun.requests} requests, ${m.wholeRun.errors} errors, ${m.wholeRun.non2xx} non-2xx, ${m.wholeRun.mismatches} bad bodies`,
    );
    await server.stop();
    // Everything the server printed besides its address line, shutdown included.
    return { ...m, serverProblems: server.problems, serverLogLevels: { ...server.logLevels } };
  } finally {
    await server.stop(); // no-op when already stopped
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printResults(opts: Options, results: Measured[], pgVersion: string | undefined, loadBefore: number[]): void {
  const cpus = os.cpus();
  const lines: string[] = [];
  lines.push("");
  lines.push(`GraphQL list query: projects(first: ${PAGE_SIZE}) { totalCount edges { cursor node { id name createdAt } } }`);
  lines.push(
    `${opts.connections} keep-alive connections, ${opts.warmup} s warm-up then ${opts.duration} s measured on the same connections, ${opts.projects} projects seeded, SLUICE_RATE_LIMIT=0, LOG_LEVEL=warn`,
  );
  lines.push(
    `machine: ${cpus[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`,
  );
  if (pgVersion) lines.push(`PostgreSQL server ${pgVersion} (same machine); PGlite ${pgliteVersion()}`);
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(" ");
  lines.push(
    `date: ${new Date().toISOString()}; load average before ${load(loadBefore)}, after ${load(os.loadavg())} (client, server and PostgreSQL share this machine)`,
  );
  lines.push("");
  const header = ["backend", "ok reqs", "ok req/s", "p50 ms", "p99 ms", "mean ms", "max ms", "errors", "timeouts", "non-2xx", "bad body"];
  const widths = [9, 9, 9, 7, 7, 8, 7, 7, 9, 8, 9];
  lines.push(header.map((h, i) => pad(h, widths[i]!, i > 0)).join(" "));
  lines.push(widths.map((w) => "-".repeat(w)).join(" "));
  for (const r of results) {
    const row = [
      r.backend,
      String(r.requests),
      r.rps.toFixed(1),
      r.p50.toFixed(1),
      r.p99.toFixed(1),
      r.mean.toFixed(1),
      r.max.toFixed(0),
      String(r.errors),
      String(r.timeouts),
      String(r.non2xx),
      String(r.mismatches),
    ];
    lines.push(row.map((c, i) => pad(c, widths[i]!, i > 0)).join(" "));
  }
  const pg = results.find((r) => r.backend === "postgres");
  const lite = results.find((r) => r.backend === "pglite");
  if (pg && lite && lite.rps > 0) {
    lines.push("");
    lines.push(`ratio PostgreSQL/PGlite req/s: ${(pg.rps / lite.rps).toFixed(2)}x`);
  }
  lines.push("");
  lines.push("All counts are for the measured window. ok = 2xx with the expected page and no GraphQL errors; req/s and latency are");
  lines.push("over ok responses. errors = connection errors incl. timeouts; bad body = 2xx responses with GraphQL errors or");
  lines.push("without the full first page and totalCount of the seeded projects. Whole-run totals below also count the warm-up");
  lines.push("(autocannon counts every non-2xx response as a bad body too).");
  for (const r of results) {
    const w = r.wholeRun;
    lines.push(
      `${r.backend}: whole run incl. warm-up (autocannon totals): ${w.requests} requests, ${w.errors} errors, ${w.timeouts} timeouts, ${w.non2xx} non-2xx, ${w.mismatches} bad bodies; slowest first response on a new connection ${r.slowestFirstResponse.toFixed(0)} ms; window opened after ${r.warmupS.toFixed(1)} s, lasted ${r.windowS.toFixed(1)} s`,
    );
    const codes = Object.entries(r.statusCodes)
      .map(([c, n]) => `${c}: ${n}`)
      .join(", ");
    lines.push(`${r.backend}: HTTP status counts {${codes}}`);
    const levels = Object.entries(r.serverLogLevels)
      .map(([l, n]) => `${l}: ${n}`)
      .join(", ");
    lines.push(`${r.backend}: server log lines at warn or above (start to stop): {${levels}}`);
    for (const b of r.failures) lines.push(`${r.backend}: sample failure: ${b}`);
    for (const p of r.serverProblems.slice(0, 5)) lines.push(`${r.backend}: server said: ${p}`);
    if (r.serverProblems.length > 5) lines.push(`${r.backend}: … and ${r.serverProblems.length - 5} more server lines`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg();
  if (!fs.existsSync(path.join(REPO_ROOT, "dist", "src", "cli", "index.js"))) {
    throw new Error("the server is not built; run `npm run build` (npm run bench:graphql does it)");
  }
  const results: Measured[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: cleaning up (again to force)");
    void Promise.allSettled([...liveServers].map((s) => s.stop()))
      .then(() => Promise.allSettled(cleanups.map((c) => c())))
      .then(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let pgVersion: string | undefined;
  try {
    if (opts.only !== "postgres") {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-"));
      const rm = async () => fs.rmSync(dataDir, { recursive: true, force: true });
      cleanups.push(rm);
      try {
        results.push(await benchBackend("pglite", opts, { SLUICE_DATA_DIR: dataDir }));
      } finally {
        await rm();
      }
    }
    if (opts.only !== "pglite") {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-"));
      const rm = async () => fs.rmSync(dataDir, { recursive: true, force: true });
      cleanups.push(rm);
      pgVersion = await postgresVersion(opts.pgUrl);
      const db = await createDatabase(opts.pgUrl);
      cleanups.push(db.drop);
      log(`[postgres] created database ${new URL(db.url).pathname.slice(1)} on ${new URL(db.url).host}`);
      try {
        results.push(await benchBackend("postgres", opts, { DATABASE_URL: db.url, SLUICE_DATA_DIR: dataDir }));
      } finally {
        await rm();
        await db.drop();
        log(`[postgres] dropped database`);
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  printResults(opts, results, pgVersion, loadBefore);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
