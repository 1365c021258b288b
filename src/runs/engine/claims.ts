import type { EntityManager } from "typeorm";
import { returnedRows } from "../../kernel/sql-text";
import type { EventDraft } from "../../events/event.store";
import { RunEvents } from "./run-events";
import { markRunStarted } from "./progress";
import { remember } from "./run-meta";
import { ACTIVE_STAGE, stageWrite, statusIn } from "./run-state";
import { StageRunRow } from "../stage-run.entity";

/** Serializes claims that must respect concurrency limits (per run, pipeline or label). */
const LIMITED_CLAIM_LOCK = 7_404_010;

/** What a claimer (an embedded runner or a remote agent) can take. */
export interface ClaimRequest {
  /** Who will hold the leases: `server:<host>:<pid>` or `agent:<id>`. */
  owner: string;
  labels: readonly string[];
  kinds: readonly string[];
  max: number;
  leaseMs: number;
  /** Most stage runs RUNNING at once with a given label, across every runner. */
  labelLimits?: Readonly<Record<string, number>>;
  /** Only stage runs of these projects (a runner bound to some projects); every project when absent. */
  projectIds?: readonly string[];
}

interface Candidate {
  id: string;
  run_id: string;
  project_id: string;
  pipeline_version_id: string;
  number: number;
  pipeline_id: string;
  run_status: string;
  runner_labels: string[];
  max_parallel: number | null;
  max_runs: number | null;
}

type Tx = { manager: EntityManager; emit(e: EventDraft): void };

/**
 * Leases up to `max` QUEUED stage runs that `req` can execute, oldest first, respecting each
 * run's `maxParallel`, each pipeline's `maxConcurrentRuns` and the label limits. Rows are
 * picked `FOR UPDATE SKIP LOCKED`, so claimers never wait on each other; those whose
 * candidates carry limits also take an advisory lock, so two of them cannot both take the
 * last free slot. Each claim increments the lease epoch, which fences late completions.
 */
export async function claimStageRuns(tx: Tx, req: ClaimRequest): Promise<StageRunRow[]> {
  if (req.max <= 0) return [];
  const candidates: Candidate[] = await tx.manager.query(
    `SELECT sr.id, sr.run_id, r.project_id, r.pipeline_id, r.pipeline_version_id, r.number, r.status AS run_status, sr.runner_labels,
            r.max_parallel, r.max_concurrent_runs AS max_runs
       FROM stage_runs sr
       JOIN runs r ON r.id = sr.run_id
      WHERE ${stageWrite("claimed", "sr").guard} AND (sr.not_before IS NULL OR sr.not_before <= now())
        AND sr.runner_labels <@ $1::text[] AND sr.run_kind = ANY($2::text[])
        AND ($4::uuid[] IS NULL OR r.project_id = ANY($4::uuid[]))
      ORDER BY sr.queued_at, sr.id
      LIMIT $3
      FOR UPDATE OF sr SKIP LOCKED`,
    [req.labels, req.kinds, req.max * 4, req.projectIds ?? null],
  );
  if (candidates.length === 0) return [];
  // A claim lost in a database crash only puts its stages back in the queue (their completion
  // is then refused and they run again), so it need not wait for the WAL flush.
  await tx.manager.query("SET LOCAL synchronous_commit = off");

  const limits = req.labelLimits ?? {};
  const limited = candidates.some(
    (c) => c.max_parallel !== null || c.max_runs !== null || c.runner_labels.some((l) => limits[l] !== undefined),
  );
  let chosen = candidates.slice(0, req.max);
  if (limited) {
    await tx.manager.query("SELECT pg_advisory_xact_lock($1)", [LIMITED_CLAIM_LOCK]);
    chosen = await applyLimits(tx.manager, candidates, req.max, limits);
  }
  if (chosen.length === 0) return [];
  const claim = stageWrite("claimed");
  const claimed = returnedRows<StageRunRow>(
    await tx.manager.query(
      `UPDATE stage_runs SET ${claim.set}, attempt = attempt + 1, lease_owner = $2, lease_epoch = lease_epoch + 1,
              lease_expires_at = now() + make_interval(secs => $3::double precision / 1000), started_at = COALESCE(started_at, now())
        WHERE id = ANY($1) AND ${claim.guard}
        RETURNING id, run_id AS "runId", stage_name AS "stageName", attempt, max_attempts AS "maxAttempts", lease_epoch AS "leaseEpoch",
                  runner_labels AS "runnerLabels", run_kind AS "runKind", params, cancel_requested AS "cancelRequested",
                  GREATEST(queued_at, not_before) AS "readyAt"`,
      [chosen.map((c) => c.id), req.owner, req.leaseMs],
    ),
  );
  if (claimed.length === 0) return [];
  await tx.manager.query(
    `INSERT INTO stage_attempts (stage_run_id, attempt, runner, lease_epoch, started_at, ready_at)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[])`,
    [
      claimed.map((c) => c.id),
      claimed.map((c) => c.attempt),
      claimed.map(() => req.owner),
      claimed.map((c) => c.leaseEpoch),
      claimed.map(() => new Date()),
      // When each became claimable (queued, or its retry delay over): the queue wait is measured from it.
      claimed.map((c) => (c as StageRunRow & { readyAt: Date | null }).readyAt),
    ],
  );
  const candidateOf = new Map(candidates.map((c) => [c.id, c]));
  // The engine needs these facts of each run it just leased; it finds them cached.
  for (const c of candidates)
    remember({
      id: c.run_id,
      projectId: c.project_id,
      pipelineId: c.pipeline_id,
      pipelineVersionId: c.pipeline_version_id,
      number: c.number,
    });
  const started = new Set<string>();
  for (const c of claimed) {
    const cand = candidateOf.get(c.id)!;
    if (cand.run_status === "QUEUED" && !started.has(c.runId)) {
      started.add(c.runId);
      await markRunStarted(tx, c.runId);
    }
    tx.emit({
      type: RunEvents.stageStarted,
      projectId: cand.project_id,
      subjectId: c.runId,
      payload: {
        runId: c.runId,
        pipelineId: cand.pipeline_id,
        stageRunId: c.id,
        stage: c.stageName,
        attempt: c.attempt,
        runner: req.owner,
      },
    });
  }
  return claimed.map((c) => Object.assign(new StageRunRow(), c));
}

