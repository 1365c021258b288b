// The flights example: monthly snapshots of 3 million US flights (Jan–Jun 2001, from the
// vega-datasets package) ingested as versions of the `flights` dataset, validated, and turned
// into a training set with point-in-time features, on which a delay classifier is trained and
// exported to ONNX. See examples/flights/README.md.
import { definePipeline, stage } from "sluice";
import { MODEL_FEATURES, airportDelays } from "./views";

export default definePipeline({
  name: "flights",
  description: "Monthly flight snapshots: ingest, validate, airport delay features, a point-in-time training set",
  stages: [
    stage({
      name: "ingest",
      description: "Every flight up to the end of the month given (override `where` per run: see months/)",
      run: { operator: "ingest" },
      params: {
        dataset: "flights",
        paths: ["node_modules/vega-datasets/data/flights-3m.parquet"],
        format: "parquet",
        where: "date < TIMESTAMP '2001-02-01'",
      },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "validate",
      description: "A gate: rows breaking a row-level rule are quarantined, anything else stops the run",
      run: { operator: "validate" },
      inputs: { data: { from: "ingest.data" } },
      params: {
        quarantine: true,
        suite: {
          name: "flights-quality",
          expectations: [
            { type: "not_null", column: "date" },
            { type: "not_null", column: "origin" },
            { type: "not_null", column: "destination" },
            { type: "matches_regex", column: "origin", regex: "^[A-Z]{3}$" },
            { type: "matches_regex", column: "destination", regex: "^[A-Z]{3}$" },
            { type: "between", column: "distance", min: 1, max: 6000 },
            { type: "between", column: "delay", min: -120, max: 1800, mostly: 0.999 },
            { type: "row_count_between", min: 100000 },
            { type: "mean_between", column: "delay", min: -10, max: 60, severity: "warn" },
          ],
        },
      },
      outputs: { report: { kind: "Report" }, passed: { kind: "Dataset" }, quarantine: { kind: "Dataset" } },
    }),
    stage({
      name: "origin-features",
      run: { operator: "features.materialize" },
      // `gate` orders this after validation: features are only computed from data that passed.
      inputs: { source: { from: "ingest.data" }, gate: { from: "validate.report" } },
      params: { view: airportDelays("origin") },
      outputs: { features: { kind: "FeatureSet" } },
    }),
    stage({
      name: "destination-features",
      run: { operator: "features.materialize" },
      inputs: { source: { from: "ingest.data" }, gate: { from: "validate.report" } },
      params: { view: airportDelays("destination") },
      outputs: { features: { kind: "FeatureSet" } },
    }),
    stage({
      name: "labels",
      description: "A sample of validated flights with the outcome to predict",
      run: { module: "./stages.ts", export: "labels" },
      inputs: { flights: { from: "validate.passed" } },
      params: { sample: 200000, seed: 42 },
      outputs: { labels: { kind: "File" } },
    }),
    stage({
      name: "ingest-labels",
      run: { operator: "ingest" },
      inputs: { file: { from: "labels.labels" } },
      params: { dataset: "flight-labels", format: "parquet", schemaPolicy: "ALLOW_ALL" },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "training-set",
      run: { operator: "features.trainingSet" },
      inputs: {
        entities: { from: "ingest-labels.data" },
        origin: { from: "origin-features.features" },
        destination: { from: "destination-features.features" },
      },
      params: { name: "flight-delays" },
      outputs: { trainingSet: { kind: "FeatureSet" } },
    }),
    stage({
      name: "train",
      description: "Will this flight be more than 15 minutes late? Gradient-boosted trees, exported to ONNX",
      run: { operator: "train" },
      inputs: { data: { from: "training-set.trainingSet" } },
      params: {
        algorithm: "gbt_classifier",
        target: "delayed",
        features: [...MODEL_FEATURES],
        hyperparameters: { maxIter: 100, maxDepth: 6, learningRate: 0.1 },
        seed: 42,
      },
      outputs: { model: { kind: "Model" } },
    }),
    stage({
      name: "evaluate",
      description:
        "The classifier on the point-in-time training set (the train stage's own metrics are on its held-out split), per weekday",
      run: { operator: "evaluate" },
      inputs: { model: { from: "train.model" }, data: { from: "training-set.trainingSet" } },
      params: { target: "delayed", slices: ["day_of_week"] },
      outputs: { report: { kind: "Report" } },
    }),
    stage({
      name: "approval",
      description: "Registers the classifier as a version of flight-delays and waits for its model policy and approvers",
      run: { operator: "gate" },
      // `evaluation` orders the gate after the evaluation, so the policy sees the report.
      inputs: { model: { from: "train.model" }, evaluation: { from: "evaluate.report" } },
      // Once approved, the version becomes the champion: endpoints following it swap to it.
      params: { model: "flight-delays", description: "Delay classifier from the flights example", promote: "champion" },
      outputs: { model: { kind: "Model" } },
    }),
  ],
});
