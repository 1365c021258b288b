/**
 * Reads endpoint statistics: a window's totals for one served name (what SLAs check and costs
 * add up). Windows are whole minutes: a row counts when its minute starts in [from, to).
 */
import type { DataSource } from "typeorm";
import { InvalidInputError } from "../../kernel/errors";
import { LATENCY_BUCKETS, histogramQuantile } from "./histogram";
import type { EndpointVariant } from "./endpoint-stats-recorder";

/** Which requests a window adds up. */
export interface EndpointWindowQuery {
  projectId: string;
  /** The served (endpoint) name. */
  servedName: string;
  /** Minutes starting at or after `from`… */
  from: Date;
  /** …and before `to`. */
  to: Date;
  /** Only this model version's requests (the registry's version id). */
  modelVersionId?: string;
  /**
   * Only these variants. @default all three — pass `["primary", "canary"]` for what callers saw
   * (shadow requests are copies whose answers nobody receives).
   */
  variants?: readonly EndpointVariant[];
}

/** A window's totals. */
export interface EndpointWindowTotals {
  requests: number;
  /** Requests that did not get an answer: badRequests + refused + serverErrors. */
  errors: number;
  badRequests: number;
  refused: number;
  serverErrors: number;
  /** errors / requests; null when there were no requests. */
  errorRate: number | null;
  /** Estimated from the latency buckets (histogramQuantile), over answered requests; null with none. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Mean latency of answered requests; null with none. */
  meanMs: number | null;
  rows: number;
  /** Process CPU seconds of onnxruntime runs attributed to these requests (see the entity). */
  cpuSeconds: number;
  /** The summed latency histogram (bounds: LATENCY_BUCKET_BOUNDS_MS, last +Inf). */
  latencyBuckets: number[];
}

interface TotalsRow {
  requests: string | null;
  bad_requests: string | null;
  refused: string | null;
  server_errors: string | null;
  rows: string | null;
  latency_ms_sum: number | null;
  cpu_ms: number | null;
  buckets: Array<string | number> | null;
}

/** Most points one series may have. */
export const MAX_SERIES_POINTS = 1000;

/** One step of an endpoint's series: the totals of the minutes starting in [at, at + step). */
export interface EndpointSeriesPoint extends EndpointWindowTotals {
  at: Date;
}

export class EndpointStatsService {
  constructor(private readonly db: DataSource) {}

  /**
   * Totals of `servedName`'s requests in [from, to), optionally of one model version and some variants.
   *
   * @throws InvalidInputError when `to` is not after `from`
   */
  async window(query: EndpointWindowQuery): Promise<EndpointWindowTotals> {
    if (!(query.to.getTime() > query.from.getTime())) {
      throw new InvalidInputError([{ field: "to", message: "the window must end after it starts (to > from)" }]);
    }
    const params: unknown[] = [query.projectId, query.servedName, query.from.toISOString(), query.to.toISOString()];
    const where = windowFilter(query, params);
    // The histogram is summed element by element in SQL, so a long window reads one row back.
    const [row] = (await this.db.query(
      `WITH w AS (SELECT * FROM endpoint_stats WHERE ${where})
       SELECT sum(requests) AS requests, sum(bad_requests) AS bad_requests, sum(refused) AS refused, sum(server_errors) AS server_errors,
              sum(rows) AS rows, sum(latency_ms_sum)::float8 AS latency_ms_sum, sum(cpu_ms)::float8 AS cpu_ms,
              (SELECT array_agg(c ORDER BY i) FROM (SELECT u.i, sum(u.c) AS c FROM w, unnest(w.latency_buckets) WITH ORDINALITY AS u(c, i) GROUP BY u.i) b) AS buckets
       FROM w`,
      params,
    )) as TotalsRow[];
    return totalsOf(row);
  }

