/**
 * Stage health in Prometheus `/metrics`: attempts by outcome, failures by kind, durations, queue
 * waits and rows, by pipeline and stage.
 *
 * Counted from the stage events (`stage.started`, `stage.succeeded`, `stage.failed`,
 * `stage.retrying`, `stage.canceled`) by the process that leads (the trigger leader), reading
 * the attempt's row for its times: every process hears every event, so counting in all of them
 * would multiply the figures when Prometheus sums its targets. Counters restart in a new leader,
 * as Prometheus counters may.
 *
 * Label sets are bounded: `pipeline` keeps the first MAX_PIPELINE_LABELS pipeline names,
 * (`pipeline`, `stage`) the first MAX_STAGE_LABELS pairs — later ones are `other` — and `kind`
 * takes values from FAILURE_KINDS only.
 */
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { DataSource } from "typeorm";
import type { EventBus } from "../events/event-bus";
import { BoundedLabel } from "../kernel/bounded-label";
import { RunEvents } from "../runs";
import { failureKind } from "./failure-kinds";

/** Distinct pipeline names kept as `pipeline` label values. */
export const MAX_PIPELINE_LABELS = 100;
/** Distinct (pipeline, stage) pairs kept; past it `stage` (and an unseen pipeline) is `other`. */
export const MAX_STAGE_LABELS = 500;

const FINISHED = [RunEvents.stageSucceeded, RunEvents.stageFailed, RunEvents.stageRetrying, RunEvents.stageCanceled] as const;

interface AttemptRow {
  pipeline: string;
  stage: string;
  outcome: string | null;
  failure_type: string | null;
  duration: number | null;
  wait: number | null;
  rows_in: string | null;
  rows_out: string | null;
}

export class StageHealthMetrics {
  readonly attempts: Counter<"pipeline" | "stage" | "outcome">;
  readonly failures: Counter<"pipeline" | "stage" | "kind">;
  readonly duration: Histogram<"pipeline" | "stage">;
  readonly queueWait: Histogram<"pipeline" | "stage">;
  readonly rows: Counter<"pipeline" | "stage" | "direction">;
  private readonly pipelines = new BoundedLabel(MAX_PIPELINE_LABELS);
  private readonly pairs = new BoundedLabel(MAX_STAGE_LABELS, 512);
  private subscription: AsyncIterableIterator<unknown> | undefined;
  private active = false;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    registry: Registry,
    private readonly deps: { db: DataSource; events: EventBus; isLeader: () => boolean; log: Logger },
  ) {
    this.attempts = new Counter({
      name: "sluice_stage_attempts_total",
      help: "Finished stage attempts by pipeline, stage and outcome (SUCCEEDED, FAILED, CANCELED, LOST); counted by the leading process",
      labelNames: ["pipeline", "stage", "outcome"] as const,
      registers: [registry],
    });
    this.failures = new Counter({
      name: "sluice_stage_failures_total",
      help: "Failed or lost stage attempts by pipeline, stage and failure kind (a fixed list; others are OTHER)",
      labelNames: ["pipeline", "stage", "kind"] as const,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "sluice_stage_duration_seconds",
      help: "Duration of finished stage attempts (started to finished)",
      labelNames: ["pipeline", "stage"] as const,
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 10800],
      registers: [registry],
    });
    this.queueWait = new Histogram({
      name: "sluice_stage_queue_wait_seconds",
      help: "Time a stage attempt waited between ready (queued, or its retry delay over) and started",
      labelNames: ["pipeline", "stage"] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    });
    this.rows = new Counter({
      name: "sluice_stage_rows_total",
      help: "Rows of the dataset versions successful stage attempts read (direction=in) and produced (out)",
      labelNames: ["pipeline", "stage", "direction"] as const,
      registers: [registry],
    });
  }

  /** Listens to stage events (counted while this process leads). */
  start(): void {
    if (this.active) return;
    this.active = true;
    const subscription = this.deps.events.subscribe({ types: [RunEvents.stageStarted, ...FINISHED] });
    this.subscription = subscription;
    void (async () => {
      try {
        for await (const e of subscription) {
          if (!this.deps.isLeader()) continue;
          const p = e.payload as { stageRunId?: string; attempt?: number };
          if (typeof p.stageRunId !== "string" || typeof p.attempt !== "number") continue;
          const started = e.type === RunEvents.stageStarted;
          this.pending = this.pending.then(() => this.observe(p.stageRunId!, p.attempt!, started)).catch(() => undefined);
        }
      } catch (err) {
        if (this.active) this.deps.log.warn({ err }, "stage health metrics stopped receiving stage events");
      }
    })();
  }

  /** Resolves when every event received so far has been counted (tests). */
  settled(): Promise<void> {
    return this.pending;
  }

  /** The bounded labels of a pipeline's stage. */
  labels(pipeline: string, stage: string): { pipeline: string; stage: string } {
    const p = this.pipelines.of(pipeline);
    const pair = this.pairs.of(JSON.stringify([p, stage]));
    if (pair === "other" || pair === "invalid_name") return { pipeline: p, stage: pair };
    return { pipeline: p, stage };
  }

  private async observe(stageRunId: string, attempt: number, started: boolean): Promise<void> {
    try {
      const [row] = (await this.deps.db.query(
        `SELECT p.name AS pipeline, sr.stage_name AS stage, sa.outcome, sa.failure->>'type' AS failure_type,
                extract(epoch FROM (sa.finished_at - sa.started_at))::float8 AS duration,
                GREATEST(0, extract(epoch FROM (sa.started_at - sa.ready_at)))::float8 AS wait,
                CASE WHEN sa.outcome = 'SUCCEEDED' THEN
                  (SELECT sum(m) FROM (SELECT max(dv.row_count) AS m FROM stage_run_inputs i JOIN dataset_versions dv ON dv.artifact_id = i.artifact_id
                                        WHERE i.stage_run_id = sr.id GROUP BY i.input_name) x) END AS rows_in,
                CASE WHEN sa.outcome = 'SUCCEEDED' THEN (SELECT sum(dv.row_count) FROM dataset_versions dv WHERE dv.produced_by = sr.id) END AS rows_out
           FROM stage_attempts sa JOIN stage_runs sr ON sr.id = sa.stage_run_id JOIN runs r ON r.id = sr.run_id JOIN pipelines p ON p.id = r.pipeline_id
          WHERE sa.stage_run_id = $1 AND sa.attempt = $2`,
        [stageRunId, attempt],
      )) as AttemptRow[];
      if (!row) return;
      const labels = this.labels(row.pipeline, row.stage);
      if (started) {
        if (row.wait !== null) this.queueWait.observe(labels, row.wait);
        return;
      }
      if (!row.outcome) return;
      this.attempts.inc({ ...labels, outcome: row.outcome });
      if (row.duration !== null) this.duration.observe(labels, row.duration);
      if (row.outcome === "FAILED" || row.outcome === "LOST") this.failures.inc({ ...labels, kind: failureKind(row.failure_type) });
      if (row.rows_in !== null) this.rows.inc({ ...labels, direction: "in" }, Number(row.rows_in));
      if (row.rows_out !== null) this.rows.inc({ ...labels, direction: "out" }, Number(row.rows_out));
    } catch (err) {
      this.deps.log.warn({ err, stageRunId, attempt }, "stage health metrics could not read an attempt");
    }
  }

  async close(): Promise<void> {
    this.active = false;
    await this.subscription?.return?.();
    await this.pending;
  }
}
