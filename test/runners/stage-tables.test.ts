import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun, type RunView } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const REPO = path.resolve(__dirname, "../../..");
const PYTHON = "/usr/bin/python3";
const BWRAP = "/usr/bin/bwrap";

/** A TypeScript module stage reading its Dataset inputs as tables and writing one as rows. */
const STAGES_TS = `
import type { StageContext } from ${JSON.stringify(path.join(REPO, "runners/local/stage"))};

export async function summarize(ctx: StageContext) {
  const trips = ctx.inputs.trips;
  const rows = await trips.rows();
  let batches = 0;
  let batched = 0;
  for await (const batch of trips.batches({ size: 2 })) {
    batches++;
    batched += batch.length;
  }
  const table = await trips.table();
  const perCity = await trips.query("SELECT city, count(*) AS trips, sum(km) AS km, max(ts) AS last_at FROM input GROUP BY city ORDER BY city -- one row per city");
  let refused = "";
  try {
    await ctx.inputs.many.rows();
  } catch (err) {
    refused = (err as Error).name + ": " + (err as Error).message;
  }
  let streamed = 0;
  for await (const batch of ctx.inputs.many.batches({ size: 40000 })) streamed += batch.length;
  ctx.log("RESULT " + JSON.stringify({
    rows: rows.length,
    first: rows[0],
    firstAtIsDate: rows[0].ts instanceof Date,
    batches,
    batched,
    table,
    perCity,
    refused,
    streamed,
  }));
  const written = await ctx.outputs.summary.writeRows(
    perCity.map((r) => ({ ...r, avg_km: Number(r.km) / Number(r.trips) })),
    { dataset: "trip-summary" },
  );
  ctx.log("WRITTEN " + JSON.stringify(written));
}
`;

/** A Python command stage (standard library only) reading and writing Dataset tables through sluice_stage. */
const STAGE_PY = `
import datetime
import sluice_stage as sluice

trips = sluice.read_table("trips")
summary = sluice.read_table("summary")
first = trips[0]
sluice.log("TYPES " + ",".join(f"{k}={type(v).__name__}" for k, v in sorted(first.items())))
sluice.log("SUMMARY " + ",".join(sorted(summary[0])))
threshold = sluice.params()["minKm"]
out = [
    {"id": r["id"], "city": r["city"], "km": r["km"], "long": r["km"] >= threshold, "day": r["ts"].date()}
    for r in trips
    if isinstance(r["ts"], datetime.datetime)
]
sluice.metric("enriched", sluice.write_table("enriched", out, dataset="trip-enriched"))
`;

/**
 * The trips as a DataFrame, changed into one with a NULL string (Nice), a NaN float (km under 2),
 * a timestamp column with a NaT (trip 3) and a nullable integer column with an NA: each kind of
 * pandas "missing" must reach the dataset as NULL. `trips` is a DataFrame of the trips input.
 */
const FRAME_OF_TRIPS = `
framed = pandas.DataFrame({
    "id": trips["id"],
    "city": trips["city"].where(trips["city"] != "Nice", None),
    "km": trips["km"].where(trips["km"] > 2, float("nan")),
    "at": pandas.to_datetime(trips["ts"]).where(trips["id"] != 3),
    "stops": pandas.array([1, None, 3, 4, 5], dtype="Int64"),
})
`;

/** A Python command stage reading a Dataset as a pandas DataFrame and writing one back (pandas, no pyarrow). */
const FRAME_PY = `
import json
import pandas
import sluice_stage as sluice

trips = sluice.read_table("trips", as_pandas=True)
sluice.log("FRAME " + json.dumps({
    "type": type(trips).__name__,
    "rows": len(trips),
    "dtypes": {c: str(t) for c, t in trips.dtypes.items()},
}))
${FRAME_OF_TRIPS}
sluice.metric("framed", sluice.write_table("framed", framed, dataset="trip-framed"))
`;

