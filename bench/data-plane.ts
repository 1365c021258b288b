/**
 * Benchmark: the data plane on the real data set, `flights-3m.parquet` from vega-datasets
 * (3,000,000 flights, Jan–Jun 2001).
 *
 * What it measures, in one process and one run so the figures compare as ratios:
 *
 *   1. scan      — a bare DuckDB scan of the file: one aggregate over every column. The floor.
 *   2. ingest    — reading the file into a new Parquet version (`materializeFiles`), the
 *                  column profile (`profileParquet`) and an 8-expectation suite (`runSuite`, the
 *                  flights example's suite without its exact quantile), each timed and summed.
 *                  Target: ingest + profile + validate < 3 s on the 2-core machine.
 *   3. pit       — a point-in-time training set for 1,000,000 entity rows (flights sampled with
 *                  replacement: origin + timestamp) against the origin delay view's offline
 *                  table (7-day windowed rate and count), `buildTrainingSet`. The offline
 *                  materialization it needs is timed apart.
 *   4. online    — `onlineFeatures` for 100 keys over GraphQL HTTP against a real server (child
 *                  process) whose online store holds a route view (origin × destination, ~4,000
 *                  entities): p50/p99 over 500 requests, 100 random keys each, one client.
 *                  On PGlite and on PostgreSQL (--pg-url, default postgres://postgres@127.0.0.1:5432).
 *
 * Run it (builds first):  npm run bench:data   (or: npm run bench:data -- --only scan,ingest,pit)
 * It is run by hand and is not part of `npm test`. Results are recorded in bench/RESULTS.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { queryJson, sqlString, withDuckDb } from "../src/datasets/columnar/duckdb";
import { profileParquet } from "../src/datasets/columnar/profile";
import { materializeFiles } from "../src/datasets/columnar/read";
import { validateFeatureView } from "../src/features/definition";
import { materializeOffline } from "../src/features/offline";
import { buildTrainingSet } from "../src/features/training-set";
import { runSuite } from "../src/validation/run-suite";
import type { SuiteDefinition } from "../src/validation/suite";
import { REPO_ROOT, createDatabase, gql, liveServers, log, percentile, pgliteVersion, postgresVersion, startServer } from "./support";

const FLIGHTS = path.join(REPO_ROOT, "node_modules/vega-datasets/data/flights-3m.parquet");
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = new Set((flag("only") ?? "scan,ingest,pit,online").split(","));
const pgUrl = flag("pg-url") ?? process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const SUITE: SuiteDefinition = {
  name: "flights-quality",
  expectations: [
    { type: "not_null", column: "date" },
    { type: "not_null", column: "origin" },
    { type: "matches_regex", column: "origin", regex: "^[A-Z]{3}$" },
    { type: "matches_regex", column: "destination", regex: "^[A-Z]{3}$" },
    { type: "between", column: "distance", min: 1, max: 6000 },
    { type: "between", column: "delay", min: -120, max: 1800, mostly: 0.999 },
    { type: "row_count_between", min: 100000 },
    { type: "mean_between", column: "delay", min: -10, max: 60, severity: "warn" },
  ],
};

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-data-"));
  const out: string[] = [];
  const print = (line: string) => {
    out.push(line);
    console.log(line);
  };
  print(
    `machine: ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  try {
    // DuckDB's first query pays for loading the extension-free engine; not part of any figure.
    await withDuckDb((conn) => queryJson(conn, "SELECT 1"));
    let scanMs = NaN;
    if (only.has("scan") || only.has("ingest")) {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const [, t] = await timed(() =>
          withDuckDb((conn) =>
            queryJson(
              conn,
              `SELECT count(*), min(date), max(date), avg(delay), avg(distance), count(DISTINCT origin), max(destination) FROM read_parquet(${sqlString(FLIGHTS)})`,
            ),
          ),
        );
        times.push(t);
      }
      scanMs = Math.min(...times);
      print(`scan: bare DuckDB scan of flights-3m (aggregate over every column): best of 3 ${ms(scanMs)}`);
    }
    if (only.has("ingest")) {
      for (let i = 0; i < 3; i++) {
        const file = path.join(scratch, `ingest-${i}.parquet`);
        const [read, tRead] = await timed(() =>
          materializeFiles({ kind: "FILE", paths: [FLIGHTS], format: "parquet" }, file, { roots: [REPO_ROOT] }),
        );
        const [, tProfile] = await timed(() => profileParquet(file));
        const [report, tValidate] = await timed(() => runSuite(file, SUITE));
        const total = tRead + tProfile + tValidate;
        print(
          `ingest #${i + 1}: ${read.rowCount} rows — read+write Parquet ${ms(tRead)}, profile ${ms(tProfile)}, validate (8 expectations, ${report.success ? "passed" : "failed"}) ${ms(tValidate)}; total ${ms(total)} (target < 3000 ms: ${total < 3000 ? "met" : "missed"}), ${(total / scanMs).toFixed(1)}× the bare scan`,
        );
        fs.rmSync(file, { force: true });
      }
    }
    if (only.has("pit")) {
      const view = validateFeatureView({
        name: "origin_delays",
        entities: ["origin"],
        timestampColumn: "date",
        ttlSeconds: 7 * 86400,
        source: { dataset: "flights" },
        features: [
          { name: "delay_rate_7d", aggregation: "avg", expr: "CASE WHEN delay > 15 THEN 1.0 ELSE 0.0 END", window: "7d" },
          { name: "flights_7d", aggregation: "count", window: "7d" },
        ],
      });
      const offline = path.join(scratch, "offline.parquet");
      const [mat, tMat] = await timed(() => materializeOffline(view, FLIGHTS, offline));
      print(`pit setup: offline materialization of origin_delays over 3M flights: ${mat.rowCount} feature rows in ${ms(tMat)}`);
      const entities = path.join(scratch, "entities.parquet");
      await withDuckDb((conn) =>
        queryJson(
          conn,
          `COPY (SELECT origin, date AS event_timestamp FROM read_parquet(${sqlString(FLIGHTS)}) USING SAMPLE reservoir(1000000 ROWS) REPEATABLE (7))
             TO ${sqlString(entities)} (FORMAT parquet)`,
        ),
      );
      for (let i = 0; i < 3; i++) {
        const outFile = path.join(scratch, `training-${i}.parquet`);
        const [ts, t] = await timed(() => buildTrainingSet({ entityFile: entities, views: [{ view, offlineFile: offline }], outFile }));
        print(
          `pit #${i + 1}: point-in-time training set, ${ts.rowCount} entity rows × 2 features: ${ms(t)} (${(t / scanMs).toFixed(1)}× the bare scan)`,
        );
        fs.rmSync(outFile, { force: true });
      }
    }
    if (only.has("online")) {
      print(`online: PGlite ${pgliteVersion()}`);
      await online("pglite", {}, print, scratch);
      try {
        print(`online: PostgreSQL ${await postgresVersion(pgUrl)}`);
        const db = await createDatabase(pgUrl);
        try {
          await online("postgres", { DATABASE_URL: db.url }, print, scratch);
        } finally {
          await db.drop();
        }
      } catch (err) {
        print(`online postgres: skipped (${(err as Error).message})`);
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Sets up a route view on a real server and times onlineFeatures for 100 keys. */
async function online(label: string, env: Record<string, string>, print: (s: string) => void, scratch: string): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(scratch, `server-${label}-`));
  const server = await startServer({ SLUICE_DATA_DIR: dataDir, SLUICE_DATA_ROOTS: REPO_ROOT, ...env });
  const url = `${server.url}/graphql`;
  const must = async (query: string, variables: Record<string, unknown>) => {
    const res = await gql(url, query, variables);
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    const first = Object.values(res.body.data)[0] as { __typename?: string; message?: string };
    if (first?.__typename?.endsWith("Error")) throw new Error(JSON.stringify(first));
    return res.body.data;
  };
  try {
    const p = await must(
      `mutation { createProject(input: { name: "bench" }) { ... on ProjectPayload { project { id } } ... on Error { __typename message } } }`,
      {},
    );
    const projectId = p.createProject.project.id;
    const d = await must(
      `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } ... on Error { __typename message } } }`,
      { i: { projectId, name: "flights" } },
    );
    const datasetId = d.createDataset.dataset.id;
    await must(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on Error { message } } }`, {
      i: { datasetId, name: "all", kind: "FILE", paths: [FLIGHTS], format: "parquet" },
    });
    await must(`mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on Error { message } } }`, {
      i: { datasetId, source: "all" },
    });
    const v = await must(
      `mutation($i: DefineFeatureViewInput!) { defineFeatureView(input: $i) { __typename ... on DefineFeatureViewPayload { featureView { id } } ... on Error { message } } }`,
      {
        i: {
          projectId,
          definition: {
            name: "routes",
            entities: ["origin", "destination"],
            timestampColumn: "date",
            source: { dataset: "flights" },
            features: [
              { name: "delay_rate_7d", aggregation: "avg", expr: "CASE WHEN delay > 15 THEN 1.0 ELSE 0.0 END", window: "7d" },
              { name: "flights_7d", aggregation: "count", window: "7d" },
              { name: "distance", expr: "distance" },
            ],
          },
        },
      },
    );
    const viewId = v.defineFeatureView.featureView.id;
    const t0 = performance.now();
    const m = await must(
      `mutation($i: MaterializeFeatureViewInput!) { materializeFeatureView(input: $i) { __typename ... on MaterializeFeatureViewPayload { materialization { rowCount onlineRows } } ... on Error { message } } }`,
      { i: { featureViewId: viewId } },
    );
    const { rowCount, onlineRows } = m.materializeFeatureView.materialization;
    print(
      `online ${label}: materialized routes (${rowCount} rows offline, ${onlineRows} entities online) in ${ms(performance.now() - t0)} over GraphQL`,
    );
    const routes = await withDuckDb((conn) =>
      queryJson(conn, `SELECT DISTINCT origin, destination FROM read_parquet(${sqlString(FLIGHTS)}) ORDER BY 1, 2`),
    );
    const query = `query($p: ID!, $k: [[String!]!]!) { onlineFeatures(projectId: $p, view: "routes", entityKeys: $k) { vectors { found values } } }`;
    const pick = () =>
      Array.from({ length: 100 }, () => routes[Math.floor(Math.random() * routes.length)]!).map((r) => [
        String(r.origin),
        String(r.destination),
      ]);
    for (let i = 0; i < 50; i++) await gql(url, query, { p: projectId, k: pick() });
    const times: number[] = [];
    let found = 0;
    for (let i = 0; i < 500; i++) {
      const keys = pick();
      const t = performance.now();
      const res = await gql(url, query, { p: projectId, k: keys });
      times.push(performance.now() - t);
      found += res.body.data.onlineFeatures.vectors.filter((x: { found: boolean }) => x.found).length;
    }
    times.sort((a, b) => a - b);
    print(
      `online ${label}: onlineFeatures, 100 keys per request over GraphQL HTTP: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms (500 requests; ${((found / 50000) * 100).toFixed(1)}% of keys within TTL-free view found)`,
    );
  } finally {
    await server.stop();
  }
}

main().catch(async (err) => {
  log(String(err?.stack ?? err));
  for (const s of liveServers) await s.stop().catch(() => undefined);
  process.exit(1);
});
