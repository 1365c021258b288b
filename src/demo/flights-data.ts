/**
 * The data side of the flights demo, all DuckDB over the real file the `vega-datasets` package
 * ships (3 million US flights, January–June 2001):
 *
 * - the **landing file**: flights "arrive" a month at a time. The demo rewrites one Parquet file
 *   with every flight up to the end of the months landed so far, and the training pipeline (run
 *   first by the demo, later by the retraining trigger) ingests whatever is in it — as a pipeline
 *   would read a bucket that an upstream system keeps filling;
 * - the **replay set**: a sample of each later month's flights with what is known when a flight is
 *   scheduled (hour, day of week, distance), its airports' point-in-time features computed by the
 *   example's own feature views (the same code the `features.*` operators run), and the outcome.
 */
import fs from "node:fs";
import path from "node:path";
import { queryJson, sqlString, withDuckDb } from "../datasets/columnar/duckdb";
import type { FeatureView } from "../features/definition";
import { materializeOffline } from "../features/offline";
import { buildTrainingSet } from "../features/training-set";
import { registerTypeScript } from "../../runners/local/typescript";

/** One replayed flight: its id, month (`2001-03`), the model's inputs, and whether it left > 15 min late. */
export interface ReplayFlight {
  id: string;
  month: string;
  /** When it left (ISO 8601): the replay clock's time for this flight. */
  departure: string;
  /** Its airports: the entity keys of the example's feature views (origin_delays, destination_delays). */
  airports: { origin: string; destination: string };
  features: Record<string, number | null>;
  delayed: 0 | 1;
}

export function flightsFile(repoRoot: string): string {
  return path.join(repoRoot, "node_modules/vega-datasets/data/flights-3m.parquet");
}

/** `2001-03` → `2001-04-01`, the first day after the month. */
export function monthEnd(month: string): string {
  const [y, m] = month.split("-").map(Number);
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, "0")}-01`;
}

/**
 * Lands every flight before `until` (a date) in `landingFile`, written beside it first and renamed
 * into place, so a run ingesting it never reads half a file.
 */
export async function landFlights(raw: string, landingFile: string, until: string): Promise<number> {
  fs.mkdirSync(path.dirname(landingFile), { recursive: true });
  const partial = `${landingFile}.partial`;
  const [row] = await withDuckDb(async (conn) => {
    await conn.run(
      `COPY (SELECT * FROM read_parquet(${sqlString(raw)}) WHERE date < TIMESTAMP ${sqlString(until)} ORDER BY date)
         TO ${sqlString(partial)} (FORMAT parquet)`,
    );
    return queryJson(conn, `SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(partial)})`);
  });
  fs.renameSync(partial, landingFile);
  return Number(row!.n);
}

/** The example's views and model inputs, from examples/flights/views.ts (TypeScript, loaded as the pipeline loader does). */
export function flightsExample(repoRoot: string): { views: FeatureView[]; features: readonly string[] } {
  registerTypeScript();
  const { airportDelays, MODEL_FEATURES } = require(path.join(repoRoot, "examples/flights/views.ts")) as {
    airportDelays: (role: "origin" | "destination") => FeatureView;
    MODEL_FEATURES: readonly string[];
  };
  return { views: [airportDelays("origin"), airportDelays("destination")], features: MODEL_FEATURES };
}

/**
 * `perMonth` flights of each of `months` (a seeded sample, in time order), with point-in-time
 * features: the views are materialized over the whole file, and each flight takes its airports'
 * values as of its own departure, as the training set was built.
 */
export async function buildReplaySet(opts: {
  raw: string;
  repoRoot: string;
  workDir: string;
  months: string[];
  perMonth: number;
  seed?: number;
}): Promise<ReplayFlight[]> {
  fs.mkdirSync(opts.workDir, { recursive: true });
  const { views, features: inputs } = flightsExample(opts.repoRoot);
  // Feature rows from a view's TTL before the first month on are all a replayed flight can use.
  const first = new Date(`${opts.months[0]}-01T00:00:00Z`);
  const offline = await Promise.all(
    views.map(async (view) => {
      const file = path.join(opts.workDir, `${view.name}.parquet`);
      const start = new Date(first.getTime() - (view.ttlSeconds ?? 0) * 1000);
      await materializeOffline(view, opts.raw, file, { start });
      return { view, offlineFile: file };
    }),
  );
  // The same columns as the example's `labels` stage, a month at a time.
  const entities = path.join(opts.workDir, "replay-entities.parquet");
  const monthSamples = opts.months.map(
    // Sampled after the month's filter (a SAMPLE clause beside a WHERE would sample the whole file first).
    (m) => `(SELECT * FROM (SELECT * FROM read_parquet(${sqlString(opts.raw)})
         WHERE date >= TIMESTAMP ${sqlString(`${m}-01`)} AND date < TIMESTAMP ${sqlString(monthEnd(m))})
         USING SAMPLE reservoir(${opts.perMonth} ROWS) REPEATABLE (${opts.seed ?? 7}))`,
  );
  await withDuckDb((conn) =>
    conn.run(`COPY (
        SELECT origin, destination, date AS event_timestamp, strftime(date, '%Y-%m') AS month,
               strftime(date, '%Y-%m-%dT%H:%M:%SZ') AS departure,
               hour(date) AS hour, dayofweek(date) AS day_of_week, distance, (delay > 15)::INTEGER AS delayed
        FROM (${monthSamples.join(" UNION ALL ")})
        ORDER BY event_timestamp, origin, destination
      ) TO ${sqlString(entities)} (FORMAT parquet)`),
  );
  const joined = path.join(opts.workDir, "replay-set.parquet");
  await buildTrainingSet({ entityFile: entities, views: offline, outFile: joined });
  const rows = await withDuckDb((conn) => queryJson(conn, `SELECT * FROM read_parquet(${sqlString(joined)})`));
  return rows.map((r, i) => {
    const features: Record<string, number | null> = {};
    for (const f of inputs) features[f] = r[f] === null || r[f] === undefined ? null : Number(r[f]);
    return {
      id: `flight-${String(r.month)}-${i}`,
      month: String(r.month),
      departure: String(r.departure),
      airports: { origin: String(r.origin), destination: String(r.destination) },
      features,
      delayed: Number(r.delayed) === 1 ? 1 : 0,
    };
  });
}
