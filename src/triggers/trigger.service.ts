import type { Logger } from "pino";
import type { TriggerDeps } from "./deps";
import { LeaderElection } from "./leader";
import { EventRuleMatcher } from "./rule-matcher";
import { ScheduleTicker } from "./schedule-ticker";

export interface TriggerServiceOptions {
  /** How often a follower tries to become leader, and the leader checks its lock connection. @default 2000 */
  leaderRetryMs?: number;
  /** How often the event-rule sweep runs and the cursor is saved. @default 2000 */
  sweepMs?: number;
  /** How often schedules and rules are read again in full, should a change event go astray. @default 30000 */
  resyncMs?: number;
  /**
   * Lead without the lock, as if this process had won it. Only for tests that play two leaders
   * at once to show that fires stay exactly-once. @default false
   */
  alwaysLeader?: boolean;
}

/**
 * Fires schedules and event rules, in exactly one server process at a time: every server starts
 * one, a leader election picks which one works (see `LeaderElection`), and the leader runs the
 * schedule timers (`ScheduleTicker`) and the event-rule matcher (`EventRuleMatcher`). Every fire
 * is a `trigger_fires` row with a unique dedupe key written in the transaction that starts its
 * run, so even two leaders at once cannot fire anything twice.
 */
export class TriggerService {
  private readonly election: LeaderElection;
  private ticker: ScheduleTicker | undefined;
  private matcher: EventRuleMatcher | undefined;
  private readonly resolved: Required<Omit<TriggerServiceOptions, "alwaysLeader">>;

  constructor(
    private readonly services: TriggerDeps,
    private readonly log: Logger,
    options: TriggerServiceOptions = {},
  ) {
    this.resolved = {
      leaderRetryMs: options.leaderRetryMs ?? 2000,
      sweepMs: options.sweepMs ?? 2000,
      resyncMs: options.resyncMs ?? 30_000,
    };
    this.election = new LeaderElection({
      databaseUrl: options.alwaysLeader || services.db.kind !== "postgres" ? undefined : services.config.databaseUrl,
      retryMs: this.resolved.leaderRetryMs,
      log,
      onGain: () => this.lead(),
      onLoss: () => this.follow(),
    });
  }

  /** Whether this process is the one firing triggers now. */
  get isLeader(): boolean {
    return this.election.isLeader;
  }

  /** Schedules with a live timer in this process (0 unless leader). */
  get activeSchedules(): number {
    return this.ticker?.scheduled ?? 0;
  }

  /** Joins the election; resolves after the first attempt (and, when won, the catch-up of missed fires). */
  async start(): Promise<void> {
    await this.election.start();
  }

  private async lead(): Promise<void> {
    const ticker = new ScheduleTicker(this.services, this.log, { resyncMs: this.resolved.resyncMs });
    const matcher = new EventRuleMatcher(this.services, this.log, { sweepMs: this.resolved.sweepMs, reloadMs: this.resolved.resyncMs });
    this.ticker = ticker;
    this.matcher = matcher;
    await matcher.start();
    await ticker.start();
  }

  private async follow(): Promise<void> {
    const { ticker, matcher } = this;
    this.ticker = undefined;
    this.matcher = undefined;
    await ticker?.stop();
    await matcher?.stop();
  }

  /** Stops firing and leaves the election (releasing the lock); call before the database closes. */
  async close(): Promise<void> {
    await this.election.stop();
  }
}

/** Starts the trigger service of a server process. */
export async function startTriggerService(services: TriggerDeps, log: Logger, options?: TriggerServiceOptions): Promise<TriggerService> {
  const service = new TriggerService(services, log.child({ component: "triggers" }), options);
  await service.start();
  return service;
}
