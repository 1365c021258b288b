import { EventEmitter } from "node:events";
import { Client } from "pg";
import type { Logger } from "pino";
import type { Database } from "../db/data-source";
import { EventRow } from "./event.entity";

/** Which events a subscriber wants. Every set field must match. */
export interface EventFilter {
  projectId?: string;
  /** Event types, e.g. `project:created`; empty or undefined means all. */
  types?: readonly string[];
  subjectId?: string;
}

export function matches(filter: EventFilter, e: EventRow): boolean {
  if (filter.projectId !== undefined && e.projectId !== filter.projectId) return false;
  if (filter.subjectId !== undefined && e.subjectId !== filter.subjectId) return false;
  if (filter.types && filter.types.length > 0 && !filter.types.includes(e.type)) return false;
  return true;
}

/** The PostgreSQL channel that carries events between server processes. */
const CHANNEL = "sluice_events";
/** NOTIFY payloads must stay under 8000 bytes; larger events travel as their id only. */
const MAX_NOTIFY_BYTES = 7000;
/** Rows read per replay query when a subscriber catches up from its cursor. */
const REPLAY_PAGE = 1000;
/**
 * Events buffered for one subscriber that is not reading. Past this the subscription ends with
 * an error rather than hold memory for ever; the client resumes from its last cursor.
 */
export const MAX_SUBSCRIBER_BACKLOG = 10_000;

/**
 * Delivers committed events to subscribers in this process, and (on PostgreSQL) to every other
 * server process through LISTEN/NOTIFY. Rows are written by the mutation's transaction first;
 * `publish` is called after commit, so a subscriber never sees an event that was rolled back.
 */
export class EventBus {
  private readonly local = new EventEmitter();
  private readonly open = new Set<EventSubscription>();
  private listener: Client | undefined;
  private closed = false;

  private constructor(
    private readonly db: Database,
    private readonly log: Logger,
  ) {
    // Each subscription adds a listener; dashboards may open thousands.
    this.local.setMaxListeners(0);
  }

  /** Starts the bus; on PostgreSQL opens the dedicated LISTEN connection. */
  static async start(db: Database, databaseUrl: string | undefined, log: Logger): Promise<EventBus> {
    const bus = new EventBus(db, log);
    if (db.kind === "postgres" && databaseUrl) await bus.listen(databaseUrl);
    return bus;
  }

