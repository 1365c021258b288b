import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../../kernel/graphql/list";
import { MutationResult } from "../../kernel/graphql/results";
import type { PredictionRow } from "./prediction.entity";

@ObjectType({ description: "One logged prediction: one instance of one inference request, and its outcome once reported." })
export class LoggedPrediction {
  @Field(() => ID, { description: "Server-assigned UUID of the logged row." })
  id: string;

  @Field(() => ID, { description: "The registered model whose version answered." })
  registeredModelId: string;

  @Field(() => ID, { description: "The model version that answered." })
  modelVersionId: string;

  @Field({
    description: "The name the request was addressed to: a deployment's endpoint, or the model's name when its champion is served.",
  })
  servedName: string;

  @Field({ description: "Which version of the endpoint answered: `primary`, `canary`, or `shadow` (mirrored, never returned)." })
  variant: string;

  @Field(() => String, { nullable: true, description: "The request's `id`, when it sent one." })
  requestId: string | null;

  @Field(() => Int, { description: "The instance's index in its request." })
  rowIndex: number;

  @Field(() => String, { nullable: true, description: "The key outcomes join on (parameters.prediction_ids, else the request id)." })
  predictionId: string | null;

  @Field(() => GraphQLJSONObject, { description: "The instance's inputs by input name." })
  inputs: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: "The instance's outputs by output name." })
  outputs: Record<string, unknown>;

  @Field(() => GraphQLJSON, { nullable: true, description: "The ground truth, once recordOutcome(s) reported it." })
  outcome: unknown;

  @Field(() => Date, { nullable: true, description: "When the outcome was last reported; null until it is." })
  outcomeAt: Date | null;

  @Field({ description: "When the prediction was made (and logged)." })
  createdAt: Date;

  static from(row: PredictionRow): LoggedPrediction {
    return Object.assign(new LoggedPrediction(), {
      id: row.id,
      registeredModelId: row.registeredModelId,
      modelVersionId: row.modelVersionId,
      servedName: row.servedName,
      variant: row.variant,
      requestId: row.requestId,
      rowIndex: row.rowIndex,
      predictionId: row.predictionId,
      inputs: row.inputs,
      outputs: row.outputs,
      outcome: row.outcome ?? null,
      outcomeAt: row.outcomeAt,
      createdAt: row.createdAt,
    });
  }
}

export const {
  Connection: LoggedPredictionConnection,
  Order: LoggedPredictionOrder,
  sortOf: loggedPredictionSort,
  Filter: LoggedPredictionFilter,
} = ListTypes(LoggedPrediction, "LoggedPrediction", {
  orderBy: { CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    predictionId: FilterBy.text("Only rows with this prediction id."),
    hasOutcome: FilterBy.flag("true: only rows with an outcome; false: only rows without."),
  },
  filterDescription: "Narrows a model's prediction log: a row must match every field given.",
});
export type LoggedPredictionConnection = InstanceType<typeof LoggedPredictionConnection>;
export type LoggedPredictionOrder = InstanceType<typeof LoggedPredictionOrder>;
export type LoggedPredictionFilter = InstanceType<typeof LoggedPredictionFilter>;

@InputType({ description: "One outcome of a `recordOutcomes` batch." })
export class OutcomeEntryInput {
  @Field({ description: "A logged prediction's id." })
  predictionId: string;

  @Field(() => GraphQLJSON, { description: "The ground truth: any JSON value but null." })
  outcome: unknown;
}

@InputType({ description: "Reports the ground truth of one prediction id of a registered model's log." })
export class RecordOutcomeInput {
  @Field(() => ID, { description: "The model's project." })
  projectId: string;

  @Field({ description: "The registered model's name (or id)." })
  model: string;

  @Field({ description: "The prediction id the outcome is for (`LoggedPrediction.predictionId`); every row with it gets the outcome." })
  predictionId: string;

  @Field(() => GraphQLJSON, { description: "The ground truth: any JSON value but null." })
  outcome: unknown;
}

@InputType({ description: "Reports the ground truth of many prediction ids of one registered model's log at once." })
export class RecordOutcomesInput {
  @Field(() => ID, { description: "The model's project." })
  projectId: string;

  @Field({ description: "The registered model's name (or id)." })
  model: string;

  @Field(() => [OutcomeEntryInput], { description: "At most 1000." })
  outcomes: OutcomeEntryInput[];
}

@ObjectType({ description: "How many reported outcomes found their predictions." })
export class OutcomesPayload {
  @Field(() => Int, { description: "Prediction ids that matched logged predictions (their outcomes are stored)." })
  matched: number;

  @Field(() => Int, { description: "Prediction ids no logged prediction has (nothing stored for them)." })
  unmatched: number;

  @Field(() => [String], { description: "The unmatched ids (the first 100)." })
  unmatchedIds: string[];

  @Field(() => Int, { description: "Logged rows updated (more than matched when a prediction id repeats)." })
  updatedRows: number;
}

export const OutcomesResult = MutationResult("Outcomes", OutcomesPayload);
