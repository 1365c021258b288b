/**
 * The pure core of costs: price tables (parsing, per-project overrides), usage turned into money,
 * and roll-ups by any set of group keys. No I/O, no database, no GraphQL.
 *
 * Pricing is linear, and applied at the finest grain the service reads (one project, pipeline,
 * stage or endpoint and version, one UTC day), so every roll-up is exactly the sum of its parts:
 * a project's cost is the sum of its pipelines', a pipeline's the sum of its days'.
 */
import { InvalidInputError, type InputProblem } from "../kernel/errors";

/** One price table: what a unit of each resource costs, in `currency`. */
export interface Prices {
  /** The currency the prices are in, a code such as `USD` or `EUR` (3 capital letters). */
  currency: string;
  /** One CPU busy for one hour (user plus system time). */
  cpuHour: number;
  /** One GB (10^9 bytes) of peak memory held for one hour of a stage's wall time. */
  memoryGbHour: number;
  /** One GB of stored artifacts (dataset versions included) for one month of 30 days. */
  storageGbMonth: number;
  /** One million inference requests. */
  millionRequests: number;
}

/**
 * The prices when `SLUICE_PRICES` is not set: round figures of a public cloud's on-demand list
 * prices (a vCPU-hour, a GB-hour of memory, a GB-month of object storage, a million requests of a
 * serverless endpoint), so that costs mean something before anyone sets theirs.
 */
export const DEFAULT_PRICES: Readonly<Prices> = Object.freeze({
  currency: "USD",
  cpuHour: 0.04,
  memoryGbHour: 0.005,
  storageGbMonth: 0.023,
  millionRequests: 0.2,
});

const PRICE_KEYS = ["cpuHour", "memoryGbHour", "storageGbMonth", "millionRequests"] as const;
type PriceKey = (typeof PRICE_KEYS)[number];

/** A partial price table: what a project (or `SLUICE_PRICES`) sets over the prices below it. */
export type PriceOverride = Partial<Prices>;

/**
 * Checks a partial price table from JSON: only known keys, prices finite and not negative,
 * the currency a 3-letter code. `field` prefixes each problem's field name.
 * @throws InvalidInputError naming each problem
 */
export function checkPriceOverride(value: unknown, field: string): PriceOverride {
  const problems: InputProblem[] = [];
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError([{ field, message: 'must be a JSON object such as {"currency":"EUR","cpuHour":0.05}' }]);
  }
  const out: PriceOverride = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === "currency") {
      if (typeof v !== "string" || !/^[A-Z]{3}$/.test(v))
        problems.push({ field: `${field}.currency`, message: "must be a 3-letter currency code such as USD" });
      else out.currency = v;
    } else if ((PRICE_KEYS as readonly string[]).includes(key)) {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
        problems.push({ field: `${field}.${key}`, message: "must be a number of 0 or more" });
      else out[key as PriceKey] = v;
    } else {
      problems.push({ field: `${field}.${key}`, message: `is not a price; known: currency, ${PRICE_KEYS.join(", ")}` });
    }
  }
  if (problems.length) throw new InvalidInputError(problems);
  return out;
}

/**
 * `SLUICE_PRICES` read: a JSON partial price table over `DEFAULT_PRICES`.
 * @throws InvalidInputError when it is not JSON or not a valid price table
 */
export function parsePrices(text: string | undefined, field = "SLUICE_PRICES"): Prices {
  if (text === undefined || text.trim() === "") return { ...DEFAULT_PRICES };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError([{ field, message: `is not JSON: ${(err as Error).message}` }]);
  }
  return withOverride(DEFAULT_PRICES, checkPriceOverride(value, field));
}

/**
 * A project's prices: its override over the server's. A project that names another currency
 * without setting every price would mix currencies, so that is refused where the override is set.
 */
export function withOverride(base: Readonly<Prices>, override: PriceOverride | null | undefined): Prices {
  return { ...base, ...(override ?? {}) };
}

/** Why an override cannot stand over `base`: a new currency needs every price restated in it. */
export function overrideProblems(base: Readonly<Prices>, override: PriceOverride, field: string): InputProblem[] {
  if (override.currency === undefined || override.currency === base.currency) return [];
  const missing = PRICE_KEYS.filter((k) => override[k] === undefined);
  return missing.length
    ? [
        {
          field: `${field}.currency`,
          message: `${override.currency} differs from the server's ${base.currency}: set ${missing.join(", ")} too`,
        },
      ]
    : [];
}

/** What was consumed, in the units prices are given per. */
export interface UsageFigures {
  /** Stage attempts whose usage was measured. */
  attempts: number;
  cpuSeconds: number;
  wallSeconds: number;
  memoryGbHours: number;
  bytesRead: number;
  bytesWritten: number;
  /** Stored bytes times time: GB (10^9 bytes) times months of 30 days. */
  storageGbMonths: number;
  /** Inference requests answered and rows scored, and the CPU seconds serving them took. */
  requests: number;
  rows: number;
  inferenceCpuSeconds: number;
}

export const ZERO_USAGE: Readonly<UsageFigures> = Object.freeze({
  attempts: 0,
  cpuSeconds: 0,
  wallSeconds: 0,
  memoryGbHours: 0,
  bytesRead: 0,
  bytesWritten: 0,
  storageGbMonths: 0,
  requests: 0,
  rows: 0,
  inferenceCpuSeconds: 0,
});