  private async listen(databaseUrl: string): Promise<void> {
    const client = new Client({ connectionString: databaseUrl, application_name: "sluice-events" });
    client.on("error", (err) => this.log.error({ err }, "event listener connection failed"));
    client.on("notification", (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      this.receive(msg.payload).catch((err) => this.log.error({ err }, "could not deliver an event"));
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private async receive(payload: string): Promise<void> {
    const parsed = JSON.parse(payload) as Partial<SerializedEvent> & { id: string };
    const row =
      parsed.type !== undefined
        ? deserialize(parsed as SerializedEvent)
        : await this.db.dataSource.getRepository(EventRow).findOneBy({ id: parsed.id });
    if (row) this.local.emit("event", row);
  }

  /** Hands committed events to subscribers (here and, through NOTIFY, in other processes). */
  async publish(rows: readonly EventRow[]): Promise<void> {
    if (rows.length === 0 || this.closed) return;
    if (!this.listener) {
      for (const row of rows) this.local.emit("event", row);
      return;
    }
    // Every process, this one included, receives events from NOTIFY, so they arrive once and
    // in commit order everywhere.
    const payloads = rows.map((r) => {
      const full = JSON.stringify(serialize(r));
      return Buffer.byteLength(full) <= MAX_NOTIFY_BYTES ? full : JSON.stringify({ id: r.id });
    });
    await this.db.dataSource.query(`SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, [CHANNEL, payloads]);
  }

  /**
   * Events matching `filter`: first those stored after `afterId` (a reconnecting client's
   * cursor), then live ones, none missed or repeated in between. Live delivery is attached
   * before the replay query runs; live events that arrive meanwhile wait, and any already
   * replayed are skipped by id. `return()` detaches at once, even while waiting.
   */
  subscribe(filter: EventFilter, afterId?: string): AsyncIterableIterator<EventRow> {
    const sub = new EventSubscription(
      this.local,
      filter,
      afterId,
      (after) => this.replay(filter, after),
      () => this.open.delete(sub),
    );
    this.open.add(sub);
    return sub;
  }

  private async replay(filter: EventFilter, afterId: string): Promise<EventRow[]> {
    const qb = this.db.dataSource
      .getRepository(EventRow)
      .createQueryBuilder("e")
      .where("e.id > :afterId", { afterId })
      .orderBy("e.id", "ASC")
      .limit(REPLAY_PAGE);
    if (filter.projectId !== undefined) qb.andWhere("e.project_id = :projectId", { projectId: filter.projectId });
    if (filter.subjectId !== undefined) qb.andWhere("e.subject_id = :subjectId", { subjectId: filter.subjectId });
    if (filter.types && filter.types.length > 0) qb.andWhere("e.type IN (:...types)", { types: filter.types });
    return qb.getMany();
  }

  /** Live subscribers in this process. */
  get subscriberCount(): number {
    return this.local.listenerCount("event");
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const sub of [...this.open]) await sub.return();
    this.local.removeAllListeners();
    if (this.listener) await this.listener.end().catch(() => undefined);
  }
}

interface SerializedEvent {
  id: string;
  type: string;
  projectId: string | null;
  subjectId: string | null;
  actorId: string | null;
  payload: Record<string, unknown>;
  createdAt: string;
}

function serialize(r: EventRow): SerializedEvent {
  return {
    id: r.id,
    type: r.type,
    projectId: r.projectId,
    subjectId: r.subjectId,
    actorId: r.actorId,
    payload: r.payload,
    createdAt: r.createdAt.toISOString(),
  };
}

function deserialize(s: SerializedEvent): EventRow {
  return Object.assign(new EventRow(), { ...s, createdAt: new Date(s.createdAt) });
}

/** One subscriber's view of the stream: replay, then live, through a bounded queue. */
class EventSubscription implements AsyncIterableIterator<EventRow> {
  private readonly queue: EventRow[] = [];
  private readonly heldLive: EventRow[] = [];
  private waiter: { resolve: (r: IteratorResult<EventRow>) => void; reject: (e: Error) => void } | undefined;
  private lastId: bigint | undefined;
  private replaying: boolean;
  private finished = false;
  private failure: Error | undefined;
  private readonly onEvent = (row: EventRow) => {
    if (!matches(this.filter, row)) return;
    if (this.replaying) this.heldLive.push(row);
    else this.deliver(row);
  };

  constructor(
    private readonly source: EventEmitter,
    private readonly filter: EventFilter,
    afterId: string | undefined,
    replay: (afterId: string) => Promise<EventRow[]>,
    private readonly onDetach: () => void,
  ) {
    source.on("event", this.onEvent);
    this.replaying = afterId !== undefined;
    if (afterId !== undefined) {
      this.lastId = BigInt(afterId);
      this.catchUp(replay).catch((err: Error) => this.fail(err));
    }
  }

  private async catchUp(replay: (afterId: string) => Promise<EventRow[]>): Promise<void> {
    for (;;) {
      const rows = await replay(String(this.lastId));
      for (const row of rows) this.deliver(row);
      if (rows.length < REPLAY_PAGE || this.finished) break;
    }
    this.replaying = false;
    for (const row of this.heldLive.splice(0)) this.deliver(row);
  }

  private deliver(row: EventRow): void {
    if (this.finished) return;
    const id = BigInt(row.id);
    if (this.lastId !== undefined && id <= this.lastId) return;
    this.lastId = id;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: row, done: false });
      return;
    }
    if (this.queue.length >= MAX_SUBSCRIBER_BACKLOG) {
      this.fail(new Error(`Subscriber fell ${MAX_SUBSCRIBER_BACKLOG} events behind; resubscribe from the last cursor received`));
      return;
    }
    this.queue.push(row);
  }

  private fail(err: Error): void {
    this.failure = err;
    this.detach();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
  }

  private detach(): void {
    this.finished = true;
    this.source.off("event", this.onEvent);
    this.onDetach();
  }

  next(): Promise<IteratorResult<EventRow>> {
    const row = this.queue.shift();
    if (row) return Promise.resolve({ value: row, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<EventRow>> {
    this.detach();
    this.queue.length = 0;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EventRow> {
    return this;
  }
}
