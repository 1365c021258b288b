/** Endpoint statistics settings (`SLUICE_ENDPOINT_STATS_*`), parsed here so config.ts only gains one line. */

export interface EndpointStatsSettings {
  /** How often each process adds what it counted to the minute rows. `SLUICE_ENDPOINT_STATS_FLUSH_MS`. @default 5000 */
  flushMs: number;
  /**
   * Most (endpoint, version, variant, minute) entries held in memory between flushes; a request
   * that would open one more is counted as dropped (in /metrics) instead. `SLUICE_ENDPOINT_STATS_MAX_KEYS`. @default 10000
   */
  maxKeys: number;
}

type Env = Record<string, string | undefined>;

export function endpointStatsSettings(env: Env, fail: (variable: string, value: string, expected: string) => Error): EndpointStatsSettings {
  const flushRaw = env.SLUICE_ENDPOINT_STATS_FLUSH_MS;
  let flushMs = 5000;
  if (flushRaw !== undefined && flushRaw !== "") {
    flushMs = Number(flushRaw);
    if (!Number.isInteger(flushMs) || flushMs < 10 || flushMs > 300_000)
      throw fail("SLUICE_ENDPOINT_STATS_FLUSH_MS", flushRaw, "an integer from 10 to 300000 (milliseconds)");
  }
  const keysRaw = env.SLUICE_ENDPOINT_STATS_MAX_KEYS;
  let maxKeys = 10_000;
  if (keysRaw !== undefined && keysRaw !== "") {
    maxKeys = Number(keysRaw);
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw fail("SLUICE_ENDPOINT_STATS_MAX_KEYS", keysRaw, "an integer >= 1");
  }
  return { flushMs, maxKeys };
}
