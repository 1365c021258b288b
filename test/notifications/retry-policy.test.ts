import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_RETRY_DELAY_MS, nextStep } from "../../src/notifications/retry-policy";

describe("retry policy", () => {
  const policy = { baseMs: 5000, maxAttempts: 6 };

  it("backs off exponentially (x4) with at most 10 % jitter", () => {
    assert.deepEqual(nextStep(policy, 1, { retryable: true }, 0), { retry: true, delayMs: 5000 });
    assert.deepEqual(nextStep(policy, 2, { retryable: true }, 0), { retry: true, delayMs: 20_000 });
    assert.deepEqual(nextStep(policy, 3, { retryable: true }, 0.5), { retry: true, delayMs: 84_000 });
  });

  it("stops after the last attempt, and never retries a non-retryable failure", () => {
    assert.deepEqual(nextStep(policy, 6, { retryable: true }, 0), { retry: false });
    assert.deepEqual(nextStep(policy, 1, { retryable: false }, 0), { retry: false });
  });

  it("waits at least as long as Retry-After asks, and never more than an hour", () => {
    assert.deepEqual(nextStep(policy, 1, { retryable: true, retryAfterMs: 60_000 }, 0), { retry: true, delayMs: 60_000 });
    assert.deepEqual(nextStep({ baseMs: 5000, maxAttempts: 20 }, 10, { retryable: true }, 0), { retry: true, delayMs: MAX_RETRY_DELAY_MS });
  });
});
