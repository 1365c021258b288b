import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { judge, transition } from "../../src/slas/evaluate";
import { parseDuration } from "../../src/pipelines/sla-objectives";

const now = new Date("2026-01-02T03:00:00Z");

describe("judging an SLA (pure)", () => {
  it("live performance: a floor for accuracy and roc_auc, a ceiling for the losses; no window is no data", () => {
    const facts = { kind: "ENDPOINT_LIVE_PERFORMANCE" as const, value: 0.7, windowId: "w", at: now };
    assert.equal(judge({ kind: "ENDPOINT_LIVE_PERFORMANCE", objective: 0.8, metric: "accuracy" }, facts, now).state, "BREACHED");
    assert.equal(judge({ kind: "ENDPOINT_LIVE_PERFORMANCE", objective: 0.6, metric: "roc_auc" }, facts, now).state, "OK");
    assert.equal(judge({ kind: "ENDPOINT_LIVE_PERFORMANCE", objective: 0.5, metric: "rmse" }, facts, now).state, "BREACHED");
    assert.equal(judge({ kind: "ENDPOINT_LIVE_PERFORMANCE", objective: 0.9, metric: "mae" }, facts, now).state, "OK");
    const none = judge({ kind: "ENDPOINT_LIVE_PERFORMANCE", objective: 0.8, metric: "accuracy" }, { ...facts, value: null }, now);
    assert.deepEqual([none.state, none.observed], ["NO_DATA", null]);
  });

  it("deadline: the latest due fire counts; one that never ran is late by the time since it fired", () => {
    const fire = new Date("2026-01-02T02:00:00Z");
    const never = judge(
      { kind: "PIPELINE_DEADLINE", objective: 1800, metric: null },
      { kind: "PIPELINE_DEADLINE", dueFires: [{ schedule: "s", scheduledFor: fire, runId: null, runStatus: null, finishedAt: null }] },
      now,
    );
    assert.deepEqual([never.state, never.observed], ["BREACHED", 3600]);
    const failed = judge(
      { kind: "PIPELINE_DEADLINE", objective: 1800, metric: null },
      {
        kind: "PIPELINE_DEADLINE",
        dueFires: [{ schedule: "s", scheduledFor: fire, runId: "r", runStatus: "FAILED", finishedAt: new Date("2026-01-02T02:05:00Z") }],
      },
      now,
    );
    assert.equal(failed.state, "BREACHED", "a failed run does not meet a deadline, however early it ended");
    const inTime = judge(
      { kind: "PIPELINE_DEADLINE", objective: 1800, metric: null },
      {
        kind: "PIPELINE_DEADLINE",
        dueFires: [{ schedule: "s", scheduledFor: fire, runId: "r", runStatus: "SUCCEEDED", finishedAt: new Date("2026-01-02T02:20:00Z") }],
      },
      now,
    );
    assert.deepEqual([inTime.state, inTime.observed], ["OK", 1200]);
  });

  it("opens a breach once and closes it once", () => {
    assert.equal(transition("PENDING", "BREACHED"), "BREACHED");
    assert.equal(transition("BREACHED", "BREACHED"), null);
    assert.equal(transition("BREACHED", "NO_DATA"), "RECOVERED");
    assert.equal(transition("OK", "NO_DATA"), null);
  });

  it("reads durations in seconds or with a unit, and refuses the rest", () => {
    assert.deepEqual(["90s", "30m", "1.5h", "7d", 120].map(parseDuration), [90, 1800, 5400, 604800, 120]);
    assert.deepEqual(["soon", "0h", -5, "400d", "5 h"].map(parseDuration), [undefined, undefined, undefined, undefined, 5 * 3600]);
  });
});
