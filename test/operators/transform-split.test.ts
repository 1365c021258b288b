import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { queryJson, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun, type RunView } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

const WEATHER = path.resolve(__dirname, "../../../node_modules/vega-datasets/data/seattle-weather.csv");

/**
 * The `transform` and `split` operators in real pipelines on a real server: Seattle's daily
 * weather (1,461 days, 2012–2015) is ingested, labelled by a SQL transform, split at random (seeded)
 * and by time, and every result is a dataset version with its profile and its lineage.
 */
describe("the transform and split operators", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-transform-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    fs.copyFileSync(WEATHER, path.join(dir, "seattle-weather.csv"));
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "transforms");
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ingest = {
    name: "ingest",
    run: { operator: "ingest" },
    params: { dataset: "weather", paths: ["seattle-weather.csv"], format: "csv" },
    outputs: { data: { kind: "Dataset" } },
  };
  const LABEL_SQL = `SELECT date, weather, precipitation, temp_max, temp_min,
         weather = 'rain' AS rainy,
         round((temp_max - temp_min) / nullif(temp_max, 0), 4) AS temp_ratio -- the day's spread against its high
    FROM weather;`;
  const transform = (name: string, inputs: Record<string, string>, sql: string, dataset = `${name}-out`) => ({
    name,
    run: { operator: "transform" },
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, from]) => [k, { from }])),
    params: { dataset, sql },
    outputs: { data: { kind: "Dataset" } },
  });
  const split = (name: string, params: Record<string, unknown>, from = "label.data") => ({
    name,
    run: { operator: "split" },
    inputs: { data: { from } },
    params: { dataset: name, ...params },
    outputs: { train: { kind: "Dataset" }, test: { kind: "Dataset" } },
  });

  async function run(name: string, stages: unknown[]): Promise<RunView> {
    const { pipelineId } = await applyPipeline(t, projectId, { name, stages });
    return waitForRun(t, await triggerRun(t, pipelineId), 60_000);
  }

  async function latest(dataset: string) {
    const res = dataOf(
      await t.gql(
        `query($p: ID, $n: String) { dataset(projectId: $p, name: $n) { versions(first: 1) { nodes {
           id version rowCount artifactId contentHash origin producedBy schema { name type }
           profile { rowCount columns { name kind nullCount min max } } } } } }`,
        { p: projectId, n: dataset },
      ),
    );
    return res.dataset.versions.nodes[0];
  }

  async function rowsOf(artifactId: string, sql: string): Promise<Record<string, unknown>[]> {
    const [{ uri }] = await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [artifactId]);
    const file = await t.server.services.artifacts.localPath(uri);
    return withDuckDb((conn) => queryJson(conn, sql.replace("$file", `read_parquet(${sqlString(file)})`)));
  }

  it("derives columns with SQL and splits the result by a seeded hash and by time, with profiles and lineage", async () => {
    const r = await run("weather", [
      ingest,
      transform("label", { weather: "ingest.data" }, LABEL_SQL, "weather-labelled"),
      split("wx-rand", { by: "fraction", testFraction: 0.2, seed: 42 }),
      split("wx-same", { by: "fraction", testFraction: 0.2, seed: 42 }),
      split("wx-seed7", { by: "fraction", testFraction: 0.2, seed: 7 }),
      split("wx-time", { by: "time", timeColumn: "date", cutoff: "2015-01-01" }),
      split("wx-tail", { by: "time", timeColumn: "date", testFraction: 0.25 }),
      // Two inputs joined: the rainy days of 2015 by weather (each input is a table named after it).
      transform(
        "join",
        { days: "label.data", recent: "wx-time.test" },
        `SELECT d.weather, count(*)::INTEGER AS n FROM days d JOIN recent USING (date) WHERE d.precipitation > 0 GROUP BY ALL ORDER BY d.weather`,
      ),
    ]);
    assert.equal(r.status, "SUCCEEDED", JSON.stringify(r.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])));

    // The transform: a new dataset version with the derived columns, its profile and its lineage.
    const weather = await latest("weather");
    const labelled = await latest("weather-labelled");
    assert.equal(labelled.rowCount, 1461);
    assert.deepEqual(
      labelled.schema.map((c: any) => [c.name, c.type]),
      [
        ["date", "DATE"],
        ["weather", "VARCHAR"],
        ["precipitation", "DOUBLE"],
        ["temp_max", "DOUBLE"],
        ["temp_min", "DOUBLE"],
        ["rainy", "BOOLEAN"],
        ["temp_ratio", "DOUBLE"],
      ],
    );
    assert.equal(labelled.profile.rowCount, 1461);
    assert.equal(labelled.profile.columns.find((c: any) => c.name === "rainy").kind, "boolean");
    assert.equal(labelled.producedBy, stage(r, "label").id);
    assert.equal(labelled.origin.kind, "TRANSFORM");
    assert.deepEqual(
      labelled.origin.inputs.map((i: any) => [i.input, i.dataset, i.versionId]),
      [["weather", "weather", weather.id]],
    );
    const [check] = await rowsOf(
      labelled.artifactId,
      `SELECT count(*) FILTER (WHERE rainy)::INTEGER AS rainy, count(*) FILTER (WHERE weather = 'rain')::INTEGER AS rain,
              any_value(temp_ratio) FILTER (WHERE date = DATE '2012-01-01') AS ratio FROM $file`,
    );
    assert.equal(check.rainy, check.rain);
    assert.ok(Number(check.rainy) > 500, `rainy days ${check.rainy}`);
    assert.equal(check.ratio, 0.6094, "(12.8 − 5.0) / 12.8 on 2012-01-01");

    // The seeded split: about a fifth in test, the sides disjoint and complete, the same seed the same split.
    const [train, test] = [await latest("wx-rand-train"), await latest("wx-rand-test")];
    assert.equal(train.rowCount + test.rowCount, 1461);
    assert.ok(test.rowCount > 1461 * 0.15 && test.rowCount < 1461 * 0.25, `test rows ${test.rowCount}`);
    assert.equal(test.origin.kind, "SPLIT");
    assert.equal(test.origin.side, "test");
    assert.deepEqual(
      test.origin.inputs.map((i: any) => i.versionId),
      [labelled.id],
    );
    assert.equal(train.profile.rowCount, train.rowCount);
    const trainDates = new Set((await rowsOf(train.artifactId, `SELECT CAST(date AS VARCHAR) AS d FROM $file`)).map((x) => x.d));
    const testDates = (await rowsOf(test.artifactId, `SELECT CAST(date AS VARCHAR) AS d FROM $file`)).map((x) => x.d);
    assert.equal(testDates.filter((d) => trainDates.has(d)).length, 0, "no day on both sides");
    assert.equal((await latest("wx-same-test")).contentHash, test.contentHash, "the same seed gives the same split");
    assert.equal((await latest("wx-same-train")).contentHash, train.contentHash);
    assert.notEqual((await latest("wx-seed7-test")).contentHash, test.contentHash, "another seed gives another split");

    // The time splits: 2015 by cutoff; the last quarter of the time range (from 2014-12-31) by fraction.
    const [timeTrain, timeTest] = [await latest("wx-time-train"), await latest("wx-time-test")];
    assert.deepEqual([timeTrain.rowCount, timeTest.rowCount], [1096, 365]);
    const dateOf = (v: any) => v.profile.columns.find((c: any) => c.name === "date");
    assert.equal(String(dateOf(timeTest).min.value).slice(0, 10), "2015-01-01");
    assert.equal(String(dateOf(timeTrain).max.value).slice(0, 10), "2014-12-31");
    assert.deepEqual([(await latest("wx-tail-train")).rowCount, (await latest("wx-tail-test")).rowCount], [1095, 366]);

    // The join of two inputs, with both versions in its lineage.
    const joined = await latest("join-out");
    const byWeather = await rowsOf(joined.artifactId, `SELECT weather, n FROM $file ORDER BY weather`);
    const [expected] = await withDuckDb((conn) =>
      queryJson(
        conn,
        `SELECT count(DISTINCT weather)::INTEGER AS kinds, count(*)::INTEGER AS days FROM read_csv(${sqlString(WEATHER)})
          WHERE date >= DATE '2015-01-01' AND precipitation > 0`,
      ),
    );
    assert.equal(byWeather.length, expected.kinds);
    assert.equal(
      byWeather.reduce((s, x) => s + Number(x.n), 0),
      expected.days,
    );
    assert.deepEqual(
      joined.origin.inputs.map((i: any) => [i.input, i.versionId]),
      [
        ["days", labelled.id],
        ["recent", timeTest.id],
      ],
    );
  });

  /** The run of a pipeline whose `bad` stage fails, and that stage's failure. */
  async function failing(name: string, bad: unknown) {
    const r = await run(name, [ingest, bad]);
    assert.equal(r.status, "FAILED");
    const failure = stage(r, "bad").failure!;
    assert.equal(failure.nonRetryable, true);
    assert.equal(stage(r, "bad").attempts.length, 1, "bad SQL is not retried");
    // The failure's stack is the operator's, inside the server's folder: it comes back as a placeholder.
    assert.ok(!JSON.stringify(failure).includes(process.cwd()), "the failure names no server folder");
    return failure;
  }

  it("runs the query in the sandbox: files, other tables and settings are refused as params.sql", async () => {
    for (const [i, [sql, construct]] of [
      ["SELECT * FROM read_text('/etc/passwd')", "read_text"],
      ["SELECT w.* FROM weather w WHERE w.weather IN (SELECT content FROM read_text('/etc/passwd'))", "read_text"],
      ["SELECT * FROM '/etc/passwd'", "/etc/passwd"],
      ["SELECT current_setting('temp_directory') AS t FROM weather", "current_setting"],
    ].entries()) {
      const failure = await failing(`sandbox-${i}`, transform("bad", { weather: "ingest.data" }, sql));
      assert.equal(failure.details?.code, "BAD_USER_INPUT", JSON.stringify(failure));
      assert.deepEqual(
        failure.details?.problems.map((p: any) => p.field),
        ["params.sql"],
      );
      assert.ok(!failure.message.includes("root:"), "nothing of the file comes back");
      assertNames(failure.message, "params.sql", construct!, "weather");
    }
  });

  it("refuses a statement that is not one SELECT when the pipeline is applied", async () => {
    for (const sql of [
      "COPY (SELECT * FROM weather) TO '/tmp/weather.csv'",
      "SELECT * FROM weather; COPY (SELECT 1) TO '/tmp/x.csv'",
      "ATTACH '/tmp/x.duckdb'",
      "INSTALL httpfs",
      "SET enable_external_access = true",
      "   -- nothing but a comment",
    ]) {
      const res = dataOf(
        await t.gql(
          `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
          { i: { projectId, spec: { name: "static-sql", stages: [ingest, transform("bad", { weather: "ingest.data" }, sql)] } } },
        ),
      ).applyPipeline;
      assert.equal(res.__typename, "InvalidInputError", sql);
      assert.deepEqual(
        res.problems.map((p: any) => p.field),
        ["stages[1].params.sql"],
        sql,
      );
    }
  });

  it("fails a query DuckDB refuses with DuckDB's message, without the server's paths or its wrapper", async () => {
    const unknown = await failing("bad-column", transform("bad", { weather: "ingest.data" }, "SELECT no_such_column FROM weather"));
    assertNames(unknown.message, "params.sql", "no_such_column", "Binder Error");
    assert.ok(!/LINE \d|COPY|\/tmp\/|sluice-/.test(unknown.message), unknown.message);
    const syntax = await failing("bad-syntax", transform("bad", { weather: "ingest.data" }, "SELECT FROM WHERE weather"));
    assertNames(syntax.message, "params.sql", "not valid SQL");
    const cast = await failing(
      "bad-cast",
      transform("bad", { weather: "ingest.data" }, "SELECT CAST(weather AS INTEGER) AS w FROM weather"),
    );
    assertNames(cast.message, "params.sql", "Conversion Error", "drizzle");
  });

  it("checks a split's parameters at apply and its columns when it runs", async () => {
    const applied = async (params: Record<string, unknown>) =>
      dataOf(
        await t.gql(
          `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
          { i: { projectId, spec: { name: "split-params", stages: [ingest, split("bad", params, "ingest.data")] } } },
        ),
      ).applyPipeline;
    for (const [params, field] of [
      [{ by: "fraction" }, "stages[1].params.testFraction"],
      [{ by: "fraction", testFraction: 1 }, "stages[1].params.testFraction"],
      [{ by: "time", cutoff: "2015-01-01" }, "stages[1].params.timeColumn"],
      [{ by: "time", timeColumn: "date", cutoff: "2015-01-01", seed: 3 }, "stages[1].params.seed"],
      [{ by: "time", timeColumn: "date", cutoff: "2015-01-01", testFraction: 0.2 }, "stages[1].params.testFraction"],
      [{ by: "time", timeColumn: "date", cutoff: "next tuesday" }, "stages[1].params.cutoff"],
      [{ by: "random", testFraction: 0.2 }, "stages[1].params.by"],
    ] as const) {
      const res = await applied(params);
      assert.equal(res.__typename, "InvalidInputError", JSON.stringify(params));
      assert.ok(
        res.problems.some((p: any) => p.field === field),
        `${JSON.stringify(params)}: ${JSON.stringify(res.problems)}`,
      );
    }
    const key = await failing("split-key", split("bad", { by: "fraction", testFraction: 0.2, key: ["station"] }, "ingest.data"));
    assert.deepEqual(
      key.details?.problems.map((p: any) => p.field),
      ["params.key[0]"],
    );
    const late = await failing("split-late", split("bad", { by: "time", timeColumn: "date", cutoff: "2030-01-01" }, "ingest.data"));
    assertNames(late.message, "params.cutoff", "test");
    const notTime = await failing("split-type", split("bad", { by: "time", timeColumn: "weather", testFraction: 0.2 }, "ingest.data"));
    assertNames(notTime.message, "params.timeColumn", "VARCHAR");
  });
});

