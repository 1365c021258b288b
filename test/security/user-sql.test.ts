import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { materializeFiles } from "../../src/datasets/columnar/read";
import { isSandboxRefusal, redactSandboxMessage, SandboxLimitError, withSandbox } from "../../src/datasets/columnar/sandbox";
import { queryJson } from "../../src/datasets/columnar/duckdb";
import { materializeOffline } from "../../src/features/offline";
import { runSuite } from "../../src/validation/run-suite";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { assertNames } from "../helpers/names";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

/**
 * Issue #13 finding 1: an EDITOR's feature expression ran in the server's DuckDB with full file
 * access (`(SELECT content FROM read_text('/etc/hostname'))`, materialized and read back online).
 * User SQL is now checked statically (no table functions, tables or other statements) and runs on
 * a DuckDB instance that can read only the inputs the server registered.
 */

const DEFINE = `mutation($i: DefineFeatureViewInput!) { defineFeatureView(input: $i) {
  __typename
  ... on DefineFeatureViewPayload { featureView { id } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

const MATERIALIZE = `mutation($i: MaterializeFeatureViewInput!) { materializeFeatureView(input: $i) {
  __typename
  ... on MaterializeFeatureViewPayload { materialization { rowCount onlineRows } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

const ONLINE = `query($p: ID!, $v: String!, $k: [[String!]!]!) { onlineFeatures(projectId: $p, view: $v, entityKeys: $k) {
  vectors { entityKey found values } } }`;

/** A secret only the server can read: stands for /etc/hostname, secret.key, another project's data. */
const SECRET = `sluice-secret-${Date.now()}`;

describe("user SQL over GraphQL", () => {
  let t: TestServer;
  let dir: string;
  let projectId: string;
  let editor: string;
  let secretFile: string;
  let otherProjectParquet: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-user-sql-"));
    secretFile = path.join(dir, "secret.txt");
    fs.writeFileSync(secretFile, SECRET);
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "attacker");
    editor = (await seedCaller(t, "EDITOR", projectId)).token;
    await ingest(
      projectId,
      "flights",
      "origin,flight_ts,delay_min\nSFO,2024-01-01 10:00:00,20\nSFO,2024-01-02 10:00:00,0\nJFK,2024-01-01 12:00:00,5\n",
    );
    // Another project's dataset: its Parquet file in the artifact store is what the attacker wants.
    const victim = await seedProject(t, "victim");
    otherProjectParquet = await ingest(victim, "salaries", `name,salary\nalice,${SECRET}\n`);
    assert.ok(fs.existsSync(otherProjectParquet), "the victim's dataset is a local Parquet file");
  });
  after(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Creates and ingests a CSV dataset as the admin; returns the path of its Parquet file. */
  async function ingest(project: string, name: string, csv: string): Promise<string> {
    const created = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId: project, name },
      }),
    ).createDataset;
    const file = path.join(dir, `${project}-${name}.csv`);
    fs.writeFileSync(file, csv);
    dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename } }`, {
        i: { datasetId: created.dataset.id, name: "main", kind: "FILE", paths: [file], format: "csv" },
      }),
    );
    const res = dataOf(
      await t.gql(
        `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on IngestDatasetPayload { version { artifact { id } } } ... on Error { message } } }`,
        { i: { datasetId: created.dataset.id, source: "main" } },
      ),
    ).ingestDataset;
    assert.equal(res.__typename, "IngestDatasetPayload", res.message);
    // The attacker would guess the path (answers never name it): the test reads it from the table.
    const [{ uri }] = await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [res.version.artifact.id]);
    return new URL(String(uri)).pathname;
  }

  const view = (features: unknown[], extra: Record<string, unknown> = {}, dataset = "flights") => ({
    name: `v${Math.random().toString(36).slice(2, 8)}`,
    entities: ["origin"],
    timestampColumn: "flight_ts",
    source: { dataset },
    features,
    ...extra,
  });

  /** Defines `definition` as the EDITOR and returns the refusal's problems (failing if it was accepted). */
  async function refused(definition: unknown): Promise<Array<{ field: string; message: string }>> {
    const res = dataOf(await t.gql(DEFINE, { i: { projectId, definition } }, editor)).defineFeatureView;
    assert.equal(res.__typename, "InvalidInputError", `expected a refusal, got ${JSON.stringify(res)}`);
    const text = JSON.stringify(res.problems);
    assert.ok(!text.includes(SECRET), "the refusal leaks the secret");
    assert.ok(!text.includes(dir) && !text.includes("/etc/"), `the refusal names a server path: ${text}`);
    return res.problems;
  }

  it("refuses read_text in a feature expression with the construct named", async () => {
    const problems = await refused(view([{ name: "leak", expr: "(SELECT content FROM read_text('/etc/hostname'))" }]));
    assert.equal(problems.length, 1);
    assert.equal(problems[0].field, "definition.features[0].expr");
    assertNames(problems[0].message, "leak", "read_text");
  });

  it("refuses read_parquet, read_csv_auto and glob of another project's or the server's files", async () => {
    for (const expr of [
      `(SELECT max(salary) FROM read_parquet('${otherProjectParquet}'))`,
      `(SELECT string_agg(column0) FROM read_csv_auto('${secretFile}', header = false))`,
      `(SELECT count(*) FROM glob('${dir}/*'))`,
      `(SELECT content FROM read_text('${secretFile}'))`,
    ]) {
      const fn = /FROM (\w+)\(/.exec(expr)![1];
      const [problem] = await refused(view([{ name: "leak", expr }]));
      assertNames(problem.message, fn!);
    }
  });

  it("refuses the attack in filters and window aggregations, and table references of any kind", async () => {
    let [problem] = await refused(
      view([{ name: "d", expr: "delay_min" }], { filter: `EXISTS (SELECT 1 FROM read_text('${secretFile}'))` }),
    );
    assert.equal(problem.field, "definition.filter");
    assertNames(problem.message, "read_text");
    [problem] = await refused(
      view([{ name: "agg", aggregation: "sum", window: "1d", expr: `(SELECT length(content) FROM read_text('${secretFile}'))` }]),
    );
    assert.equal(problem.field, "definition.features[0].expr");
    assertNames(problem.message, "read_text");
    [problem] = await refused(view([{ name: "t", expr: "(SELECT count(*) FROM duckdb_settings())" }]));
    assertNames(problem.message, "duckdb_settings");
    [problem] = await refused(view([{ name: "t", expr: "(SELECT count(*) FROM feature_online_values)" }]));
    assertNames(problem.message, "feature_online_values");
    [problem] = await refused(view([{ name: "t", expr: "current_setting('allowed_paths')" }]));
    assertNames(problem.message, "current_setting");
    // Closing the parenthesis to reach the FROM clause changes the query's shape: refused too.
    [problem] = await refused(view([{ name: "t", expr: `1) AS t FROM read_text('${secretFile}') --` }]));
    assert.equal(problem.field, "definition.features[0].expr");
  });

  it("refuses COPY, ATTACH, INSTALL, LOAD and SET smuggled into an expression, and runs none of them", async () => {
    const written = path.join(dir, "copied.csv");
    for (const [word, tail] of [
      ["COPY", `COPY (SELECT 1) TO '${written}'`],
      ["ATTACH", `ATTACH '${path.join(dir, "x.db")}'`],
      ["INSTALL", "INSTALL httpfs"],
      ["LOAD", "LOAD httpfs"],
      ["SET", "SET enable_external_access = true"],
    ]) {
      const [problem] = await refused(view([{ name: "s", expr: `1); ${tail}; SELECT (1` }]));
      assert.equal(problem.field, "definition.features[0].expr", word);
    }
    assert.equal(fs.existsSync(written), false);
    assert.equal(fs.existsSync(path.join(dir, "x.db")), false);
  });

  it("refuses the attack even before the source has any data", async () => {
    const created = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId, name: "empty_source" },
      }),
    ).createDataset;
    assert.ok(created.dataset.id);
    const [problem] = await refused(view([{ name: "leak", expr: "(SELECT content FROM read_text('/etc/hostname'))" }], {}, "empty_source"));
    assertNames(problem.message, "read_text");
  });

  it("still defines, materializes and serves legitimate expressions and aggregations", async () => {
    const definition = view([
      { name: "late", expr: "CASE WHEN delay_min > 15 THEN 1 ELSE 0 END", type: "INTEGER" },
      { name: "hour", expr: "extract(hour FROM flight_ts)" },
      { name: "constant", expr: "(SELECT 41 + 1)" },
      { name: "delay_sum_7d", aggregation: "sum", expr: "delay_min", window: "7d" },
      { name: "flights_7d", aggregation: "count", window: "7d" },
    ]);
    const res = dataOf(await t.gql(DEFINE, { i: { projectId, definition } }, editor)).defineFeatureView;
    assert.equal(res.__typename, "DefineFeatureViewPayload", JSON.stringify(res));
    const mat = dataOf(await t.gql(MATERIALIZE, { i: { featureViewId: res.featureView.id } }, editor)).materializeFeatureView;
    assert.equal(mat.__typename, "MaterializeFeatureViewPayload", JSON.stringify(mat));
    assert.equal(mat.materialization.rowCount, 3);
    const online = dataOf(await t.gql(ONLINE, { p: projectId, v: definition.name, k: [["SFO"]] }, editor)).onlineFeatures;
    assert.equal(online.vectors[0].found, true);
    assert.deepEqual({ ...online.vectors[0].values }, { late: 0, hour: 10, constant: 42, delay_sum_7d: 20, flights_7d: 1 });
  });
});

describe("user SQL at run time", () => {
  let dir: string;
  let source: string;
  let secretFile: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-user-sql-run-"));
    secretFile = path.join(dir, "secret.txt");
    fs.writeFileSync(secretFile, SECRET);
    source = path.join(dir, "flights.csv");
    fs.writeFileSync(source, "origin,flight_ts,delay_min\nSFO,2024-01-01 10:00:00,20\nJFK,2024-01-01 12:00:00,5\n");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("refuses a view that skipped the definition check when it is materialized", async () => {
    const parquet = path.join(dir, "flights.parquet");
    await materializeFiles({ kind: "FILE", paths: [source], format: "csv" }, parquet, { roots: [dir] });
    const out = path.join(dir, "offline.parquet");
    const view = {
      name: "leak",
      entities: ["origin"],
      timestampColumn: "flight_ts",
      source: { dataset: "flights" },
      features: [{ name: "leak", expr: `(SELECT content FROM read_text('${secretFile}'))` }],
    };
    await assert.rejects(materializeOffline(view, parquet, out), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assertNames(err.message, "read_text");
      assert.ok(!err.message.includes(secretFile));
      return true;
    });
    assert.equal(fs.existsSync(out), false);
  });

  it("refuses an ingest filter that reads a file, and keeps a legitimate one", async () => {
    const out = path.join(dir, "filtered.parquet");
    await assert.rejects(
      materializeFiles({ kind: "FILE", paths: [source], format: "csv" }, out, {
        roots: [dir],
        where: `delay_min > (SELECT length(content) FROM read_text('${secretFile}'))`,
      }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.equal(err.problems[0]!.field, "params.where");
        assertNames(err.problems[0]!.message, "read_text");
        return true;
      },
    );
    await assert.rejects(
      materializeFiles({ kind: "FILE", paths: [source], format: "csv" }, out, {
        roots: [dir],
        where: `true) TO '${path.join(dir, "elsewhere.parquet")}' (FORMAT parquet); COPY (SELECT 1`,
      }),
      InvalidInputError,
    );
    assert.equal(fs.existsSync(path.join(dir, "elsewhere.parquet")), false);
    const kept = await materializeFiles({ kind: "FILE", paths: [source], format: "csv" }, out, { roots: [dir], where: "delay_min > 10" });
    assert.equal(kept.rowCount, 1);
  });

  it("treats SQL in an expectation's regex as a pattern, never as SQL", async () => {
    const parquet = path.join(dir, "codes.parquet");
    const codes = path.join(dir, "codes.csv");
    fs.writeFileSync(codes, "code\nA-1\nB-2\n");
    await materializeFiles({ kind: "FILE", paths: [codes], format: "csv" }, parquet, { roots: [dir] });
    const report = await runSuite(parquet, {
      name: "inject",
      expectations: [
        { type: "matches_regex", column: "code", regex: `A') OR length((SELECT content FROM read_text('${secretFile}'))) > 0 OR ('` },
      ],
    });
    assert.ok(!JSON.stringify(report).includes(SECRET));
    assert.equal(report.results[0].success, false, "both rows fail the literal pattern");
  });

  it("runs user SQL where the file system, settings and extensions are out of reach", async () => {
    const allowed = path.join(dir, "flights.csv");
    await withSandbox({ read: [allowed] }, async (conn) => {
      const rows = await queryJson(conn, `SELECT count(*)::INTEGER AS n FROM read_csv('${allowed}')`);
      assert.equal(rows[0].n, 2);
      for (const sql of [
        `SELECT content FROM read_text('${secretFile}')`,
        `SELECT * FROM glob('${dir}/*')`,
        `COPY (SELECT 1) TO '${path.join(dir, "out.csv")}'`,
        `ATTACH '${path.join(dir, "x.db")}'`,
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "INSTALL httpfs",
      ]) {
        await assert.rejects(queryJson(conn, sql), (err: unknown) => err instanceof Error, sql);
      }
    });
    assert.equal(fs.existsSync(path.join(dir, "out.csv")), false);
  });

  it("tells a sandbox refusal without the path it refused", async () => {
    const err = await withSandbox({ read: [] }, (conn) => queryJson(conn, `SELECT content FROM read_text('${secretFile}')`)).then(
      () => assert.fail("read_text ran in the sandbox"),
      (e: unknown) => e,
    );
    assert.ok(isSandboxRefusal(err));
    const told = redactSandboxMessage((err as Error).message);
    assert.ok(!told.includes(secretFile), told);
    assert.match(told, /file access is not allowed in user SQL/);
  });
});

describe("user SQL limits", () => {
  /** Runs `fn` with the environment variables set, restoring them afterwards. */
  async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  }

  it("stops an expression that runs longer than SLUICE_USER_SQL_TIMEOUT_MS, naming the setting", async () => {
    const started = Date.now();
    const err = await withEnv({ SLUICE_USER_SQL_TIMEOUT_MS: "300" }, () =>
      withSandbox({ read: [] }, (conn) => queryJson(conn, "SELECT sum(length(repeat('x', 100000000))) AS n FROM range(1000)")),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SandboxLimitError, String(err));
    assertNames(err.message, "SLUICE_USER_SQL_TIMEOUT_MS");
    assert.ok(isSandboxRefusal(err), "a limit is a refusal of the user's SQL, told to the user");
    assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms`);
  });

  it("stops an expression that needs more memory than SLUICE_USER_SQL_MEMORY, naming the setting", async () => {
    const err = await withEnv({ SLUICE_USER_SQL_MEMORY: "100MB" }, () =>
      withSandbox({ read: [] }, (conn) => queryJson(conn, "SELECT length(string_agg(repeat('x', 1000), '')) AS n FROM range(1000000)")),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SandboxLimitError, String(err));
    assertNames(err.message, "SLUICE_USER_SQL_MEMORY");
  });

  it("refuses to change its own limits (the configuration is locked)", async () => {
    const err = await withSandbox({ read: [] }, (conn) => conn.run("SET memory_limit = '100GB'")).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error && /lock/i.test(err.message), String(err));
  });
});
