/**
 * Hyperparameter search, the pure part: checking a search spec against an algorithm, expanding a
 * grid, drawing random configurations from a seed, and choosing the best trial. No training and
 * no I/O here — the `train` operator runs the trials — so every rule can be tested on its own.
 *
 * Hyperparameters are always taken in alphabetical order (a spec stored as JSONB comes back with
 * its keys reordered, and the order must not change which configurations are tried or in what
 * order): a grid varies the last name fastest; a random draw samples the names in that order.
 */
import { isLowerBetter } from "../evaluation";
import { mulberry32 } from "./data";
import {
  familyOf,
  HYPERPARAMETERS,
  hyperparametersOf,
  hyperparameterValueProblem,
  validationMetricsOf,
  type TrainAlgorithm,
  type TrainTask,
} from "./hyperparameters";

/** A range to sample from (random search only): uniform, or log-uniform with `log`; whole numbers with `integer`. */
export interface SearchRange {
  min: number;
  max: number;
  log?: boolean;
  integer?: boolean;
}

export type SearchDimension = ReadonlyArray<number | boolean> | SearchRange;

export interface SearchSpec {
  strategy: "grid" | "random";
  /** Hyperparameter name → the values to try (a list) or, for random search, a range. */
  space: Record<string, SearchDimension>;
  /** Random search: how many configurations to draw. @default 10 */
  trials?: number;
  /** The validation metric that ranks the trials. */
  metric: string;
  /** @default "minimize" for lower-is-better metrics (rmse, mae, log_loss, brier_score, …), else "maximize" */
  direction?: "maximize" | "minimize";
  /** Seeds random draws. @default the stage's seed */
  seed?: number;
}

/** Most trials one search may run: grids beyond it are refused rather than left to run for hours. */
export const MAX_TRIALS = 200;
export const DEFAULT_RANDOM_TRIALS = 10;

