/**
 * Per-endpoint request statistics, counted on the serving path and written off it. `record` is
 * synchronous and never throws or waits: it adds one request to an in-memory entry per (project,
 * served name, model version, variant, minute). Every `flushMs` (and on `flush`/`close`) the
 * entries are swapped out and added to their minute rows in one upsert, so many processes add
 * to the same rows and no request waits on the database. Memory is bounded by `maxKeys`
 * entries: a request that would open one more is dropped and counted. A failed upsert puts its
 * entries back (within the bound) for the next flush, so a database blip loses nothing.
 */
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { DataSource } from "typeorm";
import { LATENCY_BUCKETS, latencyBucket } from "./histogram";
import { NO_MODEL_VERSION } from "./endpoint-stat.entity";
import type { EndpointStatsSettings } from "./settings";

/** Which model of an endpoint a request went to (`shadow`: a copy, never seen by the caller). */
export type EndpointVariant = "primary" | "canary" | "shadow";

/**
 * How a recorded request ended: answered, or the error kinds of serving's `InferenceOutcome`
 * (metrics.ts) that statistics keep. `not_found` (a name nobody serves, chosen by the client) and
 * `forbidden` (refused before serving) are not recorded: they name no endpoint.
 */
export type EndpointOutcome = "ok" | "bad_request" | "refused" | "error";

/** One finished request, as serving reports it. */
export interface EndpointRequest {
  projectId: string;
  servedName: string;
  /** The registry's version that answered; undefined when none was chosen (or the model is not from the registry). */
  modelVersionId: string | undefined;
  variant: EndpointVariant;
  outcome: EndpointOutcome;
  /** Rows the request carried (0 when it was refused before being decoded). */
  rows: number;
  /** From decoded request to encoded answer. */
  latencyMs: number;
  /** This request's share of the process CPU time over its `session.run` batches (see batcher.ts). */
  cpuMs: number;
}

interface Entry {
  projectId: string;
  servedName: string;
  modelVersionId: string;
  variant: EndpointVariant;
  minute: number;
  requests: number;
  badRequests: number;
  refused: number;
  serverErrors: number;
  rows: number;
  latencyMsSum: number;
  latencyBuckets: number[];
  cpuMs: number;
}

export class EndpointStatsRecorder {
  private entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Requests recorded and dropped (over `maxKeys`), upserts written and failed; tests and /metrics read them. */
  readonly stats = { recorded: 0, dropped: 0, flushes: 0, failedFlushes: 0 };
  private droppedCounter: Counter | undefined;

  constructor(
    private readonly db: DataSource,
    readonly settings: EndpointStatsSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the periodic flush (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.settings.flushMs);
    this.timer.unref();
  }

  /** Registers `sluice_endpoint_stats_dropped_total` (called once by the server). */
  instrument(registry: Registry): void {
    if (this.droppedCounter) return;
    this.droppedCounter = new Counter({
      name: "sluice_endpoint_stats_dropped_total",
      help: "Inference requests left out of endpoint statistics because SLUICE_ENDPOINT_STATS_MAX_KEYS entries were waiting to be written.",
      registers: [registry],
    });
    this.droppedCounter.inc(this.stats.dropped);
  }

