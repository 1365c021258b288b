import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { EventRow } from "../events/event.entity";
import type { SlaBreachRow, SlaRow } from "./sla.entities";

export enum SlaKind {
  PIPELINE_FRESHNESS = "PIPELINE_FRESHNESS",
  PIPELINE_DEADLINE = "PIPELINE_DEADLINE",
  PIPELINE_MAX_DURATION = "PIPELINE_MAX_DURATION",
  PIPELINE_FAILURE_RATE = "PIPELINE_FAILURE_RATE",
  DATASET_FRESHNESS = "DATASET_FRESHNESS",
  DATASET_MIN_ROWS = "DATASET_MIN_ROWS",
  DATASET_VALIDATION_PASS_RATE = "DATASET_VALIDATION_PASS_RATE",
  ENDPOINT_LATENCY_P50 = "ENDPOINT_LATENCY_P50",
  ENDPOINT_LATENCY_P99 = "ENDPOINT_LATENCY_P99",
  ENDPOINT_ERROR_RATE = "ENDPOINT_ERROR_RATE",
  ENDPOINT_AVAILABILITY = "ENDPOINT_AVAILABILITY",
  ENDPOINT_LIVE_PERFORMANCE = "ENDPOINT_LIVE_PERFORMANCE",
}
registerEnumType(SlaKind, {
  name: "SlaKind",
  description: "What an SLA promises (docs/slas.md). Units of `objective` are given per kind.",
  valuesConfig: {
    PIPELINE_FRESHNESS: { description: "A successful run of the pipeline at least every `objective` seconds." },
    PIPELINE_DEADLINE: {
      description:
        "Each scheduled fire ends in a successful run within `objective` seconds of its fire time; a fire that started no run, or a run that never starts or fails, breaches.",
    },
    PIPELINE_MAX_DURATION: { description: "The newest run (finished or running) takes at most `objective` seconds from its start." },
    PIPELINE_FAILURE_RATE: { description: "At most the share `objective` (0 to 1) of the runs finished in the window failed." },
    DATASET_FRESHNESS: { description: "The dataset's newest version is at most `objective` seconds old." },
    DATASET_MIN_ROWS: { description: "The dataset's newest version has at least `objective` rows." },
    DATASET_VALIDATION_PASS_RATE: {
      description: "At least the share `objective` (0 to 1) of the validation reports made in the window passed.",
    },
    ENDPOINT_LATENCY_P50: {
      description: "The median latency (ms) of the endpoint's answered primary and canary requests in the window is at most `objective`.",
    },
    ENDPOINT_LATENCY_P99: { description: "Their 99th percentile latency (ms) in the window is at most `objective`." },
    ENDPOINT_ERROR_RATE: {
      description:
        "At most the share `objective` of the endpoint's requests in the window got no answer (bad requests, refusals, server errors).",
    },
    ENDPOINT_AVAILABILITY: {
      description: "At least the share `objective` of its requests in the window were neither refused nor failed by the server.",
    },
    ENDPOINT_LIVE_PERFORMANCE: {
      description:
        "The endpoint's live `metric` (monitoring's newest window closed in the window) is at least `objective` (accuracy, roc_auc) or at most it (log_loss, rmse, mae).",
    },
  },
});

export enum SlaSubjectKind {
  PIPELINE = "PIPELINE",
  DATASET = "DATASET",
  ENDPOINT = "ENDPOINT",
}
registerEnumType(SlaSubjectKind, {
  name: "SlaSubjectKind",
  description: "What an SLA is about (follows from its kind).",
  valuesConfig: {
    PIPELINE: { description: "A pipeline of the project, by name." },
    DATASET: { description: "A dataset of the project, by name." },
    ENDPOINT: { description: "An endpoint (or a model served by name) of the project." },
  },
});

