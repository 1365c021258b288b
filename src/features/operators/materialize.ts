import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { assertAgainstSource, validateFeatureView } from "../definition";
import { materializeOffline } from "../offline";

/** Parameters of `features.materialize`. */
export interface MaterializeParams {
  /** The feature view, as code: versioned with the pipeline, and registered as a view version of the project. */
  view: unknown;
}

/**
 * `features.materialize`: computes the view's feature table over the `source` input (a Dataset
 * version of the view's source dataset) as the `features` output (kind FeatureSet). When the
 * stage succeeds, the server registers the view (a new version when its definition changed),
 * records the materialization with its lineage to the source version, and loads the latest value
 * per entity into the online store. Downstream `features.trainingSet` stages read the view's
 * definition from this output's metadata.
 */
export async function materialize(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as MaterializeParams;
  const source = required(ctx.inputs, "source", "input", "features.materialize");
  const out = required(ctx.outputs, "features", "output", "features.materialize");
  return withInputErrorsFinal(async () => {
    const view = validateFeatureView(p.view);
    await assertAgainstSource(view, source.path);
    const result = await materializeOffline(view, source.path, out.path);
    ctx.log(`view ${view.name}: ${result.rowCount} feature rows`);
    ctx.metric("feature_rows", result.rowCount);
    return {
      features: {
        metadata: {
          featureView: view.name,
          view,
          rowCount: result.rowCount,
          format: "parquet",
          register: { type: "featureMaterialization", view, sourceInput: "source", rowCount: result.rowCount, schema: result.schema },
        },
      },
    };
  });
}
