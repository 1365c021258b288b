import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, moduleRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const text = { kind: "File" } as const;

/** An artifact's bytes through the public route its `uri` names (answers never name the server's folders). */
async function readContent(t: TestServer, uri: string): Promise<string> {
  assert.match(uri, /^\/artifacts\/[0-9a-f-]{36}\/content$/);
  const res = await fetch(`${t.url}${uri}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  assert.equal(res.status, 200);
  return res.text();
}

describe("the run engine", () => {
  let t: TestServer;
  let projectId: string;
  let scratch: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_LOCAL_THREADS: "2" } });
    projectId = await seedProject(t, "engine");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-engine-test-"));
  });
  after(async () => {
    await t.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it("runs a diamond DAG, passing outputs down and recording lineage both ways", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "diamond",
      stages: [
        { name: "a", run: moduleRun("produce"), outputs: { out: text }, params: { text: "A" } },
        { name: "b", run: moduleRun("relay"), inputs: { in: { from: "a.out" } }, outputs: { out: text } },
        { name: "c", run: moduleRun("relay"), inputs: { in: { from: "a.out" } }, outputs: { out: text } },
        { name: "d", run: moduleRun("combine"), inputs: { a: { from: "b.out" }, b: { from: "c.out" } }, outputs: { out: text } },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.error));
    assert.deepEqual(
      run.stageRuns.map((s) => [s.stageName, s.status]),
      [
        ["a", "SUCCEEDED"],
        ["b", "SUCCEEDED"],
        ["c", "SUCCEEDED"],
        ["d", "SUCCEEDED"],
      ],
    );
    const d = stage(run, "d");
    assert.deepEqual(
      d.inputs.map((i) => [i.inputName, i.artifact.id]),
      [
        ["a", stage(run, "b").outputs[0]!.id],
        ["b", stage(run, "c").outputs[0]!.id],
      ],
    );
    const out = dataOf(
      await t.gql(
        `query($id: ID!) { artifact(id: $id) { kind size producer { stageName } readBy { inputName stageRun { stageName } } } }`,
        {
          id: stage(run, "a").outputs[0]!.id,
        },
      ),
    ).artifact;
    assert.equal(out.producer.stageName, "a");
    assert.deepEqual(out.readBy.map((r: any) => r.stageRun.stageName).sort(), ["b", "c"]);
    const final = dataOf(await t.gql(`query($id: ID!) { artifact(id: $id) { uri size } }`, { id: d.outputs[0]!.id })).artifact;
    assert.equal(await readContent(t, final.uri), "A>b+A>c");
  });

  it("fans out to 100 stages and back in", async () => {
    const stages: Record<string, unknown>[] = [{ name: "root", run: { operator: "noop" }, outputs: { out: text } }];
    for (let i = 0; i < 100; i++)
      stages.push({ name: `leaf-${i}`, run: { operator: "noop" }, inputs: { in: { from: "root.out" } }, outputs: { out: text } });
    stages.push({
      name: "join",
      run: { operator: "noop" },
      inputs: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`in${i}`, { from: `leaf-${i}.out` }])),
    });
    const { pipelineId } = await applyPipeline(t, projectId, { name: "fan", stages });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.error));
    assert.equal(run.stageRuns.filter((s) => s.status === "SUCCEEDED").length, 102);
    assert.equal(stage(run, "join").inputs.length, 100);
  });

  it("skips everything below a failed stage and fails the run, naming the stage", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "failing",
      stages: [
        { name: "ok", run: moduleRun("produce"), outputs: { out: text } },
        { name: "boom", run: moduleRun("fail"), inputs: { in: { from: "ok.out" } }, outputs: { out: text } },
        { name: "after-boom", run: moduleRun("relay"), inputs: { in: { from: "boom.out" } }, outputs: { out: text } },
        { name: "sibling", run: moduleRun("relay"), inputs: { in: { from: "ok.out" } }, outputs: { out: text } },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(run.status, "FAILED");
    assert.equal(stage(run, "boom").status, "FAILED");
    assert.equal(stage(run, "boom").failure?.type, "STAGE_ERROR");
    assert.equal(stage(run, "after-boom").status, "SKIPPED");
    assert.equal(stage(run, "sibling").status, "SUCCEEDED");
    assert.equal((run.error as any).stage, "boom");
  });

  it("retries a failed attempt with backoff and succeeds on the second", async () => {
    const marker = path.join(scratch, "flaky-marker");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "flaky",
      stages: [{ name: "f", run: moduleRun("flaky"), params: { marker }, outputs: { out: text }, retries: { max: 2, initialDelayMs: 50 } }],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(run.status, "SUCCEEDED");
    const f = stage(run, "f");
    assert.equal(f.attempt, 2);
    assert.deepEqual(
      f.attempts.map((a) => a.outcome),
      ["FAILED", "SUCCEEDED"],
    );
  });

  it("fails an attempt that runs past its timeout", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "slow",
      stages: [{ name: "s", run: moduleRun("sleep"), params: { ms: 30_000 }, timeoutMs: 300 }],
    });
    const started = Date.now();
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(run.status, "FAILED");
    assert.equal(stage(run, "s").failure?.type, "TIMEOUT");
    assert.ok(Date.now() - started < 10_000);
  });

  it("cancels a run mid-stage: the running stage stops and the rest never start", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "cancelable",
      stages: [
        { name: "long", run: moduleRun("sleep"), params: { ms: 60_000 }, outputs: { out: text } },
        { name: "next", run: moduleRun("relay"), inputs: { in: { from: "long.out" } }, outputs: { out: text } },
      ],
    });
    const runId = await triggerRun(t, pipelineId);
    await waitForRun(t, runId, 10_000, (r) => stage(r, "long").status === "RUNNING");
    const res = dataOf(
      await t.gql(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename ... on RunPayload { run { status } } } }`, {
        id: runId,
      }),
    );
    assert.equal(res.cancelRun.__typename, "RunPayload");
    const run = await waitForRun(t, runId, 10_000);
    assert.equal(run.status, "CANCELED");
    assert.equal(stage(run, "long").status, "CANCELED");
    assert.equal(stage(run, "next").status, "CANCELED");
  });

  it("reuses the outputs of an earlier success with the same inputs and parameters, and says so", async () => {
    const counter = path.join(scratch, "cache-counter");
    const spec = {
      name: "cached",
      stages: [
        { name: "c", run: moduleRun("counted"), params: { counter, text: "same" }, outputs: { out: text }, cache: { enabled: true } },
      ],
    };
    const { pipelineId } = await applyPipeline(t, projectId, spec);
    const first = await waitForRun(t, await triggerRun(t, pipelineId));
    const second = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(second.status, "SUCCEEDED");
    assert.equal(stage(second, "c").reuseReason, "CACHE");
    assert.equal(stage(second, "c").reusedFrom, stage(first, "c").id);
    assert.equal(stage(second, "c").outputs[0]!.id, stage(first, "c").outputs[0]!.id);
    assert.equal(fs.readFileSync(counter, "utf8"), "1", "the stage ran once");
    const third = await waitForRun(t, await triggerRun(t, pipelineId, { c: { text: "different" } }));
    assert.equal(stage(third, "c").reuseReason, null);
    assert.equal(fs.readFileSync(counter, "utf8"), "2");
  });

  it("reruns from the failed stage, reusing upstream outputs", async () => {
    const marker = path.join(scratch, "rerun-marker");
    const counter = path.join(scratch, "rerun-counter");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "rerunnable",
      stages: [
        { name: "up", run: moduleRun("counted"), params: { counter }, outputs: { out: text } },
        { name: "down", run: moduleRun("flaky"), params: { marker }, inputs: { in: { from: "up.out" } }, outputs: { out: text } },
      ],
    });
    const failed = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(failed.status, "FAILED");
    const res = dataOf(
      await t.gql(
        `mutation($id: ID!) { rerunRun(input: { id: $id }) { __typename ... on RunPayload { run { id } } ... on Error { message } } }`,
        {
          id: failed.id,
        },
      ),
    );
    assert.equal(res.rerunRun.__typename, "RunPayload", res.rerunRun.message);
    const rerun = await waitForRun(t, res.rerunRun.run.id);
    assert.equal(rerun.status, "SUCCEEDED");
    assert.equal(stage(rerun, "up").reuseReason, "RERUN");
    assert.equal(stage(rerun, "up").reusedFrom, stage(failed, "up").id);
    assert.equal(fs.readFileSync(counter, "utf8"), "1", "the upstream stage did not run again");
    assert.equal(stage(rerun, "down").inputs[0]!.artifact.id, stage(failed, "up").outputs[0]!.id);
  });

  it("runs a Python script through the process runner with its inputs, params and outputs", async () => {
    const script = path.join(scratch, "square.py");
    fs.writeFileSync(
      script,
      [
        "import json, os",
        "params = json.load(open(os.environ['SLUICE_PARAMS_FILE']))",
        "inputs = json.load(open(os.environ['SLUICE_INPUTS_FILE']))",
        "n = int(open(inputs['n']['path']).read() or params['default'])",
        "print('squaring', n, flush=True)",
        "print(f'::metric squared={n*n} step=1', flush=True)",
        "open(os.path.join(os.environ['SLUICE_OUTPUT_DIR'], 'result'), 'w').write(str(n * n))",
      ].join("\n"),
    );
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "python",
      stages: [
        { name: "n", run: moduleRun("produce"), params: { text: "7" }, outputs: { out: text } },
        {
          name: "square",
          run: { command: ["python3", script] },
          params: { default: 3 },
          inputs: { n: { from: "n.out" } },
          outputs: { result: text },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.error));
    const square = stage(run, "square");
    const uri = dataOf(await t.gql(`query($id: ID!) { artifact(id: $id) { uri } }`, { id: square.outputs[0]!.id })).artifact.uri;
    assert.equal(await readContent(t, uri), "49");
    const logs = dataOf(await t.gql(`query($id: ID!) { stageLogs(stageRunId: $id) { nodes { stream text } } }`, { id: square.id }))
      .stageLogs.nodes;
    assert.match(logs.map((l: any) => l.text).join(""), /squaring 7/);
    const metric = dataOf(
      await t.gql(`query($id: ID!) { metricHistory(runId: $id, key: "squared") { nodes { value step } } }`, { id: run.id }),
    ).metricHistory.nodes;
    assert.deepEqual(metric, [{ value: 49, step: 1 }]);
  });

  it("keeps a run's number per pipeline and its status for later queries", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, { name: "numbered", stages: [{ name: "x", run: { operator: "noop" } }] });
    const a = await waitForRun(t, await triggerRun(t, pipelineId));
    const b = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.deepEqual([a.number, b.number], [1, 2]);
    const listed = dataOf(
      await t.gql(`query($p: ID) { runs(filter: { pipelineId: $p }) { totalCount nodes { number status } } }`, { p: pipelineId }),
    ).runs;
    assert.equal(listed.totalCount, 2);
    assert.deepEqual(
      listed.nodes.map((n: any) => n.number),
      [2, 1],
    );
    assert.equal((await getRun(t, a.id)).status, "SUCCEEDED");
  });
});
