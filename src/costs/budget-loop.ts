import type { Logger } from "pino";
import type { CostService } from "./cost.service";

/**
 * Checks every project's monthly budget every `intervalMs` in the process that leads (the trigger
 * leader), firing `budget.threshold_crossed` once per threshold and month (`CostService.checkBudgets`:
 * the alert row and its event are written together, so two leaders at once still fire once).
 * `tick(now)` takes the clock, for tests.
 */
export class BudgetLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private active = false;

  constructor(
    private readonly services: { costs: CostService },
    private readonly isLeader: () => boolean,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.active = true;
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.tick());
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One check of every budget at `now`; returns how many alerts fired. */
  async tick(now: Date = new Date()): Promise<number> {
    if (!this.active || !this.isLeader()) return 0;
    try {
      return await this.services.costs.checkBudgets(now);
    } catch (err) {
      this.log.error({ err }, "costs: checking budgets failed; trying again next round");
      return 0;
    }
  }

  async close(): Promise<void> {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
