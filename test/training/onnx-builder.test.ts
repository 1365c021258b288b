import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";

describe("the ONNX builder", () => {
  it("writes a Scaler + LinearRegressor graph that onnxruntime loads and runs", async () => {
    const g = new GraphBuilder();
    const [scaled] = g.node(
      "Scaler",
      ["X"],
      [g.value("scaled", "float", [null, 2])],
      { offset: { floats: [1, 2] }, scale: { floats: [0.5, 2] } },
      ML_DOMAIN,
    );
    g.node("LinearRegressor", [scaled!], ["variable"], { coefficients: { floats: [3, -1] }, intercepts: { floats: [0.25] } }, ML_DOMAIN);
    const bytes = g.build({ inputs: [valueInfo("X", "float", [null, 2])], outputs: [valueInfo("variable", "float", [null, 1])] });
    const session = await ort.InferenceSession.create(bytes);
    const x = new ort.Tensor("float32", Float32Array.from([3, 4, 1, 2]), [2, 2]);
    const out = await session.run({ X: x });
    const y = Array.from(out.variable!.data as Float32Array);
    // ((3-1)*0.5)*3 + ((4-2)*2)*-1 + 0.25 = 3 - 4 + 0.25; second row all zeros → 0.25
    assert.deepEqual(y, [-0.75, 0.25]);
  });
});
