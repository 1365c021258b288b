import type { Database } from "../db/data-source";
import { EventRow } from "./event.entity";
import type { MessageBus, TransactionHooks } from "./message-bus";
import { REPLAY_PAGE, SubscriptionRegistry } from "./stream-subscription";

export { MAX_SUBSCRIBER_BACKLOG } from "./stream-subscription";

/** Which events a subscriber wants. Every set field must match. */
export interface EventFilter {
  projectId?: string;
  /** Event types, e.g. `project.created`; empty or undefined means all. */
  types?: readonly string[];
  subjectId?: string;
  /** Top-level payload fields that must equal these strings, e.g. `{ pipelineId }`. */
  payloadEquals?: Readonly<Record<string, string>>;
}

export function matches(filter: EventFilter, e: EventRow): boolean {
  if (filter.projectId !== undefined && e.projectId !== filter.projectId) return false;
  if (filter.subjectId !== undefined && e.subjectId !== filter.subjectId) return false;
  if (filter.types && filter.types.length > 0 && !filter.types.includes(e.type)) return false;
  for (const [k, v] of Object.entries(filter.payloadEquals ?? {})) if (e.payload[k] !== v) return false;
  return true;
}

const CHANNEL = "events";

interface SerializedEvent {
  id: string;
  type: string;
  projectId: string | null;
  subjectId: string | null;
  actorId: string | null;
  payload: Record<string, unknown>;
  createdAt: string;
}

/**
 * The event stream: state changes written as rows in the transaction of the change, published
 * on the message bus after commit, so a subscriber never sees an event that was rolled back and
 * a reconnecting one replays what it missed from the table.
 */
export class EventBus {
  private readonly subscriptions = new SubscriptionRegistry();

  constructor(
    private readonly bus: MessageBus,
    private readonly db: Database,
  ) {
    bus.register<EventRow>(CHANNEL, {
      encode: (r): SerializedEvent => ({
        id: r.id,
        type: r.type,
        projectId: r.projectId,
        subjectId: r.subjectId,
        actorId: r.actorId,
        payload: r.payload,
        createdAt: r.createdAt.toISOString(),
      }),
      decode: (data) => {
        const s = data as SerializedEvent;
        return Object.assign(new EventRow(), { ...s, createdAt: new Date(s.createdAt) });
      },
      fetch: (ids) =>
        db.dataSource.getRepository(EventRow).createQueryBuilder("e").where("e.id IN (:...ids)", { ids }).orderBy("e.id").getMany(),
      // Event ids commit in order (see `appendEvents`), so "after the last id seen" misses nothing.
      after: (afterId, limit) =>
        db.dataSource
          .getRepository(EventRow)
          .createQueryBuilder("e")
          .where("e.id > :afterId", { afterId })
          .orderBy("e.id", "ASC")
          .limit(limit)
          .getMany(),
      latestId: async () => {
        const rows: Array<{ id: string | null }> = await db.dataSource.query(`SELECT max(id)::text AS id FROM events`);
        return rows[0]?.id ?? "0";
      },
    });
  }

  /**
   * Publishes events written in the transaction `tx`, in commit order (see
   * `MessageBus.publishWith`). Every writer of events uses this.
   */
  async publishWith(tx: TransactionHooks, rows: readonly EventRow[]): Promise<void> {
    await this.bus.publishWith(tx, CHANNEL, rows);
  }

  /**
   * Events matching `filter`: those stored after `afterId` (a reconnecting client's cursor),
   * then live ones, none missed or repeated. Event ids commit in order (see `appendEvents`).
   */
  subscribe(filter: EventFilter, afterId?: string): AsyncIterableIterator<EventRow> {
    return this.subscriptions.subscribe<EventRow>({
      bus: this.bus,
      channel: CHANNEL,
      matches: (e) => matches(filter, e),
      replay: (after) => this.replay(filter, after),
      afterId,
    });
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
    Object.entries(filter.payloadEquals ?? {}).forEach(([k, v], i) =>
      qb.andWhere(`e.payload ->> :pk${i} = :pv${i}`, { [`pk${i}`]: k, [`pv${i}`]: v }),
    );
    return qb.getMany();
  }

  /** Live event subscribers in this process. */
  get subscriberCount(): number {
    return this.bus.listenerCount(CHANNEL);
  }

  /** Ends every open subscription. */
  async close(): Promise<void> {
    await this.subscriptions.closeAll();
  }
}
