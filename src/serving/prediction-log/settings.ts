/** Prediction log settings (`SLUICE_PREDICTION_LOG_*`), parsed here so config.ts only gains one line. */

export interface PredictionLogSettings {
  /** Fraction of inference requests logged, 0..1. `SLUICE_PREDICTION_LOG_SAMPLE`. @default 1 */
  sample: number;
  /** Most rows waiting to be written; beyond it rows are dropped and counted. `SLUICE_PREDICTION_LOG_QUEUE`. @default 10000 */
  queueRows: number;
  /** Most rows one INSERT writes. @default 500 */
  batchRows: number;
  /** Longest a row waits for others before a smaller batch is written. `SLUICE_PREDICTION_LOG_FLUSH_MS`. @default 50 */
  flushMs: number;
}

type Env = Record<string, string | undefined>;

export function predictionLogSettings(env: Env, fail: (variable: string, value: string, expected: string) => Error): PredictionLogSettings {
  const sampleRaw = env.SLUICE_PREDICTION_LOG_SAMPLE;
  let sample = 1;
  if (sampleRaw !== undefined && sampleRaw !== "") {
    sample = Number(sampleRaw);
    if (!Number.isFinite(sample) || sample < 0 || sample > 1) throw fail("SLUICE_PREDICTION_LOG_SAMPLE", sampleRaw, "a number from 0 to 1");
  }
  const queueRaw = env.SLUICE_PREDICTION_LOG_QUEUE;
  let queueRows = 10_000;
  if (queueRaw !== undefined && queueRaw !== "") {
    queueRows = Number(queueRaw);
    if (!Number.isInteger(queueRows) || queueRows < 1) throw fail("SLUICE_PREDICTION_LOG_QUEUE", queueRaw, "an integer >= 1");
  }
  const flushRaw = env.SLUICE_PREDICTION_LOG_FLUSH_MS;
  let flushMs = 50;
  if (flushRaw !== undefined && flushRaw !== "") {
    flushMs = Number(flushRaw);
    if (!Number.isInteger(flushMs) || flushMs < 0 || flushMs > 60_000)
      throw fail("SLUICE_PREDICTION_LOG_FLUSH_MS", flushRaw, "an integer from 0 to 60000 (milliseconds)");
  }
  return { sample, queueRows, batchRows: 500, flushMs };
}
