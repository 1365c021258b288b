import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Aggregation, FeatureView } from "../../src/features/definition";
import { materializeOffline } from "../../src/features/offline";
import { num, readParquet, tempDir, writeParquet, type Cell } from "./helpers";

/**
 * Window aggregates against a brute-force computation in plain JS on ~200 random rows with many
 * timestamp ties: for every (key, ts), the rows of that key passing the filter with time in
 * [ts - window, ts), NULL values skipped as SQL does.
 */

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Row {
  k: string;
  minute: number;
  v: number | null;
}

const BASE_MS = Date.UTC(2024, 0, 1);
const stamp = (minute: number) => new Date(BASE_MS + minute * 60_000).toISOString().slice(0, 19).replace("T", " ");

function aggregate(aggregation: Aggregation | "count_rows", rows: Row[]): number | null {
  if (aggregation === "count_rows") return rows.length;
  const values = rows.map((r) => r.v).filter((v): v is number => v !== null);
  if (aggregation === "count") return values.length;
  if (values.length === 0) return null;
  const sum = values.reduce((a, b) => a + b, 0);
  switch (aggregation) {
    case "sum":
      return sum;
    case "avg":
      return sum / values.length;
    case "min":
      return Math.min(...values);
    case "max":
      return Math.max(...values);
    case "stddev": {
      if (values.length < 2) return null;
      const mean = sum / values.length;
      return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
    }
  }
}

const FEATURES: Array<{ name: string; aggregation: Aggregation; count?: boolean; window: string; minutes: number }> = [
  { name: "sum_1d", aggregation: "sum", window: "1d", minutes: 1440 },
  { name: "avg_1d", aggregation: "avg", window: "1d", minutes: 1440 },
  { name: "cnt_1d", aggregation: "count", window: "1d", minutes: 1440 },
  { name: "rows_36h", aggregation: "count", count: true, window: "36h", minutes: 2160 },
  { name: "min_36h", aggregation: "min", window: "36h", minutes: 2160 },
  { name: "max_90m", aggregation: "max", window: "90m", minutes: 90 },
  { name: "std_2d", aggregation: "stddev", window: "2d", minutes: 2880 },
];

const view: FeatureView = {
  name: "random_stats",
  entities: ["k"],
  timestampColumn: "ts",
  source: { dataset: "random" },
  filter: "v IS NULL OR v <> 7",
  features: [
    { name: "v2", expr: "v * 2" },
    ...FEATURES.map((f) =>
      f.count
        ? { name: f.name, aggregation: f.aggregation, window: f.window }
        : { name: f.name, aggregation: f.aggregation, expr: "v", window: f.window },
    ),
  ],
};

describe("window aggregates", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;
  const rows: Row[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const rand = random(20240101);
    // 3 keys over 5 days on a 30-minute grid: about 1 row in 3 shares its (key, ts) with another.
    for (let i = 0; i < 200; i++) {
      const k = ["a", "b", "c"][Math.floor(rand() * 3)];
      const minute = Math.floor(rand() * 240) * 30;
      const v = rand() < 0.1 ? null : Math.floor(rand() * 20);
      rows.push({ k, minute, v });
    }
    source = await writeParquet(
      path.join(dir, "random.parquet"),
      [
        ["k", "VARCHAR"],
        ["ts", "TIMESTAMP"],
        ["v", "BIGINT"],
      ],
      rows.map((r): Cell[] => [r.k, stamp(r.minute), r.v]),
    );
  });

  after(() => cleanup());

  it("matches a brute-force computation, one row per (key, ts), the last row in file order for row-level features", async () => {
    const out = path.join(dir, "random_stats.parquet");
    await materializeOffline(view, source, out);
    const kept = rows.filter((r) => r.v === null || r.v !== 7);
    const groups = new Map<string, Row[]>();
    for (const r of kept) {
      const key = `${r.k}\u0000${String(r.minute).padStart(6, "0")}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const expected = [...groups.keys()].sort().map((key) => {
      const group = groups.get(key)!;
      const { k, minute } = group[0];
      const last = group[group.length - 1];
      const out: Record<string, unknown> = { k, ts: stamp(minute), v2: last.v === null ? null : last.v * 2 };
      for (const f of FEATURES) {
        const inWindow = kept.filter((r) => r.k === k && r.minute >= minute - f.minutes && r.minute < minute);
        out[f.name] = aggregate(f.count ? "count_rows" : f.aggregation, inWindow);
      }
      return out;
    });
    const actual = await readParquet(out);
    assert.ok(expected.length > 100 && expected.length < kept.length, "the data has ties");
    assert.equal(actual.length, expected.length);
    actual.forEach((row, i) => {
      const want = expected[i];
      assert.equal(row.k, want.k, `row ${i}`);
      assert.equal(row.ts, want.ts, `row ${i}`);
      assert.equal(num(row.v2), want.v2, `row ${i} v2`);
      for (const f of FEATURES) {
        const got = num(row[f.name]);
        const exp = want[f.name] as number | null;
        if (exp === null || got === null) assert.equal(got, exp, `row ${i} ${f.name}`);
        else assert.ok(Math.abs(got - exp) < 1e-9 * Math.max(1, Math.abs(exp)), `row ${i} ${f.name}: ${got} vs ${exp}`);
      }
    });
  });

  it("writes the same rows for a start/end range as a full run does within it", async () => {
    const full = path.join(dir, "full.parquet");
    const part = path.join(dir, "part.parquet");
    await materializeOffline(view, source, full);
    const start = new Date(BASE_MS + 2 * 86_400_000);
    const end = new Date(BASE_MS + 3 * 86_400_000);
    const result = await materializeOffline(view, source, part, { start, end });
    const expected = (await readParquet(full)).filter((r) => String(r.ts) >= stamp(2 * 1440) && String(r.ts) < stamp(3 * 1440));
    assert.ok(expected.length > 0);
    assert.equal(result.rowCount, expected.length);
    // Equal up to float rounding: stddev sums in a different order when the window sees fewer rows.
    const actual = await readParquet(part);
    assert.equal(actual.length, expected.length);
    actual.forEach((row, i) => {
      for (const [column, want] of Object.entries(expected[i])) {
        if (typeof want === "number")
          assert.ok(Math.abs(Number(row[column]) - want) < 1e-9 * Math.max(1, Math.abs(want)), `row ${i} ${column}`);
        else assert.equal(row[column], want, `row ${i} ${column}`);
      }
    });
  });
});
