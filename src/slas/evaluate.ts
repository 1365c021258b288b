import { breaches, type SlaKind } from "../pipelines/sla-objectives";

/**
 * Judging one SLA at one instant from what was observed: the observed value, the state it puts
 * the SLA in, and whether that opens or closes a breach. Pure: the service reads the facts from
 * the database (sla.service.ts), this decides — so every kind's rule is testable on a clock.
 */

/** OK: the objective holds; BREACHED: it does not; NO_DATA: nothing to judge yet (never a breach). */
export type SlaState = "OK" | "BREACHED" | "NO_DATA";

/** One schedule's latest fire whose deadline has passed, and what became of it. */
export interface DueFire {
  schedule: string;
  /** The instant the schedule fired for (or should have). */
  scheduledFor: Date;
  /** The run the fire started; null when the fire never happened or started nothing. */
  runId: string | null;
  runStatus: string | null;
  finishedAt: Date | null;
}

/** What the service observed for an SLA, by kind. */
export type SlaFacts =
  | { kind: "PIPELINE_FRESHNESS" | "DATASET_FRESHNESS"; newestAt: Date | null; since: Date }
  | { kind: "PIPELINE_DEADLINE"; dueFires: DueFire[] }
  | { kind: "PIPELINE_MAX_DURATION"; latestRun: { id: string; startedAt: Date; finishedAt: Date | null; status: string } | null }
  | { kind: "PIPELINE_FAILURE_RATE"; succeeded: number; failed: number }
  | { kind: "DATASET_MIN_ROWS"; newestRows: number | null; versionId: string | null }
  | { kind: "DATASET_VALIDATION_PASS_RATE"; passed: number; total: number }
  | { kind: "ENDPOINT_LIVE_PERFORMANCE"; value: number | null; windowId: string | null; at: Date | null }
  | {
      kind: "ENDPOINT_LATENCY_P50" | "ENDPOINT_LATENCY_P99" | "ENDPOINT_ERROR_RATE" | "ENDPOINT_AVAILABILITY";
      /** The window's totals of the endpoint's primary and canary requests (shadow copies answer nobody). */
      requests: number;
      badRequests: number;
      refused: number;
      serverErrors: number;
      p50Ms: number | null;
      p99Ms: number | null;
    };

export interface SlaJudgement {
  state: SlaState;
  /** In the objective's unit (seconds, share, rows, metric value); null with NO_DATA. */
  observed: number | null;
  /** What the value was computed from (for the API and the events): run ids, counts, times. */
  detail: Record<string, unknown>;
}

const seconds = (from: Date, to: Date) => Math.max(0, (to.getTime() - from.getTime()) / 1000);

/** The observed value of an SLA at `now`, and its state. */
export function judge(sla: { kind: SlaKind; objective: number; metric: string | null }, facts: SlaFacts, now: Date): SlaJudgement {
  const verdict = (observed: number | null, detail: Record<string, unknown>): SlaJudgement => ({
    state: observed === null ? "NO_DATA" : breaches(sla.kind, sla.metric, observed, sla.objective) ? "BREACHED" : "OK",
    observed,
    detail,
  });
  switch (facts.kind) {
    case "PIPELINE_FRESHNESS":
    case "DATASET_FRESHNESS":
      // Nothing yet: the clock runs from when the SLA (or its subject) began, so "never" breaches too.
      return verdict(seconds(facts.newestAt ?? facts.since, now), {
        newestAt: facts.newestAt?.toISOString() ?? null,
        since: facts.newestAt ? null : facts.since.toISOString(),
      });
    case "PIPELINE_DEADLINE": {
      if (facts.dueFires.length === 0) return verdict(null, { fires: [] });
      const fires = facts.dueFires.map((f) => {
        const met = f.runStatus === "SUCCEEDED" && f.finishedAt !== null;
        // A fire not yet ended in success is as late as now (it never ran, never started, or failed).
        const lateness = seconds(f.scheduledFor, met ? f.finishedAt! : now);
        return {
          schedule: f.schedule,
          scheduledFor: f.scheduledFor.toISOString(),
          runId: f.runId,
          runStatus: f.runStatus,
          finishedAt: f.finishedAt?.toISOString() ?? null,
          lateness,
        };
      });
      const worst = fires.reduce((a, b) => (b.lateness > a.lateness ? b : a));
      return verdict(worst.lateness, { fires, worst: worst.schedule });
    }
    case "PIPELINE_MAX_DURATION": {
      const run = facts.latestRun;
      if (!run) return verdict(null, { runId: null });
      return verdict(seconds(run.startedAt, run.finishedAt ?? now), {
        runId: run.id,
        status: run.status,
        startedAt: run.startedAt.toISOString(),
        finishedAt: run.finishedAt?.toISOString() ?? null,
      });
    }
    case "PIPELINE_FAILURE_RATE": {
      const total = facts.succeeded + facts.failed;
      return verdict(total === 0 ? null : facts.failed / total, { succeeded: facts.succeeded, failed: facts.failed });
    }
    case "DATASET_MIN_ROWS":
      return verdict(facts.newestRows, { versionId: facts.versionId });
    case "DATASET_VALIDATION_PASS_RATE":
      return verdict(facts.total === 0 ? null : facts.passed / facts.total, { passed: facts.passed, total: facts.total });
    case "ENDPOINT_LATENCY_P50":
    case "ENDPOINT_LATENCY_P99":
    case "ENDPOINT_ERROR_RATE":
    case "ENDPOINT_AVAILABILITY": {
      const { requests, badRequests, refused, serverErrors } = facts;
      const detail = { requests, badRequests, refused, serverErrors, p50Ms: facts.p50Ms, p99Ms: facts.p99Ms };
      if (requests === 0) return verdict(null, detail);
      if (facts.kind === "ENDPOINT_LATENCY_P50") return verdict(facts.p50Ms, detail);
      if (facts.kind === "ENDPOINT_LATENCY_P99") return verdict(facts.p99Ms, detail);
      if (facts.kind === "ENDPOINT_ERROR_RATE") return verdict((badRequests + refused + serverErrors) / requests, detail);
      // A malformed request is the caller's fault, not the endpoint's unavailability.
      return verdict(1 - (refused + serverErrors) / requests, detail);
    }
    case "ENDPOINT_LIVE_PERFORMANCE":
      return verdict(facts.value, { metric: sla.metric, windowId: facts.windowId, at: facts.at?.toISOString() ?? null });
  }
}

/** What a judgement does to an SLA that was in `previous`: open a breach, close one, or nothing. */
export function transition(previous: string, next: SlaState): "BREACHED" | "RECOVERED" | null {
  if (next === "BREACHED" && previous !== "BREACHED") return "BREACHED";
  if (next !== "BREACHED" && previous === "BREACHED") return "RECOVERED";
  return null;
}
