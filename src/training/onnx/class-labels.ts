/**
 * Class names in an exported classifier. The classifier node answers class indices (`label`,
 * int64 [N], 0..C-1) — what monitoring, evaluation and existing clients read — and a LabelEncoder
 * (ai.onnx.ml) maps them to the class names as a second output, `class_label` (string [N]). The
 * names live in the graph rather than being mapped by Sluice's server so that any ONNX runtime or
 * tool running the file gets them too; the same list is in the model's `metadata_props` under
 * `sluice.class_labels` (a JSON array) for tools that read metadata rather than run the graph, and
 * for the registry, which stores it on the model version.
 */
import { ML_DOMAIN, type GraphBuilder } from "./builder";
import type { TensorSignature } from "../preprocess";

/** The output holding each row's class name. */
export const CLASS_LABEL_OUTPUT = "class_label";
/** The `metadata_props` key holding the class names (JSON array, index order). */
export const CLASS_LABELS_METADATA = "sluice.class_labels";

/** Adds the index → name mapping after the classifier's `labelOutput`; returns the new output's signature. */
export function addClassLabels(g: GraphBuilder, labelOutput: string, classes: readonly string[]): TensorSignature {
  g.node(
    "LabelEncoder",
    [labelOutput],
    [CLASS_LABEL_OUTPUT],
    {
      keys_int64s: { ints: classes.map((_, i) => i) },
      values_strings: { strings: [...classes] },
      // Never taken: the classifier answers only 0..C-1.
      default_string: { string: "" },
    },
    ML_DOMAIN,
  );
  return { name: CLASS_LABEL_OUTPUT, type: "string", shape: [null] };
}

/** The model metadata recording `classes`. */
export function classLabelsMetadata(classes: readonly string[] | undefined): Record<string, string> {
  return classes ? { [CLASS_LABELS_METADATA]: JSON.stringify(classes) } : {};
}