export enum SlaState {
  PENDING = "PENDING",
  OK = "OK",
  BREACHED = "BREACHED",
  NO_DATA = "NO_DATA",
}
registerEnumType(SlaState, {
  name: "SlaState",
  description: "Where an SLA stands at its last check.",
  valuesConfig: {
    PENDING: { description: "Not checked yet." },
    OK: { description: "The objective holds." },
    BREACHED: { description: "The objective does not hold: a breach is open (and its alert)." },
    NO_DATA: { description: "Nothing to judge (no run finished in the window, no window closed…); never a breach." },
  },
});

export enum SlaSource {
  API = "API",
  SPEC = "SPEC",
}
registerEnumType(SlaSource, {
  name: "SlaSource",
  description: "Where an SLA is defined.",
  valuesConfig: {
    API: { description: "Made with createSla; changed with updateSla and deleteSla." },
    SPEC: { description: "Declared in a pipeline spec's `slas`; changed only by applying the spec." },
  },
});

export enum SlaSeverity {
  INFO = "INFO",
  WARNING = "WARNING",
  CRITICAL = "CRITICAL",
}
registerEnumType(SlaSeverity, {
  name: "SlaSeverity",
  description: "The severity of the alert a breach opens.",
  valuesConfig: {
    INFO: { description: "For information; nothing needs doing." },
    WARNING: { description: "Worth a look soon (the default)." },
    CRITICAL: { description: "Needs attention now." },
  },
});

@ObjectType({ description: "A service-level objective of a pipeline, dataset or endpoint, and its state at the last check." })
export class Sla {
  @Field(() => ID, { description: "Server-assigned UUID of the SLA." })
  id: string;

  @Field(() => ID, { description: "The SLA's project." })
  projectId: string;

  @Field({ description: "Unique in the project." })
  name: string;

  @Field({ description: "What it is for; empty when not given." })
  description: string;

  @Field(() => SlaKind, { description: "What it promises." })
  kind: SlaKind;

  @Field(() => SlaSubjectKind, { description: "What it is about." })
  subjectKind: SlaSubjectKind;

  @Field({ description: "The pipeline, dataset or endpoint name it is about." })
  subjectName: string;

  @Field(() => Float, { description: "The objective, in the kind's unit: seconds, a share from 0 to 1, rows, or the metric's value." })
  objective: number;

  @Field(() => Float, { nullable: true, description: "The window the rate and live-performance kinds look back over, in seconds." })
  windowSeconds: number | null;

  @Field(() => String, { nullable: true, description: "PIPELINE_DEADLINE: the one schedule watched; null for all of the pipeline's." })
  schedule: string | null;

  @Field(() => String, { nullable: true, description: "ENDPOINT_LIVE_PERFORMANCE: the live metric." })
  metric: string | null;

  @Field(() => SlaSeverity, { description: "The severity of the alert a breach opens." })
  severity: SlaSeverity;

  @Field({ description: "False: not checked." })
  enabled: boolean;

  @Field(() => SlaSource, { description: "The API, or a pipeline spec." })
  source: SlaSource;

  @Field(() => ID, { nullable: true, description: "SPEC: the pipeline whose spec declares it." })
  pipelineId: string | null;

  @Field(() => SlaState, { description: "Its state at the last check." })
  state: SlaState;

  @Field(() => Float, { nullable: true, description: "The value observed at the last check, in the objective's unit; null without data." })
  observed: number | null;

