import type { EntityManager } from "typeorm";
import { InvalidInputError, type InputProblem } from "../../kernel/errors";
import { type Page, type PageArgs, type SortSpec, paginate } from "../../kernel/pagination";
import type { Database } from "../../db/data-source";
import type { MessageBus, TransactionHooks } from "../../events/message-bus";
import { SubscriptionRegistry } from "../../events/stream-subscription";
import { RunMetricRow } from "./run-metric.entity";

/** The most points one `logMetrics` call may carry. */
export const MAX_METRIC_BATCH = 10_000;
const CHANNEL = "metrics";
const KEY = /^[A-Za-z0-9_.\-/: ]{1,250}$/;

export interface MetricPoint {
  key: string;
  value: number;
  /** Training step or iteration. @default 0 */
  step?: number;
  /** When it was measured. @default now */
  timestamp?: Date;
}

/** A stored batch: metric rows `firstId`..`id` of one run. What travels on the bus. */
interface MetricBatch {
  id: string;
  firstId: string;
  runId: string;
  /** The rows themselves when the batch is small, so that subscribers need not read them back. */
  rows?: SerializedPoint[];
}

interface SerializedPoint {
  id: string;
  stageRunId: string | null;
  key: string;
  value: number;
  step: string;
  at: string;
}

/** Batches up to this size travel with their rows (a live dashboard's typical batch is a few). */
const INLINE_ROWS = 40;

/**
 * Run metrics: batches written with one statement (arrays unnested server-side, the cheapest
 * way to insert many rows short of COPY), history queries, and a live stream. Batches of one run
 * are written under a per-run transaction lock, so ids of a run commit in order and a
 * subscriber resuming after an id misses nothing.
 */
export class MetricsService {
  private readonly subscriptions = new SubscriptionRegistry();
  private readonly inflightReads = new Map<string, Promise<RunMetricRow[]>>();

  constructor(
    private readonly db: Database,
    private readonly bus: MessageBus,
  ) {
    bus.register<MetricBatch>(CHANNEL, {
      encode: (b) => b,
      decode: (d) => d as MetricBatch,
      // Too large for a NOTIFY with its rows: it travels without them, and subscribers read them.
      shrink: (b) => ({ id: b.id, firstId: b.firstId, runId: b.runId }),
      fetch: async () => [],
    });
  }

  /** Checks a batch; throws InvalidInputError naming each bad point. */
  validate(points: readonly MetricPoint[]): void {
    if (points.length > MAX_METRIC_BATCH) {
      throw new InvalidInputError([{ field: "points", message: `at most ${MAX_METRIC_BATCH} points per call (got ${points.length})` }]);
    }
    const problems: InputProblem[] = [];
    points.forEach((p, i) => {
      if (!KEY.test(p.key))
        problems.push({ field: `points[${i}].key`, message: "must be 1-250 characters of letters, digits, spaces and _ . - / :" });
      if (!Number.isFinite(p.value)) problems.push({ field: `points[${i}].value`, message: "must be a finite number" });
      if (p.step !== undefined && (!Number.isSafeInteger(p.step) || p.step < 0))
        problems.push({ field: `points[${i}].step`, message: "must be a whole number >= 0" });
      if (problems.length >= 20) return;
    });
    if (problems.length) throw new InvalidInputError(problems.slice(0, 20));
  }

