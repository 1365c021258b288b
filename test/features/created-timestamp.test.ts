import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { checkAgainstSource, validateFeatureView, viewHash, type FeatureView } from "../../src/features/definition";
import { materializeOffline } from "../../src/features/offline";
import { latestPerEntity } from "../../src/features/online";
import { buildTrainingSet } from "../../src/features/training-set";
import { num, readParquet, tempDir, writeParquet } from "./helpers";

/**
 * Feast's tie-break: of several source rows with one entity key and one event time, the feature
 * row is the one created last (`createdTimestampColumn`). The hand-made source puts the rows in
 * a file order that disagrees with their created order, so the two rules give different values.
 */

const base: FeatureView = {
  name: "driver_km",
  entities: ["driver"],
  timestampColumn: "ts",
  source: { dataset: "trips" },
  features: [{ name: "km", expr: "km" }],
};
const withCreated: FeatureView = { ...base, createdTimestampColumn: "written_at" };

describe("createdTimestampColumn: the newest created row wins a tie on key and event time", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;
  let entities: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    source = await writeParquet(
      path.join(dir, "trips.parquet"),
      [
        ["driver", "VARCHAR"],
        ["ts", "TIMESTAMP"],
        ["written_at", "TIMESTAMP"],
        ["km", "INTEGER"],
        ["note", "VARCHAR"],
      ],
      [
        // ann at 10:00: the correction (km 11) was written last but comes first in the file.
        ["ann", "2024-01-01 10:00:00", "2024-01-01 10:30:00", 11, "a"],
        ["ann", "2024-01-01 10:00:00", "2024-01-01 10:05:00", 10, "b"],
        // bob at 09:00: a row with no created time loses to one with a created time.
        ["bob", "2024-01-01 09:00:00", "2024-01-01 09:01:00", 7, "c"],
        ["bob", "2024-01-01 09:00:00", null, 70, "d"],
        // cat at 08:00: created at the same instant, so file order decides (the later row).
        ["cat", "2024-01-01 08:00:00", "2024-01-01 08:10:00", 1, "e"],
        ["cat", "2024-01-01 08:00:00", "2024-01-01 08:10:00", 2, "f"],
      ],
    );
    entities = await writeParquet(
      path.join(dir, "entities.parquet"),
      [
        ["driver", "VARCHAR"],
        ["event_timestamp", "TIMESTAMP"],
      ],
      [
        ["ann", "2024-01-01 12:00:00"],
        ["bob", "2024-01-01 12:00:00"],
        ["cat", "2024-01-01 12:00:00"],
      ],
    );
  });
  after(() => cleanup());

  async function pitAndOnline(
    view: FeatureView,
    tag: string,
  ): Promise<{ pit: Record<string, number | null>; online: Record<string, number | null> }> {
    const offline = path.join(dir, `${tag}-offline.parquet`);
    await materializeOffline(view, source, offline);
    const out = path.join(dir, `${tag}-training.parquet`);
    await buildTrainingSet({ entityFile: entities, views: [{ view, offlineFile: offline }], outFile: out });
    const pit = Object.fromEntries((await readParquet(out)).map((r) => [String(r.driver), num(r.km)]));
    const latest = path.join(dir, `${tag}-latest.parquet`);
    await latestPerEntity(view, offline, latest);
    const online = Object.fromEntries((await readParquet(latest)).map((r) => [String(r.driver), num(r.km)]));
    return { pit, online };
  }

  it("takes the last row in file order without a created timestamp column", async () => {
    const { pit, online } = await pitAndOnline(base, "file-order");
    assert.deepEqual(pit, { ann: 10, bob: 70, cat: 2 });
    assert.deepEqual(online, { ann: 10, bob: 70, cat: 2 });
  });

  it("takes the newest created row in the point-in-time join and the online store", async () => {
    const { pit, online } = await pitAndOnline(withCreated, "created");
    // ann: created 10:30 beats 10:05; bob: a created time beats NULL; cat: equal created, file order.
    assert.deepEqual(pit, { ann: 11, bob: 7, cat: 2 });
    assert.deepEqual(online, { ann: 11, bob: 7, cat: 2 });
  });

  it("keeps the column in the normalized definition and its hash, and leaves views without it unchanged", () => {
    assert.equal(validateFeatureView(withCreated).createdTimestampColumn, "written_at");
    assert.equal("createdTimestampColumn" in validateFeatureView(base), false);
    assert.notEqual(viewHash(withCreated), viewHash(base));
  });

  it("refuses a created timestamp column that repeats another column, is missing, or is not a timestamp", async () => {
    const fields = (view: unknown) => {
      try {
        validateFeatureView(view);
        return [];
      } catch (err) {
        assert.ok(err instanceof InvalidInputError);
        return err.problems.map((p) => p.field);
      }
    };
    assert.deepEqual(fields({ ...base, createdTimestampColumn: "TS" }), ["createdTimestampColumn"]);
    assert.deepEqual(fields({ ...base, createdTimestampColumn: "driver" }), ["createdTimestampColumn"]);
    assert.deepEqual(fields({ ...base, createdTimestampColumn: "1bad" }), ["createdTimestampColumn"]);
    assert.deepEqual(fields({ ...base, createdTimestampColumn: 3 }), ["createdTimestampColumn"]);
    assert.deepEqual(
      (await checkAgainstSource(validateFeatureView({ ...base, createdTimestampColumn: "nowhere" }), source)).map((p) => p.field),
      ["createdTimestampColumn"],
    );
    assert.deepEqual(
      (await checkAgainstSource(validateFeatureView({ ...base, createdTimestampColumn: "note" }), source)).map((p) => p.field),
      ["createdTimestampColumn"],
    );
    assert.deepEqual(await checkAgainstSource(validateFeatureView(withCreated), source), []);
  });
});
