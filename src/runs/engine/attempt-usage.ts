/**
 * Writes what attempts consumed (the runner's `StageUsage`) onto their `stage_attempts` rows, in
 * the transaction that records how they ended. Figures are checked here once more (finite, not
 * negative) because a remote agent's word arrives over the API.
 */
import type { EntityManager } from "typeorm";
import type { StageUsage } from "../../../runners/contract";

/** One attempt's usage. */
export interface AttemptUsage {
  stageRunId: string;
  attempt: number;
  usage: StageUsage;
}

/** Records the usage of each attempt in one statement; an attempt without a row is left alone. */
export async function recordAttemptUsage(manager: EntityManager, entries: readonly AttemptUsage[]): Promise<void> {
  if (entries.length === 0) return;
  const num = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && v >= 0 ? v : null);
  const int = (v: number | undefined) => (num(v) === null ? null : String(Math.round(v!)));
  await manager.query(
    `UPDATE stage_attempts a
        SET cpu_seconds = u.cpu, wall_seconds = u.wall, peak_memory_bytes = u.mem, bytes_read = u.rd, bytes_written = u.wr,
            usage_method = u.method
       FROM unnest($1::uuid[], $2::int[], $3::float8[], $4::float8[], $5::int8[], $6::int8[], $7::int8[], $8::text[])
         AS u(sr, attempt, cpu, wall, mem, rd, wr, method)
      WHERE a.stage_run_id = u.sr AND a.attempt = u.attempt`,
    [
      entries.map((e) => e.stageRunId),
      entries.map((e) => e.attempt),
      entries.map((e) => num(e.usage.cpuSeconds)),
      entries.map((e) => num(e.usage.wallSeconds)),
      entries.map((e) => int(e.usage.peakMemoryBytes)),
      entries.map((e) => int(e.usage.bytesRead)),
      entries.map((e) => int(e.usage.bytesWritten)),
      entries.map((e) => e.usage.method),
    ],
  );
}