  @Field(() => Date, { nullable: true, description: "When it was last checked; null before the first check." })
  evaluatedAt: Date | null;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "When its definition last changed." })
  updatedAt: Date;

  /** The row, for the status query. */
  row?: SlaRow;

  static from(row: SlaRow): Sla {
    return Object.assign(new Sla(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      description: row.description,
      kind: row.kind as SlaKind,
      subjectKind: row.subjectKind as SlaSubjectKind,
      subjectName: row.subjectName,
      objective: Number(row.objective),
      windowSeconds: row.windowSeconds === null ? null : Number(row.windowSeconds),
      schedule: row.schedule,
      metric: row.metric,
      severity: row.severity as SlaSeverity,
      enabled: row.enabled,
      source: row.source as SlaSource,
      pipelineId: row.pipelineId,
      state: row.state as SlaState,
      observed: row.observed === null ? null : Number(row.observed),
      evaluatedAt: row.evaluatedAt,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One breach of an SLA: from the check that broke the objective to the one that met it again." })
export class SlaBreach {
  @Field(() => ID, { description: "Server-assigned UUID of the breach." })
  id: string;

  @Field(() => ID, { description: "The SLA breached." })
  slaId: string;

  @Field({ description: "The check that found the objective broken." })
  startedAt: Date;

  @Field(() => Date, { nullable: true, description: "The check that found it met again; null while open." })
  recoveredAt: Date | null;

  @Field(() => Float, { description: "The observed value that broke the objective." })
  observed: number;

  @Field(() => Float, { nullable: true, description: "The value when it recovered; null while open (or when there was no data then)." })
  recoveredObserved: number | null;

  @Field(() => Float, { description: "The objective when it broke." })
  objective: number;

  @Field(() => Float, { nullable: true, description: "The window when it broke, in seconds." })
  windowSeconds: number | null;

  @Field(() => ID, { nullable: true, description: "The alert it opened (see `alerts`, source SLA)." })
  alertId: string | null;

  @Field(() => GraphQLJSONObject, { description: "What the breaking value was computed from (runs, fires, counts)." })
  detail: Record<string, unknown>;

  static from(row: SlaBreachRow): SlaBreach {
    return Object.assign(new SlaBreach(), {
      ...row,
      observed: Number(row.observed),
      recoveredObserved: row.recoveredObserved === null ? null : Number(row.recoveredObserved),
      objective: Number(row.objective),
      windowSeconds: row.windowSeconds === null ? null : Number(row.windowSeconds),
    });
  }
}

@ObjectType({ description: "An SLA's current state: the last check, what it observed, and the open breach." })
export class SlaStatus {
  @Field(() => Sla, { description: "The SLA." })
  sla: Sla;

  @Field(() => SlaState, { description: "Its state at the last check." })
  state: SlaState;

  @Field(() => Float, { nullable: true, description: "The value observed at the last check, in the objective's unit." })
  observed: number | null;

  @Field(() => Float, { description: "The objective." })
  objective: number;

  @Field(() => Date, { nullable: true, description: "When it was last checked." })
  evaluatedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "Since when it has been in this state." })
  stateSince: Date | null;

  @Field(() => GraphQLJSONObject, { description: "What the last value was computed from: run ids, fire times, counts." })
  detail: Record<string, unknown>;

  @Field(() => SlaBreach, { nullable: true, description: "The open breach; null unless BREACHED." })
  openBreach: SlaBreach | null;

  @Field(() => [SlaBreach], { description: "The newest breaches, newest first (at most 20)." })
  recentBreaches: SlaBreach[];
}

@ObjectType({ description: "An SLA broke or recovered, from the event stream. `cursor` resumes the subscription." })
export class SlaEvent {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field({ description: "`sla.breached` or `sla.recovered`." })
  type: string;

  @Field(() => ID, { description: "The SLA." })
  slaId: string;

  @Field(() => GraphQLJSONObject, {
    description:
      "slaId, sla (its name), kind, subjectKind, subjectName, observed, objective, windowSeconds, severity, breachId, alertId, startedAt, detail; recovered: recoveredAt, breachSeconds.",
  })
  payload: Record<string, unknown>;

  @Field({ description: "When it happened." })
  at: Date;

  static from(row: EventRow): SlaEvent {
    return Object.assign(new SlaEvent(), { cursor: row.id, type: row.type, slaId: row.subjectId, payload: row.payload, at: row.createdAt });
  }
}

export const {
  Connection: SlaConnection,
  Order: SlaOrder,
  sortOf: slaSort,
  Filter: SlaFilter,
} = ListTypes(Sla, "Sla", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    kind: FilterBy.oneOf(SlaKind, "Only SLAs of this kind."),
    subjectName: FilterBy.text("Only SLAs about this pipeline, dataset or endpoint name."),
    state: FilterBy.oneOf(SlaState, "Only SLAs in this state, e.g. BREACHED."),
    source: FilterBy.oneOf(SlaSource, "Only SLAs made through the API, or declared in specs."),
    enabled: FilterBy.flag("Only enabled (true) or disabled (false) SLAs."),
  },
});
export type SlaConnection = InstanceType<typeof SlaConnection>;
export type SlaOrder = InstanceType<typeof SlaOrder>;
export type SlaFilter = InstanceType<typeof SlaFilter>;

