/**
 * The built-in operators of the data plane, for pipeline specs (`run: { operator: "ingest" }`):
 * where each one's stage function lives (loaded by the local runner's worker threads) and its
 * contract — the inputs, outputs and parameters a stage using it must declare. `applyPipeline`
 * checks stages against these contracts, so a missing output is refused at apply time rather
 * than at the end of a run.
 */
import type { OperatorRef } from "../../runners/local/operators";
import type { OperatorContract } from "../pipelines";
import { queryShapeProblem } from "../datasets/columnar";
import { HYPERPARAMETERS, hyperparameterSchema, TRAIN_ALGORITHMS, type TrainAlgorithm, MAX_TRIALS, searchSpecProblems } from "../training";
import { validateFeatureView } from "../features/view-schema";
import { validateSuite } from "../validation/suite";
import { InvalidInputError } from "../kernel/errors";
import { parseFieldPath } from "../kernel/field-path";

const name = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,62}$" };
/** A dataset name `split` suffixes with `-train` and `-test`, leaving room for them within 63 characters. */
const splitName = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,56}$" };
const schemaPolicy = { enum: ["ALLOW_ALL", "FAIL_ON_BREAKING", "FAIL_ON_ANY"] };
/** An ISO date or date-time (a missing offset means UTC). */
const instant = {
  type: "string",
  pattern: "^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$",
};

/** The parameters of one way of splitting that the other way does not take, and a time split's one bound. */
function splitParamProblems(params: Record<string, unknown>): Array<{ path: string[]; message: string }> {
  const only = params.by === "time" ? ["seed", "key"] : ["timeColumn", "cutoff"];
  const problems = only.filter((k) => k in params).map((k) => ({ path: [k], message: `does not apply to by: ${String(params.by)}` }));
  if (params.by === "time") {
    const bounds = ["cutoff", "testFraction"].filter((k) => k in params);
    if (bounds.length !== 1)
      problems.push({
        path: [bounds.length ? "testFraction" : "cutoff"],
        message: "a time split takes either cutoff (an instant) or testFraction (the share of the time range at its end), not both",
      });
  }
  return problems;
}

/**
 * The problems a pure validator throws for the parameter `param`, as paths below the stage's
 * params: `validateFeatureView`'s `entities[0]` becomes `view.entities[0]`, and a problem with
 * the whole value (field `view`) stays `view`. Used by `checkParams`, so a definition is refused
 * at apply with the messages the run would have failed with.
 */
function paramProblems(param: string, check: () => unknown): Array<{ path: Array<string | number>; message: string }> {
  try {
    check();
    return [];
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    return err.problems.map((p) => ({ path: p.field === param ? [param] : [param, ...parseFieldPath(p.field)], message: p.message }));
  }
}

