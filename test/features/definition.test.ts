import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidInputError, type InputProblem } from "../../src/kernel/errors";
import { checkAgainstSource, parseWindow, validateFeatureView, viewHash, type FeatureView } from "../../src/features/definition";
import { tempDir, writeParquet } from "./helpers";
import { assertNames } from "../helpers/names";

function valid(): FeatureView {
  return {
    name: "origin_stats",
    entities: ["origin"],
    timestampColumn: "date",
    ttlSeconds: 86400,
    source: { dataset: "flights" },
    filter: "distance > 0",
    features: [
      { name: "hour", expr: "extract(hour from date)", type: "INTEGER" },
      { name: "delay_rate_7d", aggregation: "avg", expr: "CASE WHEN delay > 15 THEN 1 ELSE 0 END", window: "7d" },
      { name: "flights_24h", aggregation: "count", window: "24h" },
    ],
  };
}

function problemsOf(input: unknown): InputProblem[] {
  try {
    validateFeatureView(input);
  } catch (err) {
    assert.ok(err instanceof InvalidInputError);
    return err.problems;
  }
  assert.fail("expected InvalidInputError");
}

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

describe("validateFeatureView", () => {
  it("accepts a valid view and normalizes ttlSeconds: null away", () => {
    assert.deepEqual(validateFeatureView(valid()), valid());
    const unlimited = validateFeatureView({ ...valid(), ttlSeconds: null });
    assert.equal("ttlSeconds" in unlimited, false);
  });

  it("parses windows", () => {
    assert.equal(parseWindow("7d"), 604800);
    assert.equal(parseWindow("24h"), 86400);
    assert.equal(parseWindow("30m"), 1800);
    assert.equal(parseWindow("2w"), 1209600);
    for (const bad of ["0d", "7 d", "7days", "d", "-1h", "1.5h"]) assert.equal(parseWindow(bad), undefined, bad);
  });

  it("names the field of each problem", () => {
    const view = valid() as unknown as Record<string, unknown>;
    const problems = problemsOf({
      ...view,
      name: "origin-stats",
      ttlSeconds: 0,
      entities: ["origin", "origin"],
      features: [
        { name: "1hour", expr: "extract(hour from date)" },
        { name: "rate", aggregation: "avg", expr: "delay", window: "7days" },
        { name: "rate", aggregation: "sum", window: "1d" },
        { name: "date", expr: "date" },
        { name: "n", aggregation: "median", expr: "delay", window: "1d" },
        { name: "w", expr: "delay", window: "1d" },
        { name: "a", aggregation: "max", expr: "delay" },
        { name: "c", aggregation: "count", window: "1d", colour: "red" },
        { name: "t", expr: "delay", type: "DOUBLE); DROP TABLE x; --" },
      ],
    });
    const fields = problems.map((p) => p.field).sort();
    // Shape errors come first and stop the semantic checks; check them alone.
    assert.deepEqual(fields, ["features[4].aggregation", "features[7].colour", "features[8].type", "ttlSeconds"].sort());

    const semantic = problemsOf({
      ...view,
      name: "origin-stats",
      entities: ["origin", "Origin"],
      features: [
        { name: "1hour", expr: "extract(hour from date)" },
        { name: "rate", aggregation: "avg", expr: "delay", window: "7days" },
        { name: "RATE", aggregation: "sum", window: "1d" },
        { name: "date", expr: "date" },
        { name: "w", expr: "delay", window: "1d" },
        { name: "a", aggregation: "max", expr: "delay" },
        { name: "e" },
        { name: "__sluice_x", expr: "1" },
      ],
    });
    assert.deepEqual(semantic.map((p) => p.field).sort(), [
      "entities[1]",
      "features[0].name",
      "features[1].window",
      "features[2].expr",
      "features[2].name",
      "features[3].name",
      "features[4].window",
      "features[5].window",
      "features[6].expr",
      "features[7].name",
      "name",
    ]);
    assertNames(semantic.find((p) => p.field === "features[3].name")!.message, "timestampColumn");
    assertNames(semantic.find((p) => p.field === "features[1].window")!.message, "7d", "24h", "30m");
  });

  it("refuses what is not an object", () => {
    for (const bad of [null, 1, "view", []])
      assert.deepEqual(
        problemsOf(bad).map((p) => p.field),
        ["view"],
      );
    assert.deepEqual(
      problemsOf({})
        .map((p) => p.field)
        .sort(),
      ["entities", "features", "name", "source", "timestampColumn"],
    );
  });
});

