import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import type { FeatureView } from "../../src/features/definition";
import { materializeOffline } from "../../src/features/offline";
import { buildTrainingSet } from "../../src/features/training-set";
import { num, readParquet, tempDir, writeParquet } from "./helpers";

/**
 * Point-in-time correctness on hand-made data; every expected value below is worked out by hand
 * from the rows, with the rule: the feature row of the same key with the latest ts <= T, NULL when
 * none or when ts < T - ttl; window aggregates at ts cover [ts - window, ts).
 */

const driverStats: FeatureView = {
  name: "driver_stats",
  entities: ["driver"],
  timestampColumn: "ts",
  ttlSeconds: 86400,
  source: { dataset: "trips" },
  features: [
    { name: "trips", expr: "trips" },
    { name: "trips_sum_1d", aggregation: "sum", expr: "trips", window: "1d", type: "BIGINT" },
  ],
};

const routes: FeatureView = {
  name: "routes",
  entities: ["origin", "dest"],
  timestampColumn: "ts",
  source: { dataset: "route_delays" },
  features: [
    { name: "delay", expr: "delay" },
    { name: "avg_delay_2h", aggregation: "avg", expr: "delay", window: "2h" },
  ],
};

describe("buildTrainingSet", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let driverOffline: string;
  let routesOffline: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const trips = await writeParquet(
      path.join(dir, "trips.parquet"),
      [
        ["driver", "VARCHAR"],
        ["ts", "TIMESTAMP"],
        ["trips", "INTEGER"],
      ],
      [
        ["d1", "2024-01-01 10:00:00", 10],
        ["d1", "2024-01-01 12:00:00", 20],
        ["d2", "2024-01-01 11:00:00", 5],
        // Same driver, same time as the 20: later in the file, so it is the row-level value.
        ["d1", "2024-01-01 12:00:00", 25],
        ["d1", "2024-01-02 12:00:00", 30],
      ],
    );
    driverOffline = path.join(dir, "driver_stats.parquet");
    const materialized = await materializeOffline(driverStats, trips, driverOffline);
    assert.equal(materialized.rowCount, 4, "one row per (driver, ts)");

    const delays = await writeParquet(
      path.join(dir, "route_delays.parquet"),
      [
        ["origin", "VARCHAR"],
        ["dest", "VARCHAR"],
        ["ts", "TIMESTAMP"],
        ["delay", "DOUBLE"],
      ],
      [
        ["SFO", "LAX", "2024-01-01 10:00:00", 10],
        ["SFO", "LAX", "2024-01-01 11:00:00", 30],
        ["SFO", "JFK", "2024-01-01 10:30:00", 100],
        ["LAX", "SFO", "2024-01-01 10:00:00", 7],
      ],
    );
    routesOffline = path.join(dir, "routes.parquet");
    await materializeOffline(routes, delays, routesOffline);
  });

  after(() => cleanup());

  it("materializes the feature table sorted by key and time, one row per (key, ts), windows excluding ts", async () => {
    const rows = await readParquet(driverOffline);
    assert.deepEqual(
      rows.map((r) => [r.driver, r.ts, num(r.trips), num(r.trips_sum_1d)]),
      [
        ["d1", "2024-01-01 10:00:00", 10, null], // nothing before
        ["d1", "2024-01-01 12:00:00", 25, 10], // its own 20 and 25 are not in its window
        ["d1", "2024-01-02 12:00:00", 30, 45], // [Jan 1 12:00, Jan 2 12:00): window start included, 10:00 out
        ["d2", "2024-01-01 11:00:00", 5, null],
      ],
    );
  });

  it("joins each entity row to the latest feature row at or before it, with TTL, in entity file order", async () => {
    const entities = await writeParquet(
      path.join(dir, "entities1.parquet"),
      [
        ["driver", "VARCHAR"],
        ["event_timestamp", "TIMESTAMP"],
        ["label", "INTEGER"],
      ],
      [
        ["d1", "2024-01-01 12:00:00", 1], // exactly at a feature row: it is used (Feast's <=), its window excludes 12:00
        ["d1", "2024-01-01 09:00:00", 2], // before any history
        ["d1", "2024-01-01 11:59:00", 3], // the 12:00 row is in its future: the 10:00 row
        ["d1", "2024-01-02 11:59:00", 4], // Jan 1 12:00 is 23h59 old, within the 1 day TTL
        ["d1", "2024-01-02 13:00:00", 5],
        ["d2", "2024-01-02 11:00:00", 6], // exactly ttl old: still valid
        ["d2", "2024-01-02 11:00:01", 7], // one second past the TTL: NULL
        ["d3", "2024-01-01 12:00:00", 8], // an entity with no history
        [null, "2024-01-01 12:00:00", 9], // no key
        ["d1", null, 10], // no time
      ],
    );
    const out = path.join(dir, "train1.parquet");
    const result = await buildTrainingSet({
      entityFile: entities,
      views: [{ view: driverStats, offlineFile: driverOffline }],
      outFile: out,
    });
    assert.equal(result.rowCount, 10);
    assert.deepEqual(
      result.columns.map((c) => c.name),
      ["driver", "event_timestamp", "label", "trips", "trips_sum_1d"],
    );
    const rows = await readParquet(out);
    assert.deepEqual(
      rows.map((r) => [num(r.label), num(r.trips), num(r.trips_sum_1d)]),
      [
        [1, 25, 10],
        [2, null, null],
        [3, 10, null],
        [4, 25, 10],
        [5, 30, 45],
        [6, 5, null],
        [7, null, null],
        [8, null, null],
        [9, null, null],
        [10, null, null],
      ],
    );
  });

  it("joins two views, one with a composite key, with prefixes and a feature subset", async () => {
    const entities = await writeParquet(
      path.join(dir, "entities2.parquet"),
      [
        ["driver", "VARCHAR"],
        ["origin", "VARCHAR"],
        ["dest", "VARCHAR"],
        ["event_timestamp", "TIMESTAMP"],
      ],
      [
        ["d1", "SFO", "LAX", "2024-01-01 11:30:00"],
        ["d2", "SFO", "JFK", "2024-01-01 10:45:00"],
        ["d1", "LAX", "LAX", "2024-01-01 12:00:00"], // LAX-SFO and SFO-LAX exist, LAX-LAX does not
        ["d2", "SFO", "LAX", "2024-01-01 10:00:00"],
      ],
    );
    const out = path.join(dir, "train2.parquet");
    const result = await buildTrainingSet({
      entityFile: entities,
      views: [
        { view: driverStats, offlineFile: driverOffline, features: ["trips"], prefix: true },
        { view: routes, offlineFile: routesOffline, prefix: true },
      ],
      outFile: out,
    });
    assert.deepEqual(
      result.columns.map((c) => c.name),
      ["driver", "origin", "dest", "event_timestamp", "driver_stats__trips", "routes__delay", "routes__avg_delay_2h"],
    );
    const rows = await readParquet(out);
    assert.deepEqual(
      rows.map((r) => [num(r.driver_stats__trips), num(r.routes__delay), num(r.routes__avg_delay_2h)]),
      [
        [10, 30, 10],
        [null, 100, null],
        [25, null, null],
        [null, 10, null],
      ],
    );
  });

  it("refuses clashing output names, unknown features and missing key columns, naming the fields", async () => {
    const entities = await writeParquet(
      path.join(dir, "entities3.parquet"),
      [
        ["driver", "VARCHAR"],
        ["event_timestamp", "TIMESTAMP"],
        ["trips", "INTEGER"],
      ],
      [["d1", "2024-01-01 12:00:00", 1]],
    );
    const outFile = path.join(dir, "train3.parquet");
    await assert.rejects(
      buildTrainingSet({
        entityFile: entities,
        views: [
          { view: driverStats, offlineFile: driverOffline, features: ["trips", "nope"] },
          { view: routes, offlineFile: routesOffline },
        ],
        outFile,
      }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidInputError);
        const fields = err.problems.map((p) => p.field);
        assert.ok(fields.includes("views[0].features[0]"), "trips clashes with the entity file's trips column");
        assert.ok(fields.includes("views[0].features[1]"), "nope is not a feature");
        assert.ok(
          fields.includes("views[1].view.entities[0]") && fields.includes("views[1].view.entities[1]"),
          "origin and dest are missing",
        );
        return true;
      },
    );
    // The same view twice without prefixes clashes with itself.
    await assert.rejects(
      buildTrainingSet({
        entityFile: entities,
        timestampColumn: "event_timestamp",
        views: [
          { view: driverStats, offlineFile: driverOffline, features: ["trips_sum_1d"] },
          { view: driverStats, offlineFile: driverOffline, features: ["trips_sum_1d"] },
        ],
        outFile,
      }),
      (err: unknown) => err instanceof InvalidInputError && err.problems.some((p) => p.field === "views[1].features[0]"),
    );
  });
});
