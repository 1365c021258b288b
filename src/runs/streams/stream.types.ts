/**
 * The GraphQL face of a run's streams (stage logs and metric points, stored in this folder): the
 * items a client reads and subscribes to, their lists, and the `logMetrics` mutation's input and
 * result.
 */
import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../../kernel/graphql/list";
import { MutationResult } from "../../kernel/graphql/results";
import type { RunMetricRow } from "./run-metric.entity";
import type { StageLogRow } from "./stage-log.entity";

@ObjectType({ description: "A chunk of a stage run's output." })
export class LogChunk {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field(() => ID, { description: "The stage run that wrote it." })
  stageRunId: string;

  @Field(() => Int, { description: "The attempt that wrote it, from 1." })
  attempt: number;

  @Field({ description: "`stdout` or `stderr`." })
  stream: string;

  @Field({ description: "The output text: whole lines, each ending in a newline." })
  text: string;

  @Field({ description: "When the chunk was stored." })
  at: Date;

  static from(row: StageLogRow): LogChunk {
    return Object.assign(new LogChunk(), {
      cursor: row.id,
      stageRunId: row.stageRunId,
      attempt: row.attempt,
      stream: row.stream,
      text: row.text,
      at: row.createdAt,
    });
  }
}

@ObjectType("MetricPoint", { description: "One metric point." })
export class MetricPointType {
  @Field({ description: "Pass as `after` to resume a subscription from here." })
  cursor: string;

  @Field({ description: "Name of the metric, e.g. `loss`." })
  key: string;

  @Field(() => Float, { description: "The value." })
  value: number;

  @Field(() => Float, { description: "Step or iteration (a whole number)." })
  step: number;

  @Field({ description: "When the point was recorded (its timestamp)." })
  at: Date;

  @Field(() => ID, { nullable: true, description: "The stage run that recorded it; null for run-level points." })
  stageRunId: string | null;

  static from(row: RunMetricRow): MetricPointType {
    return Object.assign(new MetricPointType(), {
      cursor: String(row.id),
      key: row.key,
      value: row.value,
      step: Number(row.step),
      at: row.at,
      stageRunId: row.stageRunId,
    });
  }
}

export const {
  Connection: LogChunkConnection,
  Order: LogChunkOrder,
  sortOf: logChunkSort,
  Filter: LogChunkFilter,
} = ListTypes(LogChunk, "LogChunk", {
  orderBy: { WRITTEN: "id" } as const,
  defaultOrder: { property: "id", direction: "ASC" },
  orderDescriptions: { WRITTEN: "Sorts by the order the chunks were written in." },
  filter: {
    stream: FilterBy.text("`stdout` or `stderr`."),
  },
});
export type LogChunkConnection = InstanceType<typeof LogChunkConnection>;
export type LogChunkOrder = InstanceType<typeof LogChunkOrder>;
export type LogChunkFilter = InstanceType<typeof LogChunkFilter>;

export const {
  Connection: MetricPointConnection,
  Order: MetricPointOrder,
  sortOf: metricPointSort,
  Filter: MetricPointFilter,
} = ListTypes(MetricPointType, "MetricPoint", {
  orderBy: { STEP: "step" } as const,
  defaultOrder: { property: "step", direction: "ASC" },
  filter: {
    stageRunId: FilterBy.id("Only points one stage run recorded."),
  },
});
export type MetricPointConnection = InstanceType<typeof MetricPointConnection>;
export type MetricPointOrder = InstanceType<typeof MetricPointOrder>;
export type MetricPointFilter = InstanceType<typeof MetricPointFilter>;

@InputType({ description: "One value of a metric." })
export class MetricPointInput {
  @Field({ description: "Name of the metric, e.g. `loss`." })
  key: string;

  @Field(() => Float, { description: "The value; must be finite." })
  value: number;

  @Field(() => Float, { nullable: true, description: "Step or iteration (a whole number); 0 when omitted." })
  step?: number | null;

  @Field(() => Date, { nullable: true, description: "When it was measured; the server's time when omitted." })
  timestamp?: Date | null;
}

@InputType({ description: "Metric points to record for a run." })
export class LogMetricsInput {
  @Field(() => ID, { description: "The run the points belong to." })
  runId: string;

  @Field(() => ID, { nullable: true, description: "The stage run that recorded them; null for run-level points." })
  stageRunId?: string | null;

  @Field(() => [MetricPointInput], { description: "At most 10,000 points." })
  points: MetricPointInput[];
}

@ObjectType({ description: "How many points were recorded." })
export class LogMetricsPayload {
  @Field(() => Int, { description: "Points recorded." })
  count: number;
}

export const LogMetricsResult = MutationResult("LogMetrics", LogMetricsPayload);