describe("viewHash", () => {
  it("does not depend on key order or on ttlSeconds null versus absent", () => {
    const hash = viewHash(valid());
    assert.match(hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(viewHash(reverseKeys(valid())), hash);
    const { ttlSeconds: _ttl, ...noTtl } = valid();
    assert.equal(viewHash({ ...noTtl, ttlSeconds: null }), viewHash(noTtl));
  });

  it("changes with any edit of the definition", () => {
    const hash = viewHash(valid());
    const edits: Array<(v: FeatureView) => void> = [
      (v) => (v.features[1] = { ...v.features[1], window: "8d" } as FeatureView["features"][number]),
      (v) => (v.features[0] = { ...v.features[0], expr: "extract(minute from date)" }),
      (v) => v.features.reverse(),
      (v) => (v.ttlSeconds = 3600),
      (v) => delete v.filter,
      (v) => (v.source.dataset = "flights-2"),
    ];
    const hashes = edits.map((edit) => {
      const v = valid();
      edit(v);
      return viewHash(v);
    });
    for (const h of hashes) assert.notEqual(h, hash);
    assert.equal(new Set(hashes).size, hashes.length);
  });
});

describe("checkAgainstSource", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    source = await writeParquet(
      path.join(dir, "flights.parquet"),
      [
        ["date", "TIMESTAMP"],
        ["delay", "BIGINT"],
        ["distance", "BIGINT"],
        ["origin", "VARCHAR"],
      ],
      [["2024-01-01 10:00:00", 5, 300, "SFO"]],
    );
  });

  after(() => cleanup());

  it("finds nothing wrong with a valid view", async () => {
    assert.deepEqual(await checkAgainstSource(validateFeatureView(valid()), source), []);
  });

  it("names the feature whose SQL does not bind", async () => {
    const view = valid();
    view.features.push(
      { name: "broken", expr: "delay +* 2" },
      { name: "unknown_col", expr: "dleay * 2" },
      { name: "avg_origin", aggregation: "avg", expr: "origin", window: "1d" },
      { name: "whole_avg", expr: "avg(delay)" },
      { name: "smuggled", expr: "1) AS a, (2" },
      { name: "two", expr: "1; SELECT 2" },
      { name: "bad_cast", expr: "origin", type: "INTEGR" },
    );
    view.filter = "distance";
    const problems = await checkAgainstSource(validateFeatureView(view), source);
    const byField = new Map(problems.map((p) => [p.field, p.message]));
    assert.deepEqual([...byField.keys()].sort(), [
      "features[3].expr",
      "features[4].expr",
      "features[5].aggregation",
      "features[6].expr",
      "features[7].expr",
      "features[8].expr",
      "features[9].type",
      "filter",
    ]);
    assert.match(byField.get("features[3].expr")!, /^feature broken: /);
    assert.match(byField.get("features[4].expr")!, /^feature unknown_col: .*dleay/);
    assert.match(byField.get("features[5].aggregation")!, /^feature avg_origin: /);
    assert.match(byField.get("features[7].expr")!, /single SQL expression/);
    assert.match(byField.get("filter")!, /boolean/);
  });

  it("checks the key and timestamp columns", async () => {
    const view = { ...valid(), entities: ["airport"], timestampColumn: "distance" };
    const problems = await checkAgainstSource(validateFeatureView(view), source);
    assert.deepEqual(
      problems.map((p) => p.field),
      ["entities[0]", "timestampColumn"],
    );
    assertNames(problems[1].message, "TIMESTAMP");
  });
});
