import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type * as ort from "onnxruntime-node";
import { InvalidInputError } from "../../src/kernel/errors";
import { decodeRequest, encodePredictions, encodeTensor, fromFloat16Bits, tensorMetadata, toFloat16Bits } from "../../src/serving/oip";
import type { ModelSignature } from "../../src/registry/signature";

const sig = (inputs: ModelSignature["inputs"], outputs: ModelSignature["outputs"] = [{ name: "y", type: "float", shape: [null, 1] }]) =>
  ({ inputs, outputs, opsets: {}, producer: "test" }) as ModelSignature;

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInputError) return err.problems.map((p) => `${p.field}: ${p.message}`);
    throw err;
  }
  assert.fail("expected an InvalidInputError");
}

describe("the OIP codec", () => {
  it("converts FP16 both ways, rounding to nearest even, with infinities and NaN", () => {
    const bits = toFloat16Bits(Float32Array.from([1, 0.5, -2, 65504, 1e6, 1e-8, 0.1, NaN, -Infinity, 5.960464477539063e-8]));
    assert.deepEqual(Array.from(bits), [0x3c00, 0x3800, 0xc000, 0x7bff, 0x7c00, 0x0000, 0x2e66, 0x7e00, 0xfc00, 0x0001]);
    const back = fromFloat16Bits(bits);
    assert.deepEqual(back.slice(0, 5), [1, 0.5, -2, 65504, Infinity]);
    assert.ok(Math.abs(back[6]! - 0.1) < 1e-4);
    assert.ok(Number.isNaN(back[7]));
    assert.equal(back[9], 2 ** -24);
  });

  it("decodes FP16 and UINT8 inputs into the typed arrays onnxruntime takes", () => {
    const d = decodeRequest(
      {
        inputs: [
          { name: "h", shape: [2], datatype: "FP16", data: [1, -2] },
          { name: "u", shape: [1, 2], datatype: "UINT8", data: [[0, 255]] },
        ],
      },
      sig([
        { name: "h", type: "float16", shape: [null] },
        { name: "u", type: "uint8", shape: [null, 2] },
      ]),
    );
    assert.equal(d.feeds.h!.type, "float16");
    assert.deepEqual(Array.from(d.feeds.h!.data as Uint16Array), [0x3c00, 0xc000]);
    assert.deepEqual(Array.from(d.feeds.u!.data as Uint8Array), [0, 255]);
    assert.equal(d.rows, undefined, "first dimensions differ: no single row count");
    assert.deepEqual(
      problems(() =>
        decodeRequest(
          { inputs: [{ name: "u", shape: [1, 2], datatype: "UINT8", data: [0, 256] }] },
          sig([{ name: "u", type: "uint8", shape: [null, 2] }]),
        ),
      ),
      ["inputs.u: data[1] is 256; UINT8 takes integers from 0 to 255"],
    );
  });

  it("refuses ragged or mis-shaped nested data, a non-OIP datatype, and a ZipMap output", () => {
    const s = sig(
      [{ name: "x", type: "float", shape: [null, 2] }],
      [
        { name: "label", type: "int64", shape: [null] },
        { name: "output_probability", type: "sequence", shape: null },
      ],
    );
    assert.match(
      problems(() => decodeRequest({ inputs: [{ name: "x", shape: [2, 2], datatype: "FP32", data: [[1, 2], [3]] }] }, s))[0]!,
      /holds 4 elements but data has 3/,
    );
    assert.match(
      problems(() => decodeRequest({ inputs: [{ name: "x", shape: [2, 2], datatype: "FP32", data: [[1, 2, 3], [4]] }] }, s))[0]!,
      /ragged/,
    );
    assert.match(
      problems(() => decodeRequest({ inputs: [{ name: "x", shape: [2, 2], datatype: "FLOAT", data: [1, 2, 3, 4] }] }, s))[0]!,
      /not an OIP datatype/,
    );
    const zipmap = problems(() =>
      decodeRequest(
        { inputs: [{ name: "x", shape: [1, 2], datatype: "FP32", data: [1, 2] }], outputs: [{ name: "output_probability" }] },
        s,
      ),
    );
    assert.match(zipmap[0]!, /outputs\[0\]: output "output_probability" is a sequence .*ZipMap/);
    // By default only tensor outputs are fetched.
    assert.deepEqual(decodeRequest({ inputs: [{ name: "x", shape: [1, 2], datatype: "FP32", data: [1, 2] }] }, s).outputs, ["label"]);
    assert.deepEqual(tensorMetadata(s.outputs[1]!), { name: "output_probability", datatype: "SEQUENCE", shape: [-1] });
    assert.deepEqual(
      problems(() => decodeRequest([1, 2], s)),
      ['body: must be a JSON object with "inputs" (or "instances")'],
    );
  });

  it("answers NaN as null, booleans as booleans, and splits records-form outputs per instance", () => {
    const t = { dims: [2, 2], type: "float32", data: Float32Array.from([0.5, NaN, 1, 2]) } as unknown as ort.Tensor;
    const out = encodeTensor("p", t);
    assert.deepEqual(out, { name: "p", shape: [2, 2], datatype: "FP32", data: [0.5, null, 1, 2] });
    const label = encodeTensor("l", { dims: [2], type: "bool", data: Uint8Array.from([1, 0]) } as unknown as ort.Tensor);
    assert.deepEqual(label.data, [true, false]);
    assert.deepEqual(encodePredictions([out, label], 2), [
      { p: [0.5, null], l: true },
      { p: [1, 2], l: false },
    ]);
  });
});
