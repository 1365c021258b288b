import type { EntityManager } from "typeorm";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import { runSystemChange } from "../events/system-change";
import { openSlaAlert, resolveSlaAlert } from "../monitoring";
import { type EndpointStatsService } from "../serving";
import { latestMissedFire } from "../triggers";
import { type DueFire, judge, type SlaFacts, type SlaJudgement, transition } from "./evaluate";
import type { SlaKind } from "../pipelines/sla-objectives";
import { SlaBreachRow, SlaRow } from "./sla.entities";
import { SlaEvents, slaStatePayload } from "./sla-events";

/** What checking SLAs uses of the server. */
export interface SlaCheckerDeps {
  db: Database;
  events: EventBus;
  /** The endpoints' request statistics by minute (latency, errors). */
  endpointStats: EndpointStatsService;
}

/** What one check of one SLA did. */
export interface SlaCheck {
  slaId: string;
  judgement: SlaJudgement;
  change: "BREACHED" | "RECOVERED" | null;
}

type Row = Record<string, unknown>;
/** A run's status as it stood at `now`: one that ended after `now` was still running then. */
const statusAt = (status: unknown, finished: boolean): string =>
  finished || !["SUCCEEDED", "FAILED", "CANCELED"].includes(String(status)) ? String(status) : "RUNNING";
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/**
 * Judges SLAs at an instant: reads what each kind needs from the database (runs, schedules and
 * their fires, dataset versions, validation reports, monitoring's live metrics), lets the pure
 * `judge` decide, and stores the result. A change of state opens a breach — its `sla_breaches`
 * row, an alert in the project's alert list and an `sla.breached` event — or closes it
 * (`sla.recovered`, the alert resolved), once per breach: each SLA is judged under its row lock,
 * so two leaders for a moment still breach it once. Nothing that happens after `now` is counted,
 * so a check at a past instant sees what was true then.
 */
export class SlaChecker {
  constructor(private readonly deps: SlaCheckerDeps) {}

  /** Checks every enabled SLA at `now`; an SLA whose check fails is logged by the caller and retried next round. */
  async checkAll(now: Date, onError: (slaId: string, err: unknown) => void): Promise<SlaCheck[]> {
    const ids = (await this.deps.db.dataSource.manager.query(`SELECT id FROM slas WHERE enabled ORDER BY created_at, id`)) as Array<{
      id: string;
    }>;
    const done: SlaCheck[] = [];
    for (const { id } of ids) {
      try {
        const check = await this.check(id, now);
        if (check) done.push(check);
      } catch (err) {
        onError(id, err);
      }
    }
    return done;
  }

  /** Checks one SLA at `now`; null when it no longer exists or is disabled. */
  async check(slaId: string, now: Date): Promise<SlaCheck | null> {
    // What happened is read before the transaction (the reads may use other connections: on PGlite
    // there is one, which the transaction would hold); the decision is made under the row lock.
    const manager = this.deps.db.dataSource.manager;
    const seen = await manager.getRepository(SlaRow).findOneBy({ id: slaId });
    if (!seen || !seen.enabled) return null;
    const observed = await facts(manager, this.deps.endpointStats, seen, now);
    return runSystemChange(this.deps, async (tx) => {
      const row = await tx.manager.getRepository(SlaRow).findOne({ where: { id: slaId }, lock: { mode: "pessimistic_write" } });
      if (!row || !row.enabled) return null;
      // Judged as it is now: a change of its objective since the read is taken into account.
      const judgement = judge({ kind: row.kind as SlaKind, objective: Number(row.objective), metric: row.metric }, observed, now);
      const change = transition(row.state, judgement.state);
      const breaches = tx.manager.getRepository(SlaBreachRow);
      if (change === "BREACHED") {
        const breach = await breaches.save(
          breaches.create({
            slaId: row.id,
            projectId: row.projectId,
            startedAt: now,
            observed: judgement.observed!,
            objective: Number(row.objective),
            windowSeconds: row.windowSeconds,
            detail: judgement.detail as never,
          }),
        );
        const alert = await openSlaAlert(tx, {
          projectId: row.projectId,
          slaId: row.id,
          subjectName: row.subjectName,
          kind: row.kind,
          severity: row.severity,
          observed: judgement.observed!,
          objective: Number(row.objective),
          at: now,
          about: { sla: row.name, subjectKind: row.subjectKind, windowSeconds: row.windowSeconds, breachId: breach.id },
        });
        breach.alertId = alert.id;
        await breaches.save(breach);
        row.openBreachId = breach.id;
        tx.emit({
          type: SlaEvents.breached,
          projectId: row.projectId,
          subjectId: row.id,
          payload: slaStatePayload(row, breach, judgement.observed, judgement.detail),
        });
      } else if (change === "RECOVERED") {
        const breach = row.openBreachId ? await breaches.findOneBy({ id: row.openBreachId }) : null;
        await resolveSlaAlert(tx, row.id, now, judgement.observed);
        if (breach) {
          breach.recoveredAt = now;
          breach.recoveredObserved = judgement.observed;
          await breaches.save(breach);
          tx.emit({
            type: SlaEvents.recovered,
            projectId: row.projectId,
            subjectId: row.id,
            payload: {
              ...slaStatePayload(row, breach, judgement.observed, judgement.detail),
              state: judgement.state,
              recoveredAt: now.toISOString(),
              breachSeconds: (now.getTime() - breach.startedAt.getTime()) / 1000,
            },
          });
        }
        row.openBreachId = null;
      }
      if (row.state !== judgement.state || row.stateSince === null) row.stateSince = now;
      row.state = judgement.state;
      row.observed = judgement.observed;
      row.evaluatedAt = now;
      row.detail = judgement.detail as never;
      // Only the judgement's columns, in SQL: a concurrent edit of the definition is not overwritten,
      // and updated_at keeps meaning "the definition changed".
      await tx.manager.query(
        `UPDATE slas SET state = $2, observed = $3, evaluated_at = $4, state_since = $5, detail = $6, open_breach_id = $7 WHERE id = $1`,
        [row.id, row.state, row.observed, row.evaluatedAt, row.stateSince, JSON.stringify(row.detail), row.openBreachId],
      );
      return { slaId: row.id, judgement, change };
    });
  }
}