  /**
   * The window cut into steps of `stepMs` (a whole number of minutes), one point per step from
   * `from` — steps without requests included, with zero counts — so it plots as it is.
   *
   * @throws InvalidInputError when the step is not whole minutes, `to` is not after `from`, or
   *   there would be more than MAX_SERIES_POINTS points
   */
  async series(query: EndpointWindowQuery & { stepMs: number }): Promise<EndpointSeriesPoint[]> {
    const { from, to, stepMs } = query;
    if (!(Number.isInteger(stepMs) && stepMs >= 60_000 && stepMs % 60_000 === 0)) {
      throw new InvalidInputError([{ field: "step", message: "the step must be a whole number of minutes (60, 120, … seconds)" }]);
    }
    if (!(to.getTime() > from.getTime()))
      throw new InvalidInputError([{ field: "to", message: "the window must end after it starts (to > from)" }]);
    const points = Math.ceil((to.getTime() - from.getTime()) / stepMs);
    if (points > MAX_SERIES_POINTS) {
      throw new InvalidInputError([
        { field: "step", message: `${points} points asked for; at most ${MAX_SERIES_POINTS}: use a larger step or a shorter window` },
      ]);
    }
    const params: unknown[] = [query.projectId, query.servedName, from.toISOString(), to.toISOString(), stepMs];
    const where = windowFilter(query, params);
    const step = `floor(extract(epoch FROM (minute - $3::timestamptz)) * 1000 / $5)::int`;
    const sums = (await this.db.query(
      `SELECT ${step} AS step, sum(requests) AS requests, sum(bad_requests) AS bad_requests, sum(refused) AS refused,
              sum(server_errors) AS server_errors, sum(rows) AS rows, sum(latency_ms_sum)::float8 AS latency_ms_sum, sum(cpu_ms)::float8 AS cpu_ms
         FROM endpoint_stats WHERE ${where} GROUP BY 1`,
      params,
    )) as Array<TotalsRow & { step: number }>;
    const buckets = (await this.db.query(
      `SELECT ${step} AS step, u.i::int AS i, sum(u.c) AS c
         FROM endpoint_stats, unnest(latency_buckets) WITH ORDINALITY AS u(c, i) WHERE ${where} GROUP BY 1, 2`,
      params,
    )) as Array<{ step: number; i: number; c: string }>;
    const byStep = new Map<number, TotalsRow>();
    for (const r of sums) byStep.set(Number(r.step), { ...r, buckets: new Array<number>(LATENCY_BUCKETS).fill(0) });
    for (const b of buckets) {
      const row = byStep.get(Number(b.step));
      if (row?.buckets && b.i >= 1 && b.i <= LATENCY_BUCKETS) row.buckets[b.i - 1] = Number(b.c);
    }
    return Array.from({ length: points }, (_, k) => ({ at: new Date(from.getTime() + k * stepMs), ...totalsOf(byStep.get(k)) }));
  }
}

/** The totals of one summed row (all sums null when the window has no rows). */
export function totalsOf(row: TotalsRow | undefined): EndpointWindowTotals {
  const n = (v: string | number | null | undefined) => Number(v ?? 0);
  const requests = n(row?.requests);
  const badRequests = n(row?.bad_requests);
  const refused = n(row?.refused);
  const serverErrors = n(row?.server_errors);
  const errors = badRequests + refused + serverErrors;
  const latencyBuckets = new Array<number>(LATENCY_BUCKETS).fill(0);
  (row?.buckets ?? []).forEach((c, i) => {
    if (i < LATENCY_BUCKETS) latencyBuckets[i] = Number(c);
  });
  const answered = latencyBuckets.reduce((a, b) => a + b, 0);
  return {
    requests,
    errors,
    badRequests,
    refused,
    serverErrors,
    errorRate: requests > 0 ? errors / requests : null,
    p50Ms: histogramQuantile(0.5, latencyBuckets),
    p99Ms: histogramQuantile(0.99, latencyBuckets),
    meanMs: answered > 0 ? n(row?.latency_ms_sum) / answered : null,
    rows: n(row?.rows),
    cpuSeconds: n(row?.cpu_ms) / 1000,
    latencyBuckets,
  };
}

/**
 * The WHERE clause of a window's rows: `params` starts with the project, served name, from and
 * to ($1–$4); the optional version and variants are pushed after whatever else it holds.
 */
function windowFilter(query: EndpointWindowQuery, params: unknown[]): string {
  let where = "project_id = $1 AND served_name = $2 AND minute >= $3 AND minute < $4";
  if (query.modelVersionId !== undefined) {
    params.push(query.modelVersionId);
    where += ` AND model_version_id = $${params.length}`;
  }
  if (query.variants !== undefined) {
    params.push([...query.variants]);
    where += ` AND variant = ANY($${params.length}::text[])`;
  }
  return where;
}
