import { type ScheduledTask, createTask } from "node-cron";
import type { Logger } from "pino";
import type { TriggerDeps } from "./deps";
import { latestMissedFire, shortestInterval } from "./cron";
import { fireSchedule, retryTransient } from "./fire";
import { ScheduleRow } from "./schedule.entity";
import { SCHEDULE_EVENT_TYPES } from "./trigger-events";

export interface ScheduleTickerOptions {
  /** How often every schedule is read again, in case a change event was not delivered. */
  resyncMs: number;
}

/**
 * The leader's timers: one node-cron task per active schedule, each tick a `fireSchedule`.
 * Tasks are rebuilt when a `schedule.*` event says a schedule changed (and by a periodic
 * resync). Whenever a schedule gets a task it did not have — the leader starting, a schedule
 * created or resumed — its missed-fire policy runs first: `RUN_ONCE` fires once for the latest
 * tick missed since `lastFireAt` (or since creation), `SKIP` does nothing. Ticks node-cron
 * reports as missed (the event loop was blocked past them) get the same treatment.
 */
export class ScheduleTicker {
  private readonly tasks = new Map<string, { task: ScheduledTask; signature: string }>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Changes to the task map run one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private subscription: AsyncIterableIterator<{ subjectId: string | null }> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private active = false;
  /** Schedules not fired because they fire too often, by id, with the expression judged. */
  private readonly tooFrequent = new Map<string, string>();

  constructor(
    private readonly services: TriggerDeps,
    private readonly log: Logger,
    private readonly options: ScheduleTickerOptions,
  ) {}

  /** Schedules with a live task in this process. */
  get scheduled(): number {
    return this.tasks.size;
  }

  async start(): Promise<void> {
    this.active = true;
    // Listen first, then read: a change committed in between is applied twice, never missed.
    const subscription = this.services.events.subscribe({ types: SCHEDULE_EVENT_TYPES });
    this.subscription = subscription;
    void this.follow(subscription);
    await this.enqueue(() => this.resync());
    this.resyncTimer = setInterval(() => void this.enqueue(() => this.resync()), this.options.resyncMs);
    this.resyncTimer.unref();
  }

  private async follow(subscription: AsyncIterableIterator<{ subjectId: string | null }>): Promise<void> {
    try {
      for await (const event of subscription) {
        const id = event.subjectId;
        if (id) void this.enqueue(() => this.refresh(id));
      }
    } catch (err) {
      if (this.active) this.log.warn({ err }, "schedule changes stopped arriving; the periodic resync still applies them");
    }
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => (this.active ? op() : undefined)).catch((err) => this.log.error({ err }, "schedule timers"));
    this.queue = next;
    return next;
  }

  private async resync(): Promise<void> {
    const rows = await this.services.db.dataSource.getRepository(ScheduleRow).find();
    const present = new Set(rows.map((r) => r.id));
    for (const id of [...this.tasks.keys()]) if (!present.has(id)) this.drop(id);
    for (const row of rows) {
      try {
        await this.apply(row);
      } catch (err) {
        this.log.error({ err, scheduleId: row.id }, "could not schedule");
      }
    }
  }

  private async refresh(id: string): Promise<void> {
    const row = await this.services.db.dataSource.getRepository(ScheduleRow).findOneBy({ id });
    if (!row) this.drop(id);
    else await this.apply(row);
  }

  private async apply(row: ScheduleRow): Promise<void> {
    if (row.paused) {
      this.drop(row.id);
      return;
    }
    const signature = `${row.cron}\n${row.timezone}`;
    const existing = this.tasks.get(row.id);
    if (existing?.signature === signature || this.tooFrequent.get(row.id) === signature) return;
    // A schedule stored before SLUICE_MIN_SCHEDULE_SECONDS was set (or lowered) is not fired until changed.
    const min = this.services.config.minScheduleSeconds;
    const interval = shortestInterval(row.cron, row.timezone);
    if (interval < min) {
      this.drop(row.id);
      this.tooFrequent.set(row.id, signature);
      this.log.warn(
        { scheduleId: row.id, cron: row.cron, intervalSeconds: interval, minSeconds: min },
        "not firing a schedule that fires more often than SLUICE_MIN_SCHEDULE_SECONDS allows; change its cron",
      );
      return;
    }
    this.tooFrequent.delete(row.id);
    if (existing) this.drop(row.id);
    else await this.catchUp(row);
    if (!this.active) return;
    const id = row.id;
    const task = createTask(row.cron, (ctx) => this.fire(id, ctx.date), {
      timezone: row.timezone,
      name: `sluice-schedule-${id}`,
      suppressMissedWarning: true,
    });
    task.on("execution:missed", () => void this.enqueue(() => this.catchUpById(id)));
    await task.start();
    this.tasks.set(id, { task, signature });
  }

  private drop(id: string): void {
    const entry = this.tasks.get(id);
    if (!entry) return;
    this.tasks.delete(id);
    void entry.task.destroy();
  }

  private async catchUpById(id: string): Promise<void> {
    const row = await this.services.db.dataSource.getRepository(ScheduleRow).findOneBy({ id });
    if (row && !row.paused) await this.catchUp(row);
  }

  /** The missed-fire policy: RUN_ONCE fires the latest tick missed since the last fire; SKIP nothing. */
  private async catchUp(row: ScheduleRow): Promise<void> {
    if (row.missedPolicy !== "RUN_ONCE") return;
    const since = row.lastFireAt ?? row.createdAt;
    const latest = latestMissedFire(row.cron, row.timezone, since, new Date());
    if (!latest) return;
    this.log.info({ scheduleId: row.id, scheduledFor: latest.toISOString() }, "firing the latest missed tick once (RUN_ONCE)");
    await this.fire(row.id, latest);
  }

  private fire(scheduleId: string, at: Date): Promise<void> {
    const done = retryTransient(() => fireSchedule(this.services, scheduleId, at, this.log))
      .then((fired) => {
        if (fired) this.log.debug({ scheduleId, at: at.toISOString(), ...fired }, "schedule fired");
      })
      .catch((err) => this.log.error({ err, scheduleId, at: at.toISOString() }, "a schedule could not fire"));
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
    return done;
  }

  /** Stops every timer and waits for fires under way. */
  async stop(): Promise<void> {
    this.active = false;
    clearInterval(this.resyncTimer);
    await this.subscription?.return?.();
    await this.queue;
    for (const id of [...this.tasks.keys()]) this.drop(id);
    await Promise.all([...this.inflight]);
  }
}
