/**
 * The transition tables of run-state.ts against the real database: every (state, event) pair of
 * stages and runs is applied to a row in that state, through both writers the code uses — the
 * row writer (`transitionStageRuns`, `transitionRun`) and the SQL fragments (`stageWrite`,
 * `runWrite`) that the engine's set-wise updates embed. An allowed pair moves the row to the
 * table's state; every other pair is refused and leaves the row exactly as it was.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EntityManager } from "typeorm";
import {
  IllegalTransitionError,
  RUN_STATUSES,
  RUN_TRANSITION_EVENTS,
  type RunStatus,
  type RunTransitionEvent,
  STAGE_STATUSES,
  STAGE_TRANSITION_EVENTS,
  type StageEvent,
  type StageStatus,
  nextRunStatus,
  nextStageStatus,
  runWrite,
  stageWrite,
  transitionRun,
  transitionStageRun,
  transitionStageRuns,
} from "../../src/runs/engine/run-state";
import { returnedRows } from "../../src/kernel/sql-text";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, moduleRun, triggerRun } from "../helpers/pipelines";
import { startTestServer, type TestServer } from "../helpers/server";

/** The stage table, spelled out: a change to run-state.ts's table must change this too. */
const STAGE_ALLOWED: Record<string, StageStatus> = {
  "PENDING upstream-succeeded": "QUEUED",
  "PENDING upstream-failed": "SKIPPED",
  "PENDING reused": "SUCCEEDED",
  "PENDING wait": "WAITING",
  "PENDING withdrawn": "CANCELED",
  "QUEUED claimed": "RUNNING",
  "QUEUED withdrawn": "CANCELED",
  "RUNNING succeeded": "SUCCEEDED",
  "RUNNING failed": "FAILED",
  "RUNNING retry": "QUEUED",
  "RUNNING canceled": "CANCELED",
  "WAITING succeeded": "SUCCEEDED",
  "WAITING failed": "FAILED",
  "WAITING withdrawn": "CANCELED",
  "WAITING canceled": "CANCELED",
};

const RUN_ALLOWED: Record<string, RunStatus> = {
  "QUEUED started": "RUNNING",
  "QUEUED succeeded": "SUCCEEDED",
  "QUEUED failed": "FAILED",
  "QUEUED canceled": "CANCELED",
  "RUNNING succeeded": "SUCCEEDED",
  "RUNNING failed": "FAILED",
  "RUNNING canceled": "CANCELED",
};

