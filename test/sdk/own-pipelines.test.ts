/**
 * A new user's own pipelines, as the README tells them to build one: a repository outside this
 * one (`sluice init`), the SDK installed from its packed tarball, their own data (Seattle's
 * weather as CSV, penguins as a JSON array), labels derived with `transform`, and each pipeline
 * run end to end — ingest, validate, transform, split, train, evaluate, gate, deploy, infer —
 * through the CLI, the SDK's client and the Open Inference Protocol, as that user would.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SluiceClient } from "../../packages/sdk/src/index";
import { REPO, sluice, tempDir } from "../cli/cli";
import { waitUntil } from "../helpers/eventually";
import { seedCaller } from "../helpers/fixtures";
import { startTestServer, type TestServer } from "../helpers/server";

const VEGA = path.join(REPO, "node_modules/vega-datasets/data");

/**
 * npm as a user runs it in their folder: none of this test run's own npm or test-runner settings
 * leak in. Asynchronous: the server under test runs in this process.
 */
function npm(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|SLUICE_|INIT_CWD$|NODE_TEST_CONTEXT$)/i.test(k)));
  return new Promise((resolve, reject) => {
    execFile(
      "npm",
      args,
      { cwd, env: { ...base, ...env }, encoding: "utf8", timeout: 300_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`npm ${args.join(" ")} in ${cwd} failed: ${err.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** The penguins pipeline as its user writes it, in their own repository next to the weather one. */
const PENGUINS_PIPELINE = `import path from "node:path";
import { definePipeline, stage } from "sluice";

export default definePipeline({
  name: "penguins",
  description: "Palmer penguins: the species from the beak, the flipper and the body mass",
  stages: [
    stage({
      name: "ingest",
      run: { operator: "ingest" },
      params: { dataset: "penguins-raw", format: "json", paths: [path.join(__dirname, "data", "penguins.json")] },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "validate",
      run: { operator: "validate" },
      inputs: { data: { from: "ingest.data" } },
      params: {
        suite: {
          name: "penguins",
          expectations: [
            { type: "not_null", column: "Species" },
            { type: "in_set", column: "Species", values: ["Adelie", "Chinstrap", "Gentoo"] },
            { type: "not_null", column: "Beak Length (mm)", severity: "warn" },
          ],
        },
      },
      outputs: { report: { kind: "Report" } },
    }),
    stage({
      name: "clean",
      run: { operator: "transform" },
      inputs: { raw: { from: "ingest.data" } },
      params: {
        dataset: "penguins",
        sql: \`SELECT "Species" AS species, "Island" AS island, "Beak Length (mm)" AS beak_length,
                     "Beak Depth (mm)" AS beak_depth, "Flipper Length (mm)" AS flipper_length,
                     "Body Mass (g)" AS body_mass
              FROM raw WHERE "Beak Length (mm)" IS NOT NULL\`,
      },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "split",
      run: { operator: "split" },
      inputs: { data: { from: "clean.data" } },
      params: { dataset: "penguins", by: "fraction", testFraction: 0.3, seed: 7 },
      outputs: { train: { kind: "Dataset" }, test: { kind: "Dataset" } },
    }),
    stage({
      name: "train",
      run: { operator: "train" },
      inputs: { data: { from: "split.train" } },
      params: {
        algorithm: "logistic_regression",
        target: "species",
        features: ["island", "beak_length", "beak_depth", "flipper_length", "body_mass"],
        preprocessing: [
          { column: "island", oneHot: {} },
          { column: "beak_length", scale: "standard" },
          { column: "beak_depth", scale: "standard" },
          { column: "flipper_length", scale: "standard" },
          { column: "body_mass", scale: "standard" },
        ],
      },
      outputs: { model: { kind: "Model" } },
    }),
    stage({
      name: "evaluate",
      run: { operator: "evaluate" },
      inputs: { model: { from: "train.model" }, data: { from: "split.test" } },
      params: { target: "species", task: "multiclass" },
      outputs: { report: { kind: "Report" } },
    }),
    stage({
      name: "gate",
      run: { operator: "gate" },
      inputs: { model: { from: "train.model" } },
      params: { model: "penguins", promote: "champion" },
    }),
  ],
});
`;

describe("a user's own pipelines, outside the repository, on the SDK package", () => {
  let t: TestServer;
  let tmp: ReturnType<typeof tempDir>;
  let tarball: string;
  let env: Record<string, string>;
  let previousRoots: string | undefined;

  before(async () => {
    tmp = tempDir("sluice-own-");
    await npm(["pack", path.join(REPO, "packages/sdk"), "--pack-destination", tmp.dir], REPO);
    tarball = path.join(
      tmp.dir,
      fs.readdirSync(tmp.dir).find((f) => f.endsWith(".tgz"))!,
    );
    // ingest reads files inside SLUICE_DATA_ROOTS, as the stage process sees it (this one, in tests).
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = tmp.dir;
    const sandbox = fs.existsSync("/usr/bin/bwrap") ? { SLUICE_SANDBOX_BWRAP: "/usr/bin/bwrap", SLUICE_TRUSTED_CODE: "0" } : {};
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: tmp.dir, SLUICE_CODE_ROOTS: tmp.dir, ...sandbox } });
    env = { SLUICE_URL: t.url, SLUICE_TOKEN: t.adminToken };
  });
  after(async () => {
    await t?.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    tmp?.remove();
  });

  it("sluice init scaffolds a repository that installs the SDK, type-checks, and runs on the server from its own test", async () => {
    const dir = path.join(tmp.dir, "weather");
    const init = await sluice(["init", dir, "--sdk", `file:${tarball}`], {});
    assert.equal(init.code, 0, init.stderr);
    await npm(["install", "--prefer-offline", "--no-audit", "--no-fund"], dir);
    // Without a server: the type check (pipeline.ts and stages.ts against the SDK's types) and the wiring test.
    const offline = await npm(["test"], dir);
    assert.match(offline, /# pass 1/);
    assert.match(offline, /# skipped 1/);
    // With one: the scaffold's own test applies the pipeline with the SDK's client, runs it and waits for SUCCEEDED.
    const live = await npm(["test"], dir, { ...env, SLUICE_PROJECT: "weather" });
    assert.match(live, /# pass 2/, live);
  });

  /**
   * Runs `pipeline` from the CLI as the admin, waits for its gate (shown WAITING by `sluice runs`
   * with the approve command), has an APPROVER of the project approve version 1 of `model` with
   * `sluice approve` (the default policy separates duties), and deploys the champion.
   */
  async function runThroughGate(pipeline: string, model: string): Promise<{ client: SluiceClient; projectId: string }> {
    const user = { ...env, SLUICE_PROJECT: "weather" };
    const run = await sluice(["run", pipeline], user);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const runId = /run ([0-9a-f-]{36})\)/.exec(run.stdout)![1];
    const client = new SluiceClient({ url: t.url, token: t.adminToken });
    const project = (await client.project("weather"))!;
    await waitUntil(
      `${pipeline}'s gate waiting`,
      async () => {
        const r = (await client.run(runId))!;
        assert.ok(!["FAILED", "CANCELED"].includes(r.status), JSON.stringify(r.stageRuns.filter((s) => s.failure)));
        return r.stageRuns.find((s) => s.stageName === "gate")!.status === "WAITING";
      },
      { timeoutMs: 180_000, intervalMs: 200 },
    );
    const runs = await sluice(["runs", "--pipeline", pipeline], user);
    assert.match(runs.stdout, /WAITING/, runs.stdout + runs.stderr);
    assert.match(runs.stdout, new RegExp(`sluice approve ${model} 1`), runs.stdout);

    const approver = await seedCaller(t, "APPROVER", project.id);
    const approved = await sluice(["approve", model, "1", "--reason", "metrics checked"], { ...user, SLUICE_TOKEN: approver.token });
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    const done = await client.waitForRun(runId, { timeoutMs: 60_000 });
    assert.equal(done.status, "SUCCEEDED");
    const version = (await client.modelVersion(project.id, model, { alias: "champion" }))!;
    assert.equal(version.status, "APPROVED");
    await client.deployModel(project.id, { name: model, model, alias: "champion" });
    return { client, projectId: project.id };
  }

  it("the scaffold's pipeline, extended by its user with a gate: approved, deployed, answering", async () => {
    const dir = path.join(tmp.dir, "weather");
    const file = path.join(dir, "pipeline.ts");
    // The user's edit: a gate after the evaluation, promoting the approved version to champion.
    const gate = `    stage({ name: "gate", run: { operator: "gate" }, inputs: { model: { from: "train.model" } }, params: { model: "weather", promote: "champion" } }),\n  ],\n});`;
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/\n {2}\],\n\}\);\s*$/, `\n${gate}\n`));
    const applied = await sluice(["apply", file], { ...env, SLUICE_PROJECT: "weather" });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);

    const { client, projectId } = await runThroughGate("weather", "weather");
    const version = (await client.modelVersion(projectId, "weather", { alias: "champion" }))!;
    assert.ok(Number(version.metrics.roc_auc) > 0.7, JSON.stringify(version.metrics));
    const days = [
      { temp_max: 8.9, temp_min: 5.6, temp_range: 3.3, wind: 6.2, month: "November" },
      { temp_max: 30.6, temp_min: 15.0, temp_range: 15.6, wind: 2.1, month: "July" },
    ];
    const answer = await client.predict(projectId, "weather", days);
    assert.equal(answer.predictions.length, 2);
    const rain = answer.predictions.map((p) => Number((p.probabilities as number[])[1]));
    assert.ok(rain[0] > rain[1], `a mild windy November day is likelier rainy than a hot calm July one: ${JSON.stringify(answer)}`);
  });

  it("the penguins pipeline: JSON array in, label with SQL, multiclass model behind a gate, approved, deployed, answering species names", async () => {
    const dir = path.join(tmp.dir, "weather");
    fs.copyFileSync(path.join(VEGA, "penguins.json"), path.join(dir, "data", "penguins.json"));
    fs.writeFileSync(path.join(dir, "penguins.ts"), PENGUINS_PIPELINE);
    const applied = await sluice(["apply", path.join(dir, "penguins.ts")], { ...env, SLUICE_PROJECT: "weather" });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);

    const { client, projectId } = await runThroughGate("penguins", "penguins");
    const version = (await client.modelVersion(projectId, "penguins", { alias: "champion" }))!;
    assert.ok(Number(version.metrics.accuracy) > 0.9, JSON.stringify(version.metrics));
    const answer = await client.infer(
      "penguins",
      {
        inputs: [
          { name: "island", datatype: "BYTES", shape: [2, 1], data: ["Torgersen", "Biscoe"] },
          { name: "beak_length", datatype: "FP32", shape: [2, 1], data: [39.1, 47.5] },
          { name: "beak_depth", datatype: "FP32", shape: [2, 1], data: [18.7, 15.0] },
          { name: "flipper_length", datatype: "FP32", shape: [2, 1], data: [181, 218] },
          { name: "body_mass", datatype: "FP32", shape: [2, 1], data: [3750, 4950] },
        ],
      },
      { project: "weather" },
    );
    const outputs = answer.outputs!;
    assert.deepEqual(outputs.find((o) => o.name === "label")?.data, ["Adelie", "Gentoo"], "label is the class name");
    assert.deepEqual(outputs.find((o) => o.name === "label_index")?.data, [0, 2], "the class index is kept as label_index");
  });
});
