/**
 * The built-in trainers' hyperparameters: which family each belongs to, its type and its bounds.
 * One table, read by the `train` operator's contract (the JSON schema of `hyperparameters`), by
 * the operator (which names an algorithm may take) and by hyperparameter search (which values a
 * search space may try), so the three cannot disagree.
 */

export type HyperparameterFamily = "linear" | "gbt";

export interface HyperparameterDef {
  type: "number" | "integer" | "boolean";
  families: readonly HyperparameterFamily[];
  minimum?: number;
  /** Values must be strictly above this. */
  exclusiveMinimum?: number;
  maximum?: number;
}

export const HYPERPARAMETERS: Readonly<Record<string, HyperparameterDef>> = Object.freeze({
  l2: { type: "number", families: ["linear", "gbt"], minimum: 0 },
  maxIter: { type: "integer", families: ["linear", "gbt"], minimum: 0 },
  tol: { type: "number", families: ["linear", "gbt"], minimum: 0 },
  fitIntercept: { type: "boolean", families: ["linear"] },
  learningRate: { type: "number", families: ["gbt"], exclusiveMinimum: 0 },
  maxDepth: { type: "integer", families: ["gbt"], minimum: 1 },
  maxLeafNodes: { type: "integer", families: ["gbt"], minimum: 2 },
  minSamplesLeaf: { type: "integer", families: ["gbt"], minimum: 1 },
  minHessianLeaf: { type: "number", families: ["gbt"], minimum: 0 },
  minGainToSplit: { type: "number", families: ["gbt"], minimum: 0 },
  maxBins: { type: "integer", families: ["gbt"], minimum: 2, maximum: 255 },
  nIterNoChange: { type: "integer", families: ["gbt"], minimum: 1 },
  earlyStopping: { type: "boolean", families: ["gbt"] },
});

export const TRAIN_ALGORITHMS = ["logistic_regression", "linear_regression", "gbt_classifier", "gbt_regressor"] as const;
export type TrainAlgorithm = (typeof TRAIN_ALGORITHMS)[number];

export function familyOf(algorithm: TrainAlgorithm): HyperparameterFamily {
  return algorithm.startsWith("gbt_") ? "gbt" : "linear";
}

export function isClassifier(algorithm: TrainAlgorithm): boolean {
  return algorithm === "logistic_regression" || algorithm === "gbt_classifier";
}

/** The hyperparameter names an algorithm takes, in table order. */
export function hyperparametersOf(algorithm: TrainAlgorithm): string[] {
  const family = familyOf(algorithm);
  return Object.entries(HYPERPARAMETERS)
    .filter(([, d]) => d.families.includes(family))
    .map(([name]) => name);
}

/** The JSON schema of one hyperparameter's value. */
export function hyperparameterSchema(def: HyperparameterDef): Record<string, unknown> {
  return {
    type: def.type,
    ...(def.minimum !== undefined && { minimum: def.minimum }),
    ...(def.exclusiveMinimum !== undefined && { exclusiveMinimum: def.exclusiveMinimum }),
    ...(def.maximum !== undefined && { maximum: def.maximum }),
  };
}

/** Why `value` is not a valid value of `def`, or null when it is. */
export function hyperparameterValueProblem(def: HyperparameterDef, value: unknown): string | null {
  if (def.type === "boolean") return typeof value === "boolean" ? null : "must be true or false";
  if (typeof value !== "number" || !Number.isFinite(value)) return "must be a finite number";
  if (def.type === "integer" && !Number.isInteger(value)) return "must be an integer";
  if (def.minimum !== undefined && value < def.minimum) return `must be >= ${def.minimum}`;
  if (def.exclusiveMinimum !== undefined && value <= def.exclusiveMinimum) return `must be > ${def.exclusiveMinimum}`;
  if (def.maximum !== undefined && value > def.maximum) return `must be <= ${def.maximum}`;
  return null;
}

/**
 * The validation metrics a trained model of this algorithm gets (see the `train` operator), by task.
 * Classifiers' task (binary or multiclass) depends on the data, so both lists apply until the
 * target is loaded.
 */
export const VALIDATION_METRICS = Object.freeze({
  binary: ["roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier_score"],
  multiclass: [
    "accuracy",
    "log_loss",
    "roc_auc_ovr_macro",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
  ],
  regression: ["rmse", "mae", "r2"],
});

export type TrainTask = keyof typeof VALIDATION_METRICS;

/** The metrics the algorithm can produce: both classification lists for a classifier whose task is not known yet. */
export function validationMetricsOf(algorithm: TrainAlgorithm, task?: TrainTask): string[] {
  if (!isClassifier(algorithm)) return [...VALIDATION_METRICS.regression];
  if (task) return [...VALIDATION_METRICS[task]];
  return [...new Set([...VALIDATION_METRICS.binary, ...VALIDATION_METRICS.multiclass])];
}