/** The same with pyarrow on the stage's PYTHONPATH: read_table's default is then a DataFrame, read from the Parquet. */
const ARROW_PY = `
import json
import pandas
import pyarrow
import sluice_stage as sluice

trips = sluice.read_table("trips")
listed = sluice.read_table("trips", as_pandas=False)
sluice.log("ARROW " + json.dumps({
    "type": type(trips).__name__,
    "dtypes": {c: str(t) for c, t in trips.dtypes.items()},
    "listed": {k: type(v).__name__ for k, v in sorted(listed[0].items())},
}))
${FRAME_OF_TRIPS}
sluice.write_table("framed", framed, dataset="trip-framed-arrow")
sluice.write_table("listed", [{"id": r["id"], "at": r["ts"], "ok": r["ok"]} for r in listed], dataset="trip-listed-arrow")
`;

const TRIPS_CSV = [
  "id,city,km,ts,ok",
  "1,Lyon,12.5,2024-01-02 08:00:00,true",
  "2,Paris,3.25,2024-01-02 09:30:00,false",
  "3,Lyon,40.0,2024-01-03 18:15:00,true",
  "4,Nice,7.75,2024-01-04 07:45:00,true",
  "5,Paris,1.5,2024-01-05 12:00:00,false",
].join("\n");

/** Why `module` cannot be imported by {@link PYTHON} (with `pythonPath` first on its path), or null when it can. */
function pythonMissing(module: string, pythonPath?: string): string | null {
  const env = pythonPath ? { ...process.env, PYTHONPATH: pythonPath } : process.env;
  const r = spawnSync(PYTHON, ["-c", `import ${module}`], { encoding: "utf8", env });
  if (r.status === 0) return null;
  return `${module} is not importable by ${PYTHON}: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
}

/** Debian's python3-pandas: the DataFrame branches of sluice_stage are tested with it. */
const pandasWhy = fs.existsSync(PYTHON) ? pythonMissing("pandas") : null;
const pandasMissing = pandasWhy && `${pandasWhy} (apt-get install python3-pandas)`;

/**
 * Installs pyarrow (a wheel, without dependencies: it needs none, and Debian's numpy stays) into
 * `target` with pip, within a minute. Returns why not, or null when `import pyarrow` then works.
 */
async function installPyarrow(target: string): Promise<string | null> {
  const args = ["-m", "pip", "install", "--quiet", "--no-input", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:"];
  const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = execFile(PYTHON, [...args, "--target", target, "pyarrow"], { timeout: 60_000 }, (err, _stdout, stderr) =>
      resolve({ status: err ? 1 : 0, stderr: `${stderr}${err && !stderr ? err.message : ""}` }),
    );
    child.stdin?.end();
  });
  const why = r.status === 0 ? pythonMissing("pyarrow", target) : r.stderr.trim().split("\n").pop();
  return why
    ? `pyarrow could not be installed with ${PYTHON} -m pip into a temporary folder (${why}): the pyarrow branches are untested`
    : null;
}

async function logsOf(t: TestServer, stageRunId: string): Promise<string[]> {
  const res = dataOf(await t.gql(`query($id: ID!) { stageLogs(stageRunId: $id, first: 500) { nodes { text } } }`, { id: stageRunId }));
  return (res.stageLogs.nodes as Array<{ text: string }>).flatMap((n) => n.text.split("\n"));
}

/** A stage named `ingest-<dataset>` that ingests `<dir>/<dataset>.csv` as dataset `<dataset>`. */
function ingestCsv(dir: string, dataset: string) {
  return {
    name: `ingest-${dataset}`,
    run: { operator: "ingest" },
    params: { dataset, paths: [path.join(dir, `${dataset}.csv`)], format: "csv" },
    outputs: { data: { kind: "Dataset" } },
  };
}

function json(text: string): any {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${(err as Error).message} in ${JSON.stringify(text)}`);
  }
}

function line(logs: string[], prefix: string): string {
  const found = logs.find((l) => l.startsWith(prefix + " "));
  assert.ok(found, `no "${prefix}" line in the stage's log:\n${logs.join("\n")}`);
  return found.slice(prefix.length + 1);
}

