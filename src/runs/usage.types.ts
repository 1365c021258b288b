import { Field, Float, Int, ObjectType } from "type-graphql";
import type { StageAttemptRow } from "./stage-attempt.entity";

/**
 * What attempts consumed, as their runners measured it (runners/usage/ says how, and how exact):
 * one attempt's figures, or the sums over a stage run's or a run's attempts.
 */
@ObjectType({
  description: "Resources attempts used, as their runners measured them: one attempt's, or the sum over a stage run's or run's attempts.",
})
export class ResourceUsage {
  @Field(() => Int, { description: "Attempts whose usage was measured (attempts without figures are not in the sums)." })
  attempts: number;

  @Field(() => Float, { description: "CPU seconds, user plus system." })
  cpuSeconds: number;

  @Field(() => Float, { description: "Wall seconds the stages ran." })
  wallSeconds: number;

  @Field(() => Float, {
    nullable: true,
    description: "Peak resident memory in bytes (the highest attempt's, for sums); null when not measured (worker-thread stages).",
  })
  peakMemoryBytes: number | null;

  @Field(() => Float, { description: "Memory held over time: each attempt's peak memory in GB (10^9 bytes) times its wall hours, summed." })
  memoryGbHours: number;

  @Field(() => Float, {
    nullable: true,
    description: "Bytes read through read system calls (files, pipes, sockets); null when not measured.",
  })
  bytesRead: number | null;

  @Field(() => Float, { nullable: true, description: "Bytes written through write system calls; null when not measured." })
  bytesWritten: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      "How one attempt's usage was measured: `process-tree` (a command and its descendants), `process` (a sandboxed module process) or `worker-thread`; null for sums.",
  })
  method: string | null;

  /** One attempt's usage; null when its runner measured none. */
  static ofAttempt(row: StageAttemptRow): ResourceUsage | null {
    if (row.usageMethod === null || row.cpuSeconds === null) return null;
    const memory = row.peakMemoryBytes === null ? null : Number(row.peakMemoryBytes);
    const wall = row.wallSeconds ?? 0;
    return Object.assign(new ResourceUsage(), {
      attempts: 1,
      cpuSeconds: row.cpuSeconds,
      wallSeconds: wall,
      peakMemoryBytes: memory,
      memoryGbHours: ((memory ?? 0) / 1e9) * (wall / 3600),
      bytesRead: row.bytesRead === null ? null : Number(row.bytesRead),
      bytesWritten: row.bytesWritten === null ? null : Number(row.bytesWritten),
      method: row.usageMethod,
    });
  }

  /** Sums of a `usageSums` row. */
  static ofSums(row: UsageSums): ResourceUsage {
    return Object.assign(new ResourceUsage(), {
      attempts: row.attempts,
      cpuSeconds: row.cpuSeconds,
      wallSeconds: row.wallSeconds,
      peakMemoryBytes: row.peakMemoryBytes,
      memoryGbHours: row.memoryGbHours,
      bytesRead: row.bytesRead,
      bytesWritten: row.bytesWritten,
      method: null,
    });
  }
}

/** Usage summed over a set of attempts (`RunService.usageSums`). */
export interface UsageSums {
  attempts: number;
  cpuSeconds: number;
  wallSeconds: number;
  peakMemoryBytes: number | null;
  memoryGbHours: number;
  bytesRead: number | null;
  bytesWritten: number | null;
}

/**
 * The SQL select list summing `stage_attempts a` into a `UsageSums` row (attempts without usage left out by the caller's WHERE).
 * GB are 10^9 bytes, as in pricing.
 */
export const USAGE_SUMS_SQL = `count(*)::int AS attempts,
  coalesce(sum(a.cpu_seconds), 0)::float8 AS "cpuSeconds",
  coalesce(sum(a.wall_seconds), 0)::float8 AS "wallSeconds",
  max(a.peak_memory_bytes)::float8 AS "peakMemoryBytes",
  coalesce(sum(coalesce(a.peak_memory_bytes, 0)::float8 / 1e9 * coalesce(a.wall_seconds, 0) / 3600), 0)::float8 AS "memoryGbHours",
  sum(a.bytes_read)::float8 AS "bytesRead",
  sum(a.bytes_written)::float8 AS "bytesWritten"`;