describe("run-state: the only writer of stage and run status", () => {
  let t: TestServer;
  let manager: EntityManager;
  let runId: string;
  let stageRunId: string;

  before(async () => {
    // No runner in this process, and the stage asks for a label nobody serves: nothing but this
    // test moves the rows.
    t = await startTestServer({ env: { SLUICE_RUNNERS: "none" } });
    manager = t.server.services.db.dataSource.manager;
    const projectId = await seedProject(t, "run-state");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "transitions",
      stages: [{ name: "only", run: moduleRun("produce"), runner: { labels: ["nobody-serves-this"] }, outputs: { out: { kind: "File" } } }],
    });
    runId = await triggerRun(t, pipelineId);
    [{ id: stageRunId }] = await manager.query(`SELECT id FROM stage_runs WHERE run_id = $1`, [runId]);
  });
  after(() => t.close());

  // Test set-up writes the starting state directly: the one place outside run-state.ts that may.
  const putStage = (status: StageStatus) => manager.query(`UPDATE stage_runs SET status = $2 WHERE id = $1`, [stageRunId, status]);
  const putRun = (status: RunStatus) => manager.query(`UPDATE runs SET status = $2 WHERE id = $1`, [runId, status]);
  const stageRow = async () => (await manager.query(`SELECT * FROM stage_runs WHERE id = $1`, [stageRunId]))[0];
  const runRow = async () => (await manager.query(`SELECT * FROM runs WHERE id = $1`, [runId]))[0];

  it("spells out the same stage table as run-state.ts", () => {
    for (const from of STAGE_STATUSES) {
      for (const event of STAGE_TRANSITION_EVENTS) {
        const expected = STAGE_ALLOWED[`${from} ${event}`];
        if (expected) assert.equal(nextStageStatus(from, event), expected, `${from} ${event}`);
        else assert.throws(() => nextStageStatus(from, event), IllegalTransitionError, `${from} ${event}`);
      }
    }
    assert.deepEqual(new Set(STAGE_TRANSITION_EVENTS), new Set(Object.keys(STAGE_ALLOWED).map((k) => k.split(" ")[1])));
  });

  it("spells out the same run table as run-state.ts", () => {
    for (const from of RUN_STATUSES) {
      for (const event of RUN_TRANSITION_EVENTS) {
        const expected = RUN_ALLOWED[`${from} ${event}`];
        if (expected) assert.equal(nextRunStatus(from, event), expected, `${from} ${event}`);
        else assert.throws(() => nextRunStatus(from, event), IllegalTransitionError, `${from} ${event}`);
      }
    }
  });

  /** Applies `event` to the stage row in `from` through `write`; checks it moved, or that nothing changed. */
  async function walkStage(write: (event: StageEvent) => Promise<unknown>, label: string): Promise<number> {
    let pairs = 0;
    for (const from of STAGE_STATUSES) {
      for (const event of STAGE_TRANSITION_EVENTS) {
        await putStage(from);
        const before = await stageRow();
        const expected = STAGE_ALLOWED[`${from} ${event}`];
        const moved = await write(event);
        const after = await stageRow();
        if (expected) {
          assert.equal(moved, 1, `${label}: ${from} --${event}--> should move`);
          assert.equal(after.status, expected, `${label}: ${from} --${event}-->`);
        } else {
          assert.equal(moved, 0, `${label}: ${from} --${event}--> should be refused`);
          assert.deepEqual(after, before, `${label}: ${from} --${event}--> changed the row`);
        }
        pairs++;
      }
    }
    return pairs;
  }

  it("applies every allowed stage transition with the row writer and refuses every other pair", async () => {
    const pairs = await walkStage((event) => transitionStageRuns(manager, event, [stageRunId], { finishedAt: null }), "row writer");
    assert.equal(pairs, STAGE_STATUSES.length * STAGE_TRANSITION_EVENTS.length);
  });

  it("applies every allowed stage transition with the SQL fragments and refuses every other pair", async () => {
    await walkStage(async (event) => {
      const w = stageWrite(event, "sr");
      const rows = returnedRows(
        await manager.query(`UPDATE stage_runs sr SET ${w.set} WHERE sr.id = $1 AND ${w.guard} RETURNING sr.id`, [stageRunId]),
      );
      return rows.length;
    }, "SQL fragments");
  });

  it("throws IllegalTransitionError for a single stage run the table refuses, writing nothing", async () => {
    await putStage("SUCCEEDED");
    const before = await stageRow();
    await assert.rejects(transitionStageRun(manager, "retry", stageRunId, { queuedAt: new Date() }), (err: unknown) => {
      assert.ok(err instanceof IllegalTransitionError);
      assert.equal(err.from, "SUCCEEDED");
      assert.equal(err.event, "retry");
      return true;
    });
    assert.deepEqual(await stageRow(), before);
    await putStage("RUNNING");
    const queuedAt = new Date("2030-01-01T00:00:00Z");
    await transitionStageRun(manager, "retry", stageRunId, { queuedAt });
    const moved = await stageRow();
    assert.equal(moved.status, "QUEUED");
    assert.equal(new Date(moved.queued_at).toISOString(), queuedAt.toISOString(), "the patch is written with the status");
  });

  async function walkRun(write: (event: RunTransitionEvent) => Promise<boolean>, label: string): Promise<void> {
    for (const from of RUN_STATUSES) {
      for (const event of RUN_TRANSITION_EVENTS) {
        await putRun(from);
        const before = await runRow();
        const expected = RUN_ALLOWED[`${from} ${event}`];
        const moved = await write(event);
        const after = await runRow();
        if (expected) {
          assert.equal(moved, true, `${label}: run ${from} --${event}--> should move`);
          assert.equal(after.status, expected, `${label}: run ${from} --${event}-->`);
        } else {
          assert.equal(moved, false, `${label}: run ${from} --${event}--> should be refused`);
          assert.deepEqual(after, before, `${label}: run ${from} --${event}--> changed the row`);
        }
      }
    }
  }

  it("applies every allowed run transition with the row writer and refuses every other pair", async () => {
    await walkRun((event) => transitionRun(manager, event, runId, { finishedAt: null }), "row writer");
  });

  it("applies every allowed run transition with the SQL fragments and refuses every other pair", async () => {
    await walkRun(async (event) => {
      const w = runWrite(event);
      const rows = returnedRows(await manager.query(`UPDATE runs SET ${w.set} WHERE id = $1 AND ${w.guard} RETURNING id`, [runId]));
      return rows.length === 1;
    }, "SQL fragments");
  });
});
