import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { STAGES_TS, sluice, startCli, tempDir } from "./cli";

const file = { kind: "File" } as const;
const RUN_ID = /run ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)/;

describe("sluice run, runs, logs and cancel", () => {
  let t: TestServer;
  let env: Record<string, string>;
  let tmp: ReturnType<typeof tempDir>;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_LOCAL_THREADS: "2" } });
    const projectId = await seedProject(t, "cli-run");
    env = { SLUICE_URL: t.url, SLUICE_TOKEN: t.adminToken, SLUICE_PROJECT: "cli-run" };
    tmp = tempDir("sluice-cli-run-");
    fs.writeFileSync(path.join(tmp.dir, "stages.ts"), STAGES_TS);
    const mod = (fn: string) => ({ module: "./stages.ts", export: fn });
    await applyPipeline(
      t,
      projectId,
      {
        name: "hello",
        stages: [
          { name: "extract", run: mod("hello"), outputs: { out: file } },
          { name: "train", run: mod("hello"), inputs: { rows: { from: "extract.out" } } },
        ],
      },
      tmp.dir,
    );
    await applyPipeline(
      t,
      projectId,
      {
        name: "failing",
        stages: [
          { name: "ok", run: mod("hello"), outputs: { out: file } },
          { name: "boom", run: mod("boom"), inputs: { in: { from: "ok.out" } }, outputs: { out: file } },
          { name: "below", run: mod("hello"), inputs: { in: { from: "boom.out" } } },
        ],
      },
      tmp.dir,
    );
    await applyPipeline(t, projectId, { name: "slow", stages: [{ name: "tick", run: mod("ticks"), params: { n: 12, ms: 250 } }] }, tmp.dir);
    await applyPipeline(
      t,
      projectId,
      {
        name: "two",
        stages: [
          { name: "first", run: mod("ticks"), params: { n: 4, ms: 150 }, outputs: { out: file } },
          { name: "second", run: mod("ticks"), params: { n: 100, ms: 100 }, inputs: { in: { from: "first.out" } } },
        ],
      },
      tmp.dir,
    );
    await applyPipeline(
      t,
      projectId,
      { name: "long", stages: [{ name: "wait", run: mod("ticks"), params: { n: 300, ms: 100 } }] },
      tmp.dir,
    );
  });
  after(async () => {
    await t.close();
    tmp.remove();
  });

  let helloRunId: string;

  it("run --watch follows a small pipeline to SUCCEEDED and exits 0", async () => {
    const r = await sluice(["run", "hello", "--watch"], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^hello #1 queued \(v1, run [0-9a-f-]{36}\)$/m);
    helloRunId = RUN_ID.exec(r.stdout)![1]!;
    assert.match(r.stdout, /^\d\d:\d\d:\d\d +extract +running$/m);
    assert.match(r.stdout, /^\d\d:\d\d:\d\d +extract +succeeded in \S+$/m);
    assert.match(r.stdout, /^\d\d:\d\d:\d\d +train +succeeded in \S+$/m);
    assert.ok(r.stdout.search(/extract +succeeded/) < r.stdout.search(/train +running/), "events in order");
    assert.match(r.stdout.trimEnd().split("\n").at(-1)!, /^hello #1 SUCCEEDED in \S+$/);
  });

  it("run --watch of a failing pipeline exits 1 naming the failed stage and its failure", async () => {
    const r = await sluice(["run", "failing", "--watch"], env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /boom +failed after \S+: kaboom in the stage/);
    assert.match(r.stdout, /below +skipped \(boom did not succeed\)/);
    assert.match(
      r.stdout,
      /^failing #1 FAILED after \S+\n {2}stage boom failed: kaboom in the stage\n {2}its output: sluice logs [0-9a-f-]{36} boom$/m,
    );
  });

  it("run without --watch prints the run's number and id, and passes --param and --params-file overrides", async () => {
    const paramsFile = path.join(tmp.dir, "params.json");
    fs.writeFileSync(paramsFile, JSON.stringify({ extract: { text: "from the file", n: 1 }, train: { text: "file" } }));
    const r = await sluice(
      [
        "run",
        "hello",
        "--params-file",
        paramsFile,
        "--param",
        "extract.text=from the flag",
        "--param",
        "train.opt.lr=0.5",
        "--tag",
        "team=cli",
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^hello #2 queued \(v1, run [0-9a-f-]{36}\)$/m);
    const runId = RUN_ID.exec(r.stdout)![1]!;
    const run = dataOf(await t.gql(`query($id: ID!) { run(id: $id) { params tags } }`, { id: runId })).run;
    assert.deepEqual(run.params, { extract: { text: "from the flag", n: 1 }, train: { text: "file", opt: { lr: 0.5 } } });
    assert.deepEqual(run.tags, { team: "cli" });
    assert.equal((await waitForRun(t, runId)).status, "SUCCEEDED");
  });

  it("run exits 2 for a malformed --param and 1 for a pipeline that does not exist", async () => {
    const bad = await sluice(["run", "hello", "--param", "nodot=1"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--param nodot=1: expected stage\.key=value/);
    const missing = await sluice(["run", "nope"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no pipeline "nope" in project "cli-run"/);
  });

  it("runs lists recent runs with pipeline, number, status and trigger, filtered by pipeline and status", async () => {
    const all = await sluice(["runs"], env);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^RUN +STATUS +TRIGGER +STARTED +DURATION +ID$/);
    assert.match(all.stdout, /^hello#1 +✓ SUCCEEDED +manual +\d+s ago +\S+ +[0-9a-f-]{36}$/m);
    assert.match(all.stdout, /^failing#1 +✗ FAILED +manual /m);
    assert.ok(all.stdout.indexOf("hello#2") < all.stdout.indexOf("hello#1"), "newest first");

    const failed = await sluice(["runs", "--status", "failed"], env);
    assert.deepEqual(
      failed.stdout
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ["failing#1"],
    );
    const hello = await sluice(["runs", "--pipeline", "hello", "--limit", "1"], env);
    assert.match(hello.stdout, /^hello#2 /m);
    assert.doesNotMatch(hello.stdout, /hello#1/);
    assert.match(hello.stdout, /showing 1 of 2 runs/);
  });

  it("logs prints every stage's stored lines prefixed with the stage, or one stage's lines as they are", async () => {
    const all = await sluice(["logs", "hello#1"], env);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(
      all.stdout,
      ["extract | hello from extract", "extract | text is unset", "train   | hello from train", "train   | text is unset", ""].join("\n"),
    );
    const one = await sluice(["logs", helloRunId, "train"], env);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, "hello from train\ntext is unset\n");
    const missing = await sluice(["logs", "hello#1", "nope"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /hello #1 has no stage "nope"; its stages: extract, train/);
  });

  it("logs --follow streams a running run's output and ends when the run does", async () => {
    const started = await sluice(["run", "slow"], env);
    const runId = RUN_ID.exec(started.stdout)![1]!;
    const follow = startCli(["logs", runId, "--follow"], env);
    await follow.waitForOutput(/tick 0/);
    const firstLineAt = Date.now();
    const r = await follow.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, Array.from({ length: 12 }, (_, i) => `tick | tick ${i}\n`).join(""));
    assert.match(r.stderr, /slow #1 SUCCEEDED/);
    const run = await getRun(t, runId);
    assert.equal(run.status, "SUCCEEDED");
    const finishedAt = new Date(dataOf(await t.gql(`query($id: ID!) { run(id: $id) { finishedAt } }`, { id: runId })).run.finishedAt);
    assert.ok(firstLineAt < finishedAt.getTime(), "the first lines arrived while the run was still running");
  });

  it("logs STAGE --follow ends when that stage does, while the run goes on", async () => {
    const started = await sluice(["run", "two"], env);
    const runId = RUN_ID.exec(started.stdout)![1]!;
    const r = await sluice(["logs", "two#1", "first", "--follow"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "tick 0\ntick 1\ntick 2\ntick 3\n");
    assert.match(r.stderr, /two #1 stage first SUCCEEDED/);
    assert.equal((await getRun(t, runId)).status, "RUNNING");
    assert.equal((await sluice(["cancel", runId], env)).code, 0);
    assert.equal((await waitForRun(t, runId, 10_000)).status, "CANCELED");
  });

  it("Ctrl-C stops watching and leaves the run running, saying how to cancel it; cancel then cancels it", async () => {
    const watch = startCli(["run", "long", "--watch"], env);
    await watch.waitForOutput(/wait +running/);
    watch.child.kill("SIGINT");
    const r = await watch.done;
    assert.equal(r.code, 130, r.stderr);
    const runId = RUN_ID.exec(r.stdout)![1]!;
    assert.match(
      r.stdout,
      new RegExp(`stopped watching; long #1 keeps running \\(run ${runId}\\)\\n {2}cancel it: sluice cancel ${runId}`),
    );
    assert.equal((await getRun(t, runId)).status, "RUNNING");

    const cancel = await sluice(["cancel", "long#1"], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /long #1/);
    assert.equal((await waitForRun(t, runId, 10_000)).status, "CANCELED");

    const again = await sluice(["cancel", runId], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already CANCELED/);
  });

  it("with --cancel-on-exit, Ctrl-C cancels the run", async () => {
    const watch = startCli(["run", "long", "--watch", "--cancel-on-exit"], env);
    await watch.waitForOutput(/wait +running/);
    watch.child.kill("SIGINT");
    const r = await watch.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stdout, /cancel requested for long #2|canceled long #2/);
    const runId = RUN_ID.exec(r.stdout)![1]!;
    assert.equal((await waitForRun(t, runId, 10_000)).status, "CANCELED");
  });

  it("exits 2 naming SLUICE_TOKEN when no token is given", async () => {
    for (const args of [["runs"], ["logs", "hello#1"], ["run", "hello"], ["cancel", "hello#1"]]) {
      const r = await sluice(args, { ...env, SLUICE_TOKEN: undefined });
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, /no API token: pass --token or set SLUICE_TOKEN/);
    }
  });
});
