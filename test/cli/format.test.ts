import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError, connectionSettings } from "../../src/cli/client";
import type { RunSummary } from "../../src/cli/common";
import { formatDuration, progressBar, shortHash, stripAnsi, styleFor, table, truncate, visibleWidth, PLAIN } from "../../src/cli/format";
import { parseParams } from "../../src/cli/run-command";
import { RunState, renderFrame, type RunEventMessage } from "../../src/cli/run-watch";

describe("CLI connection settings", () => {
  it("default to localhost:4000 and add the /graphql path when the URL has none", () => {
    assert.equal(connectionSettings({ token: "t" }, {}).url, "http://localhost:4000/graphql");
    const s = connectionSettings({}, { SLUICE_URL: "https://sluice.example.com/api/", SLUICE_TOKEN: "t", SLUICE_PROJECT: "p" });
    assert.equal(s.url, "https://sluice.example.com/api/graphql");
    assert.equal(s.wsUrl, "wss://sluice.example.com/api/graphql");
    assert.equal(s.project, "p");
    assert.equal(connectionSettings({ server: "http://h:1/graphql", token: "t" }, {}).url, "http://h:1/graphql");
  });

  it("prefer flags to the environment", () => {
    const s = connectionSettings(
      { server: "http://a:1", token: "flag", project: "x" },
      { SLUICE_URL: "http://b:2", SLUICE_TOKEN: "env", SLUICE_PROJECT: "y" },
    );
    assert.deepEqual([s.url, s.token, s.project], ["http://a:1/graphql", "flag", "x"]);
  });

  it("refuse a missing token or a URL that is not http(s), as usage errors (exit 2) naming the variable", () => {
    assert.throws(
      () => connectionSettings({}, {}),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /SLUICE_TOKEN/.test(e.message),
    );
    assert.throws(() => connectionSettings({ token: "t" }, { SLUICE_URL: "ftp://x" }), /SLUICE_URL/);
    assert.throws(() => connectionSettings({ token: "t", server: "not a url" }, {}), /--server/);
  });
});

describe("run parameters from flags", () => {
  it("read values as JSON when they parse and as strings otherwise, dotted keys nesting", () => {
    assert.deepEqual(parseParams(["train.lr=0.1", "train.name=abc", "train.on=true", "train.opt.beta=[1,2]", 'prep.q="7"']), {
      train: { lr: 0.1, name: "abc", on: true, opt: { beta: [1, 2] } },
      prep: { q: "7" },
    });
  });

  it("keep everything after the first = as the value", () => {
    assert.deepEqual(parseParams(["s.filter=a=b"]), { s: { filter: "a=b" } });
  });

  it("refuse a flag without a stage and key", () => {
    for (const bad of ["lr=1", "train.=1", "train.lr", ".lr=1"]) assert.throws(() => parseParams([bad]), UsageError, bad);
  });
});

describe("terminal formatting", () => {
  it("formats durations from milliseconds to hours", () => {
    assert.deepEqual([850, 12_345, 245_000, 7_380_000].map(formatDuration), ["850ms", "12.3s", "4m 05s", "2h 03m"]);
  });

  it("colours only when asked: never with NO_COLOR or on a non-TTY", () => {
    assert.equal(styleFor({ isTTY: true }, {}).green("x"), "\x1b[32mx\x1b[39m");
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: "1" }).green("x"), "x");
    assert.equal(styleFor({ isTTY: false }, {}).green("x"), "x");
    assert.equal(styleFor({ isTTY: false }, { FORCE_COLOR: "1" }).green("x"), "\x1b[32mx\x1b[39m");
  });

  it("aligns table columns by visible width, ignoring colour codes", () => {
    const style = styleFor({ isTTY: true }, {});
    const lines = table(
      [
        [style.green("✓ ok"), "1"],
        ["long cell", "2"],
      ],
      { header: ["A", "B"] },
    ).map(stripAnsi);
    assert.deepEqual(lines, ["A          B", "✓ ok       1", "long cell  2"]);
  });

  it("truncates to a visible width, keeping escape sequences whole", () => {
    const style = styleFor({ isTTY: true }, {});
    const cut = truncate(`${style.red("abcdef")}ghij`, 5);
    assert.equal(stripAnsi(cut), "abcd…");
    assert.equal(visibleWidth(cut), 5);
    assert.equal(truncate("short", 10), "short");
  });

  it("draws a progress bar and shortens hashes", () => {
    assert.equal(progressBar(PLAIN, 1, 4, 8), "██░░░░░░ 1/4");
    assert.equal(shortHash(`sha256:${"ab".repeat(32)}`), "sha256:abababababab…");
  });
});

