import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "./errors";

/**
 * Per-token (or per-address) request limits: a steady rate per second plus a burst allowance
 * over ten seconds. In memory, so each server process enforces its own share.
 */
export class RequestRateLimiter {
  private readonly limiter: BurstyRateLimiter | undefined;

  constructor(perSecond: number, burst: number) {
    if (perSecond <= 0) return;
    this.limiter = new BurstyRateLimiter(
      new RateLimiterMemory({ keyPrefix: "rate", points: perSecond, duration: 1 }),
      new RateLimiterMemory({ keyPrefix: "burst", points: Math.max(burst, 1), duration: 10 }),
    );
  }

  /** Counts one request for `key`; throws RATE_LIMITED, with the wait, when over. */
  async consume(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(key);
    } catch (res) {
      if (res instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(res.msBeforeNext / 1000)));
      throw res;
    }
  }
}