/** Money, by what it paid for, in one currency. */
export interface Money {
  currency: string;
  compute: number;
  memory: number;
  storage: number;
  requests: number;
  total: number;
}

/** What `usage` costs at `prices`. */
export function priceUsage(usage: UsageFigures, prices: Readonly<Prices>): Money {
  const compute = ((usage.cpuSeconds + usage.inferenceCpuSeconds) / 3600) * prices.cpuHour;
  const memory = usage.memoryGbHours * prices.memoryGbHour;
  const storage = usage.storageGbMonths * prices.storageGbMonth;
  const requests = (usage.requests / 1e6) * prices.millionRequests;
  return { currency: prices.currency, compute, memory, storage, requests, total: compute + memory + storage + requests };
}

/** What a cost row can be grouped by. */
export type CostGroup = "PROJECT" | "PIPELINE" | "STAGE" | "ENDPOINT" | "MODEL_VERSION" | "DAY";
export const COST_GROUPS: readonly CostGroup[] = ["PROJECT", "PIPELINE", "STAGE", "ENDPOINT", "MODEL_VERSION", "DAY"];

/** The keys of one usage item at the finest grain; a key that does not apply is null (storage has no stage). */
export interface CostKeys {
  projectId: string;
  pipelineId: string | null;
  stageName: string | null;
  /** The served name requests were addressed to (a deployment's endpoint, or a registered model's name). */
  endpoint: string | null;
  modelVersionId: string | null;
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
}

/** Usage at the finest grain: one project, pipeline/stage or endpoint/version, one day. */
export interface UsageItem {
  keys: CostKeys;
  usage: UsageFigures;
}

/** One group of a cost report: its keys (null for what it is not grouped by), what it used and what that cost. */
export interface CostRow {
  keys: { [K in keyof CostKeys]: CostKeys[K] | null };
  usage: UsageFigures;
  money: Money;
}

const KEY_OF: Record<CostGroup, keyof CostKeys> = {
  PROJECT: "projectId",
  PIPELINE: "pipelineId",
  STAGE: "stageName",
  ENDPOINT: "endpoint",
  MODEL_VERSION: "modelVersionId",
  DAY: "day",
};

/**
 * Prices each item with its project's prices, then sums the items by `groupBy` (and by currency:
 * projects priced in different currencies are never added up). Rows come most expensive first.
 * A stage belongs to its pipeline: grouping by STAGE groups by pipeline too.
 */
export function rollUp(
  items: readonly UsageItem[],
  groupBy: readonly CostGroup[],
  pricesOf: (projectId: string) => Readonly<Prices>,
): CostRow[] {
  const keys = new Set(groupBy.map((g) => KEY_OF[g]));
  if (keys.has("stageName")) keys.add("pipelineId");
  const rows = new Map<string, CostRow>();
  for (const item of items) {
    const money = priceUsage(item.usage, pricesOf(item.keys.projectId));
    const rowKeys = {
      projectId: keys.has("projectId") ? item.keys.projectId : null,
      pipelineId: keys.has("pipelineId") ? item.keys.pipelineId : null,
      stageName: keys.has("stageName") ? item.keys.stageName : null,
      endpoint: keys.has("endpoint") ? item.keys.endpoint : null,
      modelVersionId: keys.has("modelVersionId") ? item.keys.modelVersionId : null,
      day: keys.has("day") ? item.keys.day : null,
    };
    const id = JSON.stringify([money.currency, ...Object.values(rowKeys)]);
    const row = rows.get(id);
    if (!row) rows.set(id, { keys: rowKeys, usage: { ...item.usage }, money });
    else {
      row.usage = addUsage(row.usage, item.usage);
      row.money = addMoney(row.money, money);
    }
  }
  return [...rows.values()].sort((a, b) => b.money.total - a.money.total || compareKeys(a, b));
}

export function addUsage(a: UsageFigures, b: UsageFigures): UsageFigures {
  const out = { ...a };
  for (const k of Object.keys(out) as Array<keyof UsageFigures>) out[k] = a[k] + b[k];
  return out;
}

function addMoney(a: Money, b: Money): Money {
  return {
    currency: a.currency,
    compute: a.compute + b.compute,
    memory: a.memory + b.memory,
    storage: a.storage + b.storage,
    requests: a.requests + b.requests,
    total: a.total + b.total,
  };
}

function compareKeys(a: CostRow, b: CostRow): number {
  return JSON.stringify(Object.values(a.keys)).localeCompare(JSON.stringify(Object.values(b.keys)));
}

/** Budget thresholds, in percent of the monthly budget, when a project names none. */
export const DEFAULT_BUDGET_THRESHOLDS: readonly number[] = Object.freeze([50, 80, 100]);

/** The thresholds (percent) that `spent` has reached of `budget`, lowest first. */
export function crossedThresholds(spent: number, budget: number, thresholds: readonly number[]): number[] {
  if (!(budget > 0)) return [];
  return [...thresholds].sort((a, b) => a - b).filter((t) => spent >= (budget * t) / 100);
}

/** The budget period (a UTC calendar month, `YYYY-MM`) of `at`, and its bounds. */
export function budgetPeriod(at: Date): { period: string; from: Date; to: Date } {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const to = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return { period: from.toISOString().slice(0, 7), from, to };
}
