/**
 * Class names in an exported classifier, in scikit-learn/skl2onnx's convention: the `label` output
 * carries the class itself (its name, string [N]), as a scikit-learn classifier's `predict` does.
 * The classifier node answers class indices (0..C-1) as `label_index` (int64 [N]), kept beside the
 * names for clients, monitoring and evaluation that work by position, and a LabelEncoder
 * (ai.onnx.ml) maps them to the names. The names live in the graph rather than being mapped by
 * Sluice's server so that any ONNX runtime or tool running the file answers as Sluice's serving
 * does; the same list is in the model's `metadata_props` under `sluice.class_labels` (a JSON array)
 * for tools that read metadata rather than run the graph, and for the registry, which stores it on
 * the model version.
 *
 * Graphs exported before this convention answered `label` as the index and `class_label` as the
 * names; serving maps them to this shape (src/registry/class-label-outputs.ts).
 */
import { ML_DOMAIN, type GraphBuilder } from "./builder";
import type { TensorSignature } from "../preprocess";

/** The output holding each row's class name (the class itself). */
export const LABEL_OUTPUT = "label";
/** The output holding each row's class index, which the classifier node answers. */
export const LABEL_INDEX_OUTPUT = "label_index";
/** The `metadata_props` key holding the class names (JSON array, index order). */
export const CLASS_LABELS_METADATA = "sluice.class_labels";

/**
 * Adds the index → name mapping after the classifier's `indexOutput` (which the caller names
 * `label_index`); returns the signature of the new `label` output.
 */
export function addClassLabels(g: GraphBuilder, indexOutput: string, classes: readonly string[]): TensorSignature {
  g.node(
    "LabelEncoder",
    [indexOutput],
    [LABEL_OUTPUT],
    {
      keys_int64s: { ints: classes.map((_, i) => i) },
      values_strings: { strings: [...classes] },
      // Never taken: the classifier answers only 0..C-1.
      default_string: { string: "" },
    },
    ML_DOMAIN,
  );
  return { name: LABEL_OUTPUT, type: "string", shape: [null] };
}

/** The model metadata recording `classes`. */
export function classLabelsMetadata(classes: readonly string[] | undefined): Record<string, string> {
  return classes ? { [CLASS_LABELS_METADATA]: JSON.stringify(classes) } : {};
}
