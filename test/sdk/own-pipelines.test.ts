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

  it("the penguins pipeline: JSON array in, label with SQL, multiclass model behind a gate, approved, deployed, answering species names", async () => {
    const dir = path.join(tmp.dir, "weather");
    fs.mkdirSync(path.join(dir, "data"), { recursive: true });
    fs.copyFileSync(path.join(VEGA, "penguins.json"), path.join(dir, "data", "penguins.json"));
    fs.writeFileSync(path.join(dir, "penguins.ts"), PENGUINS_PIPELINE);
    const user = { ...env, SLUICE_PROJECT: "weather" };

    const applied = await sluice(["apply", path.join(dir, "penguins.ts")], user);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const run = await sluice(["run", "penguins"], user);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const runId = /run ([0-9a-f-]{36})\)/.exec(run.stdout)![1];

    const client = new SluiceClient({ url: t.url, token: t.adminToken });
    const project = (await client.project("weather"))!;
    // The gate waits: the version is registered with an OPEN approval request.
    let waiting = await client.run(runId);
    for (let i = 0; i < 600 && waiting!.stageRuns.find((s) => s.stageName === "gate")!.status !== "WAITING"; i++) {
      assert.ok(!["FAILED", "CANCELED"].includes(waiting!.status), JSON.stringify(waiting!.stageRuns.filter((s) => s.failure)));
      await new Promise((r) => setTimeout(r, 200));
      waiting = await client.run(runId);
    }
    const runs = await sluice(["runs", "--pipeline", "penguins"], user);
    assert.match(runs.stdout, /WAITING/, runs.stdout + runs.stderr);
    assert.match(runs.stdout, /sluice approve penguins 1/, runs.stdout);

    // Someone else approves it: the default policy separates duties (the trigger's caller may not).
    const approver = await seedCaller(t, "APPROVER", project.id);
    const approved = await sluice(["approve", "penguins", "1", "--reason", "accuracy checked"], { ...user, SLUICE_TOKEN: approver.token });
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    const done = await client.waitForRun(runId, { timeoutMs: 60_000 });
    assert.equal(done.status, "SUCCEEDED");

    const version = (await client.modelVersion(project.id, "penguins", { alias: "champion" }))!;
    assert.equal(version.status, "APPROVED");
    assert.ok(Number(version.metrics.accuracy) > 0.9, JSON.stringify(version.metrics));

    await client.deployModel(project.id, { name: "penguins", model: "penguins", alias: "champion" });
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
    const label = (answer.outputs as Array<{ name: string; data: unknown[] }>).find((o) => o.name === "class_label");
    assert.deepEqual(label?.data, ["Adelie", "Gentoo"]);
  });
});
