// An external trainer: a Python script (scikit-learn) run by the process runner trains a delay
// classifier on a Sluice dataset and writes an ONNX model that registers like a built-in
// trainer's. See examples/python-trainer/README.md.
import { definePipeline, stage } from "sluice";

export default definePipeline({
  name: "python-trainer",
  description: "January 2001 flights → CSV → scikit-learn LogisticRegression in Python → ONNX Model",
  stages: [
    stage({
      name: "ingest",
      description: "January's flights as a version of the `flights-january` dataset",
      run: { operator: "ingest" },
      params: {
        dataset: "flights-january",
        paths: ["node_modules/vega-datasets/data/flights-3m.parquet"],
        format: "parquet",
        where: "date < TIMESTAMP '2001-02-01'",
      },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "to-csv",
      description: "A seeded sample of the dataset version as CSV (Python reads it with numpy; no pyarrow needed)",
      run: { module: "./stages.ts", export: "toCsv" },
      inputs: { flights: { from: "ingest.data" } },
      params: { sample: 50000, seed: 42 },
      outputs: { csv: { kind: "File" } },
    }),
    stage({
      name: "train",
      description: "scikit-learn LogisticRegression, exported to ONNX with the onnx package's helper API",
      run: { command: ["/usr/bin/python3", "train.py"], codeVersion: "python-trainer/1" },
      inputs: { data: { from: "to-csv.csv" } },
      params: { features: ["hour", "day_of_week", "distance"], target: "delayed", C: 1.0, maxIter: 100, validationFraction: 0.2, seed: 42 },
      outputs: { model: { kind: "Model" }, predictions: { kind: "File" } },
    }),
  ],
});
