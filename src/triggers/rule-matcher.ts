import type { Logger } from "pino";
import type { TriggerDeps } from "./deps";
import { EventRow } from "../events/event.entity";
import { REPLAY_PAGE } from "../events/stream-subscription";
import { EventRuleRow } from "./event-rule.entity";
import { armingEventIds } from "./event-rule.service";
import { eventView, ruleHears } from "./event-match";
import { eventFireKey, fireEventRule } from "./fire";
import { EVENT_RULE_EVENT_TYPES } from "./trigger-events";

/** The `trigger_cursors` row of the event-rule matcher. */
export const EVENT_RULE_CURSOR = "event-rules";

export interface RuleMatcherOptions {
  /** How often the sweep re-reads what the live stream handed over, and saves the cursor. */
  sweepMs: number;
  /** How often the rules are read again, in case a change event was not delivered. */
  reloadMs: number;
}

type ArmedRule = EventRuleRow & { armedAfter: string };

const max = (a: string, b: string): string => (BigInt(a) >= BigInt(b) ? a : b);

/**
 * The leader's event-rule matcher. It reads the event stream with `EventBus.subscribe` from the
 * `event-rules` cursor — stored events first, then live ones — keeping only the types some
 * enabled rule listens to (and `event_rule.*`, on which it reloads the rules and subscribes again
 * with the new types). Each event a rule hears is fired with `fireEventRule`, deduplicated on
 * `event:<ruleId>:<eventId>`.
 *
 * Live delivery is fast but, between processes, not strictly in id order (each process publishes
 * after its own commit), and a subscription skips an id lower than one it already delivered. So
 * a sweep runs every `sweepMs`: it reads the stored events between the saved cursor and the
 * newest id handled live (every id below that one has committed: event ids commit in order),
 * fires whatever the live path missed, and only then saves the cursor. The saved cursor thus
 * never passes an event that was not handled; after a restart or a change of leader the stream
 * is read again from it, and fires already made are found by their dedupe keys.
 */
