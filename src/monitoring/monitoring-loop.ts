import type { Logger } from "pino";
import type { MonitoringService } from "./monitoring.service";

/**
 * Closes due windows of every enabled monitor, every `intervalMs`, in the process that leads
 * (the trigger leader: one advisory lock already elects one process among those sharing a
 * database). For the moment two processes may both lead, storing a window is guarded anyway: the
 * monitor's row lock and cursor check make the second attempt store nothing.
 */
export class MonitoringLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private active = false;

  constructor(
    private readonly services: { monitoring: MonitoringService },
    private readonly isLeader: () => boolean,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.active = true;
    this.timer = setInterval(() => {
      this.running = this.running.then(async () => {
        await this.tick();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass over the monitors: each closes as many windows as are due (a backlog closes window after window). */
  async tick(now?: Date): Promise<number> {
    if (!this.active || !this.isLeader()) return 0;
    let closed = 0;
    const monitoring = this.services.monitoring;
    try {
      for (const m of await monitoring.enabledMonitors()) {
        if (!this.active) break;
        closed += await monitoring.windows.closeDue(m.id, now ?? new Date());
      }
    } catch (err) {
      this.log.error({ err }, "monitoring: closing windows failed; trying again next round");
    }
    return closed;
  }

  async close(): Promise<void> {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
