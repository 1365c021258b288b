/**
 * The runner API on the server (registration, leasing with a long poll, heartbeats, fenced logs,
 * uploads and completions, who may call it), and agents as real processes: killed mid-stage,
 * drained with SIGTERM.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as tar from "tar";
import { eventually } from "../helpers/eventually";
import { spawnAgent, waitForRunner } from "../helpers/agents";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, moduleRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type GqlResponse, type TestServer } from "../helpers/server";

const REGISTER = `mutation($i: RegisterRunnerInput!) { registerRunner(input: $i) {
  __typename ... on RegisterRunnerPayload { runner { id name status } leaseMs heartbeatIntervalMs maxWaitMs } ... on Error { code message } } }`;
const LEASE = `mutation($i: LeaseStageRunsInput!) { leaseStageRuns(input: $i) {
  __typename ... on LeaseStageRunsPayload { tasks { stageRunId runId attempt stageName epoch run baseDir params timeoutMs
    inputs { name artifactId hash size isDirectory downloadUrl } outputs { name kind } } } ... on Error { code message } } }`;
const HEARTBEAT = `mutation($i: HeartbeatInput!) { heartbeat(input: $i) {
  __typename ... on HeartbeatPayload { leases { stageRunId held epoch cancelRequested } } ... on Error { code message } } }`;
const APPEND = `mutation($i: AppendStageLogsInput!) { appendStageLogs(input: $i) {
  __typename ... on AppendStageLogsPayload { count } ... on LeaseLostError { reason epoch currentEpoch } ... on Error { code message } } }`;
const COMPLETE = `mutation($i: CompleteStageRunInput!) { completeStageRun(input: $i) {
  __typename ... on CompleteStageRunPayload { status } ... on LeaseLostError { code reason stageRunId epoch currentEpoch }
  ... on InvalidInputError { problems { field message } } ... on Error { code message } } }`;
const DEREGISTER = `mutation($i: RunnerIdInput!) { deregisterRunner(input: $i) {
  __typename ... on RunnerPayload { released runner { status } } ... on Error { code message } } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function forbidden(res: GqlResponse): void {
  assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(res.errors ?? res.data));
}

describe("remote runners", () => {
  let t: TestServer;
  let projectA: string;
  let projectB: string;
  let runnerA: string; // RUNNER of project A
  let runnerAll: string; // global RUNNER
  let viewer: string;
  let scratch: string;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_RUNNERS: "none", SLUICE_LEASE_MS: "1500", SLUICE_UPLOAD_LIMIT: "64kb" } });
    projectA = await seedProject(t, "runner-a");
    projectB = await seedProject(t, "runner-b");
    runnerA = (await seedCaller(t, "RUNNER", projectA)).token;
    runnerAll = (await seedCaller(t, "RUNNER")).token;
    viewer = (await seedCaller(t, "VIEWER")).token;
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-runner-api-"));
  });
  after(async () => {
    await t.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const ok = async (query: string, variables: Record<string, unknown>, token: string) => dataOf(await t.gql(query, variables, token));

  async function register(token: string, name: string, labels: string[]): Promise<string> {
    const r = (await ok(REGISTER, { i: { name, labels, concurrency: 2, hostname: "test", version: "1" } }, token)).registerRunner;
    assert.equal(r.__typename, "RegisterRunnerPayload", r.message);
    return r.runner.id;
  }

  async function lease(token: string, runnerId: string, max = 10, waitMs = 0): Promise<any[]> {
    const r = (await ok(LEASE, { i: { runnerId, max, waitMs } }, token)).leaseStageRuns;
    assert.equal(r.__typename, "LeaseStageRunsPayload", r.message);
    return r.tasks;
  }

  async function startRun(projectId: string, name: string, labels: string[], stages?: Record<string, unknown>[]): Promise<string> {
    const spec = {
      name,
      stages: stages ?? [{ name: "s", run: moduleRun("produce"), runner: { labels }, outputs: { out: { kind: "File" } } }],
    };
    const { pipelineId } = await applyPipeline(t, projectId, spec);
    return triggerRun(t, pipelineId);
  }

  async function upload(token: string, task: { stageRunId: string; epoch: number }, body: Buffer, type = "application/octet-stream") {
    const res = await fetch(`${t.url}/artifacts/uploads?stageRunId=${task.stageRunId}&epoch=${task.epoch}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": type },
      body,
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("refuses a VIEWER the runner API: it cannot register, lease or heartbeat", async () => {
    forbidden(await t.gql(REGISTER, { i: { name: "viewer-box", labels: ["x"], concurrency: 1 } }, viewer));
    const runnerId = await register(runnerAll, "someone-else", ["x"]);
    forbidden(await t.gql(LEASE, { i: { runnerId, max: 1 } }, viewer));
    forbidden(await t.gql(HEARTBEAT, { i: { runnerId, stageRunIds: [] } }, viewer));
    const denied = await ok(
      `{ auditEvents(first: 5, filter: { action: "runner.register", outcome: DENIED }) { nodes { actorName } } }`,
      {},
      t.adminToken,
    );
    assert.equal(denied.auditEvents.nodes.length, 1);
  });

  it("a RUNNER token cannot trigger runs or read projects, and leases only in the projects it is bound to", async () => {
    const spec = { name: "bound", stages: [{ name: "s", run: moduleRun("produce"), runner: { labels: ["bound"] } }] };
    const { pipelineId } = await applyPipeline(t, projectA, spec);
    const inA = await triggerRun(t, pipelineId);
    const inB = await startRun(projectB, "bound-b", ["bound"]);
    forbidden(await t.gql(`query($id: ID!) { project(id: $id) { id } }`, { id: projectA }, runnerA));
    forbidden(await t.gql(`query($id: ID!) { project(id: $id) { id } }`, { id: projectB }, runnerA));
    forbidden(await t.gql(`query($id: ID!) { run(id: $id) { id } }`, { id: inA }, runnerA));
    forbidden(await t.gql(`mutation($i: TriggerRunInput!) { triggerRun(input: $i) { __typename } }`, { i: { pipelineId } }, runnerA));
    forbidden(await t.gql(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: inA }, runnerA));
    const bound = await register(runnerA, "bound-to-a", ["bound"]);
    const tasks = await lease(runnerA, bound);
    assert.deepEqual(
      tasks.map((x) => x.runId),
      [inA],
    );
    const everywhere = await register(runnerAll, "everywhere", ["bound"]);
    assert.deepEqual(
      (await lease(runnerAll, everywhere)).map((x) => x.runId),
      [inB],
    );
    // The project-bound runner cannot use another principal's runner either.
    const other = await t.gql(LEASE, { i: { runnerId: everywhere, max: 1 } }, runnerA);
    assert.equal(dataOf(other).leaseStageRuns.__typename, "NotFoundError");
    for (const id of [inA, inB]) await ok(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id }, t.adminToken);
  });

  it("long-polls: a waiting lease request answers as soon as a stage is queued, and empty when none comes", async () => {
    const runnerId = await register(runnerAll, "poller", ["poll"]);
    const started = Date.now();
    assert.deepEqual(await lease(runnerAll, runnerId, 1, 300), []);
    assert.ok(Date.now() - started >= 290, "waited for the poll");
    const waiting = lease(runnerAll, runnerId, 1, 20_000);
    await sleep(200); // no signal says the lease request is waiting; a grace so the stage is queued while it waits
    const queuedAt = Date.now();
    const runId = await startRun(projectA, "polled", ["poll"]);
    const tasks = await waiting;
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0].runId, runId);
    assert.ok(Date.now() - queuedAt < 5000, `answered ${Date.now() - queuedAt} ms after the stage was queued`);
    await ok(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }, t.adminToken);
  });

  it("speaks the protocol: heartbeat renews and reports cancel, logs and completion carry the epoch", async () => {
    const runnerId = await register(runnerAll, "protocol", ["proto"]);
    const runId = await startRun(projectA, "proto", ["proto"]);
    const [task] = await lease(runnerAll, runnerId);
    assert.equal(task.stageName, "s");
    assert.equal(task.attempt, 1);
    assert.deepEqual(task.outputs, [{ name: "out", kind: "File" }]);
    assert.deepEqual(task.run, { module: "./stages.ts", export: "produce" });
    let beat = (await ok(HEARTBEAT, { i: { runnerId, stageRunIds: [task.stageRunId] } }, runnerAll)).heartbeat;
    assert.deepEqual(beat.leases, [{ stageRunId: task.stageRunId, held: true, epoch: task.epoch, cancelRequested: false }]);
    const appended = (
      await ok(APPEND, { i: { stageRunId: task.stageRunId, epoch: task.epoch, chunks: [{ stream: "stdout", text: "hi\n" }] } }, runnerAll)
    ).appendStageLogs;
    assert.equal(appended.count, 1);
    await ok(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }, t.adminToken);
    beat = (await ok(HEARTBEAT, { i: { runnerId, stageRunIds: [task.stageRunId] } }, runnerAll)).heartbeat;
    assert.equal(beat.leases[0].cancelRequested, true);
    const done = (await ok(COMPLETE, { i: { stageRunId: task.stageRunId, epoch: task.epoch, status: "CANCELED" } }, runnerAll))
      .completeStageRun;
    assert.equal(done.status, "CANCELED");
    assert.equal((await getRun(t, runId)).status, "CANCELED");
    const logs = await ok(`query($id: ID!) { stageLogs(stageRunId: $id) { nodes { text } } }`, { id: task.stageRunId }, t.adminToken);
    assert.equal(logs.stageLogs.nodes[0].text, "hi\n");
    const audited = await ok(
      `{ auditEvents(first: 5, filter: { action: "stage.complete" }) { nodes { outcome targetId } } }`,
      {},
      t.adminToken,
    );
    assert.equal(audited.auditEvents.nodes[0].targetId, task.stageRunId);
  });

  it("refuses a completion, logs and uploads from a stale epoch with LeaseLostError, changing nothing", async () => {
    const runnerId = await register(runnerAll, "stale", ["stale"]);
    const runId = await startRun(projectA, "stale", ["stale"]);
    const [first] = await lease(runnerAll, runnerId);
    // No heartbeat: the lease expires, the server takes the stage back and it is leased again.
    let second: any;
    const deadline = Date.now() + 10_000;
    while (!second) {
      assert.ok(Date.now() < deadline, "the stage was not leased again");
      [second] = await lease(runnerAll, runnerId, 1, 1000);
    }
    assert.ok(second.epoch > first.epoch);
    const before = await getRun(t, runId);
    const late = (
      await ok(
        COMPLETE,
        { i: { stageRunId: first.stageRunId, epoch: first.epoch, status: "FAILED", failure: { type: "STAGE_ERROR", message: "late" } } },
        runnerAll,
      )
    ).completeStageRun;
    delete late.message;
    assert.deepEqual(late, {
      __typename: "LeaseLostError",
      code: "CONFLICT",
      reason: "LEASE_LOST",
      stageRunId: first.stageRunId,
      epoch: first.epoch,
      currentEpoch: second.epoch,
    });
    const lateLogs = (
      await ok(
        APPEND,
        { i: { stageRunId: first.stageRunId, epoch: first.epoch, chunks: [{ stream: "stdout", text: "late\n" }] } },
        runnerAll,
      )
    ).appendStageLogs;
    assert.equal(lateLogs.__typename, "LeaseLostError");
    const lateUpload = await upload(runnerAll, first, Buffer.from("late"));
    assert.equal(lateUpload.status, 409);
    assert.equal(lateUpload.body.error.reason, "LEASE_LOST");
    assert.deepEqual(await getRun(t, runId), before, "nothing changed");
    // The current holder completes, with an uploaded output.
    const stored = await upload(runnerAll, second, Buffer.from("fresh"));
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
    assert.equal(stored.body.isDirectory, false);
    const output = {
      name: "out",
      hash: stored.body.hash,
      uri: stored.body.uri,
      size: stored.body.size,
      isDirectory: false,
      metadata: { rows: 1 },
    };
    const done = (
      await ok(COMPLETE, { i: { stageRunId: second.stageRunId, epoch: second.epoch, status: "SUCCEEDED", outputs: [output] } }, runnerAll)
    ).completeStageRun;
    assert.equal(done.status, "SUCCEEDED", JSON.stringify(done));
    const run = await getRun(t, runId);
    assert.deepEqual(
      stage(run, "s").attempts.map((a) => a.outcome),
      ["LOST", "SUCCEEDED"],
    );
    assert.equal(stage(run, "s").outputs[0]!.hash, stored.body.hash);
  });

  it("refuses uploads over the limit, archives holding links, callers without the lease, and forged outputs", async () => {
    const runnerId = await register(runnerAll, "uploader", ["upload"]);
    const runId = await startRun(projectB, "uploads", ["upload"]);
    const [task] = await lease(runnerAll, runnerId);
    assert.equal((await upload(runnerAll, task, Buffer.alloc(100 * 1024))).status, 413);
    const folder = path.join(scratch, "linked");
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, "a.txt"), "a");
    fs.symlinkSync("/etc/passwd", path.join(folder, "link"));
    const archive = path.join(scratch, "linked.tar");
    await tar.c({ file: archive, cwd: folder }, ["."]);
    const linked = await upload(runnerAll, task, fs.readFileSync(archive), "application/x-tar");
    assert.equal(linked.status, 400, JSON.stringify(linked.body));
    assert.equal((await upload(viewer, task, Buffer.from("x"))).status, 403);
    assert.equal((await upload(runnerA, task, Buffer.from("x"))).status, 403, "a runner of another project");
    // A folder upload round-trips.
    fs.rmSync(path.join(folder, "link"));
    await tar.c({ file: archive, cwd: folder, gzip: true }, ["."]);
    const tree = await upload(runnerAll, task, fs.readFileSync(archive), "application/x-tar");
    assert.equal(tree.status, 201, JSON.stringify(tree.body));
    assert.equal(tree.body.isDirectory, true);
    const forged = { name: "out", hash: `sha256:${"0".repeat(64)}`, uri: tree.body.uri, size: 1, isDirectory: true };
    const refused = (
      await ok(COMPLETE, { i: { stageRunId: task.stageRunId, epoch: task.epoch, status: "SUCCEEDED", outputs: [forged] } }, runnerAll)
    ).completeStageRun;
    assert.equal(refused.__typename, "InvalidInputError");
    const output = { name: "out", hash: tree.body.hash, uri: tree.body.uri, size: tree.body.size, isDirectory: true };
    assert.equal(
      (await ok(COMPLETE, { i: { stageRunId: task.stageRunId, epoch: task.epoch, status: "SUCCEEDED", outputs: [output] } }, runnerAll))
        .completeStageRun.status,
      "SUCCEEDED",
    );
    const artifactId = stage(await getRun(t, runId), "s").outputs[0]!.id;
    const get = (token: string) => fetch(`${t.url}/artifacts/${artifactId}/content`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get(runnerA)).status, 403, "project B's artifact, project A's runner");
    assert.equal((await get(viewer)).status, 200);
    assert.equal((await get("slc_not_a_token_at_all_000000000000")).status, 401);
  });

  it("deregistering gives back what the runner holds and shows it STOPPED; a silent runner shows OFFLINE", async () => {
    const runnerId = await register(runnerAll, "leaving", ["leave"]);
    const runId = await startRun(projectA, "leaving", ["leave"]);
    await lease(runnerAll, runnerId);
    const gone = (await ok(DEREGISTER, { i: { runnerId } }, runnerAll)).deregisterRunner;
    assert.deepEqual(gone, { __typename: "RunnerPayload", released: 1, runner: { status: "STOPPED" } });
    const s = stage(await getRun(t, runId), "s");
    assert.equal(s.status, "QUEUED");
    assert.deepEqual(
      s.attempts.map((a) => a.outcome),
      ["INTERRUPTED"],
    );
    const silent = await register(runnerAll, "silent", ["nothing"]);
    // Three heartbeat intervals of 500 ms without a heartbeat mark it OFFLINE.
    await eventually(async () => {
      const listed = await ok(`{ runners(first: 50) { nodes { id status } } }`, {}, t.adminToken);
      assert.equal(listed.runners.nodes.find((n: any) => n.id === silent).status, "OFFLINE");
    });
    const having = async (filter: Record<string, unknown>) =>
      (await ok(`query($f: RunnerAgentFilter) { runners(filter: $f) { nodes { id } } }`, { f: filter }, t.adminToken)).runners.nodes.map(
        (n: any) => n.id,
      );
    assert.ok((await having({ status: "OFFLINE" })).includes(silent));
    assert.ok(!(await having({ status: "ONLINE" })).includes(silent));
    assert.deepEqual(await having({ status: "STOPPED", label: "leave" }), [runnerId]);
    forbidden(await t.gql(`{ runners { nodes { id } } }`, {}, runnerAll));
    await ok(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }, t.adminToken);
  });

  it("finishes a stage on another agent when the one running it is killed, and refuses the killed one's late completion", async () => {
    const spec = [
      { name: "slow", run: moduleRun("sleep"), params: { ms: 2500 }, runner: { labels: ["kill"] }, outputs: { out: { kind: "File" } } },
    ];
    const a = spawnAgent(t, runnerAll, ["--name", "victim", "--labels", "kill"]);
    let b: ReturnType<typeof spawnAgent> | undefined;
    try {
      const victim = await waitForRunner(t, "victim");
      const runId = await startRun(projectA, "killed", ["kill"], spec);
      const running = await waitForRun(t, runId, 10_000, (r) => stage(r, "slow").status === "RUNNING");
      const attempt = dataOf(
        await t.gql(`query($id: ID!) { stageRun(id: $id) { leaseOwner attempts { leaseEpoch runner } } }`, {
          id: stage(running, "slow").id,
        }),
      ).stageRun;
      assert.equal(attempt.leaseOwner, `agent:${victim.id}`);
      const oldEpoch = attempt.attempts[0].leaseEpoch;
      b = spawnAgent(t, runnerAll, ["--name", "rescuer", "--labels", "kill"]);
      const rescuer = await waitForRunner(t, "rescuer");
      a.child.kill("SIGKILL");
      assert.equal(await a.exited, "SIGKILL");
      const taken = await waitForRun(
        t,
        runId,
        15_000,
        (r) => stage(r, "slow").attempts.length === 2 && stage(r, "slow").status === "RUNNING",
      );
      // The killed agent's completion arrives late: refused, and nothing changes.
      const late = (
        await ok(
          COMPLETE,
          {
            i: {
              stageRunId: stage(taken, "slow").id,
              epoch: oldEpoch,
              status: "FAILED",
              failure: { type: "EXIT_SIGNAL", message: "late" },
            },
          },
          runnerAll,
        )
      ).completeStageRun;
      assert.equal(late.__typename, "LeaseLostError");
      assert.equal(late.reason, "LEASE_LOST");
      const run = await waitForRun(t, runId, 15_000);
      assert.equal(run.status, "SUCCEEDED", `${JSON.stringify(run.stageRuns)}\n${b.output()}`);
      const history = dataOf(
        await t.gql(`query($id: ID!) { stageRun(id: $id) { attempts { outcome runner } } }`, { id: stage(run, "slow").id }),
      ).stageRun.attempts;
      assert.deepEqual(history, [
        { outcome: "LOST", runner: `agent:${victim.id}` },
        { outcome: "SUCCEEDED", runner: `agent:${rescuer.id}` },
      ]);
      const again = (
        await ok(
          COMPLETE,
          {
            i: { stageRunId: stage(run, "slow").id, epoch: oldEpoch, status: "FAILED", failure: { type: "EXIT_SIGNAL", message: "late" } },
          },
          runnerAll,
        )
      ).completeStageRun;
      assert.equal(again.reason, "NOT_RUNNING");
      assert.deepEqual(await getRun(t, runId), run, "nothing changed");
    } finally {
      a.child.kill("SIGKILL");
      b?.child.kill("SIGTERM");
      await b?.exited;
    }
  });

  it("drains an agent on SIGTERM: the running stage finishes, the agent deregisters and exits 0", async () => {
    const spec = [
      { name: "s", run: moduleRun("sleep"), params: { ms: 1500 }, runner: { labels: ["drain"] }, outputs: { out: { kind: "File" } } },
    ];
    const agent = spawnAgent(t, runnerAll, ["--name", "drainer", "--labels", "drain", "--drain-grace", "20000"]);
    try {
      await waitForRunner(t, "drainer");
      const runId = await startRun(projectA, "drained", ["drain"], spec);
      await waitForRun(t, runId, 10_000, (r) => stage(r, "s").status === "RUNNING");
      agent.child.kill("SIGTERM");
      // It stops leasing at once: a stage queued now stays queued.
      const later = await startRun(projectA, "after-drain", ["drain"]);
      assert.equal(await agent.exited, 0, agent.output());
      assert.equal((await getRun(t, runId)).status, "SUCCEEDED");
      assert.equal(stage(await getRun(t, later), "s").status, "QUEUED");
      assert.equal((await waitForRunner(t, "drainer")).status, "STOPPED");
      await ok(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: later }, t.adminToken);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });

  it("gives a running stage back to the queue when the drain grace runs out", async () => {
    const spec = [
      { name: "s", run: moduleRun("sleep"), params: { ms: 30_000 }, runner: { labels: ["grace"] }, outputs: { out: { kind: "File" } } },
    ];
    const agent = spawnAgent(t, runnerAll, ["--name", "impatient", "--labels", "grace", "--drain-grace", "200"]);
    try {
      await waitForRunner(t, "impatient");
      const runId = await startRun(projectA, "given-back", ["grace"], spec);
      await waitForRun(t, runId, 10_000, (r) => stage(r, "s").status === "RUNNING");
      agent.child.kill("SIGTERM");
      assert.equal(await agent.exited, 0, agent.output());
      const s = stage(await getRun(t, runId), "s");
      assert.equal(s.status, "QUEUED");
      assert.deepEqual(
        s.attempts.map((x) => x.outcome),
        ["INTERRUPTED"],
      );
      await ok(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }, t.adminToken);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });
});
