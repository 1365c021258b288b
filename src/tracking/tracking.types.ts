import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import type { TrackingExperimentRow } from "./experiment.entity";
import type { TrackingMetricRow } from "./metric.entity";
import type { LatestMetric, TrackingRunRow } from "./tracking-run.entity";

const finiteOrNull = (v: number | string): number | null => {
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};

@ObjectType({ description: "An experiment: a named group of tracking runs in a project (MLflow's experiment)." })
export class Experiment {
  @Field(() => ID, { description: "Server-assigned id of the experiment (MLflow's experiment_id)." })
  id: string;

  @Field(() => ID, { description: "Project the experiment belongs to." })
  projectId: string;

  @Field({ description: "Name of the experiment, unique within the project." })
  name: string;

  @Field({ description: "MLflow's artifact location of the experiment; empty when not set." })
  artifactLocation: string;

  @Field({ description: "`active` or `deleted`." })
  lifecycleStage: string;

  @Field(() => GraphQLJSONObject, { description: "The experiment's tags as a `key → value` object." })
  tags: Record<string, string>;

  @Field({ description: "When the experiment was created." })
  createdAt: Date;

  @Field({ description: "When the experiment was last changed." })
  updatedAt: Date;

  static from(row: TrackingExperimentRow): Experiment {
    return Object.assign(new Experiment(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      artifactLocation: row.artifactLocation,
      lifecycleStage: row.lifecycleStage,
      tags: row.tags,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One logged value of a metric." })
export class TrackingMetric {
  @Field({ description: "Name of the metric." })
  key: string;

  @Field(() => Float, { nullable: true, description: "Null for NaN and ±Infinity, which GraphQL cannot carry (the MLflow API can)." })
  value: number | null;

  @Field({ description: "When the value was logged (the client's timestamp)." })
  timestamp: Date;

  @Field(() => Float, { description: "The step the value was logged at (0 when none was given)." })
  step: number;

  static from(row: TrackingMetricRow): TrackingMetric {
    return Object.assign(new TrackingMetric(), {
      key: row.key,
      value: finiteOrNull(row.value),
      timestamp: new Date(row.timestamp),
      step: row.step,
    });
  }

  static latest(key: string, m: LatestMetric): TrackingMetric {
    return Object.assign(new TrackingMetric(), { key, value: finiteOrNull(m.value), timestamp: new Date(m.timestamp), step: m.step });
  }
}

@ObjectType({
  description: "A tracking run (MLflow's run): params, tags and metrics; a hyperparameter trial is the child of its search's run.",
})
export class TrackingRun {
  @Field(() => ID, { description: "Server-assigned id of the run (MLflow's run_id)." })
  id: string;

  @Field(() => ID, { description: "Project of the run's experiment." })
  projectId: string;

  @Field(() => ID, { description: "The experiment the run belongs to." })
  experimentId: string;

  @Field({ description: "Display name of the run (MLflow's run_name)." })
  name: string;

  @Field({ description: "RUNNING, SCHEDULED, FINISHED, FAILED or KILLED." })
  status: string;

  @Field({ description: "When the run started." })
  startTime: Date;

  @Field(() => Date, { nullable: true, description: "When the run ended; null while it runs." })
  endTime: Date | null;

  @Field({ description: "`active` or `deleted`." })
  lifecycleStage: string;

  @Field({ description: "MLflow's user_id." })
  user: string;

  @Field(() => ID, { nullable: true, description: "From the `mlflow.parentRunId` tag." })
  parentRunId: string | null;

  @Field(() => GraphQLJSONObject, { description: "`key → value`; immutable once logged." })
  params: Record<string, string>;

  @Field(() => GraphQLJSONObject, { description: "The run's tags as a `key → value` object (including `mlflow.*` system tags)." })
  tags: Record<string, string>;

  @Field(() => [TrackingMetric], { description: "The latest value of each metric (highest step, then latest timestamp), by key." })
  latestMetrics: TrackingMetric[];

  static from(row: TrackingRunRow): TrackingRun {
    return Object.assign(new TrackingRun(), {
      id: row.id,
      projectId: row.projectId,
      experimentId: row.experimentId,
      name: row.name,
      status: row.status,
      startTime: new Date(row.startTime),
      endTime: row.endTime === null ? null : new Date(row.endTime),
      lifecycleStage: row.lifecycleStage,
      user: row.userName,
      parentRunId: row.parentRunId,
      params: row.params,
      tags: row.tags,
      latestMetrics: Object.keys(row.latestMetrics)
        .sort()
        .map((k) => TrackingMetric.latest(k, row.latestMetrics[k]!)),
    });
  }
}

export const {
  Connection: ExperimentConnection,
  Order: ExperimentOrder,
  sortOf: experimentSort,
  Filter: ExperimentFilter,
} = ListTypes(Experiment, "Experiment", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only experiments of this project."),
    nameContains: FilterBy.text("Only experiments whose name contains this text."),
    includeDeleted: FilterBy.flag("Include deleted experiments. Default false."),
  },
});
export type ExperimentConnection = InstanceType<typeof ExperimentConnection>;
export type ExperimentOrder = InstanceType<typeof ExperimentOrder>;
export type ExperimentFilter = InstanceType<typeof ExperimentFilter>;

export const {
  Connection: TrackingRunConnection,
  Order: TrackingRunOrder,
  sortOf: trackingRunSort,
  Filter: TrackingRunFilter,
} = ListTypes(TrackingRun, "TrackingRun", {
  orderBy: { START_TIME: "startTime", NAME: "name" } as const,
  defaultOrder: { property: "startTime", direction: "DESC" },
  filter: {
    parentRunId: FilterBy.id("Only the children of this run (e.g. the trials of a hyperparameter search)."),
    includeDeleted: FilterBy.flag("Include deleted runs. Default false."),
  },
});
export type TrackingRunConnection = InstanceType<typeof TrackingRunConnection>;
export type TrackingRunOrder = InstanceType<typeof TrackingRunOrder>;
export type TrackingRunFilter = InstanceType<typeof TrackingRunFilter>;