/** What the SLA's kind needs to be judged at `now`, read from the database. */
async function facts(m: EntityManager, endpointStats: EndpointStatsService, sla: SlaRow, now: Date): Promise<SlaFacts> {
  const kind = sla.kind as SlaKind;
  const from = sla.windowSeconds === null ? null : new Date(now.getTime() - Number(sla.windowSeconds) * 1000);
  const one = async (sql: string, params: unknown[]): Promise<Row | undefined> => ((await m.query(sql, params)) as Row[])[0];
  switch (kind) {
    case "PIPELINE_FRESHNESS": {
      const r = await one(
        `SELECT max(r.finished_at) AS at FROM runs r JOIN pipelines p ON p.id = r.pipeline_id
          WHERE p.project_id = $1 AND p.name = $2 AND r.status = 'SUCCEEDED' AND r.finished_at <= $3`,
        [sla.projectId, sla.subjectName, now],
      );
      return { kind, newestAt: date(r?.at), since: sla.createdAt };
    }
    case "PIPELINE_DEADLINE":
      return { kind, dueFires: await dueFires(m, sla, now) };
    case "PIPELINE_MAX_DURATION": {
      const r = await one(
        `SELECT r.id, r.status, r.started_at, r.finished_at FROM runs r JOIN pipelines p ON p.id = r.pipeline_id
          WHERE p.project_id = $1 AND p.name = $2 AND r.started_at IS NOT NULL AND r.started_at <= $3
          ORDER BY r.started_at DESC, r.id DESC LIMIT 1`,
        [sla.projectId, sla.subjectName, now],
      );
      if (!r) return { kind, latestRun: null };
      const finishedAt = date(r.finished_at);
      const finished = finishedAt !== null && finishedAt <= now;
      return {
        kind,
        latestRun: {
          id: String(r.id),
          startedAt: date(r.started_at)!,
          finishedAt: finished ? finishedAt : null,
          status: statusAt(r.status, finished),
        },
      };
    }
    case "PIPELINE_FAILURE_RATE": {
      const r = await one(
        `SELECT count(*) FILTER (WHERE r.status = 'SUCCEEDED') AS ok, count(*) FILTER (WHERE r.status = 'FAILED') AS failed
           FROM runs r JOIN pipelines p ON p.id = r.pipeline_id
          WHERE p.project_id = $1 AND p.name = $2 AND r.finished_at > $3 AND r.finished_at <= $4`,
        [sla.projectId, sla.subjectName, from, now],
      );
      return { kind, succeeded: Number(r?.ok ?? 0), failed: Number(r?.failed ?? 0) };
    }
    case "DATASET_FRESHNESS": {
      const r = await one(
        `SELECT max(v.created_at) AS at FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id
          WHERE d.project_id = $1 AND d.name = $2 AND v.created_at <= $3`,
        [sla.projectId, sla.subjectName, now],
      );
      return { kind, newestAt: date(r?.at), since: sla.createdAt };
    }
    case "DATASET_MIN_ROWS": {
      const r = await one(
        `SELECT v.id, v.row_count FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id
          WHERE d.project_id = $1 AND d.name = $2 AND v.created_at <= $3
          ORDER BY v.created_at DESC, v.version DESC LIMIT 1`,
        [sla.projectId, sla.subjectName, now],
      );
      return { kind, newestRows: r ? Number(r.row_count) : null, versionId: r ? String(r.id) : null };
    }
    case "DATASET_VALIDATION_PASS_RATE": {
      const r = await one(
        `SELECT count(*) FILTER (WHERE v.success) AS passed, count(*) AS total
           FROM validation_reports v JOIN datasets d ON d.id = v.dataset_id
          WHERE d.project_id = $1 AND d.name = $2 AND v.created_at > $3 AND v.created_at <= $4`,
        [sla.projectId, sla.subjectName, from, now],
      );
      return { kind, passed: Number(r?.passed ?? 0), total: Number(r?.total ?? 0) };
    }
    case "ENDPOINT_LATENCY_P50":
    case "ENDPOINT_LATENCY_P99":
    case "ENDPOINT_ERROR_RATE":
    case "ENDPOINT_AVAILABILITY": {
      // Whole minutes starting in the window; what callers saw (primary and canary, not shadow copies).
      const w = await endpointStats.window({
        projectId: sla.projectId,
        servedName: sla.subjectName,
        from: from!,
        to: now,
        variants: ["primary", "canary"],
      });
      return {
        kind,
        requests: w.requests,
        badRequests: w.badRequests,
        refused: w.refused,
        serverErrors: w.serverErrors,
        p50Ms: w.p50Ms,
        p99Ms: w.p99Ms,
      };
    }
    case "ENDPOINT_LIVE_PERFORMANCE": {
      // The newest value of the metric among the primary variant's windows closed in the window.
      const r = await one(
        `SELECT m.value, m.window_id, m.at FROM monitoring_metrics m JOIN monitoring_windows w ON w.id = m.window_id
          WHERE m.project_id = $1 AND m.served_name = $2 AND m.metric = $3 AND m.feature = '' AND w.variant = 'primary'
            AND m.at > $4 AND m.at <= $5
          ORDER BY m.at DESC LIMIT 1`,
        [sla.projectId, sla.subjectName, sla.metric, from, now],
      );
      return { kind, value: r ? Number(r.value) : null, windowId: r ? String(r.window_id) : null, at: date(r?.at) };
    }
  }
}

