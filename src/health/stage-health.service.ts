/**
 * Operational health of pipeline stages, read from the run engine's own records — stage runs,
 * their attempts (with `ready_at`, when each could first start) and the dataset versions stages
 * read and produced — so nothing is written twice and every figure matches the run's history.
 *
 * A series cuts [from, to) into steps and puts each attempt in the step its `started_at` falls
 * in: attempts, their outcomes, retries (attempts after the first), failure kinds, duration and
 * queue wait (`started_at − ready_at`) quantiles (exact: `percentile_cont` over the attempts),
 * and rows read and produced by its successful attempts.
 */
import type { DataSource } from "typeorm";
import { FAILURE_KINDS, failureKind } from "./failure-kinds";
import { seriesPoints } from "./series-window";

/** Failure counts of one kind. */
export interface FailureCount {
  kind: string;
  count: number;
}

/** One step of a stage's series. */
export interface StageHealthPoint {
  /** The step's start. */
  at: Date;
  /** Attempts started in the step. */
  attempts: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Attempts whose lease expired (the runner vanished). */
  lost: number;
  /** Attempts still running. */
  running: number;
  /** Attempts after a stage run's first (retries). */
  retries: number;
  /** Failed and lost attempts by kind (FAILURE_KINDS), kinds with none left out. */
  failures: FailureCount[];
  /** Duration of finished attempts, seconds; null with none. */
  durationP50: number | null;
  durationP99: number | null;
  durationMax: number | null;
  /** Queue wait (ready → started), seconds; null with none recorded. */
  queueWaitP50: number | null;
  queueWaitP99: number | null;
  queueWaitMax: number | null;
  /** Rows of the dataset versions the step's successful attempts read (their inputs). */
  rowsIn: number;
  /** Rows of the dataset versions they produced. */
  rowsOut: number;
}

/** Which stage, when, and how finely. */
export interface StageHealthQuery {
  pipelineId: string;
  stage: string;
  from: Date;
  to: Date;
  stepSeconds: number;
}

interface StepRow {
  step: number;
  attempts: number;
  succeeded: number;
  failed: number;
  canceled: number;
  lost: number;
  running: number;
  retries: number;
  duration_p50: number | null;
  duration_p99: number | null;
  duration_max: number | null;
  wait_p50: number | null;
  wait_p99: number | null;
  wait_max: number | null;
  rows_in: string | null;
  rows_out: string | null;
}

export class StageHealthService {
  constructor(private readonly db: DataSource) {}

  /**
   * The stage's series over [from, to), one point per step (empty steps included).
   *
   * @throws InvalidInputError for a bad step or window (series-window.ts)
   */
  async series(q: StageHealthQuery): Promise<StageHealthPoint[]> {
    const points = seriesPoints(q.from, q.to, q.stepSeconds);
    const params = [q.pipelineId, q.stage, q.from.toISOString(), q.to.toISOString(), q.stepSeconds];
    // Runs created after the window cannot have attempts in it: the runs index bounds the scan.
    const attempts = `
      SELECT floor(extract(epoch FROM (sa.started_at - $3::timestamptz)) / $5)::int AS step, sa.stage_run_id, sa.attempt, sa.outcome,
             sa.failure->>'type' AS failure_type,
             extract(epoch FROM (sa.finished_at - sa.started_at))::float8 AS duration,
             GREATEST(0, extract(epoch FROM (sa.started_at - sa.ready_at)))::float8 AS wait
        FROM runs r
        JOIN stage_runs sr ON sr.run_id = r.id AND sr.stage_name = $2
        JOIN stage_attempts sa ON sa.stage_run_id = sr.id
       WHERE r.pipeline_id = $1 AND r.created_at < $4 AND sa.started_at >= $3 AND sa.started_at < $4`;
    const steps = (await this.db.query(
      `WITH a AS (${attempts}),
            io AS (
              SELECT a.step,
                     (SELECT sum(m) FROM (SELECT max(dv.row_count) AS m FROM stage_run_inputs i JOIN dataset_versions dv ON dv.artifact_id = i.artifact_id
                                           WHERE i.stage_run_id = a.stage_run_id GROUP BY i.input_name) x) AS rows_in,
                     (SELECT sum(dv.row_count) FROM dataset_versions dv WHERE dv.produced_by = a.stage_run_id) AS rows_out
                FROM a WHERE a.outcome = 'SUCCEEDED')
       SELECT s.*, (SELECT sum(rows_in) FROM io WHERE io.step = s.step) AS rows_in, (SELECT sum(rows_out) FROM io WHERE io.step = s.step) AS rows_out
         FROM (SELECT step, count(*)::int AS attempts,
                      count(*) FILTER (WHERE outcome = 'SUCCEEDED')::int AS succeeded,
                      count(*) FILTER (WHERE outcome = 'FAILED')::int AS failed,
                      count(*) FILTER (WHERE outcome = 'CANCELED')::int AS canceled,
                      count(*) FILTER (WHERE outcome = 'LOST')::int AS lost,
                      count(*) FILTER (WHERE outcome IS NULL)::int AS running,
                      count(*) FILTER (WHERE attempt > 1)::int AS retries,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) AS duration_p50,
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY duration) AS duration_p99,
                      max(duration) AS duration_max,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY wait) AS wait_p50,
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY wait) AS wait_p99,
                      max(wait) AS wait_max
                 FROM a GROUP BY step) s`,
      params,
    )) as StepRow[];
    const kinds = (await this.db.query(
      `WITH a AS (${attempts}) SELECT step, failure_type, count(*)::int AS n FROM a WHERE outcome IN ('FAILED', 'LOST') GROUP BY 1, 2`,
      params,
    )) as Array<{ step: number; failure_type: string | null; n: number }>;
    const failures = new Map<number, Map<string, number>>();
    for (const k of kinds) {
      const m = failures.get(k.step) ?? new Map<string, number>();
      const kind = failureKind(k.failure_type);
      m.set(kind, (m.get(kind) ?? 0) + k.n);
      failures.set(k.step, m);
    }
    const byStep = new Map(steps.map((s) => [Number(s.step), s]));
    const num = (v: number | string | null | undefined) => (v === null || v === undefined ? null : Number(v));
    return Array.from({ length: points }, (_, k): StageHealthPoint => {
      const s = byStep.get(k);
      const f = failures.get(k);
      return {
        at: new Date(q.from.getTime() + k * q.stepSeconds * 1000),
        attempts: s?.attempts ?? 0,
        succeeded: s?.succeeded ?? 0,
        failed: s?.failed ?? 0,
        canceled: s?.canceled ?? 0,
        lost: s?.lost ?? 0,
        running: s?.running ?? 0,
        retries: s?.retries ?? 0,
        failures: f ? FAILURE_KINDS.filter((kind) => f.has(kind)).map((kind) => ({ kind, count: f.get(kind)! })) : [],
        durationP50: num(s?.duration_p50),
        durationP99: num(s?.duration_p99),
        durationMax: num(s?.duration_max),
        queueWaitP50: num(s?.wait_p50),
        queueWaitP99: num(s?.wait_p99),
        queueWaitMax: num(s?.wait_max),
        rowsIn: Number(s?.rows_in ?? 0),
        rowsOut: Number(s?.rows_out ?? 0),
      };
    });
  }

  /** The pipeline's project, for the permission check; undefined when no such pipeline exists. */
  async projectOfPipeline(pipelineId: string): Promise<string | undefined> {
    const [row] = (await this.db.query("SELECT project_id FROM pipelines WHERE id = $1", [pipelineId])) as Array<{ project_id: string }>;
    return row?.project_id;
  }
}