/** Keeps the candidates that fit under every limit, counting RUNNING work at this moment. */
async function applyLimits(
  manager: EntityManager,
  candidates: Candidate[],
  max: number,
  limits: Readonly<Record<string, number>>,
): Promise<Candidate[]> {
  const runIds = [...new Set(candidates.filter((c) => c.max_parallel !== null).map((c) => c.run_id))];
  const pipelineIds = [...new Set(candidates.filter((c) => c.max_runs !== null).map((c) => c.pipeline_id))];
  const runningInRun = new Map<string, number>();
  const runningRuns = new Map<string, number>();
  const runningWithLabel = new Map<string, number>();
  if (runIds.length) {
    const rows: Array<{ run_id: string; n: string }> = await manager.query(
      `SELECT run_id, count(*) AS n FROM stage_runs WHERE run_id = ANY($1) AND ${statusIn(ACTIVE_STAGE)} AND runner_labels <> '{}' GROUP BY run_id`,
      [runIds],
    );
    for (const r of rows) runningInRun.set(r.run_id, Number(r.n));
  }
  if (pipelineIds.length) {
    const rows: Array<{ pipeline_id: string; n: string }> = await manager.query(
      `SELECT pipeline_id, count(*) AS n FROM runs WHERE pipeline_id = ANY($1) AND ${statusIn(["RUNNING"])} GROUP BY pipeline_id`,
      [pipelineIds],
    );
    for (const r of rows) runningRuns.set(r.pipeline_id, Number(r.n));
  }
  for (const label of Object.keys(limits)) {
    const [{ n }] = await manager.query(
      `SELECT count(*) AS n FROM stage_runs WHERE ${statusIn(ACTIVE_STAGE)} AND $1 = ANY(runner_labels)`,
      [label],
    );
    runningWithLabel.set(label, Number(n));
  }
  const startedRuns = new Set<string>();
  const chosen: Candidate[] = [];
  for (const c of candidates) {
    if (chosen.length >= max) break;
    if (c.max_parallel !== null && (runningInRun.get(c.run_id) ?? 0) >= c.max_parallel) continue;
    const startsRun = c.run_status !== "RUNNING" && !startedRuns.has(c.run_id);
    if (c.max_runs !== null && startsRun && (runningRuns.get(c.pipeline_id) ?? 0) >= c.max_runs) continue;
    if (c.runner_labels.some((l) => limits[l] !== undefined && (runningWithLabel.get(l) ?? 0) >= limits[l]!)) continue;
    chosen.push(c);
    runningInRun.set(c.run_id, (runningInRun.get(c.run_id) ?? 0) + 1);
    if (startsRun) {
      startedRuns.add(c.run_id);
      runningRuns.set(c.pipeline_id, (runningRuns.get(c.pipeline_id) ?? 0) + 1);
    }
    for (const l of c.runner_labels) if (limits[l] !== undefined) runningWithLabel.set(l, (runningWithLabel.get(l) ?? 0) + 1);
  }
  return chosen;
}

/**
 * Extends the leases `owner` still holds among `ids`; returns, for each, whether it is still
 * held and whether its run asked it to stop.
 */
export async function renewLeases(
  manager: EntityManager,
  owner: string,
  ids: readonly string[],
  leaseMs: number,
): Promise<Array<{ id: string; leaseEpoch: number; cancelRequested: boolean }>> {
  if (ids.length === 0) return [];
  return returnedRows(
    await manager.query(
      `UPDATE stage_runs SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
        WHERE id = ANY($1) AND lease_owner = $2 AND ${statusIn(ACTIVE_STAGE)}
        RETURNING id, lease_epoch AS "leaseEpoch", cancel_requested AS "cancelRequested"`,
      [ids, owner, leaseMs],
    ),
  );
}