  /** Stores points of `runId` (and one of its stage runs, optionally) in `manager`'s transaction. */
  async insert(
    manager: EntityManager,
    runId: string,
    stageRunId: string | null,
    points: readonly MetricPoint[],
  ): Promise<MetricBatch | null> {
    if (points.length === 0) return null;
    await manager.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`metrics:${runId}`]);
    // Timestamps travel as epoch milliseconds, and only when some point has one: turning ten
    // thousand Dates into strings and back costs more than the insert itself.
    const stamped = points.some((p) => p.timestamp !== undefined);
    const now = Date.now();
    const inline = points.length <= INLINE_ROWS;
    const result: Array<{ first?: string; last?: string } & Partial<SerializedPoint>> = await manager.query(
      `WITH ins AS (
         INSERT INTO run_metrics (run_id, stage_run_id, key, value, step, at)
         SELECT $1, $2, k, v, s, to_timestamp(COALESCE(t, $7) / 1000.0)
           FROM unnest($3::text[], $4::float8[], $5::int8[], $6::float8[]) AS u(k, v, s, t)
         RETURNING id, stage_run_id, key, value, step, at)
       ${
         inline
           ? `SELECT id::text, stage_run_id AS "stageRunId", key, value, step::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM ins ORDER BY id`
           : `SELECT min(id)::text AS first, max(id)::text AS last FROM ins`
       }`,
      [
        runId,
        stageRunId,
        points.map((p) => p.key),
        points.map((p) => p.value),
        points.map((p) => p.step ?? 0),
        stamped ? points.map((p) => p.timestamp?.getTime() ?? null) : [],
        now,
      ],
    );
    if (inline) {
      const rows = result as SerializedPoint[];
      return { id: rows[rows.length - 1]!.id, firstId: rows[0]!.id, runId, rows };
    }
    return { id: result[0]!.last!, firstId: result[0]!.first!, runId };
  }

  /** Validates and stores a batch in its own transaction, then publishes it. */
  async record(runId: string, stageRunId: string | null, points: readonly MetricPoint[]): Promise<number> {
    this.validate(points);
    const committed: Array<() => void | Promise<void>> = [];
    await this.db.dataSource.transaction(async (manager) => {
      const batch = await this.insert(manager, runId, stageRunId, points);
      await this.announce({ manager, afterCommit: (fn) => committed.push(fn) }, batch);
    });
    for (const fn of committed) await fn();
    return points.length;
  }

  /**
   * Publishes a batch stored in the transaction `tx`, in commit order (batches of one run commit
   * in id order, and a subscriber relies on receiving them in that order).
   */
  async announce(tx: TransactionHooks, batch: MetricBatch | null): Promise<void> {
    if (batch) await this.bus.publishWith(tx, CHANNEL, [batch]);
  }

  /** A page of the points of one key of a run, by step (ties in the order they were recorded). */
  async history(
    runId: string,
    key: string,
    stageRunId: string | undefined,
    page: PageArgs,
    sort: SortSpec<RunMetricRow>,
  ): Promise<Page<RunMetricRow>> {
    const qb = this.db.dataSource
      .getRepository(RunMetricRow)
      .createQueryBuilder("m")
      .where("m.runId = :runId AND m.key = :key", { runId, key });
    if (stageRunId) qb.andWhere("m.stageRunId = :stageRunId", { stageRunId });
    return paginate(qb, page, sort);
  }

  /** The latest value of each key of a run. */
  async latest(runId: string): Promise<RunMetricRow[]> {
    return this.db.dataSource.query(
      `SELECT DISTINCT ON (key) id, run_id AS "runId", stage_run_id AS "stageRunId", key, value, step, at
         FROM run_metrics WHERE run_id = $1 ORDER BY key, step DESC, id DESC`,
      [runId],
    );
  }

  private async rowsBetween(
    runId: string,
    afterId: string,
    upTo: string | null,
    keys: readonly string[] | undefined,
  ): Promise<RunMetricRow[]> {
    const qb = this.db.dataSource
      .getRepository(RunMetricRow)
      .createQueryBuilder("m")
      .where("m.runId = :runId AND m.id > :afterId", { runId, afterId })
      .orderBy("m.id", "ASC");
    if (upTo !== null) qb.andWhere("m.id <= :upTo", { upTo });
    if (keys && keys.length > 0) qb.andWhere("m.key IN (:...keys)", { keys });
    return qb.getMany();
  }

  /**
   * Points of a run (only `keys` when given) after the cursor `afterId`, then live ones as
   * batches commit. The cursor is a point's id.
   */
  async *subscribe(runId: string, keys: readonly string[] | undefined, afterId: string | undefined): AsyncGenerator<RunMetricRow> {
    let last = afterId;
    const batches = this.subscriptions.subscribe<MetricBatch>({
      bus: this.bus,
      channel: CHANNEL,
      matches: (b) => b.runId === runId,
      // Catching up is one synthetic batch: everything stored after the cursor until now.
      replay: async (after) => {
        const [{ max }] = await this.db.dataSource.query(`SELECT max(id)::text AS max FROM run_metrics WHERE run_id = $1 AND id > $2`, [
          runId,
          after,
        ]);
        return max ? [{ id: max, firstId: after, runId }] : [];
      },
      afterId,
    });
    const wanted = keys && keys.length > 0 ? new Set(keys) : undefined;
    try {
      for await (const batch of batches) {
        const from = last !== undefined && BigInt(last) >= BigInt(batch.firstId) - 1n ? last : (BigInt(batch.firstId) - 1n).toString();
        const rows = batch.rows ? batch.rows.map((p) => deserializePoint(runId, p)) : await this.sharedRows(runId, from, batch.id);
        const after = BigInt(from);
        for (const row of rows) if (BigInt(row.id) > after && (!wanted || wanted.has(row.key))) yield row;
        last = batch.id;
      }
    } finally {
      await batches.return();
    }
  }

  /**
   * Rows `(afterId, upTo]` of a run, read once per process however many subscribers ask for the
   * same batch at the same time (a thousand dashboards on one run make one query, not a thousand).
   */
  private sharedRows(runId: string, afterId: string, upTo: string): Promise<RunMetricRow[]> {
    const key = `${runId}:${afterId}:${upTo}`;
    let pending = this.inflightReads.get(key);
    if (!pending) {
      pending = this.rowsBetween(runId, afterId, upTo, undefined);
      this.inflightReads.set(key, pending);
      void pending.finally(() => setTimeout(() => this.inflightReads.delete(key), 1000).unref());
    }
    return pending;
  }

  async close(): Promise<void> {
    await this.subscriptions.closeAll();
  }
}

function deserializePoint(runId: string, p: SerializedPoint): RunMetricRow {
  return Object.assign(new RunMetricRow(), {
    id: p.id,
    runId,
    stageRunId: p.stageRunId,
    key: p.key,
    value: Number(p.value),
    step: p.step,
    at: new Date(p.at),
  });
}
