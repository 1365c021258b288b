/**
 * A counting semaphore for a runner's slots: attempts beyond capacity wait their turn, and a
 * waiter whose attempt is canceled gives up its place.
 * @internal shared by the runner plugins.
 */

/** A counting semaphore whose waiters give up when their signal aborts. */
export class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  /** Resolves `true` with a slot held, or `false` when `signal` aborted first. */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      };
      const onAbort = () => {
        this.waiters.splice(this.waiters.indexOf(grant), 1);
        resolve(false);
      };
      this.waiters.push(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}
