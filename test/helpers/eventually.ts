/**
 * Waiting for something another process or a background loop makes true, without a fixed sleep:
 * `eventually` runs an assertion until it passes, and on timeout rethrows its last failure saying
 * how long it waited — so a slow machine only makes a test slower, and a failure shows what was
 * last seen rather than "timed out".
 */

export interface EventuallyOptions {
  /** How long to keep trying (default 15 s: a loaded 2-CPU machine is slow). */
  timeoutMs?: number;
  /** The pause between tries (default 50 ms). */
  intervalMs?: number;
}

/** Runs `assertion` until it returns without throwing, and returns what it returned. */
export async function eventually<T>(assertion: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 15_000, intervalMs = 50 } = options;
  const started = Date.now();
  for (;;) {
    try {
      return await assertion();
    } catch (err) {
      const waited = Date.now() - started;
      if (waited >= timeoutMs) {
        const note = ` (still failing after ${waited} ms)`;
        if (err instanceof Error) {
          err.message += note;
          throw err;
        }
        throw new Error(String(err) + note);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until `probe` returns a value other than undefined, null or false, and returns it. */
export function waitUntil<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: EventuallyOptions = {},
): Promise<T> {
  return eventually(async () => {
    const value = await probe();
    if (value === undefined || value === null || value === false) throw new Error(`waiting for ${what}`);
    return value;
  }, options);
}