export class EventRuleMatcher {
  private rules = new Map<string, ArmedRule[]>();
  private typesKey = "";
  private rulesLoadedAt = 0;
  /** Highest event id handled by the live loop. */
  private handled = "0";
  /** Every event up to this id has been handled; this is what the cursor row holds. */
  private swept = "0";
  private saved = "0";
  private active = false;
  private resubscribe = false;
  private subscription: AsyncIterableIterator<EventRow> | undefined;
  private loopDone: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly services: TriggerDeps,
    private readonly log: Logger,
    private readonly options: RuleMatcherOptions,
  ) {}

  async start(): Promise<void> {
    this.active = true;
    this.handled = this.swept = this.saved = await this.readCursor();
    await this.loadRules();
    this.resubscribe = false;
    this.loopDone = this.loop();
    this.sweepTimer = setInterval(() => void this.sweepOnce(), this.options.sweepMs);
    this.sweepTimer.unref();
  }

  /** Creates the cursor at the stream's current end the first time, and returns it. */
  private async readCursor(): Promise<string> {
    const manager = this.services.db.dataSource.manager;
    await manager.query(
      `INSERT INTO trigger_cursors (name, last_event_id) SELECT $1, COALESCE(MAX(id), 0) FROM events ON CONFLICT (name) DO NOTHING`,
      [EVENT_RULE_CURSOR],
    );
    const rows: Array<{ last_event_id: string }> = await manager.query(`SELECT last_event_id FROM trigger_cursors WHERE name = $1`, [
      EVENT_RULE_CURSOR,
    ]);
    return String(rows[0]!.last_event_id);
  }

  private subscribedTypes(): string[] {
    return [...this.rules.keys(), ...EVENT_RULE_EVENT_TYPES];
  }

  private async loadRules(): Promise<void> {
    const dataSource = this.services.db.dataSource;
    const rows = await dataSource.getRepository(EventRuleRow).find({ where: { enabled: true } });
    const armed = await armingEventIds(
      dataSource.manager,
      rows.map((r) => r.id),
    );
    const byType = new Map<string, ArmedRule[]>();
    for (const r of rows) {
      const rule = Object.assign(r, { armedAfter: armed.get(r.id) ?? "0" });
      byType.set(r.eventType, [...(byType.get(r.eventType) ?? []), rule]);
    }
    this.rules = byType;
    this.rulesLoadedAt = Date.now();
    const key = [...byType.keys()].sort().join("\n");
    if (key !== this.typesKey) {
      this.typesKey = key;
      // Read on from the last handled event with the new types (stored ones first).
      this.resubscribe = true;
      void this.subscription?.return?.();
    }
  }

  private async loop(): Promise<void> {
    while (this.active) {
      const subscription = this.services.events.subscribe({ types: this.subscribedTypes() }, this.handled);
      this.subscription = subscription;
      let pause = 0;
      try {
        for await (const event of subscription) {
          await this.handle(event);
          this.handled = max(this.handled, event.id);
          if (this.resubscribe || !this.active) break;
        }
        if (!this.resubscribe) pause = 1000;
      } catch (err) {
        if (this.active) this.log.warn({ err }, "event-rule matching paused; reading on from the last handled event");
        pause = 1000;
      } finally {
        this.resubscribe = false;
        await subscription.return?.();
      }
      if (pause && this.active) await new Promise((r) => setTimeout(r, pause).unref());
    }
  }

  /** Fires every rule that hears `event` and has not fired for it yet. */
  private async handle(event: EventRow): Promise<void> {
    if (EVENT_RULE_EVENT_TYPES.includes(event.type)) {
      await this.loadRules();
      return;
    }
    const view = eventView(event);
    const hearing = (this.rules.get(event.type) ?? []).filter((r) => ruleHears(r, event, view));
    if (hearing.length === 0) return;
    const done = await this.firedKeys(hearing.map((r) => eventFireKey(r.id, event.id)));
    for (const rule of hearing) {
      if (done.has(eventFireKey(rule.id, event.id))) continue;
      const fired = await fireEventRule(this.services, rule.id, event, this.log);
      if (fired) this.log.debug({ ruleId: rule.id, eventId: event.id, ...fired }, "event rule fired");
    }
  }

  private async firedKeys(keys: string[]): Promise<Set<string>> {
    const rows: Array<{ dedupe_key: string }> = await this.services.db.dataSource.query(
      `SELECT dedupe_key FROM trigger_fires WHERE dedupe_key = ANY($1)`,
      [keys],
    );
    return new Set(rows.map((r) => r.dedupe_key));
  }

  private sweepOnce(): void {
    if (this.sweeping || !this.active) return;
    this.sweeping = this.sweep()
      .catch((err) => this.log.warn({ err }, "event-rule sweep failed; it runs again shortly"))
      .finally(() => {
        this.sweeping = undefined;
      });
  }

  /** Handles the stored events up to the newest one handled live, then saves the cursor. */
  private async sweep(): Promise<void> {
    if (Date.now() - this.rulesLoadedAt >= this.options.reloadMs) await this.loadRules();
    const upTo = this.handled;
    while (BigInt(this.swept) < BigInt(upTo)) {
      const rows = await this.services.db.dataSource
        .getRepository(EventRow)
        .createQueryBuilder("e")
        .where("e.id > :after AND e.id <= :upTo", { after: this.swept, upTo })
        .andWhere("e.type IN (:...types)", { types: this.subscribedTypes() })
        .orderBy("e.id", "ASC")
        .limit(REPLAY_PAGE)
        .getMany();
      for (const event of rows) await this.handle(event);
      this.swept = rows.length < REPLAY_PAGE ? upTo : rows[rows.length - 1]!.id;
    }
    if (this.swept !== this.saved) {
      await this.services.db.dataSource.query(
        `UPDATE trigger_cursors SET last_event_id = GREATEST(last_event_id, $2::bigint) WHERE name = $1`,
        [EVENT_RULE_CURSOR, this.swept],
      );
      this.saved = this.swept;
    }
  }

  /** Stops reading, waits for fires under way, and sweeps once more so the saved cursor is current. */
  async stop(): Promise<void> {
    this.active = false;
    clearInterval(this.sweepTimer);
    await this.subscription?.return?.();
    await this.loopDone;
    await this.sweeping;
    await this.sweep().catch((err) => this.log.warn({ err }, "could not save the event-rule cursor"));
  }
}