async function latestVersion(t: TestServer, projectId: string, name: string) {
  const res = dataOf(
    await t.gql(
      `query($p: ID!, $n: String!) { dataset(projectId: $p, name: $n) { name latestVersion { version rowCount producedBy origin schema { name type } profile { columns { name nullCount } } } } }`,
      { p: projectId, n: name },
    ),
  );
  return res.dataset as {
    name: string;
    latestVersion: {
      version: number;
      rowCount: number;
      producedBy: string;
      origin: Record<string, unknown>;
      schema: Array<{ name: string; type: string }>;
      profile: { columns: Array<{ name: string; nullCount: number }> };
    };
  };
}

/**
 * Datasets as tables in stage code: a module stage reads its Dataset input with rows(),
 * batches(), table() and query() and writes a Dataset output with writeRows(); a Python
 * command stage (standard library only) reads both through sluice_stage and writes one. Both
 * outputs are registered as dataset versions by the server, which reads their schema itself.
 * Run with project code sandboxed (when bubblewrap is here: one-shot and warm hosts) and trusted
 * (module stages in worker threads).
 */
for (const mode of ["sandbox", "trusted"] as const) {
  describe(`stage tables (${mode})`, () => {
    const skip =
      mode === "sandbox" && !fs.existsSync(BWRAP) ? "bubblewrap is not installed" : !fs.existsSync(PYTHON) ? `${PYTHON} not found` : null;
    let t: TestServer;
    let dir: string;
    let projectId: string;
    let previousRoots: string | undefined;
    before(async () => {
      if (skip) return;
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-stage-tables-"));
      // The ingest operator checks its paths against the data roots of the process it runs in.
      previousRoots = process.env.SLUICE_DATA_ROOTS;
      process.env.SLUICE_DATA_ROOTS = dir;
      fs.writeFileSync(path.join(dir, "trips.csv"), TRIPS_CSV);
      const many = ["n,square"];
      for (let i = 0; i < 100_001; i++) many.push(`${i},${i * i}`);
      fs.writeFileSync(path.join(dir, "many.csv"), many.join("\n"));
      fs.writeFileSync(path.join(dir, "stages.ts"), STAGES_TS);
      fs.writeFileSync(path.join(dir, "stage.py"), STAGE_PY);
      fs.writeFileSync(path.join(dir, "frame.py"), FRAME_PY);
      const env =
        mode === "sandbox"
          ? { SLUICE_DATA_ROOTS: dir, SLUICE_SANDBOX_BWRAP: BWRAP, SLUICE_TRUSTED_CODE: "0", SLUICE_CODE_ROOTS: dir }
          : { SLUICE_DATA_ROOTS: dir };
      t = await startTestServer({ env });
      projectId = await seedProject(t, `tables-${mode}`);
    });
    after(async () => {
      if (skip) return;
      await t.close();
      if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
      else process.env.SLUICE_DATA_ROOTS = previousRoots;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function runPipeline(): Promise<RunView> {
      const spec = {
        name: `tables-${mode}`,
        stages: [
          ingestCsv(dir, "trips"),
          ingestCsv(dir, "many"),
          {
            name: "summarize",
            run: { module: "./stages.ts", export: "summarize" },
            inputs: { trips: { from: "ingest-trips.data" }, many: { from: "ingest-many.data" } },
            outputs: { summary: { kind: "Dataset" } },
          },
          {
            name: "enrich",
            run: { command: [PYTHON, "stage.py"] },
            inputs: { trips: { from: "ingest-trips.data" }, summary: { from: "summarize.summary" } },
            params: { minKm: 10 },
            outputs: { enriched: { kind: "Dataset" } },
          },
        ],
      };
      const { pipelineId } = await applyPipeline(t, projectId, spec, dir);
      const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
      assert.equal(
        run.status,
        "SUCCEEDED",
        JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure, s.attempts.map((a) => a.failure)])),
      );
      return run;
    }

    it("a module stage reads a dataset as rows, batches and SQL, and its writeRows output becomes a dataset version", async (ctx) => {
      if (skip) return ctx.skip(skip);
      const run = await runPipeline();
      const summarize = stage(run, "summarize");
      const result = json(line(await logsOf(t, summarize.id), "RESULT"));
      assert.equal(result.rows, 5);
      assert.deepEqual(result.first, { id: 1, city: "Lyon", km: 12.5, ts: "2024-01-02T08:00:00.000Z", ok: true });
      assert.equal(result.firstAtIsDate, true);
      assert.deepEqual([result.batches, result.batched], [3, 5]);
      assert.equal(result.table.rowCount, 5);
      assert.deepEqual(
        result.table.columns.map((c: { name: string }) => c.name),
        ["id", "city", "km", "ts", "ok"],
      );
      assert.equal(result.table.columns.find((c: { name: string }) => c.name === "ts").type, "TIMESTAMP");
      assert.match(result.table.query, /read_parquet/);
      assert.deepEqual(result.perCity, [
        { city: "Lyon", trips: 2, km: 52.5, last_at: "2024-01-03T18:15:00.000Z" },
        { city: "Nice", trips: 1, km: 7.75, last_at: "2024-01-04T07:45:00.000Z" },
        { city: "Paris", trips: 2, km: 4.75, last_at: "2024-01-05T12:00:00.000Z" },
      ]);
      // Above the row limit rows() refuses and names the streaming form, which reads it all.
      assert.match(result.refused, /^RangeError: .*more than 100000 rows.*batches\(/);
      assert.equal(result.streamed, 100_001);

      const summary = await latestVersion(t, projectId, "trip-summary");
      assert.equal(summary.latestVersion.version, 1);
      assert.equal(summary.latestVersion.rowCount, 3);
      assert.equal(summary.latestVersion.producedBy, summarize.id);
      assert.equal(summary.latestVersion.origin.kind, "STAGE_OUTPUT");
      assert.deepEqual(
        summary.latestVersion.schema.map((c) => [c.name, c.type]),
        [
          ["city", "VARCHAR"],
          ["trips", "BIGINT"],
          ["km", "DOUBLE"],
          ["last_at", "TIMESTAMP"],
          ["avg_km", "DOUBLE"],
        ],
      );

      // The Python stage read both tables with the standard library, types intact, and wrote one.
      const enrich = stage(run, "enrich");
      const logs = await logsOf(t, enrich.id);
      assert.equal(line(logs, "TYPES"), "city=str,id=int,km=float,ok=bool,ts=datetime");
      assert.equal(line(logs, "SUMMARY"), "avg_km,city,km,last_at,trips");
      const enriched = await latestVersion(t, projectId, "trip-enriched");
      assert.equal(enriched.latestVersion.rowCount, 5);
      assert.equal(enriched.latestVersion.producedBy, enrich.id);
      assert.deepEqual(
        enriched.latestVersion.schema.map((c) => [c.name, c.type]),
        [
          ["id", "BIGINT"],
          ["city", "VARCHAR"],
          ["km", "DOUBLE"],
          ["long", "BOOLEAN"],
          ["day", "DATE"],
        ],
      );
    });

    it("a Python stage reads a dataset as a pandas DataFrame without pyarrow and writes one, NULLs and timestamps kept", async (ctx) => {
      if (skip) return ctx.skip(skip);
      if (pandasMissing) return ctx.skip(pandasMissing);
      const spec = {
        name: `frame-${mode}`,
        stages: [
          ingestCsv(dir, "trips"),
          {
            name: "frame",
            run: { command: [PYTHON, "frame.py"] },
            inputs: { trips: { from: "ingest-trips.data" } },
            outputs: { framed: { kind: "Dataset" } },
          },
        ],
      };
      const { pipelineId } = await applyPipeline(t, projectId, spec, dir);
      const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
      assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
      const frame = stage(run, "frame");
      // Read from the JSON-lines copy (no pyarrow here), with pandas' own types for each column.
      assert.deepEqual(json(line(await logsOf(t, frame.id), "FRAME")), {
        type: "DataFrame",
        rows: 5,
        dtypes: { id: "int64", city: "object", km: "float64", ts: "datetime64[ns]", ok: "bool" },
      });
      assertFramed(await latestVersion(t, projectId, "trip-framed"), frame.id);
    });
  });
}

