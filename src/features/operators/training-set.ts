import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { type FeatureView, validateFeatureView } from "../definition";
import { buildTrainingSet } from "../training-set";

/** Parameters of `features.trainingSet`. */
export interface TrainingSetParams {
  /** The entity input's timestamp column. @default "event_timestamp" */
  timestampColumn?: string;
  /** Name feature columns `<view>__<feature>`. @default false */
  prefix?: boolean;
  /** A subset of features per feature input (by input name). @default every feature */
  features?: Record<string, string[]>;
  /** A label for the recorded training set. */
  name?: string;
}

/**
 * `features.trainingSet`: the point-in-time join of the `entities` input (a Dataset of entity
 * keys and timestamps, e.g. labelled events) with every other input, each the `features` output
 * of a `features.materialize` stage — for each entity row, each view's latest feature row at or
 * before its timestamp and within the view's TTL. The `trainingSet` output (kind FeatureSet) is
 * recorded as a training set with its lineage: the entity version and the materializations.
 */
export async function trainingSet(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as TrainingSetParams;
  const entities = required(ctx.inputs, "entities", "input", "features.trainingSet");
  const out = required(ctx.outputs, "trainingSet", "output", "features.trainingSet");
  return withInputErrorsFinal(async () => {
    const featureInputs = Object.entries(ctx.inputs).filter(([name]) => name !== "entities");
    if (featureInputs.length === 0) {
      throw Object.assign(new Error("features.trainingSet needs at least one input besides entities: a features.materialize output"), {
        nonRetryable: true,
      });
    }
    const views = featureInputs.map(([name, input]) => {
      const raw = input.metadata.view;
      if (!raw) {
        throw Object.assign(new Error(`input ${name} carries no feature view: wire it to a features.materialize stage's features output`), {
          nonRetryable: true,
        });
      }
      return { input: name, view: validateFeatureView(raw) as FeatureView, offlineFile: input.path, features: p.features?.[name] };
    });
    const timestampColumn = p.timestampColumn ?? "event_timestamp";
    const result = await buildTrainingSet({
      entityFile: entities.path,
      timestampColumn,
      views: views.map((v) => ({ view: v.view, offlineFile: v.offlineFile, features: v.features, prefix: !!p.prefix })),
      outFile: out.path,
    });
    ctx.log(`training set: ${result.rowCount} rows, ${result.columns.length} columns`);
    ctx.metric("rows", result.rowCount);
    return {
      trainingSet: {
        metadata: {
          rowCount: result.rowCount,
          format: "parquet",
          columns: result.columns,
          register: {
            type: "trainingSet",
            name: p.name ?? null,
            entitiesInput: "entities",
            timestampColumn,
            views: views.map((v) => ({ input: v.input, features: v.features ?? v.view.features.map((f) => f.name) })),
            rowCount: result.rowCount,
            columns: result.columns,
          },
        },
      },
    };
  });
}