export const OPERATOR_CONTRACTS: Readonly<Record<string, OperatorContract>> = Object.freeze({
  ingest: {
    inputs: {},
    optionalInputs: { file: "File" },
    outputs: { data: "Dataset" },
    paramsSchema: {
      type: "object",
      required: ["dataset", "format"],
      additionalProperties: false,
      properties: {
        dataset: name,
        paths: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
        format: { enum: ["csv", "parquet", "json", "jsonl"] },
        hivePartitioning: { type: "boolean" },
        csv: {
          type: "object",
          additionalProperties: false,
          properties: {
            delimiter: { type: "string" },
            header: { type: "boolean" },
            quote: { type: "string" },
            escape: { type: "string" },
            nullString: { type: "string" },
          },
        },
        where: { type: "string", minLength: 1 },
        schemaPolicy,
      },
    },
  },
  // Every other input of kind Dataset (or FeatureSet) is a table of the query, named after the input.
  transform: {
    inputs: {},
    optionalInputs: { "*": "Dataset" },
    outputs: { data: "Dataset" },
    paramsSchema: {
      type: "object",
      required: ["dataset", "sql"],
      additionalProperties: false,
      properties: {
        dataset: name,
        sql: { type: "string", minLength: 1, maxLength: 100_000 },
        schemaPolicy,
      },
    },
    // The statement's shape only; DuckDB parses the query and checks its tables when the stage runs.
    checkParams: (params) => {
      const problem = typeof params.sql === "string" ? queryShapeProblem(params.sql) : undefined;
      return problem ? [{ path: ["sql"], message: problem }] : [];
    },
  },
  split: {
    inputs: { data: "Dataset" },
    outputs: { train: "Dataset", test: "Dataset" },
    paramsSchema: {
      type: "object",
      required: ["dataset", "by"],
      additionalProperties: false,
      properties: {
        dataset: splitName,
        by: { enum: ["fraction", "time"] },
        testFraction: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
        seed: { type: "integer" },
        key: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", minLength: 1 } },
        timeColumn: { type: "string", minLength: 1 },
        cutoff: instant,
        schemaPolicy,
      },
      // What each way needs; what it does not take is refused by checkParams, with a message per field.
      allOf: [
        { if: { properties: { by: { const: "fraction" } }, required: ["by"] }, then: { required: ["testFraction"] } },
        { if: { properties: { by: { const: "time" } }, required: ["by"] }, then: { required: ["timeColumn"] } },
      ],
    },
    checkParams: (params) => splitParamProblems(params),
  },
  validate: {
    inputs: { data: "Dataset" },
    optionalInputs: { reference: "Dataset" },
    outputs: { report: "Report" },
    conditionalOutputs: { param: "quarantine", outputs: { passed: "Dataset", quarantine: "Dataset" } },
    paramsSchema: {
      type: "object",
      required: ["suite"],
      additionalProperties: false,
      properties: {
        // The suite itself is checked by validateSuite in checkParams, with messages naming each expectation.
        suite: { type: "object" },
        quarantine: { type: "boolean" },
        sampleSize: { type: "integer", minimum: 0, maximum: 1000 },
      },
    },
    checkParams: (params) => paramProblems("suite", () => validateSuite(params.suite)),
  },
  "features.materialize": {
    inputs: { source: "Dataset" },
    outputs: { features: "FeatureSet" },
    paramsSchema: {
      type: "object",
      required: ["view"],
      additionalProperties: false,
      // The view itself is checked by validateFeatureView in checkParams (its SQL binds against the source at run time).
      properties: { view: { type: "object" } },
    },
    checkParams: (params) => paramProblems("view", () => validateFeatureView(params.view)),
  },
  "features.trainingSet": {
    inputs: { entities: "Dataset" },
    optionalInputs: { "*": "FeatureSet" },
    outputs: { trainingSet: "FeatureSet" },
    paramsSchema: {
      type: "object",
      additionalProperties: false,
      properties: {
        timestampColumn: { type: "string", minLength: 1 },
        prefix: { type: "boolean" },
        features: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
        name: { type: "string", maxLength: 200 },
      },
    },
  },
  train: {
    // `data` may be a Dataset or a FeatureSet (e.g. a features.trainingSet output): required inputs are checked for presence only.
    inputs: { data: "Dataset" },
    outputs: { model: "Model" },
    paramsSchema: {
      type: "object",
      required: ["algorithm", "target", "features"],
      additionalProperties: false,
      properties: {
        algorithm: { enum: [...TRAIN_ALGORITHMS] },
        target: { type: "string", minLength: 1 },
        features: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", minLength: 1 } },
        preprocessing: {
          type: "array",
          items: {
            type: "object",
            required: ["column"],
            additionalProperties: false,
            properties: {
              column: { type: "string", minLength: 1 },
              impute: {
                anyOf: [
                  { enum: ["mean", "median", "most_frequent"] },
                  {
                    type: "object",
                    required: ["constant"],
                    additionalProperties: false,
                    properties: { constant: { type: ["number", "string"] } },
                  },
                ],
              },
              scale: { enum: ["standard", "minmax"] },
              oneHot: {
                type: "object",
                additionalProperties: false,
                properties: { maxCategories: { type: "integer", minimum: 1 } },
              },
              bucketize: {
                type: "object",
                required: ["boundaries"],
                additionalProperties: false,
                properties: { boundaries: { type: "array", minItems: 1, items: { type: "number" } } },
              },
            },
          },
        },
        hyperparameters: {
          type: "object",
          additionalProperties: false,
          properties: Object.fromEntries(Object.entries(HYPERPARAMETERS).map(([k, def]) => [k, hyperparameterSchema(def)])),
        },
        // The shape only: names, values, ranges and the metric are checked against the algorithm by `checkParams`.
        search: {
          type: "object",
          required: ["strategy", "space", "metric"],
          additionalProperties: false,
          properties: {
            strategy: { enum: ["grid", "random"] },
            space: { type: "object", minProperties: 1 },
            trials: { type: "integer", minimum: 1, maximum: MAX_TRIALS },
            metric: { type: "string", minLength: 1 },
            direction: { enum: ["maximize", "minimize"] },
            seed: { type: "integer" },
            workers: { type: "integer", minimum: 0, maximum: 64 },
          },
        },
        validationFraction: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
        seed: { type: "integer" },
        maxRows: { type: "integer", minimum: 2 },
      },
    },
    checkParams: (params) => {
      const { algorithm, search, hyperparameters } = params as { algorithm?: unknown; search?: unknown; hyperparameters?: unknown };
      if (search === undefined || !TRAIN_ALGORITHMS.includes(algorithm as TrainAlgorithm)) return [];
      const fixed = typeof hyperparameters === "object" && hyperparameters !== null ? (hyperparameters as Record<string, unknown>) : {};
      return searchSpecProblems(search, algorithm as TrainAlgorithm, fixed);
    },
  },
  evaluate: {
    inputs: { model: "Model", data: "Dataset" },
    optionalInputs: { champion: "Model" },
    outputs: { report: "Report" },
    paramsSchema: {
      type: "object",
      required: ["target"],
      additionalProperties: false,
      properties: {
        target: { type: "string", minLength: 1 },
        task: { enum: ["binary", "multiclass", "regression"] },
        threshold: { type: "number", minimum: 0, maximum: 1 },
        slices: { type: "array", items: { type: "string", minLength: 1 }, uniqueItems: true },
        sensitive: { type: "string", minLength: 1 },
        positiveLabel: { type: ["string", "number", "boolean"] },
        maxRows: { type: "integer", minimum: 1 },
        minCount: { type: "integer", minimum: 1 },
      },
    },
  },
  score: {
    inputs: { model: "Model", data: "Dataset" },
    outputs: { predictions: "Dataset" },
    paramsSchema: {
      type: "object",
      required: ["dataset"],
      additionalProperties: false,
      properties: {
        dataset: name,
        keep: { type: "array", items: { type: "string", minLength: 1 }, uniqueItems: true },
        chunkRows: { type: "integer", minimum: 1, maximum: 1_048_576 },
        schemaPolicy,
      },
    },
  },
  // Runs on no runner: the server registers the model (when not yet registered) and waits for
  // its approval request to be decided (src/governance/gates.ts). An optional `model` output
  // passes the approved file on to the stages below.
  gate: {
    inputs: { model: "Model" },
    outputs: {},
    paramsSchema: {
      type: "object",
      required: ["model"],
      additionalProperties: false,
      properties: {
        model: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$" },
        description: { type: "string", maxLength: 4000 },
        tags: { type: "object", additionalProperties: { type: "string", maxLength: 1000 } },
        // The alias the approved version takes (say `champion`), so endpoints following it swap.
        promote: { type: "string", pattern: "^[a-z][a-z0-9_-]{0,62}$" },
      },
    },
  },
});

/** Where each data-plane operator's stage function lives, for `createLocalRunner({ operators })`. */
export const DATA_PLANE_OPERATORS: Readonly<Record<string, OperatorRef>> = Object.freeze({
  ingest: { module: require.resolve("../datasets/operators/ingest"), export: "ingest" },
  validate: { module: require.resolve("../validation/operators/validate"), export: "validate" },
  "features.materialize": { module: require.resolve("../features/operators/materialize"), export: "materialize" },
  "features.trainingSet": { module: require.resolve("../features/operators/training-set"), export: "trainingSet" },
  train: { module: require.resolve("../training/operators/train"), export: "train" },
  evaluate: { module: require.resolve("../evaluation/operators/evaluate"), export: "evaluate" },
  score: { module: require.resolve("../scoring/operators/score"), export: "score" },
  transform: { module: require.resolve("../datasets/operators/transform"), export: "transform" },
  split: { module: require.resolve("../datasets/operators/split"), export: "split" },
});
