import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InvalidInputError } from "../../src/kernel/errors";
import type { FeatureView } from "../../src/features/definition";
import { MAX_ONLINE_KEYS } from "../../src/features/feature.service";
import type { ModelSignature } from "../../src/registry/signature";
import { enrichRequest, type LookupResult } from "../../src/serving/enrichment/enrich-request";
import { planEnrichment } from "../../src/serving/enrichment/plan";

const f32 = (name: string) => ({ name, type: "float", shape: [null, 1] as Array<number | null> });
const signature: ModelSignature = {
  inputs: [f32("hour"), f32("origin_delays__rate"), f32("trips"), { name: "wide", type: "float", shape: [null, 3] }],
  outputs: [{ name: "p", type: "float", shape: [null, 1] }],
  opsets: {},
  producer: "test",
};
const views: FeatureView[] = [
  {
    name: "origin_delays",
    entities: ["origin"],
    timestampColumn: "ts",
    source: { dataset: "flights" },
    features: [
      { name: "rate", expr: "x" },
      { name: "wide", expr: "x" },
    ],
  },
  {
    name: "routes",
    entities: ["origin", "carrier"],
    timestampColumn: "ts",
    source: { dataset: "flights" },
    features: [{ name: "trips", expr: "x" }],
  },
];

/** A store: values by view and encoded key; records every lookup. */
function store(values: Record<string, Record<string, Record<string, unknown>>>) {
  const calls: Array<{ view: string; keys: string[] }> = [];
  const lookup = async (view: string, keys: string[]): Promise<LookupResult[]> => {
    calls.push({ view, keys });
    return keys.map((k) => ({ values: values[view]?.[k] ?? null, expired: k === '["OLD"]' }));
  };
  return { calls, lookup };
}

describe("planEnrichment", () => {
  it("maps inputs named as a feature or <view>__<feature>, scalar per row only, keeping composite keys in order", () => {
    const plan = planEnrichment(signature, views);
    assert.deepEqual(
      plan.views.map((v) => [v.viewName, v.entities, v.inputs.map((i) => [i.input, i.feature])]),
      [
        ["origin_delays", ["origin"], [["origin_delays__rate", "rate"]]],
        ["routes", ["origin", "carrier"], [["trips", "trips"]]],
      ],
    );
    assert.equal(planEnrichment(signature, []).views.length, 0);
  });
});

describe("enrichRequest", () => {
  const plan = planEnrichment(signature, views);

  it("looks each view up once for the distinct keys of the rows that need it; sent values win", async () => {
    const { calls, lookup } = store({
      origin_delays: { '["SFO"]': { rate: 0.25 }, '["JFK"]': { rate: "0.5" } },
      routes: { '["SFO","UA"]': { trips: 7 } },
    });
    const body = {
      instances: [
        { origin: "SFO", carrier: "UA", hour: 1, wide: [1, 2, 3] },
        { origin: "JFK", carrier: "AA", hour: 2, wide: [1, 2, 3], trips: 99 },
        { origin: "SFO", carrier: "UA", hour: 3, wide: [1, 2, 3], origin_delays__rate: null },
      ],
    };
    const out = (await enrichRequest(body, plan, signature, lookup))!;
    assert.deepEqual(calls, [
      { view: "origin_delays", keys: ['["SFO"]', '["JFK"]'] },
      { view: "routes", keys: ['["SFO","UA"]'] },
    ]);
    assert.deepEqual(out.body.instances, [
      { hour: 1, wide: [1, 2, 3], origin_delays__rate: 0.25, trips: 7 },
      { hour: 2, wide: [1, 2, 3], trips: 99, origin_delays__rate: 0.5 },
      { hour: 3, wide: [1, 2, 3], origin_delays__rate: null, trips: 7 },
    ]);
    assert.deepEqual((out.logged.instances as any[])[1], {
      origin: "JFK",
      carrier: "AA",
      hour: 2,
      wide: [1, 2, 3],
      trips: 99,
      origin_delays__rate: 0.5,
    });
    assert.deepEqual(body.instances[0], { origin: "SFO", carrier: "UA", hour: 1, wide: [1, 2, 3] }, "the request is not changed in place");
  });

  it("reports unknown and expired keys, and gives them missing values", async () => {
    const { lookup } = store({});
    const out = (await enrichRequest(
      {
        instances: [
          { origin: "XXX", carrier: "UA" },
          { origin: "OLD", carrier: "UA" },
        ],
      },
      plan,
      signature,
      lookup,
    ))!;
    assert.deepEqual(
      (out.body.instances as any[]).map((i) => i.origin_delays__rate),
      [null, null],
    );
    assert.deepEqual(
      out.lookups.find((l) => l.view === "origin_delays"),
      { view: "origin_delays", keys: 2, unknown: 1, expired: 1 },
    );
  });

  it("names the rows with neither a feature nor all of its keys", async () => {
    const { lookup, calls } = store({});
    await assert.rejects(
      enrichRequest({ instances: [{ origin: "SFO", carrier: "UA" }, { origin: "SFO" }] }, plan, signature, lookup),
      (err: InvalidInputError) => {
        assert.deepEqual(err.problems, [
          { field: "instances[1]", message: 'missing column "trips" and the entity key "carrier" of feature view routes to look it up' },
        ]);
        return true;
      },
    );
    assert.equal(calls.length, 0, "nothing is looked up for a refused request");
  });

  it("does nothing for a request that sends every feature and no keys", async () => {
    const { lookup } = store({});
    assert.equal(
      await enrichRequest({ instances: [{ hour: 1, origin_delays__rate: 1, trips: 2, wide: [1, 2, 3] }] }, plan, signature, lookup),
      undefined,
    );
  });

  it("adds OIP tensors from BYTES key inputs and removes the keys the model does not take", async () => {
    const { lookup } = store({ origin_delays: { '["SFO"]': { rate: 0.25 } }, routes: {} });
    const out = (await enrichRequest(
      {
        inputs: [
          { name: "hour", datatype: "FP32", shape: [2, 1], data: [1, 2] },
          { name: "origin", datatype: "BYTES", shape: [2, 1], data: [["SFO"], ["LAX"]] },
          { name: "carrier", datatype: "BYTES", shape: [2], data: ["UA", "UA"] },
        ],
      },
      plan,
      signature,
      lookup,
    ))!;
    assert.deepEqual(
      (out.body.inputs as any[]).map((i) => [i.name, i.shape, i.data]),
      [
        ["hour", [2, 1], [1, 2]],
        ["origin_delays__rate", [2, 1], [0.25, null]],
        ["trips", [2, 1], [null, null]],
      ],
    );
    assert.deepEqual(
      (out.logged.inputs as any[]).map((i) => i.name),
      ["hour", "origin", "carrier", "origin_delays__rate", "trips"],
    );
  });

  it("splits a lookup past MAX_ONLINE_KEYS distinct keys", async () => {
    const { lookup, calls } = store({});
    const instances = Array.from({ length: MAX_ONLINE_KEYS + 5 }, (_, i) => ({ origin: `A${i}`, carrier: "UA", trips: 1 }));
    await enrichRequest({ instances }, plan, signature, lookup);
    assert.deepEqual(
      calls.map((c) => c.keys.length),
      [MAX_ONLINE_KEYS, 5],
    );
  });
});
