/**
 * ONNX export of a gradient-boosted tree model together with its preprocessing, as one graph whose
 * inputs are the raw columns: exportPreprocessor's float [N, cols] output feeds the TreeEnsemble
 * node. Outputs as for linear models: `label` int64 [N] + `probabilities` float [N, C] for a
 * classifier, `variable` float [N, 1] for a regressor — so `verifyExport` checks both kinds; a
 * classifier given its class names answers them as `label` string [N] instead, its index as
 * `label_index` int64 [N] (onnx/class-labels.ts).
 */
import { InvalidInputError } from "../kernel/errors";
import type { GbtModel } from "./gbt/boost";
import type { ExportedModel } from "./export-linear";
import { addTreeEnsemble } from "./export-trees";
import { GraphBuilder, valueInfo } from "./onnx/builder";
import { LABEL_INDEX_OUTPUT, addClassLabels, classLabelsMetadata } from "./onnx/class-labels";
import { exportPreprocessor, inputSignature, type FittedPreprocessor, type TensorSignature } from "./preprocess";

/** `classes`: a classifier's class names in index order, exported as the `label` output (the index as `label_index`). */
export function exportGbtModel(fitted: FittedPreprocessor, model: GbtModel, classes?: readonly string[]): ExportedModel {
  if (model.nFeatures !== fitted.cols)
    throw new Error(`the model has ${model.nFeatures} features, the preprocessing produces ${fitted.cols}`);
  const g = new GraphBuilder();
  const { inputs, output: features } = exportPreprocessor(fitted, g);
  const named = model.task !== "regression" && classes !== undefined;
  if (named && classes.length !== model.nClasses) throw new Error(`${classes.length} class names for a model of ${model.nClasses} classes`);
  const out = addTreeEnsemble(g, model, features, named ? { label: LABEL_INDEX_OUTPUT } : {});
  let outputs: TensorSignature[] = out.signature.outputs.map((o) => ({ name: o.name, type: o.type, shape: o.shape }));
  if (named) {
    // skl2onnx's order: label (the names) then probabilities; the index last.
    const index = outputs.find((o) => o.name === LABEL_INDEX_OUTPUT)!;
    outputs = [addClassLabels(g, out.label!, classes), ...outputs.filter((o) => o !== index), index];
  }
  // Column names become graph input names: they must not clash with a name inside the graph.
  const internal = new Set<string>([...g.initializers.map((t) => t.name ?? ""), ...g.nodes.flatMap((n) => n.output ?? [])]);
  for (const i of fitted.inputs) {
    if (internal.has(i.name))
      throw new InvalidInputError([
        { field: i.name, message: "the column name clashes with a name inside the exported graph: rename the column" },
      ]);
  }
  const bytes = g.build({
    inputs,
    outputs: outputs.map((o) => valueInfo(o.name, o.type, o.shape)),
    graphName: `gbt_${model.task}`,
    docString: `sluice gradient-boosted trees (${model.task}, ${model.trees.length} trees); features: ${fitted.featureNames.join(", ")}`,
    metadata: named ? classLabelsMetadata(classes) : {},
    requireTypes: true,
  });
  return { bytes, signature: { inputs: inputSignature(fitted), outputs } };
}
