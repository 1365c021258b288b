import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { FeatureView } from "../../src/features/definition";
import { materializeOffline } from "../../src/features/offline";
import { encodeEntityKey, latestPerEntity } from "../../src/features/online";
import { num, readParquet, tempDir, writeParquet } from "./helpers";

const view: FeatureView = {
  name: "account_stats",
  entities: ["region", "account"],
  timestampColumn: "ts",
  ttlSeconds: 3600,
  source: { dataset: "payments" },
  features: [
    { name: "amount", expr: "amount" },
    { name: "payments_1h", aggregation: "count", window: "1h" },
  ],
};

// A region name with a quote, a tab, a control character and non-ASCII, to pin the key's spelling.
const ODD = 'é "x"\t\u0001';

describe("encodeEntityKey", () => {
  it("spells numbers, bigints and numeric strings alike, and composite keys as a JSON array", () => {
    assert.equal(encodeEntityKey(["SFO"]), '["SFO"]');
    assert.equal(encodeEntityKey([42]), encodeEntityKey([42n]));
    assert.equal(encodeEntityKey([42]), encodeEntityKey(["42"]));
    assert.equal(encodeEntityKey(["eu", 7, true, null]), '["eu","7","true",null]');
    assert.notEqual(encodeEntityKey(["a,b"]), encodeEntityKey(["a", "b"]));
    assert.throws(() => encodeEntityKey([1.5]), TypeError);
    assert.throws(() => encodeEntityKey([{}]), TypeError);
  });
});

describe("latestPerEntity", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let offline: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const source = await writeParquet(
      path.join(dir, "payments.parquet"),
      [
        ["region", "VARCHAR"],
        ["account", "BIGINT"],
        ["ts", "TIMESTAMP"],
        ["amount", "DOUBLE"],
      ],
      [
        ["eu", "1", "2024-01-01 10:00:00", 10],
        ["eu", "1", "2024-01-01 10:30:00", 20],
        ["eu", "1", "2024-01-01 12:00:00", 30],
        ["eu", "2", "2024-01-01 09:00:00", 5],
        ["us", "1", "2024-01-01 10:45:00", 7],
        [ODD, "9007199254740993", "2024-01-01 10:50:00", 1], // beyond 2^53, so accounts are written as strings cast to BIGINT
      ],
    );
    offline = path.join(dir, "account_stats.parquet");
    await materializeOffline(view, source, offline);
  });

  after(() => cleanup());

  it("keeps each entity's latest row, keyed by encodeEntityKey", async () => {
    const out = path.join(dir, "latest.parquet");
    const result = await latestPerEntity(view, offline, out);
    assert.deepEqual(
      result.schema.map((c) => c.name),
      ["region", "account", "entity_key", "ts", "amount", "payments_1h"],
    );
    const rows = await readParquet(out);
    assert.deepEqual(
      rows.map((r) => [r.region, String(r.account), r.ts, num(r.amount), num(r.payments_1h)]),
      [
        ["eu", "1", "2024-01-01 12:00:00", 30, 0],
        ["eu", "2", "2024-01-01 09:00:00", 5, 0],
        ["us", "1", "2024-01-01 10:45:00", 7, 0],
        [ODD, "9007199254740993", "2024-01-01 10:50:00", 1, 0],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0)),
    );
    // The key DuckDB wrote is what a reader computes from the request's values (BIGINT beyond 2^53 included).
    for (const r of rows) assert.equal(r.entity_key, encodeEntityKey([r.region, BigInt(String(r.account))]));
    assert.ok(rows.some((r) => r.entity_key === encodeEntityKey([ODD, 9007199254740993n])));
  });

  it("as of an instant, ignores later rows and leaves out entities past the TTL", async () => {
    const out = path.join(dir, "latest-asof.parquet");
    await latestPerEntity(view, offline, out, { asOf: new Date("2024-01-01T11:00:00Z") });
    const rows = await readParquet(out);
    assert.deepEqual(
      rows.map((r) => [r.region, String(r.account), r.ts, num(r.amount), num(r.payments_1h)]),
      [
        // eu/1: the 12:00 row is after 11:00; the 10:30 row counts the 10:00 one.
        ["eu", "1", "2024-01-01 10:30:00", 20, 1],
        // eu/2: 09:00 is two hours before 11:00, past the one-hour TTL: left out.
        ["us", "1", "2024-01-01 10:45:00", 7, 0],
        [ODD, "9007199254740993", "2024-01-01 10:50:00", 1, 0],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0)),
    );
  });
});
