/**
 * Which model inputs a request may leave to the online feature store, and by which entity keys.
 *
 * A model trained on a training set takes the view features as plain inputs, named as the training
 * set named its columns: the feature's own name, or `<view>__<feature>` when the set was built with
 * `prefix: true`. The model version's lineage lists the feature views its run read
 * (`lineage.featureViewIds`); an input whose name is a feature of one of them, as one of those two
 * spellings, can be filled from that view's online values by the view's entity keys.
 *
 * Pure: the caller loads the views.
 */
import type { FeatureView } from "../../features";
import type { ModelSignature, TensorSpec } from "../../registry";
import { datatypeOfOnnx } from "../oip";

/** One model input fed by one feature of a view. */
export interface EnrichedInput {
  /** The model input's name. */
  input: string;
  /** The feature's name in the view (the key of the online values). */
  feature: string;
  spec: TensorSpec;
}

/** The inputs one view can fill, and the entity key columns (in order) a request sends to look them up. */
export interface ViewPlan {
  viewName: string;
  entities: string[];
  inputs: EnrichedInput[];
}

export interface EnrichmentPlan {
  views: ViewPlan[];
  /** Every input some view can fill, by input name. */
  byInput: Map<string, ViewPlan>;
}

/** The plan that enriches nothing: a model with no feature views (or none of whose inputs they give). */
export const NO_ENRICHMENT: EnrichmentPlan = { views: [], byInput: new Map() };

/**
 * A scalar input a view feature can fill: one value per row ([N], [N, 1] or of unknown shape) of a
 * datatype a JSON feature value can feed.
 */
function scalarPerRow(spec: TensorSpec): boolean {
  if (!datatypeOfOnnx(spec.type)) return false;
  if (!spec.shape) return true;
  if (spec.shape.length === 1) return spec.shape[0] === null;
  return spec.shape.length === 2 && spec.shape[0] === null && spec.shape[1] === 1;
}

/**
 * The plan of a model with `signature` trained on `views`. When two views offer the same input
 * name, the first in `views` feeds it (the training set refused clashing columns, so this only
 * happens across view versions the lineage lists both of — the same feature).
 */
export function planEnrichment(signature: ModelSignature, views: FeatureView[]): EnrichmentPlan {
  const inputs = new Map(signature.inputs.map((s) => [s.name, s]));
  const byInput = new Map<string, ViewPlan>();
  const plans = new Map<string, ViewPlan>();
  for (const view of views) {
    const plan = plans.get(view.name) ?? { viewName: view.name, entities: [...view.entities], inputs: [] };
    for (const f of view.features) {
      for (const name of [f.name, `${view.name}__${f.name}`]) {
        const spec = inputs.get(name);
        if (!spec || byInput.has(name) || !scalarPerRow(spec)) continue;
        // An input that is itself an entity key of the view is sent, never looked up.
        if (view.entities.includes(name)) continue;
        plan.inputs.push({ input: name, feature: f.name, spec });
        byInput.set(name, plan);
      }
    }
    if (plan.inputs.length > 0) plans.set(view.name, plan);
  }
  return plans.size === 0 ? NO_ENRICHMENT : { views: [...plans.values()], byInput };
}