  /** Adds one request to its minute's entry. Never throws, never waits. */
  record(r: EndpointRequest): void {
    const minute = Math.floor(this.now() / 60_000) * 60_000;
    const versionId = r.modelVersionId ?? NO_MODEL_VERSION;
    const key = `${r.projectId}\u0000${r.servedName}\u0000${versionId}\u0000${r.variant}\u0000${minute}`;
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.settings.maxKeys) {
        this.stats.dropped++;
        this.droppedCounter?.inc();
        return;
      }
      e = {
        projectId: r.projectId,
        servedName: r.servedName,
        modelVersionId: versionId,
        variant: r.variant,
        minute,
        requests: 0,
        badRequests: 0,
        refused: 0,
        serverErrors: 0,
        rows: 0,
        latencyMsSum: 0,
        latencyBuckets: new Array<number>(LATENCY_BUCKETS).fill(0),
        cpuMs: 0,
      };
      this.entries.set(key, e);
    }
    this.stats.recorded++;
    e.requests++;
    e.rows += r.rows;
    e.cpuMs += r.cpuMs;
    if (r.outcome === "ok") {
      // Latency of answered requests only: a refusal answered at once is not a fast prediction.
      e.latencyMsSum += r.latencyMs;
      e.latencyBuckets[latencyBucket(r.latencyMs)]!++;
    } else if (r.outcome === "bad_request") e.badRequests++;
    else if (r.outcome === "refused") e.refused++;
    else e.serverErrors++;
  }

  /** Entries waiting to be written. */
  get pending(): number {
    return this.entries.size;
  }

  /** Resolves when everything recorded before the call has been added to the table (or put back after a failure). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.entries.size === 0) return;
    this.flushing = this.write().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    const batch = [...this.entries.values()];
    this.entries = new Map();
    try {
      await upsertEndpointStats(this.db, batch);
      this.stats.flushes++;
    } catch (err) {
      this.stats.failedFlushes++;
      this.log.error({ err, entries: batch.length }, "endpoint statistics could not be written; they are kept for the next flush");
      for (const e of batch) this.putBack(e);
    }
  }

  /** Merges an unwritten entry back into the live map, within the bound. */
  private putBack(e: Entry): void {
    const key = `${e.projectId}\u0000${e.servedName}\u0000${e.modelVersionId}\u0000${e.variant}\u0000${e.minute}`;
    const live = this.entries.get(key);
    if (!live) {
      if (this.entries.size >= this.settings.maxKeys) {
        this.stats.dropped += e.requests;
        this.droppedCounter?.inc(e.requests);
        return;
      }
      this.entries.set(key, e);
      return;
    }
    live.requests += e.requests;
    live.badRequests += e.badRequests;
    live.refused += e.refused;
    live.serverErrors += e.serverErrors;
    live.rows += e.rows;
    live.latencyMsSum += e.latencyMsSum;
    live.cpuMs += e.cpuMs;
    e.latencyBuckets.forEach((c, i) => (live.latencyBuckets[i]! += c));
  }
}

/**
 * Adds entries to their minute rows in one statement: the batch travels as one JSON parameter
 * (as the prediction log's writer does), and a row that exists gets the figures added — the
 * histogram element by element — so processes flushing the same minute add up.
 */
async function upsertEndpointStats(db: DataSource, entries: Entry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO endpoint_stats AS s (project_id, served_name, model_version_id, variant, minute, requests, bad_requests, refused, server_errors, rows, latency_ms_sum, latency_buckets, cpu_ms)
     SELECT r.project_id, r.served_name, r.model_version_id, r.variant, r.minute, r.requests, r.bad_requests, r.refused, r.server_errors, r.rows, r.latency_ms_sum, r.latency_buckets, r.cpu_ms
     FROM jsonb_to_recordset($1::jsonb) AS r(project_id uuid, served_name text, model_version_id uuid, variant text, minute timestamptz, requests int,
                                            bad_requests int, refused int, server_errors int, rows bigint, latency_ms_sum float8, latency_buckets int[], cpu_ms float8)
     ON CONFLICT (project_id, served_name, model_version_id, variant, minute) DO UPDATE SET
       requests = s.requests + EXCLUDED.requests,
       bad_requests = s.bad_requests + EXCLUDED.bad_requests,
       refused = s.refused + EXCLUDED.refused,
       server_errors = s.server_errors + EXCLUDED.server_errors,
       rows = s.rows + EXCLUDED.rows,
       latency_ms_sum = s.latency_ms_sum + EXCLUDED.latency_ms_sum,
       latency_buckets = ARRAY(SELECT a + b FROM unnest(s.latency_buckets, EXCLUDED.latency_buckets) WITH ORDINALITY AS u(a, b, i) ORDER BY i),
       cpu_ms = s.cpu_ms + EXCLUDED.cpu_ms`,
    [
      JSON.stringify(
        entries.map((e) => ({
          project_id: e.projectId,
          served_name: e.servedName,
          model_version_id: e.modelVersionId,
          variant: e.variant,
          minute: new Date(e.minute).toISOString(),
          requests: e.requests,
          bad_requests: e.badRequests,
          refused: e.refused,
          server_errors: e.serverErrors,
          rows: e.rows,
          latency_ms_sum: e.latencyMsSum,
          latency_buckets: e.latencyBuckets,
          cpu_ms: e.cpuMs,
        })),
      ),
    ],
  );
}