/** The version `FRAME_OF_TRIPS` became: its columns and types, and one NULL where pandas had a missing value. */
function assertFramed(framed: Awaited<ReturnType<typeof latestVersion>>, producedBy: string): void {
  assert.equal(framed.latestVersion.rowCount, 5);
  assert.equal(framed.latestVersion.producedBy, producedBy);
  assert.deepEqual(
    framed.latestVersion.schema.map((c) => [c.name, c.type]),
    [
      ["id", "BIGINT"],
      ["city", "VARCHAR"],
      ["km", "DOUBLE"],
      ["at", "TIMESTAMP"], // microseconds, with pyarrow or without
      ["stops", "BIGINT"],
    ],
  );
  assert.deepEqual(
    framed.latestVersion.profile.columns.map((c) => [c.name, c.nullCount]),
    [
      ["id", 0],
      ["city", 1],
      ["km", 1],
      ["at", 1],
      ["stops", 1],
    ],
  );
}

/**
 * The pyarrow branches of sluice_stage: Parquet read and written by the helper itself, a DataFrame
 * by default. pyarrow is not a Debian package: it is installed with pip into a temporary folder
 * that the stage's `run.env` puts on its PYTHONPATH, and the test is skipped when it cannot be.
 */
describe("stage tables with pandas and pyarrow (trusted)", () => {
  let skip: string | null = !fs.existsSync(PYTHON) ? `${PYTHON} not found` : pandasMissing;
  let t: TestServer;
  let dir: string;
  let projectId: string;
  let previousRoots: string | undefined;
  before(async () => {
    if (skip) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-stage-arrow-"));
    skip = await installPyarrow(path.join(dir, "pyarrow"));
    if (skip) return;
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    fs.writeFileSync(path.join(dir, "trips.csv"), TRIPS_CSV);
    fs.writeFileSync(path.join(dir, "arrow.py"), ARROW_PY);
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "tables-arrow");
  });
  after(async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (skip) return;
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
  });

  it("read_table gives a DataFrame (or rows) from the Parquet; write_table writes Parquet from a DataFrame or rows", async (ctx) => {
    if (skip) return ctx.skip(skip);
    const spec = {
      name: "arrow",
      stages: [
        ingestCsv(dir, "trips"),
        {
          name: "arrow",
          run: { command: [PYTHON, "arrow.py"], env: { PYTHONPATH: path.join(dir, "pyarrow") } },
          inputs: { trips: { from: "ingest-trips.data" } },
          outputs: { framed: { kind: "Dataset" }, listed: { kind: "Dataset" } },
        },
      ],
    };
    const { pipelineId } = await applyPipeline(t, projectId, spec, dir);
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const arrow = stage(run, "arrow");
    assert.deepEqual(json(line(await logsOf(t, arrow.id), "ARROW")), {
      type: "DataFrame",
      dtypes: { id: "int64", city: "object", km: "float64", ts: "datetime64[ns]", ok: "bool" },
      listed: { city: "str", id: "int", km: "float", ok: "bool", ts: "datetime" },
    });
    assertFramed(await latestVersion(t, projectId, "trip-framed-arrow"), arrow.id);
    const listed = await latestVersion(t, projectId, "trip-listed-arrow");
    assert.equal(listed.latestVersion.rowCount, 5);
    assert.deepEqual(
      listed.latestVersion.schema.map((c) => [c.name, c.type]),
      [
        ["id", "BIGINT"],
        ["at", "TIMESTAMP"],
        ["ok", "BOOLEAN"],
      ],
    );
  });
});