describe("the transform operator's limits", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-transform-limits-"));
    fs.copyFileSync(WEATHER, path.join(dir, "seattle-weather.csv"));
    // Worker threads copy the environment when they start, so it is set before the server is.
    for (const [k, v] of Object.entries({ SLUICE_DATA_ROOTS: dir, SLUICE_USER_SQL_TIMEOUT_MS: "500" })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "transform-limits");
  });
  after(async () => {
    await t.close();
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("stops a query over SLUICE_USER_SQL_TIMEOUT_MS and fails the stage on params.sql, not retried", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "slow",
      stages: [
        {
          name: "ingest",
          run: { operator: "ingest" },
          params: { dataset: "weather", paths: ["seattle-weather.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "slow",
          run: { operator: "transform" },
          inputs: { weather: { from: "ingest.data" } },
          params: { dataset: "slow", sql: "SELECT count(*) AS n FROM weather a, weather b, weather c, range(100)" },
          outputs: { data: { kind: "Dataset" } },
          retries: { max: 2 },
        },
      ],
    });
    const r = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(r.status, "FAILED");
    const slow = stage(r, "slow");
    assert.equal(slow.attempts.length, 1, "a limit stops the same query again: not retried");
    assert.deepEqual(
      slow.failure?.details?.problems.map((p: any) => p.field),
      ["params.sql"],
    );
    assertNames(slow.failure?.message, "SLUICE_USER_SQL_TIMEOUT_MS");
  });
});
