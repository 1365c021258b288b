import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { type ModelSignature, answerOutputs, answerSignature, fetchesFor } from "../../src/registry";

/**
 * How each graph shape of a classifier with class names answers `label` (the names) and
 * `label_index`: run on tensors as onnxruntime gives them, without a session.
 */
const NAMES = ["denied", "granted"];
const input = { name: "x", type: "float", shape: [null, 2] };
const probabilities = { name: "probabilities", type: "float", shape: [null, 2] };

function signature(outputs: Array<{ name: string; type: string }>, classLabels: string[] | null = NAMES): ModelSignature {
  return {
    inputs: [input],
    outputs: outputs.map((o) => ({ ...o, shape: o.name === "probabilities" ? [null, 2] : [null] })),
    opsets: {},
    producer: "test",
    ...(classLabels ? { classLabels } : {}),
  } as ModelSignature;
}

const index = () => new ort.Tensor("int64", BigInt64Array.from([1n, 0n, 1n]), [3]);
const names = () => new ort.Tensor("string", ["granted", "denied", "granted"], [3]);
const probs = () => new ort.Tensor("float32", Float32Array.from([0.2, 0.8, 0.9, 0.1, 0.3, 0.7]), [3, 2]);

/** The answer as plain [name, type, values] rows. */
function plain(outputs: Record<string, ort.OnnxValue>): Array<[string, string, unknown[]]> {
  return Object.entries(outputs).map(([name, t]) => {
    const tensor = t as ort.Tensor;
    return [name, tensor.type, Array.from(tensor.data as ArrayLike<unknown>, (v) => (typeof v === "bigint" ? Number(v) : v))];
  });
}

describe("class-label outputs", () => {
  const ALL = ["label", "probabilities", "label_index"];

  it("the earlier export (label the index, class_label the names) answers label + label_index, without class_label", () => {
    const sig = signature([{ name: "label", type: "int64" }, { ...probabilities }, { name: "class_label", type: "string" }]);
    assert.deepEqual(
      answerSignature(sig).outputs.map((o) => [o.name, o.type]),
      [
        ["label", "string"],
        ["probabilities", "float"],
        ["label_index", "int64"],
      ],
    );
    assert.deepEqual(fetchesFor(sig, ALL).sort(), ["class_label", "label", "probabilities"]);
    assert.deepEqual(fetchesFor(sig, ["label"]), ["class_label"]);
    const out = answerOutputs(sig, ALL, { label: index(), class_label: names(), probabilities: probs() });
    assert.deepEqual(plain(out), [
      ["label", "string", ["granted", "denied", "granted"]],
      ["probabilities", "float32", [0.2, 0.8, 0.9, 0.1, 0.3, 0.7].map(Math.fround)],
      ["label_index", "int64", [1, 0, 1]],
    ]);
  });

  it("an integer label with names only in metadata is mapped; an index out of range gives the name ''", () => {
    const sig = signature([{ name: "label", type: "int64" }, { ...probabilities }]);
    assert.deepEqual(fetchesFor(sig, ["label_index"]), ["label"]);
    const out = answerOutputs(sig, ["label", "label_index"], { label: new ort.Tensor("int64", BigInt64Array.from([1n, 5n]), [2]) });
    assert.deepEqual(plain(out), [
      ["label", "string", ["granted", ""]],
      ["label_index", "int64", [1, 5]],
    ]);
  });

  it("a string label (skl2onnx on text classes) gains label_index; a name not among the classes gives -1", () => {
    const sig = signature([{ name: "label", type: "string" }, { ...probabilities }]);
    assert.deepEqual(
      answerSignature(sig).outputs.map((o) => o.name),
      ALL,
    );
    const out = answerOutputs(sig, ["label_index", "label"], { label: new ort.Tensor("string", ["granted", "maybe"], [2]) });
    assert.deepEqual(plain(out), [
      ["label_index", "int64", [1, -1]],
      ["label", "string", ["granted", "maybe"]],
    ]);
  });

  it("leaves alone a graph that answers label + label_index itself, and any model without class names", () => {
    const current = signature([{ name: "label", type: "string" }, { ...probabilities }, { name: "label_index", type: "int64" }]);
    const unnamed = signature([{ name: "label", type: "int64" }, { ...probabilities }], null);
    for (const sig of [current, unnamed]) {
      assert.equal(answerSignature(sig), sig);
      assert.deepEqual(fetchesFor(sig, ["label"]), ["label"]);
      const fetched = { label: index() };
      assert.equal(answerOutputs(sig, ["label"], fetched), fetched);
    }
  });
});
