import type { Logger } from "pino";
import type { SlaCheck, SlaChecker } from "./sla-checker";

/**
 * Checks every enabled SLA every `intervalMs`, in the process that leads (the trigger leader, as
 * MonitoringLoop does) — continuously, not only when something runs: a scheduled run that never
 * starts breaches its deadline because time passes. `now` is the clock (tests pass one they
 * control, and call `tick` themselves).
 */
export class SlaLoop {
  private timer: NodeJS.Timeout | undefined;
  /** The pass under way (passes are chained, so a slow one delays the next rather than overlapping it). */
  private running: Promise<unknown> = Promise.resolve();
  private active = false;

  constructor(
    private readonly services: { slaChecker: SlaChecker },
    private readonly isLeader: () => boolean,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Starts the timer (nothing with an interval of 0); `tick` works without it. */
  start(): void {
    this.active = true;
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass over the SLAs at the clock's time (or `at`); ticks never overlap. */
  tick(at?: Date): Promise<SlaCheck[]> {
    const pass = this.running.then(async () => {
      if (!this.active || !this.isLeader()) return [];
      try {
        return await this.services.slaChecker.checkAll(at ?? this.now(), (slaId, err) =>
          this.log.error({ err, slaId }, "slas: checking an SLA failed; trying again next round"),
        );
      } catch (err) {
        this.log.error({ err }, "slas: checking SLAs failed; trying again next round");
        return [];
      }
    });
    this.running = pass;
    return pass;
  }

  async close(): Promise<void> {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
