/**
 * When a failed delivery is tried again. Pure: no I/O.
 *
 * Attempt n (n >= 1) that fails retryably is followed by attempt n + 1 after
 * `baseMs × 4^(n-1)` (5 s, 20 s, 80 s, 5 min 20 s, 21 min 20 s with the 5 s default), plus up to
 * 10 % random jitter so that receivers coming back from an outage are not hit all at once; a
 * receiver's `Retry-After` stretches the wait, never shortens it. No wait exceeds an hour.
 */

/** The longest wait between two attempts. */
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
const FACTOR = 4;
const JITTER = 0.1;

export interface RetryPolicy {
  /** Wait before the second attempt. `SLUICE_NOTIFY_RETRY_MS`. @default 5000 */
  baseMs: number;
  /** Attempts in all, the first included. `SLUICE_NOTIFY_MAX_ATTEMPTS`. @default 6 */
  maxAttempts: number;
}

/** What to do after an attempt: nothing more, or another attempt after `delayMs`. */
export type NextStep = { retry: false } | { retry: true; delayMs: number };

/**
 * Decides the step after `attempt` failed. Only a retryable failure with attempts left is retried.
 * @param random a number in [0, 1), for the jitter (injected so tests are exact).
 */
export function nextStep(
  policy: RetryPolicy,
  attempt: number,
  failure: { retryable: boolean; retryAfterMs?: number },
  random: number = Math.random(),
): NextStep {
  if (!failure.retryable || attempt >= policy.maxAttempts) return { retry: false };
  const backoff = policy.baseMs * FACTOR ** (attempt - 1) * (1 + JITTER * random);
  const delayMs = Math.min(MAX_RETRY_DELAY_MS, Math.max(backoff, failure.retryAfterMs ?? 0));
  return { retry: true, delayMs: Math.round(delayMs) };
}
