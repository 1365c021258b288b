/**
 * The remote agent end to end, through a real server that runs nothing itself
 * (`SLUICE_RUNNERS=none`): the runner conformance behaviours (test/runners/conformance.ts) as
 * they look from the API — outputs stored, logs streamed, metrics, inputs and params, cancel,
 * timeout, retryable and non-retryable failures, missing outputs — plus labels and the runners
 * list. The conformance suite itself calls `Runner.run` with local paths, which a process on
 * another machine cannot offer; this is its equivalent over the wire.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as tar from "tar";
import { eventually } from "../helpers/eventually";
import { inProcessAgent, waitForRunner } from "../helpers/agents";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { repoRoot } from "./harness";

/** Fixture modules resolve against test/: the conformance stages and the run-engine stages. */
const BASE_DIR = path.join(repoRoot(), "test");
const conformance = (fn: string) => ({ module: "runners/fixtures/local/stages.ts", export: fn });
const engineStage = (fn: string) => ({ module: "runs/fixtures/stages.ts", export: fn });
const gpu = { labels: ["gpu"] };

describe("the remote agent, through the server (runner conformance over the wire)", () => {
  let t: TestServer;
  let projectId: string;
  let runnerToken: string;
  let agent: ReturnType<typeof inProcessAgent>;
  let scratch: string;

  let early: ReturnType<typeof inProcessAgent>;
  let earlyStart: Promise<void>;
  let gate: UnreachableUntilOpened;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_RUNNERS: "none", SLUICE_LEASE_MS: "1500" } });
    projectId = await seedProject(t, "remote");
    runnerToken = (await seedCaller(t, "RUNNER")).token;
    agent = inProcessAgent(t, runnerToken, { labels: ["gpu", "big"], concurrency: 3, name: "gpu-box" });
    await agent.start();
    // An agent that cannot reach its server yet keeps trying, with backoff, and registers once it can.
    gate = await UnreachableUntilOpened.start();
    early = inProcessAgent(`http://127.0.0.1:${gate.port}`, runnerToken, { labels: ["early"], name: "early-bird" });
    earlyStart = early.start();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-remote-test-"));
  });
  after(async () => {
    await agent.cleanup();
    await early.cleanup();
    gate.close();
    await t.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  async function runPipeline(name: string, stages: Record<string, unknown>[]): Promise<string> {
    const { pipelineId } = await applyPipeline(t, projectId, { name, stages }, BASE_DIR);
    return triggerRun(t, pipelineId);
  }

  async function download(artifactId: string, token = runnerToken): Promise<Response> {
    return fetch(`${t.url}/artifacts/${artifactId}/content`, { headers: { authorization: `Bearer ${token}` } });
  }

  it("reaches a server it could not reach when it started, retrying with backoff", async () => {
    await eventually(() => assert.ok(gate.refused >= 2, `connections refused: ${gate.refused}`));
    assert.equal(early.runnerId, undefined);
    gate.open(t.server.port);
    await earlyStart;
    const runner = await waitForRunner(t, "early-bird");
    assert.equal(runner.id, early.runnerId);
    assert.equal(runner.status, "ONLINE");
    const run = await waitForRun(t, await runPipeline("early", [{ name: "e", run: { operator: "noop" }, runner: { labels: ["early"] } }]));
    assert.equal(run.status, "SUCCEEDED");
    assert.equal(stage(run, "e").attempts[0]!.outcome, "SUCCEEDED");
  });

  it("runs a gpu stage on an agent labelled gpu, storing its outputs, a file and a folder", async () => {
    const runId = await runPipeline("succeed", [
      { name: "s", run: conformance("succeed"), runner: gpu, outputs: { greeting: { kind: "File" }, bundle: { kind: "Dataset" } } },
    ]);
    const run = await waitForRun(t, runId);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns));
    const s = stage(run, "s");
    assert.match(s.attempts[0]!.outcome ?? "", /SUCCEEDED/);
    const outputs = Object.fromEntries(s.outputs.map((o) => [o.outputName, o]));
    assert.deepEqual(Object.keys(outputs).sort(), ["bundle", "greeting"]);
    const greeting = await download(outputs.greeting!.id);
    assert.equal(greeting.status, 200);
    assert.equal(greeting.headers.get("x-sluice-hash"), outputs.greeting!.hash);
    assert.equal(await greeting.text(), "hello");
    // The folder comes back as a tar stream with its file.
    const bundle = await download(outputs.bundle!.id);
    assert.equal(bundle.headers.get("x-sluice-directory"), "true");
    const into = fs.mkdtempSync(path.join(scratch, "bundle-"));
    fs.writeFileSync(path.join(scratch, "bundle.tar"), Buffer.from(await bundle.arrayBuffer()));
    await tar.x({ file: path.join(scratch, "bundle.tar"), cwd: into });
    assert.equal(fs.readFileSync(path.join(into, "part.txt"), "utf8"), "part");
    const owner = dataOf(await t.gql(`query($id: ID!) { stageRun(id: $id) { leaseOwner } }`, { id: s.id })).stageRun.leaseOwner;
    assert.equal(owner, `agent:${agent.runnerId}`);
    // What the stage used on the agent's machine came with its completion and is on the attempt.
    const usage = dataOf(
      await t.gql(`query($id: ID!) { stageRun(id: $id) { attempts { usage { method cpuSeconds wallSeconds } } } }`, { id: s.id }),
    ).stageRun.attempts[0].usage;
    assert.ok(usage && usage.method && usage.cpuSeconds >= 0 && usage.wallSeconds > 0, JSON.stringify(usage));
  });

  it("leaves a stage whose labels it lacks queued", async () => {
    const runId = await runPipeline("local-only", [{ name: "l", run: { operator: "noop" } }]);
    await new Promise((r) => setTimeout(r, 700)); // time must pass: the agent, were it to take the stage, would within it
    assert.equal(stage(await getRun(t, runId), "l").status, "QUEUED");
    dataOf(await t.gql(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }));
  });

  it("streams log lines while the stage runs: the first arrives before the stage finishes", async () => {
    const release = path.join(scratch, "release");
    const runId = await runPipeline("logs", [{ name: "w", run: conformance("waitForRelease"), runner: gpu, params: { release } }]);
    const running = await waitForRun(t, runId, 10_000, (r) => stage(r, "w").status === "RUNNING");
    const logs = async () =>
      dataOf(await t.gql(`query($id: ID!) { stageLogs(stageRunId: $id) { nodes { stream text } } }`, { id: stage(running, "w").id }))
        .stageLogs.nodes as Array<{ stream: string; text: string }>;
    await eventually(async () =>
      assert.ok(
        (await logs()).some((l) => l.text.includes("line 1")),
        "line 1 did not arrive",
      ),
    );
    assert.equal(stage(await getRun(t, runId), "w").status, "RUNNING", "the stage is still running when its first line is stored");
    fs.writeFileSync(release, "");
    assert.equal((await waitForRun(t, runId)).status, "SUCCEEDED");
    const text = (await logs()).map((l) => l.text).join("");
    assert.equal(text, "line 1\nline 2\nline 3\n");
  });

  it("reports metrics with their steps, through logMetrics", async () => {
    const run = await waitForRun(t, await runPipeline("metrics", [{ name: "m", run: conformance("metrics"), runner: gpu }]));
    assert.equal(run.status, "SUCCEEDED");
    const history = async (key: string) =>
      dataOf(
        await t.gql(`query($id: ID!, $k: String!) { metricHistory(runId: $id, key: $k) { nodes { value step stageRunId } } }`, {
          id: run.id,
          k: key,
        }),
      ).metricHistory.nodes;
    assert.deepEqual(
      (await history("loss")).map((p: any) => [p.value, p.step]),
      [
        [1, 0],
        [0.5, 1],
        [1 / 3, 2],
      ],
    );
    assert.deepEqual(await history("accuracy"), [{ value: 0.5, step: 0, stageRunId: stage(run, "m").id }]);
  });

  it("downloads inputs (a file, a folder) into its cache and passes them and the params to the stage, recording lineage", async () => {
    const runId = await runPipeline("inputs", [
      { name: "p", run: engineStage("produce"), runner: gpu, params: { text: "hello input\n" }, outputs: { out: { kind: "File" } } },
      { name: "b", run: conformance("succeed"), runner: gpu, outputs: { greeting: { kind: "File" }, bundle: { kind: "Dataset" } } },
      {
        name: "echo",
        run: conformance("echo"),
        runner: gpu,
        params: { factor: 3 },
        inputs: { text: { from: "p.out" } },
        outputs: { echo: { kind: "Report" } },
      },
      {
        name: "cat",
        run: { command: ["sh", "-c", 'cat "$SLUICE_INPUT_BUNDLE/part.txt" "$SLUICE_INPUT_TEXT" > "$SLUICE_OUTPUT_OUT"; echo catted'] },
        runner: gpu,
        inputs: { bundle: { from: "b.bundle" }, text: { from: "p.out" } },
        outputs: { out: { kind: "File" } },
      },
    ]);
    const run = await waitForRun(t, runId);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const produced = stage(run, "p").outputs[0]!;
    const echo = JSON.parse(await (await download(stage(run, "echo").outputs[0]!.id)).text());
    assert.deepEqual(echo, { text: "hello input\n", kind: "File", hash: produced.hash, size: 12, metadata: {}, params: { factor: 3 } });
    assert.equal(await (await download(stage(run, "cat").outputs[0]!.id)).text(), "parthello input\n");
    assert.deepEqual(
      stage(run, "cat")
        .inputs.map((i) => [i.inputName, i.artifact.id])
        .sort(),
      [
        ["bundle", stage(run, "b").outputs.find((o) => o.outputName === "bundle")!.id],
        ["text", produced.id],
      ],
    );
  });

  it("honours a cancel mid-stage: the stage stops and the run ends CANCELED", async () => {
    const runId = await runPipeline("cancel", [
      { name: "long", run: conformance("sleepLong"), runner: gpu, outputs: { out: { kind: "File" } } },
      { name: "after", run: { operator: "noop" }, runner: gpu, inputs: { in: { from: "long.out" } } },
    ]);
    await waitForRun(t, runId, 10_000, (r) => stage(r, "long").status === "RUNNING");
    const started = Date.now();
    dataOf(await t.gql(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }));
    const run = await waitForRun(t, runId, 10_000);
    assert.equal(run.status, "CANCELED");
    assert.equal(stage(run, "long").status, "CANCELED");
    assert.equal(stage(run, "long").attempts[0]!.outcome, "CANCELED");
    assert.ok(Date.now() - started < 5000, `canceled after ${Date.now() - started} ms`);
  });

  it("times out a stage that runs past timeoutMs with a retryable TIMEOUT failure", async () => {
    const run = await waitForRun(
      t,
      await runPipeline("timeout", [{ name: "s", run: conformance("sleepLong"), runner: gpu, timeoutMs: 300 }]),
    );
    assert.equal(run.status, "FAILED");
    assert.equal(stage(run, "s").failure?.type, "TIMEOUT");
    assert.equal(stage(run, "s").failure?.nonRetryable, false);
  });

  it("reports a retryable failure as retryable (and the stage is retried), a non-retryable one as final", async () => {
    const runId = await runPipeline("failures", [
      { name: "flaky", run: conformance("fail"), runner: gpu, retries: { max: 1, initialDelayMs: 100 } },
      { name: "final", run: conformance("failNonRetryable"), runner: gpu, retries: { max: 1, initialDelayMs: 100 } },
    ]);
    const run = await waitForRun(t, runId);
    assert.equal(run.status, "FAILED");
    const flaky = stage(run, "flaky");
    assert.deepEqual(
      flaky.attempts.map((a) => [a.outcome, a.failure?.type, a.failure?.nonRetryable]),
      [
        ["FAILED", "STAGE_ERROR", false],
        ["FAILED", "STAGE_ERROR", false],
      ],
    );
    const final = stage(run, "final");
    assert.equal(final.attempts.length, 1);
    assert.equal(final.failure?.type, "STAGE_ERROR");
    assert.equal(final.failure?.nonRetryable, true);
  });

  it("reports a declared output the stage did not write as a non-retryable MISSING_OUTPUT naming it", async () => {
    const run = await waitForRun(
      t,
      await runPipeline("missing", [
        { name: "s", run: conformance("skipOutput"), runner: gpu, outputs: { present: { kind: "File" }, missing: { kind: "Model" } } },
      ]),
    );
    assert.equal(run.status, "FAILED");
    assert.equal(stage(run, "s").failure?.type, "MISSING_OUTPUT");
    assert.equal(stage(run, "s").failure?.nonRetryable, true);
    assert.deepEqual(stage(run, "s").failure?.details?.missing, ["missing"]);
  });

  it("runs `concurrency` stages at once, and the runners list shows them as its current work", async () => {
    const release = path.join(scratch, "release-many");
    const runId = await runPipeline(
      "parallel",
      ["a", "b", "c"].map((name) => ({ name, run: conformance("waitForRelease"), runner: gpu, params: { release } })),
    );
    await waitForRun(t, runId, 10_000, (r) => r.stageRuns.every((s) => s.status === "RUNNING"));
    const listed = dataOf(
      await t.gql(`{ runners(first: 10) { totalCount nodes { id name labels concurrency status lastSeenAt currentWork { stageName } } } }`),
    ).runners;
    const me = listed.nodes.find((n: any) => n.name === "gpu-box");
    assert.equal(me.status, "ONLINE");
    assert.deepEqual(me.labels, ["big", "gpu"]);
    assert.equal(me.concurrency, 3);
    assert.deepEqual(me.currentWork.map((w: any) => w.stageName).sort(), ["a", "b", "c"]);
    fs.writeFileSync(release, "");
    assert.equal((await waitForRun(t, runId)).status, "SUCCEEDED");
  });
});

/** A port that drops every connection until `open(port)`, then forwards them to that port. */
class UnreachableUntilOpened {
  refused = 0;
  private target: number | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => undefined);
      if (this.target === undefined) {
        this.refused++;
        socket.destroy();
        return;
      }
      const upstream = net.connect(this.target, "127.0.0.1");
      this.sockets.add(upstream);
      upstream.on("close", () => this.sockets.delete(upstream));
      upstream.on("error", () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
    });
  }

  static async start(): Promise<UnreachableUntilOpened> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new UnreachableUntilOpened(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  open(target: number): void {
    this.target = target;
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
