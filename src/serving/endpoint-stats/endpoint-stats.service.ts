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
    let where = "project_id = $1 AND served_name = $2 AND minute >= $3 AND minute < $4";
    if (query.modelVersionId !== undefined) {
      params.push(query.modelVersionId);
      where += ` AND model_version_id = $${params.length}`;
    }
    if (query.variants !== undefined) {
      params.push([...query.variants]);
      where += ` AND variant = ANY($${params.length}::text[])`;
    }
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