export interface SearchProblem {
  /** Path below the stage's params, e.g. ["search", "space", "maxDepth", "min"]. */
  path: Array<string | number>;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Number of configurations a grid over `space` has (lists only). */
export function gridSize(space: Record<string, SearchDimension>): number {
  let n = 1;
  for (const d of Object.values(space)) n *= Array.isArray(d) ? d.length : 1;
  return n;
}

/**
 * Everything wrong with `search` for `algorithm`, each problem naming its field: an unknown
 * hyperparameter (or one of the other family), one also fixed in `hyperparameters`, an empty list,
 * a value the hyperparameter refuses, a range in a grid, min > max, a log range not above 0, a grid
 * above MAX_TRIALS, a metric the algorithm does not produce (for `task` when known). The spec's
 * bare shape (types, enums) is the contract schema's job; this checks what a schema cannot.
 */
export function searchSpecProblems(
  search: unknown,
  algorithm: TrainAlgorithm,
  fixed: Record<string, unknown> = {},
  task?: TrainTask,
): SearchProblem[] {
  const problems: SearchProblem[] = [];
  const add = (path: Array<string | number>, message: string) => problems.push({ path: ["search", ...path], message });
  if (!isObject(search)) return [{ path: ["search"], message: "must be an object" }];
  const strategy = search.strategy;
  if (strategy !== "grid" && strategy !== "random") add(["strategy"], 'must be "grid" or "random"');
  const known = hyperparametersOf(algorithm);
  const space = search.space;
  if (!isObject(space)) add(["space"], "must be an object of hyperparameter name → values");
  else {
    if (Object.keys(space).length === 0) add(["space"], "names no hyperparameter to search");
    for (const [name, dim] of Object.entries(space)) {
      const def = HYPERPARAMETERS[name];
      if (!def || !known.includes(name)) {
        add(
          ["space", name],
          def
            ? `does not apply to ${algorithm} (a ${familyOf(algorithm) === "gbt" ? "linear" : "GBT"} hyperparameter); known: ${known.join(", ")}`
            : `unknown hyperparameter; ${algorithm} takes ${known.join(", ")}`,
        );
        continue;
      }
      if (name in fixed) add(["space", name], "is also fixed in hyperparameters: give it in one place only");
      if (Array.isArray(dim)) {
        if (dim.length === 0) add(["space", name], "is an empty list: give at least one value");
        dim.forEach((v, i) => {
          const why = hyperparameterValueProblem(def, v);
          if (why) add(["space", name, i], why);
        });
      } else if (isObject(dim)) {
        if (strategy === "grid") {
          add(["space", name], "a range applies to random search only: a grid takes a list of values");
          continue;
        }
        if (def.type === "boolean") {
          add(["space", name], "is true/false: give a list such as [true, false]");
          continue;
        }
        for (const k of Object.keys(dim)) {
          if (!["min", "max", "log", "integer"].includes(k)) add(["space", name, k], "unknown range field (min, max, log, integer)");
        }
        const { min, max, log, integer } = dim;
        for (const [k, v] of [
          ["min", min],
          ["max", max],
        ] as const) {
          if (typeof v !== "number" || !Number.isFinite(v)) add(["space", name, k], "must be a finite number");
          else {
            const why = hyperparameterValueProblem(def.type === "integer" ? { ...def, type: "number" } : def, v);
            if (why) add(["space", name, k], why);
          }
        }
        if (log !== undefined && typeof log !== "boolean") add(["space", name, "log"], "must be true or false");
        if (integer !== undefined && typeof integer !== "boolean") add(["space", name, "integer"], "must be true or false");
        if (def.type === "integer" && integer === false) add(["space", name, "integer"], `${name} takes whole numbers only`);
        if (typeof min === "number" && typeof max === "number") {
          if (min > max) add(["space", name], `min (${min}) is greater than max (${max})`);
          if (log === true && !(min > 0)) add(["space", name, "min"], "a log range needs min > 0");
          if ((integer === true || def.type === "integer") && Math.floor(max) < Math.ceil(min))
            add(["space", name], `no whole number lies between ${min} and ${max}`);
        }
      } else add(["space", name], "must be a list of values or, for random search, a range { min, max, log?, integer? }");
    }
    if (strategy === "grid" && problems.length === 0) {
      const n = gridSize(space as Record<string, SearchDimension>);
      if (n > MAX_TRIALS) add(["space"], `the grid has ${n} combinations; at most ${MAX_TRIALS} are allowed (use random search)`);
    }
  }
  if (search.trials !== undefined) {
    if (strategy === "grid") add(["trials"], "applies to random search only: a grid runs every combination");
    else if (!Number.isInteger(search.trials) || (search.trials as number) < 1 || (search.trials as number) > MAX_TRIALS)
      add(["trials"], `must be a whole number from 1 to ${MAX_TRIALS}`);
  }
  const metrics = validationMetricsOf(algorithm, task);
  if (typeof search.metric !== "string") add(["metric"], `must name a validation metric: ${metrics.join(", ")}`);
  else if (!metrics.includes(search.metric))
    add(
      ["metric"],
      `${algorithm}${task ? ` (${task})` : ""} does not produce the validation metric "${search.metric}"; it produces ${metrics.join(", ")}`,
    );
  if (search.direction !== undefined && search.direction !== "maximize" && search.direction !== "minimize")
    add(["direction"], 'must be "maximize" or "minimize"');
  if (search.seed !== undefined && !Number.isInteger(search.seed)) add(["seed"], "must be an integer");
  return problems;
}

/** The direction a spec ranks by: as given, else minimize for lower-is-better metrics. */
export function searchDirection(spec: Pick<SearchSpec, "metric" | "direction">): "maximize" | "minimize" {
  return spec.direction ?? (isLowerBetter(spec.metric) ? "minimize" : "maximize");
}

const sortedNames = (space: Record<string, unknown>) => Object.keys(space).sort();

/** Every combination of the lists in `space`, names in alphabetical order, the last varying fastest. */
export function expandGrid(space: Record<string, ReadonlyArray<number | boolean>>): Array<Record<string, number | boolean>> {
  const names = sortedNames(space);
  let configs: Array<Record<string, number | boolean>> = [{}];
  for (const name of names) {
    const next: Array<Record<string, number | boolean>> = [];
    for (const c of configs) for (const v of space[name]!) next.push({ ...c, [name]: v });
    configs = next;
  }
  return configs;
}

/** One draw from a range: uniform or log-uniform, floored into [min, max] for whole numbers. */
function sampleRange(r: SearchRange, integer: boolean, u: () => number): number {
  if (integer) {
    const lo = Math.ceil(r.min);
    const hi = Math.floor(r.max);
    // Whole numbers: a draw over [lo, hi + 1) floored, so each end is as likely as the inside values (log: per unit of log).
    const x = r.log ? Math.exp(Math.log(lo) + u() * (Math.log(hi + 1) - Math.log(lo))) : lo + u() * (hi + 1 - lo);
    return Math.min(hi, Math.max(lo, Math.floor(x)));
  }
  if (r.log) return Math.min(r.max, Math.max(r.min, Math.exp(Math.log(r.min) + u() * (Math.log(r.max) - Math.log(r.min)))));
  return r.min + u() * (r.max - r.min);
}

/**
 * `trials` configurations drawn from `space` with a mulberry32 stream seeded by `seed`: a list
 * gives each of its values with equal chance, a range a uniform (or log-uniform) value. Whole
 * numbers for integer hyperparameters and `integer: true` ranges. Repeats are possible.
 */
export function sampleRandom(
  space: Record<string, SearchDimension>,
  trials: number,
  seed: number,
): Array<Record<string, number | boolean>> {
  const u = mulberry32(seed);
  const names = sortedNames(space);
  const out: Array<Record<string, number | boolean>> = [];
  for (let t = 0; t < trials; t++) {
    const c: Record<string, number | boolean> = {};
    for (const name of names) {
      const d = space[name]!;
      if (Array.isArray(d)) c[name] = d[Math.min(d.length - 1, Math.floor(u() * d.length))]!;
      else {
        const r = d as SearchRange;
        c[name] = sampleRange(r, r.integer === true || HYPERPARAMETERS[name]?.type === "integer", u);
      }
    }
    out.push(c);
  }
  return out;
}

/** The configurations a (checked) spec tries, in trial order. */
export function searchConfigurations(spec: SearchSpec, defaultSeed: number): Array<Record<string, number | boolean>> {
  if (spec.strategy === "grid") return expandGrid(spec.space as Record<string, ReadonlyArray<number | boolean>>);
  return sampleRandom(spec.space, spec.trials ?? DEFAULT_RANDOM_TRIALS, spec.seed ?? defaultSeed);
}

/**
 * The index of the best trial by `metric` in `direction`; ties go to the earliest trial. Trials
 * without a finite value of the metric (e.g. AUC on a one-class validation set) never win; null
 * when no trial has one.
 */
export function bestTrial(
  trials: ReadonlyArray<{ metrics: Record<string, number> }>,
  metric: string,
  direction: "maximize" | "minimize",
): number | null {
  let best: number | null = null;
  let bestValue = 0;
  trials.forEach((t, i) => {
    const v = t.metrics[metric];
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    if (best === null || (direction === "maximize" ? v > bestValue : v < bestValue)) {
      best = i;
      bestValue = v;
    }
  });
  return best;
}