@InputType({ description: "A new SLA (units of `objective` by kind: see SlaKind)." })
export class CreateSlaInput {
  @Field(() => ID, { description: "The project." })
  projectId: string;

  @Field({ description: "Unique in the project: 1 to 63 lowercase letters, digits, _ or -." })
  name: string;

  @Field(() => SlaKind, { description: "What it promises." })
  kind: SlaKind;

  @Field({ description: "The pipeline, dataset or endpoint name (by the kind) it is about." })
  subjectName: string;

  @Field(() => Float, { description: "The objective in the kind's unit." })
  objective: number;

  @Field(() => Float, {
    nullable: true,
    description: "Seconds to look back; required by the rate and live-performance kinds, refused by the others.",
  })
  windowSeconds?: number | null;

  @Field(() => String, { nullable: true, description: "PIPELINE_DEADLINE: watch only this schedule of the pipeline." })
  schedule?: string | null;

  @Field(() => String, { nullable: true, description: "ENDPOINT_LIVE_PERFORMANCE: accuracy, roc_auc, log_loss, rmse or mae." })
  metric?: string | null;

  @Field(() => SlaSeverity, { nullable: true, description: "The alert's severity; WARNING when left out." })
  severity?: SlaSeverity | null;

  @Field(() => String, { nullable: true, description: "What it is for." })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: "False: defined but not checked. True when left out." })
  enabled?: boolean | null;
}

@InputType({
  description:
    "Changes an SLA made through the API; a field left out keeps its value (an SLA declared in a spec is changed by applying the spec).",
})
export class UpdateSlaInput {
  @Field(() => ID, { description: "The SLA." })
  slaId: string;

  @Field(() => String, { nullable: true, description: "Another subject of the same kind." })
  subjectName?: string | null;

  @Field(() => Float, { nullable: true, description: "The objective in the kind's unit." })
  objective?: number | null;

  @Field(() => Float, { nullable: true, description: "Seconds to look back (the windowed kinds)." })
  windowSeconds?: number | null;

  @Field(() => String, { nullable: true, description: "PIPELINE_DEADLINE: the one schedule watched." })
  schedule?: string | null;

  @Field(() => String, { nullable: true, description: "ENDPOINT_LIVE_PERFORMANCE: the live metric." })
  metric?: string | null;

  @Field(() => SlaSeverity, { nullable: true, description: "The alert's severity." })
  severity?: SlaSeverity | null;

  @Field(() => String, { nullable: true, description: "What it is for." })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: "False stops checking it." })
  enabled?: boolean | null;
}

@InputType({ description: "Names an SLA." })
export class SlaIdInput {
  @Field(() => ID, { description: "The SLA." })
  slaId: string;
}

@ObjectType({ description: "The SLA a mutation created or changed." })
export class SlaPayload {
  @Field(() => Sla, { description: "The SLA as stored now." })
  sla: Sla;
}
export const SlaResult = MutationResult("Sla", SlaPayload);

@ObjectType({ description: "The SLA a mutation deleted." })
export class DeleteSlaPayload {
  @Field(() => ID, { description: "The deleted SLA's id." })
  slaId: string;
}
export const DeleteSlaResult = MutationResult("DeleteSla", DeleteSlaPayload);
