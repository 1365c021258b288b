/** The pure core of costs: price tables from SLUICE_PRICES, pricing, roll-ups and budget thresholds. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/app/config";
import {
  DEFAULT_PRICES,
  type UsageItem,
  ZERO_USAGE,
  budgetPeriod,
  crossedThresholds,
  parsePrices,
  priceUsage,
  rollUp,
} from "../../src/costs/pricing";

const item = (projectId: string, stageName: string | null, day: string, cpuSeconds: number, storageGbMonths = 0): UsageItem => ({
  keys: { projectId, pipelineId: stageName ? "pl" : null, stageName, endpoint: null, modelVersionId: null, day },
  usage: { ...ZERO_USAGE, cpuSeconds, storageGbMonths },
});

describe("prices", () => {
  it("reads SLUICE_PRICES over the defaults, and refuses a bad table naming the variable and the price", () => {
    assert.deepEqual(loadConfig({ SLUICE_PRICES: '{"currency":"EUR","cpuHour":0.5}' }).prices, {
      ...DEFAULT_PRICES,
      currency: "EUR",
      cpuHour: 0.5,
    });
    assert.deepEqual(loadConfig({}).prices, DEFAULT_PRICES);
    assert.throws(
      () => loadConfig({ SLUICE_PRICES: '{"cpuHour":"cheap"}' }),
      (e: Error) => e instanceof ConfigError && /SLUICE_PRICES.*cpuHour/.test(e.message),
    );
    assert.throws(() => loadConfig({ SLUICE_PRICES: "not json" }), ConfigError);
    assert.throws(() => parsePrices('{"currency":"euro"}'), /currency/);
  });

  it("prices usage linearly: CPU-hours, GB-hours, GB-months and millions of requests", () => {
    const prices = { currency: "USD", cpuHour: 2, memoryGbHour: 3, storageGbMonth: 5, millionRequests: 7 };
    const money = priceUsage(
      { ...ZERO_USAGE, cpuSeconds: 1800, inferenceCpuSeconds: 1800, memoryGbHours: 2, storageGbMonths: 3, requests: 2e6 },
      prices,
    );
    assert.deepEqual(money, { currency: "USD", compute: 2, memory: 6, storage: 15, requests: 14, total: 37 });
  });
});

describe("roll-ups", () => {
  const items = [
    item("p1", "a", "2026-12-01", 3600),
    item("p1", "b", "2026-12-01", 7200),
    item("p1", "a", "2026-12-02", 3600),
    item("p1", null, "2026-12-02", 0, 2),
    item("p2", "a", "2026-12-01", 3600),
  ];
  const prices = (id: string) => (id === "p2" ? { ...DEFAULT_PRICES, currency: "EUR", cpuHour: 1 } : { ...DEFAULT_PRICES, cpuHour: 1 });

  it("sums to the same totals whatever the grouping, and never adds two currencies", () => {
    const total = (groupBy: Parameters<typeof rollUp>[1]) =>
      rollUp(items, groupBy, prices)
        .filter((r) => r.money.currency === "USD")
        .reduce((s, r) => s + r.money.total, 0);
    const expected = 4 + 2 * DEFAULT_PRICES.storageGbMonth;
    for (const g of [[], ["PROJECT"], ["STAGE"], ["DAY"], ["PROJECT", "STAGE", "DAY"], ["ENDPOINT"]] as const)
      assert.ok(Math.abs(total(g) - expected) < 1e-12, g.join());
    const all = rollUp(items, [], prices);
    assert.deepEqual(all.map((r) => r.money.currency).sort(), ["EUR", "USD"]);
    const byStage = rollUp(items, ["STAGE"], prices).filter((r) => r.money.currency === "USD");
    assert.deepEqual(
      byStage.map((r) => [r.keys.pipelineId, r.keys.stageName, r.money.total]),
      // Most expensive first; ties in key order. A stage is keyed with its pipeline; storage has neither.
      [
        ["pl", "a", 2],
        ["pl", "b", 2],
        [null, null, 2 * DEFAULT_PRICES.storageGbMonth],
      ],
    );
  });
});

describe("budgets", () => {
  it("lists the thresholds reached, and the UTC month a moment falls in", () => {
    assert.deepEqual(crossedThresholds(79.9, 100, [100, 50, 80]), [50]);
    assert.deepEqual(crossedThresholds(80, 100, [50, 80, 100]), [50, 80]);
    assert.deepEqual(crossedThresholds(5, 0, [50]), []);
    const p = budgetPeriod(new Date("2026-12-31T23:59:59Z"));
    assert.deepEqual(
      [p.period, p.from.toISOString(), p.to.toISOString()],
      ["2026-12", "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
    );
  });
});