describe("the live run view", () => {
  const run: RunSummary = {
    id: "r1",
    number: 3,
    status: "QUEUED",
    projectId: "p",
    createdAt: "2026-01-01T00:00:00Z",
    startedAt: null,
    finishedAt: null,
    cancelRequestedAt: null,
    error: null,
    pipeline: { id: "pl", name: "churn" },
    pipelineVersion: { version: 1 },
    stageRuns: [
      {
        id: "s1",
        stageName: "extract",
        status: "PENDING",
        attempt: 0,
        maxAttempts: 1,
        startedAt: null,
        finishedAt: null,
        failure: null,
        reuseReason: null,
        approvalWait: null,
      },
      {
        id: "s2",
        stageName: "train",
        status: "PENDING",
        attempt: 0,
        maxAttempts: 3,
        startedAt: null,
        finishedAt: null,
        failure: null,
        reuseReason: null,
        approvalWait: null,
      },
    ],
  };
  let cursor = 0;
  const event = (
    type: string,
    at: string,
    stage?: { id: string; name: string },
    payload: Record<string, unknown> = {},
  ): RunEventMessage => ({
    cursor: String(++cursor),
    type,
    stage: stage?.name ?? null,
    stageRunId: stage?.id ?? null,
    payload: { ...payload, ...(stage ? { stage: stage.name, stageRunId: stage.id } : {}) },
    at: `2026-01-01T00:00:${at}Z`,
  });
  const extract = { id: "s1", name: "extract" };
  const train = { id: "s2", name: "train" };

  it("folds run events into stage states and says what happened", () => {
    const state = new RunState(run);
    assert.equal(state.apply(event("run.queued", "00")), "queued");
    assert.equal(state.apply(event("stage.started", "01", extract, { attempt: 1 })), "running");
    assert.equal(state.apply(event("run.started", "01")), "running");
    assert.equal(state.apply(event("stage.succeeded", "03", extract, { attempt: 1 })), "succeeded in 2.0s");
    assert.equal(state.apply(event("stage.started", "03", train, { attempt: 1 })), "running");
    assert.equal(
      state.apply(
        event("stage.retrying", "04", train, {
          attempt: 1,
          failure: { type: "TIMEOUT", message: "took too long" },
          nextAttempt: 2,
          notBefore: "2026-01-01T00:00:05Z",
        }),
      ),
      "attempt 1 failed: took too long (TIMEOUT); retrying in 1.0s (attempt 2 of 3)",
    );
    assert.equal(state.apply(event("stage.started", "05", train, { attempt: 2 })), "running (attempt 2 of 3)");
    assert.equal(
      state.apply(event("stage.failed", "06", train, { attempt: 2, failure: { type: "STAGE_ERROR", message: "bad data" } })),
      "failed after 1.0s: bad data",
    );
    assert.equal(state.apply(event("run.failed", "06", undefined, { status: "FAILED" })), "failed after 5.0s");
    assert.ok(state.finished);
    assert.deepEqual(state.progress(), { done: 2, total: 2, failed: true });

    const frame = renderFrame(state, PLAIN, { frame: 0, columns: 80, rows: 20 }).map((l) => l.trimEnd());
    assert.deepEqual(frame, [
      "churn #3  ✗ FAILED  ████████████████████ 2/2  5.0s",
      "  STAGE    STATUS       ATTEMPT  DURATION",
      "  extract  ✓ SUCCEEDED  1        2.0s",
      "  train    ✗ FAILED     2/3      1.0s      bad data",
    ]);
  });

  it("shows a run whose gate waits as WAITING, with the model version, what it needs and the commands that decide it", () => {
    const wait = {
      approvalRequestId: "req-1",
      status: "OPEN",
      modelName: "churn-model",
      version: 2,
      missing: ["needs 1 more approval by someone other than alice", "expires at 2026-01-02T00:00:00.000Z"],
      onlyRequesterCanApprove: false,
      requestedBy: "alice",
    };
    const waiting: RunSummary = {
      ...run,
      status: "RUNNING",
      startedAt: "2026-01-01T00:00:00Z",
      stageRuns: [
        { ...run.stageRuns[0]!, status: "SUCCEEDED", attempt: 1, startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:01Z" },
        {
          ...run.stageRuns[1]!,
          stageName: "approval",
          maxAttempts: 1,
          status: "WAITING",
          startedAt: "2026-01-01T00:00:01Z",
          approvalWait: wait,
        },
      ],
    };
    const state = new RunState(waiting);
    assert.equal(state.displayStatus, "WAITING");
    const frame = renderFrame(state, PLAIN, { frame: 0, columns: 200, rows: 20, now: Date.parse("2026-01-01T00:00:04Z"), project: "ops" });
    assert.match(frame[0]!, /^churn #3 {2}‖ WAITING {2}/);
    assert.match(
      frame.find((l) => l.includes("approval"))!,
      /approval +‖ WAITING +3\.0s +approval of churn-model v2: needs 1 more approval by someone other than alice/,
    );
    assert.ok(frame.includes("  approval waits for approval of churn-model v2 (request req-1)"), frame.join("\n"));
    assert.ok(frame.includes('    approve: sluice approve churn-model 2 --project ops --reason "…"'), frame.join("\n"));
    assert.ok(frame.includes('    reject:  sluice reject churn-model 2 --project ops --reason "…"'), frame.join("\n"));
    assert.ok(!frame.some((l) => l.includes("--self-approve")), "others may approve: no self-approval offered");

    // A lone admin is offered the explicit self-approval; once decided the gate's notes go away.
    state.setWait("s2", { ...wait, onlyRequesterCanApprove: true });
    assert.ok(renderFrame(state, PLAIN, { frame: 0, columns: 200, rows: 20 }).some((l) => l.endsWith('--reason "…" --self-approve')));
    assert.equal(state.apply(event("stage.succeeded", "09", { id: "s2", name: "approval" })), "approved: churn-model v2 goes on");
    assert.equal(state.displayStatus, "RUNNING");
    assert.ok(!renderFrame(state, PLAIN, { frame: 0, columns: 200, rows: 20 }).some((l) => l.includes("approve")));
  });

  it("turns a stage.waiting event into WAITING (not PENDING) before the server says what for", () => {
    const state = new RunState({ ...run, status: "RUNNING" });
    assert.equal(state.apply(event("stage.waiting", "02", train)), "waiting for approval");
    assert.equal(state.stages[1]!.status, "WAITING");
    assert.equal(state.displayStatus, "WAITING");
  });

  it("fits a large DAG into the terminal by showing the busiest stages and counting the rest", () => {
    const many: RunSummary = {
      ...run,
      status: "RUNNING",
      stageRuns: Array.from({ length: 50 }, (_, i) => ({
        ...run.stageRuns[0]!,
        id: `s${i}`,
        stageName: `leaf-${i}`,
        status: i === 40 ? "RUNNING" : i < 30 ? "SUCCEEDED" : "PENDING",
        attempt: i === 40 ? 1 : 0,
        startedAt: i <= 40 && i !== 40 ? "2026-01-01T00:00:00Z" : i === 40 ? "2026-01-01T00:00:00Z" : null,
        finishedAt: i < 30 ? "2026-01-01T00:00:01Z" : null,
      })),
    };
    const frame = renderFrame(new RunState(many), PLAIN, { frame: 0, columns: 80, rows: 12, now: Date.parse("2026-01-01T00:00:02Z") });
    assert.ok(frame.length <= 12, `${frame.length} lines`);
    assert.ok(
      frame.some((l) => /leaf-40 +⠋ RUNNING/.test(l)),
      "the running stage is shown",
    );
    assert.match(frame.at(-1)!, /… 42 more: \d+ succeeded, \d+ pending/);
  });
});
