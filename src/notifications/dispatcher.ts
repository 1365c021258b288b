import type { Logger } from "pino";
import type { Notification, NotifierPlugin } from "../../plugins/notifier";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import type { SecretService } from "../secrets";
import { EventRow } from "../events/event.entity";
import { matchesAny } from "./event-pattern";
import { NotificationChannelRow } from "./notification-channel.entity";
import { NotificationEvents, type NotificationService } from "./notification.service";
import { notifierPlugin } from "./notifiers";
import { type NextStep, type RetryPolicy, nextStep } from "./retry-policy";

/** The `trigger_cursors` row (the table of event-stream consumers) of the notification dispatcher. */
export const NOTIFICATION_CURSOR = "notifications";
const CHANNEL_EVENT_TYPES: readonly string[] = Object.values(NotificationEvents);
/** Events read per sweep transaction. */
const SWEEP_PAGE = 1000;
/**
 * How long a claimed delivery is held by its sender: longer than the longest send (30 s
 * timeout), so that only a sender that died loses it, and another process then takes it.
 */
const LEASE_SECONDS = 60;

/** What delivering notifications uses of the server, with its retry settings. */
export interface DispatcherDeps {
  db: Database;
  events: EventBus;
  notifications: NotificationService;
  secrets: SecretService;
  config: { notifyRetryMs: number; notifyMaxAttempts: number };
}

export interface DispatcherOptions {
  retry: RetryPolicy;
  /** How often stored work is looked for even without a live event (other processes' retries, expired leases). @default 5000 */
  pollMs?: number;
  /** Attempts sent at once by this process. @default 16 */
  concurrency?: number;
}

interface ClaimedDelivery {
  id: string;
  channel_id: string;
  project_id: string;
  event_id: string;
  attempt: number;
}

/**
 * Delivers the project's events to its notification channels, without ever holding up the
 * operation that emitted them: events are committed first, and this reads them afterwards.
 *
 * Two durable steps, both in the database, so nothing is lost to a restart and several server
 * processes can share the work:
 * 1. **Sweep.** The events after the `notifications` cursor are matched to the enabled channels
 *    of their project (by type pattern; only events newer than the channel) and become PENDING
 *    delivery rows, and the cursor moves on, in one transaction that locks the cursor row (so
 *    two processes never sweep the same events). Event ids commit in order (see
 *    `appendEvents`), so reading up to the highest committed id never skips a late commit.
 * 2. **Deliver.** Due PENDING rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease, sent
 *    through the channel's notifier plugin, and recorded; a retryable failure queues the next
 *    attempt as a new row after the back-off (`retry-policy.ts`).
 *
 * A live event of a project with an enabled channel (every event reaches every process through
 * the bus) wakes the sweep at once; a poll every `pollMs` and a timer for this process's own
 * retries cover the rest.
 */
export class NotificationDispatcher {
  private active = false;
  private running: Promise<void> | undefined;
  private sweepWanted = false;
  private drainWanted = false;
  private subscription: AsyncIterableIterator<EventRow> | undefined;
  private listening: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private listeningProjects = new Set<string>();
  private readonly pollMs: number;
  private readonly concurrency: number;

  constructor(
    private readonly services: DispatcherDeps,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    this.pollMs = options.pollMs ?? 5000;
    this.concurrency = options.concurrency ?? 16;
  }

  /** Creates the cursor at the stream's end the first time (no history is sent), then starts. */
  async start(): Promise<void> {
    await this.services.db.dataSource.query(
      `INSERT INTO trigger_cursors (name, last_event_id) SELECT $1, COALESCE(MAX(id), 0) FROM events ON CONFLICT (name) DO NOTHING`,
      [NOTIFICATION_CURSOR],
    );
    await this.refreshListening();
    this.active = true;
    this.listening = this.listen();
    this.pollTimer = setInterval(() => {
      void this.refreshListening()
        .catch((err) => this.log.warn({ err }, "notification dispatcher: could not read the channels"))
        .then(() => this.kick(true));
    }, this.pollMs);
    this.pollTimer.unref();
    // Work left by a previous run of the server: events past the cursor, deliveries queued.
    this.kick(true);
  }