/**
 * Each active schedule's latest fire whose deadline (`fire + objective`) has passed by `now`,
 * counting only fires after both the schedule and the SLA existed, with the run it started if
 * any. Fires are computed from the cron expression, not read from the fire history: a fire that
 * never happened (the server was down, the fire failed) is still due, and late.
 */
async function dueFires(m: EntityManager, sla: SlaRow, now: Date): Promise<DueFire[]> {
  const schedules = (await m.query(
    `SELECT s.id, s.name, s.cron, s.timezone, s.created_at FROM schedules s JOIN pipelines p ON p.id = s.pipeline_id
      WHERE p.project_id = $1 AND p.name = $2 AND NOT s.paused AND ($3::text IS NULL OR s.name = $3)
      ORDER BY s.name`,
    [sla.projectId, sla.subjectName, sla.schedule],
  )) as Row[];
  const deadline = new Date(now.getTime() - Number(sla.objective) * 1000);
  const out: DueFire[] = [];
  for (const s of schedules) {
    const created = date(s.created_at)!;
    const after = created > sla.createdAt ? created : sla.createdAt;
    if (deadline <= after) continue;
    const fire = latestMissedFire(String(s.cron), String(s.timezone), after, deadline);
    if (!fire) continue;
    const [r] = (await m.query(
      `SELECT f.run_id, r.status, r.finished_at FROM trigger_fires f LEFT JOIN runs r ON r.id = f.run_id
        WHERE f.source_id = $1 AND f.scheduled_for = $2 ORDER BY f.fired_at DESC LIMIT 1`,
      [s.id, fire],
    )) as Row[];
    const finishedAt = date(r?.finished_at);
    const finished = finishedAt !== null && finishedAt <= now;
    out.push({
      schedule: String(s.name),
      scheduledFor: fire,
      runId: (r?.run_id as string | null) ?? null,
      runStatus: r?.run_id ? statusAt(r.status, finished) : null,
      finishedAt: finished ? finishedAt : null,
    });
  }
  return out;
}
