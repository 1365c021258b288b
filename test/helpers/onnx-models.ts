import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";

/**
 * Small valid ONNX models for tests, built with Sluice's own graph builder.
 * A regressor: `variable = X · coefficients + intercept`, X of shape [N, coefficients.length].
 * Distinct coefficients give distinct files (registration is content-addressed).
 */
export function linearModel(coefficients: number[], intercept = 0): Uint8Array {
  const g = new GraphBuilder();
  g.node(
    "LinearRegressor",
    ["X"],
    ["variable"],
    { coefficients: { floats: coefficients }, intercepts: { floats: [intercept] } },
    ML_DOMAIN,
  );
  return g.build({ inputs: [valueInfo("X", "float", [null, coefficients.length])], outputs: [valueInfo("variable", "float", [null, 1])] });
}

/**
 * A binary classifier over two float columns fed separately, as Sluice's trainers export:
 * P(y=1) = sigmoid(coefficients · [inputs] + intercept); outputs `label` and `probabilities`.
 */
export function logisticModel(coefficients: [number, number], intercept: number, inputs: [string, string] = ["x0", "x1"]): Uint8Array {
  const g = new GraphBuilder();
  g.node("Concat", inputs, ["X"], { axis: { int: 1 } });
  g.node(
    "LinearClassifier",
    ["X"],
    ["label", "probabilities"],
    {
      coefficients: { floats: coefficients },
      intercepts: { floats: [intercept] },
      classlabels_ints: { ints: [0, 1] },
      post_transform: { string: "LOGISTIC" },
    },
    ML_DOMAIN,
  );
  return g.build({
    inputs: [valueInfo(inputs[0], "float", [null, 1]), valueInfo(inputs[1], "float", [null, 1])],
    outputs: [valueInfo("label", "int64", [null]), valueInfo("probabilities", "float", [null, 2])],
  });
}