  /** Reads which projects have an enabled channel, so that events of the others wake nothing. */
  private async refreshListening(): Promise<void> {
    const rows: Array<{ project_id: string }> = await this.services.db.dataSource.query(
      `SELECT DISTINCT project_id FROM notification_channels WHERE enabled`,
    );
    this.listeningProjects = new Set(rows.map((r) => r.project_id));
  }

  /**
   * Wakes on live events of projects that have an enabled channel (a busy run engine's events
   * elsewhere cost nothing); the sweep reads the stored stream itself. A channel change (from any
   * server process, through the bus) re-reads those projects first.
   */
  private async listen(): Promise<void> {
    while (this.active) {
      const subscription = this.services.events.subscribe({});
      this.subscription = subscription;
      try {
        for await (const event of subscription) {
          if (!event.projectId) continue;
          if (CHANNEL_EVENT_TYPES.includes(event.type)) {
            await this.refreshListening().catch((err) => this.log.warn({ err }, "notification dispatcher: could not read the channels"));
          }
          if (this.listeningProjects.has(event.projectId)) this.kick(true);
        }
      } catch (err) {
        if (this.active) this.log.warn({ err }, "notification dispatcher: the live event stream ended; listening again");
      } finally {
        await subscription.return?.();
      }
      if (this.active) await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }

  /** Runs a sweep (when asked) and a drain, coalescing requests that arrive meanwhile. */
  private kick(sweep: boolean): void {
    if (!this.active) return;
    if (sweep) this.sweepWanted = true;
    this.drainWanted = true;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
      if (this.sweepWanted || this.drainWanted) this.kick(false);
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.active && (this.sweepWanted || this.drainWanted)) {
        if (this.sweepWanted) {
          this.sweepWanted = false;
          while (this.active && (await this.sweep()));
        }
        this.drainWanted = false;
        await this.drain();
      }
      if (this.active) await this.scheduleWake();
    } catch (err) {
      if (this.active) this.log.warn({ err }, "notification dispatcher: a round failed; it runs again shortly");
    }
  }

  /** One page of the stream after the cursor turned into deliveries. @returns whether more is left. */
  private async sweep(): Promise<boolean> {
    return this.services.db.dataSource.transaction(async (m) => {
      const [cursor] = await m.query(`SELECT last_event_id::text AS id FROM trigger_cursors WHERE name = $1 FOR UPDATE`, [
        NOTIFICATION_CURSOR,
      ]);
      const after = String(cursor.id);
      const [{ max }] = await m.query(`SELECT COALESCE(MAX(id), 0)::text AS max FROM events`);
      if (BigInt(max) <= BigInt(after)) return false;
      let upTo = String(max);
      const channels = await m.getRepository(NotificationChannelRow).find({ where: { enabled: true } });
      if (channels.length > 0) {
        const events: Array<{ id: string; type: string; project_id: string; created_at: Date | string }> = await m.query(
          `SELECT id::text AS id, type, project_id, created_at FROM events
            WHERE id > $1 AND id <= $2 AND project_id = ANY($3::uuid[]) ORDER BY id LIMIT $4`,
          [after, upTo, [...new Set(channels.map((c) => c.projectId))], SWEEP_PAGE],
        );
        if (events.length === SWEEP_PAGE) upTo = events[events.length - 1]!.id;
        const rows: Array<[string, string, string, string]> = [];
        for (const e of events) {
          const at = new Date(e.created_at).getTime();
          for (const c of channels) {
            // A channel hears only what happened after it was created (not its own creation).
            if (c.projectId === e.project_id && at > c.createdAt.getTime() && matchesAny(c.eventTypes, e.type)) {
              rows.push([c.id, c.projectId, e.id, e.type]);
            }
          }
        }
        if (rows.length > 0) {
          await m.query(
            `INSERT INTO notification_deliveries (channel_id, project_id, event_id, event_type, attempt, status, due_at)
             SELECT c, p, e, t, 1, 'PENDING', now() FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[]) AS x(c, p, e, t)
             ON CONFLICT (channel_id, event_id, attempt) DO NOTHING`,
            [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
          );
        }
      }
      await m.query(`UPDATE trigger_cursors SET last_event_id = $2 WHERE name = $1`, [NOTIFICATION_CURSOR, upTo]);
      return upTo !== String(max);
    });
  }

  /** Claims as many due deliveries as there is room for and starts sending them. */
  private async drain(): Promise<void> {
    while (this.active) {
      const room = this.concurrency - this.inFlight.size;
      if (room <= 0) return;
      const claimed: ClaimedDelivery[] = await this.services.db.dataSource.query(
        `UPDATE notification_deliveries SET claimed_until = now() + make_interval(secs => $1)
          WHERE id IN (SELECT id FROM notification_deliveries
                        WHERE status = 'PENDING' AND due_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
                        ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id, channel_id, project_id, event_id::text AS event_id, attempt`,
        [LEASE_SECONDS, room],
      );
      const rows = Array.isArray(claimed[0]) ? (claimed[0] as unknown as ClaimedDelivery[]) : claimed;
      for (const row of rows) {
        const sending: Promise<void> = this.deliver(row)
          .catch((err) => this.log.error({ err, deliveryId: row.id }, "notification dispatcher: could not record a delivery"))
          .finally(() => {
            this.inFlight.delete(sending);
            this.kick(false);
          });
        this.inFlight.add(sending);
      }
      if (rows.length < room) return;
    }
  }

  /** Sends one claimed attempt through its channel's plugin and records the outcome. */
  private async deliver(row: ClaimedDelivery): Promise<void> {
    const { dataSource } = this.services.db;
    const channel = await dataSource.getRepository(NotificationChannelRow).findOneBy({ id: row.channel_id });
    if (!channel) return; // deleted meanwhile: its deliveries went with it
    if (!channel.enabled) return this.finish(row, "CANCELLED", { error: "the channel was disabled" });
    const event = await dataSource.getRepository(EventRow).findOneBy({ id: row.event_id });
    if (!event) return this.finish(row, "FAILED", { error: `event ${row.event_id} is no longer stored` });
    let plugin: NotifierPlugin;
    try {
      plugin = notifierPlugin(channel.kind);
    } catch {
      return this.finish(row, "FAILED", { error: `this server has no notifier plugin of kind ${channel.kind}` });
    }
    let secret: string | undefined;
    if (channel.secretName) {
      try {
        secret = await this.services.secrets.reveal(dataSource.manager, channel.projectId, channel.secretName);
      } catch (err) {
        return this.finish(row, "CANCELLED", { error: `secret ${channel.secretName} cannot be read: ${(err as Error).message}` });
      }
    }
    const notification: Notification = {
      messageId: `evt_${event.id}`,
      attempt: row.attempt,
      event: {
        id: String(event.id),
        type: event.type,
        createdAt: event.createdAt,
        projectId: channel.projectId,
        subjectId: event.subjectId,
        actorId: event.actorId,
        payload: event.payload,
      },
    };
    const result = await plugin
      .create(channel.config, secret, this.services.notifications.targets)
      .send(notification, this.stopping.signal);
    if (this.stopping.signal.aborted && !result.ok) {
      // Cut short by shutdown: not the receiver's fault, so not an attempt; sent again after restart.
      await dataSource.query(`UPDATE notification_deliveries SET claimed_until = NULL WHERE id = $1 AND status = 'PENDING'`, [row.id]);
      return;
    }
    const step: NextStep = result.ok ? { retry: false } : nextStep(this.options.retry, row.attempt, result);
    const status = result.ok ? "SUCCEEDED" : step.retry ? "RETRYING" : "FAILED";
    await this.finish(
      row,
      status,
      { httpStatus: result.httpStatus, error: result.error, responseExcerpt: result.responseExcerpt, durationMs: result.durationMs },
      step,
    );
    if (!result.ok) {
      this.log.info(
        {
          channelId: channel.id,
          eventId: event.id,
          attempt: row.attempt,
          httpStatus: result.httpStatus,
          error: result.error,
          retry: step.retry,
        },
        "notification delivery failed",
      );
    }
  }

  /** Records an attempt's outcome and, for a retry, queues the next attempt, in one transaction. */
  private async finish(
    row: ClaimedDelivery,
    status: "SUCCEEDED" | "RETRYING" | "FAILED" | "CANCELLED",
    outcome: { httpStatus?: number; error?: string; responseExcerpt?: string; durationMs?: number },
    step: NextStep = { retry: false },
  ): Promise<void> {
    await this.services.db.dataSource.transaction(async (m) => {
      const updated: unknown[] = await m.query(
        `UPDATE notification_deliveries
            SET status = $2, http_status = $3, error = $4, duration_ms = $5, response_excerpt = $6, finished_at = now(), claimed_until = NULL
          WHERE id = $1 AND status = 'PENDING' RETURNING id`,
        [
          row.id,
          status,
          outcome.httpStatus ?? null,
          outcome.error?.slice(0, 1000) ?? null,
          outcome.durationMs ?? null,
          outcome.responseExcerpt?.slice(0, 1000) ?? null,
        ],
      );
      const changed = Array.isArray(updated[0]) ? (updated[0] as unknown[]).length : updated.length;
      if (changed === 0 || !step.retry) return;
      await m.query(
        `INSERT INTO notification_deliveries (channel_id, project_id, event_id, event_type, attempt, status, due_at)
         SELECT channel_id, project_id, event_id, event_type, attempt + 1, 'PENDING', now() + make_interval(secs => $2)
           FROM notification_deliveries WHERE id = $1
         ON CONFLICT (channel_id, event_id, attempt) DO NOTHING`,
        [row.id, step.delayMs / 1000],
      );
    });
    if (step.retry) this.wakeIn(step.delayMs);
  }

  /** Sets the wake timer for the next due delivery, when it falls before the next poll. */
  private async scheduleWake(): Promise<void> {
    const [{ next }] = await this.services.db.dataSource.query(
      `SELECT MIN(GREATEST(due_at, COALESCE(claimed_until, due_at))) AS next FROM notification_deliveries WHERE status = 'PENDING'`,
    );
    if (next) this.wakeIn(new Date(next).getTime() - Date.now());
  }

  private wakeIn(ms: number): void {
    const delay = Math.max(0, Math.min(ms, this.pollMs));
    const at = Date.now() + delay;
    if (at >= this.wakeAt && this.wakeTimer) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.kick(false);
    }, delay + 5);
    this.wakeTimer.unref();
  }

  /** Attempts being sent by this process now. */
  get sending(): number {
    return this.inFlight.size;
  }

  /**
   * Stops: no new work, sends under way are aborted and left PENDING (sent again after the next
   * start, not counted as attempts). Call before the database closes.
   */
  async close(): Promise<void> {
    this.active = false;
    clearInterval(this.pollTimer);
    clearTimeout(this.wakeTimer);
    this.stopping.abort();
    await this.subscription?.return?.();
    await this.listening;
    await this.running;
    await Promise.all([...this.inFlight]);
  }
}

/** Starts the notification dispatcher of a server process. */
export async function startNotificationDispatcher(services: DispatcherDeps, log: Logger): Promise<NotificationDispatcher> {
  const { notifyRetryMs, notifyMaxAttempts } = services.config;
  const dispatcher = new NotificationDispatcher(services, log.child({ component: "notifications" }), {
    retry: { baseMs: notifyRetryMs, maxAttempts: notifyMaxAttempts },
  });
  await dispatcher.start();
  return dispatcher;
}
