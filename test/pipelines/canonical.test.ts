import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { canonicalJson, specHash } from "../../src/pipelines/canonical";
import { diamond } from "./sample-specs";

/** The same data with every object's keys in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reverseKeys(v)]),
  );
}

describe("canonicalJson", () => {
  it("sorts keys at every depth, keeps array order and writes no whitespace", () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1, { z: 0, y: null }], c: "x" } }), '{"a":{"c":"x","d":[3,1,{"y":null,"z":0}]},"b":1}');
  });

  it("drops undefined object values and honours toJSON", () => {
    assert.equal(canonicalJson({ a: undefined, b: new Date(0) }), '{"b":"1970-01-01T00:00:00.000Z"}');
  });

  it("escapes strings and writes numbers as JSON does", () => {
    assert.equal(canonicalJson(['é\n"', 1e21, -0, 0.1]), '["é\\n\\"",1e+21,0,0.1]');
  });

  it("refuses what JSON cannot hold", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [Number.NaN, Infinity, () => 1, 1n, [undefined], cyclic]) assert.throws(() => canonicalJson(bad), TypeError);
  });
});

describe("specHash", () => {
  it("is sha256 of the canonical JSON", () => {
    assert.match(specHash(diamond()), /^sha256:[0-9a-f]{64}$/);
  });

  it("is the same whatever the key order", () => {
    assert.equal(specHash(reverseKeys(diamond())), specHash(diamond()));
  });

  it("is the same whether defaults are omitted or written out", () => {
    const explicit: any = diamond();
    for (const stage of explicit.stages) {
      stage.runner = { labels: ["local"] };
      stage.retries = { max: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000 };
      stage.cache = { enabled: false };
      stage.params ??= {};
      stage.inputs ??= {};
    }
    assert.equal(specHash(explicit), specHash(diamond()));
  });

  it("changes when anything meaningful changes", () => {
    const base = specHash(diamond());
    const changes: Array<(s: any) => void> = [
      (s) => (s.name = "diamond2"),
      (s) => (s.description = "another"),
      (s) => (s.maxParallel = 2),
      (s) => s.stages.reverse(),
      (s) => (s.stages[3].params.epochs = 4),
      (s) => (s.stages[3].paramsSchema.properties.lr.default = 0.02),
      (s) => (s.stages[1].run.command = ["python", "features.py", "--fast"]),
      (s) => (s.stages[1].run.env = { SEED: "1" }),
      (s) => (s.stages[2].runner = { labels: ["gpu"] }),
      (s) => (s.stages[2].retries = { max: 1 }),
      (s) => (s.stages[2].timeoutMs = 1000),
      (s) => (s.stages[2].cache = { enabled: true }),
      (s) => (s.stages[3].inputs.stats = { artifact: "art1", kind: "Report" }),
      (s) => (s.stages[0].outputs.raw.kind = "File"),
      (s) => (s.stages[3].run.export = "main"),
    ];
    const seen = new Set([base]);
    for (const change of changes) {
      const spec = diamond();
      change(spec);
      const hash = specHash(spec);
      assert.ok(!seen.has(hash), `no new hash after ${change.toString()}`);
      seen.add(hash);
    }
  });

  it("refuses an invalid spec", () => {
    assert.throws(() => specHash({ name: "x", stages: [] }), InvalidInputError);
  });
});
