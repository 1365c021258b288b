import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, Int, ObjectType } from "type-graphql";

@ObjectType({ description: "One trial of a hyperparameter search: a configuration and its validation metrics." })
export class SearchTrial {
  @Field(() => Int, { description: "0-based, in the order the search tried configurations." })
  index: number;

  @Field(() => GraphQLJSONObject, {
    description: "The trial's full hyperparameters (the stage's fixed ones with the searched ones laid over).",
  })
  params: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: "Validation metrics, name → value (finite values only; empty when the trial failed)." })
  metrics: Record<string, number>;

  @Field(() => Float, { description: "How long the trial took to train and score, in milliseconds." })
  durationMs: number;

  @Field(() => String, { nullable: true, description: "Why the trial failed; a failed trial cannot be the best." })
  error: string | null;

  @Field({ description: "Whether this trial's model is the stage's Model output." })
  best: boolean;
}

@ObjectType({ description: "A `train` stage's hyperparameter search, read from its Model output's metadata (`search`)." })
export class HyperparameterSearch {
  @Field({ description: "`grid` or `random`." })
  strategy: string;

  @Field({ description: "The validation metric the trials were ranked by." })
  metric: string;

  @Field({ description: "`maximize` or `minimize`." })
  direction: string;

  @Field(() => Int, { nullable: true, description: "The seed of a random search's draws." })
  seed: number | null;

  @Field(() => Int, { description: "Index of the best trial, whose model is the output." })
  best: number;

  @Field(() => [SearchTrial], { description: "Every configuration the search tried, in the order tried; `best` marks the winner." })
  trials: SearchTrial[];

  /** From the `search` object the train operator stores in its output's metadata; null when it is not one. */
  static fromMetadata(metadata: Record<string, unknown>): HyperparameterSearch | null {
    const s = metadata.search as Record<string, unknown> | undefined;
    if (!s || typeof s !== "object" || !Array.isArray(s.trials) || typeof s.best !== "number") return null;
    const trials = (s.trials as Array<Record<string, unknown>>).map((t, index) =>
      Object.assign(new SearchTrial(), {
        index,
        params: (t.params ?? {}) as Record<string, unknown>,
        metrics: (t.metrics ?? {}) as Record<string, number>,
        durationMs: Number(t.durationMs ?? 0),
        error: typeof t.error === "string" ? t.error : null,
        best: index === s.best,
      }),
    );
    return Object.assign(new HyperparameterSearch(), {
      strategy: String(s.strategy),
      metric: String(s.metric),
      direction: String(s.direction),
      seed: typeof s.seed === "number" ? s.seed : null,
      best: s.best,
      trials,
    });
  }
}
