/**
 * The prediction log's queue and background writer. `offer` is synchronous and never throws or
 * waits, so logging can neither slow nor fail a prediction: rows go into a bounded in-memory
 * queue, and when it is full they are dropped and counted. A writer drains the queue in batches
 * (one multi-row INSERT each); a failed INSERT is logged and its rows counted as dropped, so a
 * database outage costs log rows, never predictions. `close` flushes what is queued.
 */
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { DataSource } from "typeorm";
import type { PredictionDraft } from "./prediction-rows";
import type { PredictionLogSettings } from "./settings";

export class PredictionLog {
  private queue: PredictionDraft[] = [];
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Rows offered (sampled in), written, and dropped; tests and /metrics read them. */
  readonly stats = { offered: 0, written: 0, dropped: 0 };
  private dropped: Counter | undefined;
  private written: Counter | undefined;

  constructor(
    private readonly db: DataSource,
    readonly settings: PredictionLogSettings,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  /** Registers `sluice_prediction_log_{dropped,written}_total` (called once by the server). */
  instrument(registry: Registry): void {
    if (this.dropped) return;
    const stats = this.stats;
    this.dropped = new Counter({
      name: "sluice_prediction_log_dropped_total",
      help: "Prediction log rows dropped because the queue was full or their write failed.",
      registers: [registry],
    });
    this.written = new Counter({
      name: "sluice_prediction_log_written_total",
      help: "Prediction log rows written to the predictions table.",
      registers: [registry],
    });
    this.dropped.inc(stats.dropped);
    this.written.inc(stats.written);
  }

  /** Whether this request is logged (`SLUICE_PREDICTION_LOG_SAMPLE`): decided per request, so a request's rows stay together. */
  sampled(): boolean {
    const s = this.settings.sample;
    return s >= 1 || (s > 0 && this.random() < s);
  }

  /** Queues the rows of one request; what does not fit is dropped and counted. Never throws, never waits. */
  offer(rows: PredictionDraft[]): void {
    this.stats.offered += rows.length;
    const room = this.closed ? 0 : Math.max(0, this.settings.queueRows - this.queue.length);
    const kept = rows.length <= room ? rows : rows.slice(0, room);
    if (kept.length < rows.length) this.drop(rows.length - kept.length);
    if (kept.length === 0) return;
    for (const r of kept) this.queue.push(r);
    if (this.draining) return; // the running drain takes them
    // A full batch is written at once; fewer rows wait up to flushMs for company, so one-row
    // requests do not cost an INSERT each (on PGlite that INSERT runs on the serving thread).
    if (this.queue.length >= this.settings.batchRows || this.settings.flushMs <= 0) this.startDrain();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.startDrain(), this.settings.flushMs);
      this.timer.unref();
    }
  }

  /** Starts writing on a later turn (after the response has been sent), unless a write is running. */
  private startDrain(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Resolves when every row queued before the call has been written (or dropped). */
  async flush(): Promise<void> {
    if (this.queue.length > 0) this.startDrain();
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private drop(n: number): void {
    this.stats.dropped += n;
    this.dropped?.inc(n);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.settings.batchRows);
        try {
          await insertPredictions(this.db, batch);
          this.stats.written += batch.length;
          this.written?.inc(batch.length);
        } catch (err) {
          this.log.error({ err, rows: batch.length }, "the prediction log could not write a batch; its rows are dropped");
          this.drop(batch.length);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }
}

/**
 * Writes rows in one INSERT whose only parameter is the batch as JSON, expanded by
 * `jsonb_to_recordset`: one native `JSON.stringify` on the Node side instead of TypeORM building
 * ten parameters per row and reading back generated columns — the writer's cost per row is what
 * bounds the serving rate the log keeps up with (bench/prediction-log.ts: 2–5× the rows/s).
 * Columns and defaults (id, created_at) are those of PredictionRow.
 */
export async function insertPredictions(db: DataSource, rows: PredictionDraft[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO predictions (project_id, registered_model_id, model_version_id, served_name, variant, request_id, row_index, prediction_id, inputs, outputs)
     SELECT r.project_id, r.registered_model_id, r.model_version_id, r.served_name, r.variant, r.request_id, r.row_index, r.prediction_id, r.inputs, r.outputs
     FROM jsonb_to_recordset($1::jsonb) AS r(project_id uuid, registered_model_id uuid, model_version_id uuid, served_name text, variant text,
                                            request_id text, row_index int, prediction_id text, inputs jsonb, outputs jsonb)`,
    [
      JSON.stringify(
        rows.map((d) => ({
          project_id: d.projectId,
          registered_model_id: d.registeredModelId,
          model_version_id: d.modelVersionId,
          served_name: d.servedName,
          variant: d.variant,
          request_id: d.requestId,
          row_index: d.rowIndex,
          prediction_id: d.predictionId,
          inputs: d.inputs,
          outputs: d.outputs,
        })),
      ),
    ],
  );
}
