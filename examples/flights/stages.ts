// Stage modules of the flights example, loaded by the local runner (TypeScript is transpiled on load).
import { DuckDBInstance } from "@duckdb/node-api";

type Ctx = {
  params: Record<string, unknown>;
  inputs: Record<string, { path: string }>;
  outputs: Record<string, { path: string }>;
  log(...args: unknown[]): void;
  metric(key: string, value: number): void;
};

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The entity rows of the training set: a sample of the validated flights with the outcome to
 * predict (`delayed`: more than 15 minutes late) and what is known about a flight when it is
 * scheduled — its hour, day of week and distance. The rolling delay rates of its airports are
 * joined on later, point-in-time, by the `training-set` stage. Written with DuckDB, straight
 * from Parquet to Parquet.
 */
export async function labels(ctx: Ctx): Promise<void> {
  const sample = Number(ctx.params.sample ?? 200_000);
  const seed = Number(ctx.params.seed ?? 42);
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    await conn.run(`COPY (
        SELECT origin, destination, date AS event_timestamp,
               hour(date) AS hour, dayofweek(date) AS day_of_week, distance,
               (delay > 15)::INTEGER AS delayed
        FROM read_parquet(${quote(ctx.inputs.flights.path)})
        USING SAMPLE reservoir(${sample} ROWS) REPEATABLE (${seed})
        ORDER BY event_timestamp, origin, destination
      ) TO ${quote(ctx.outputs.labels.path)} (FORMAT parquet)`);
    const reader = await conn.runAndReadAll(
      `SELECT count(*)::INTEGER AS n, avg(delayed) AS rate FROM read_parquet(${quote(ctx.outputs.labels.path)})`,
    );
    const [row] = reader.getRowObjectsJson() as Array<{ n: number; rate: number }>;
    ctx.log(`${row.n} labelled flights, ${(row.rate * 100).toFixed(1)}% delayed`);
    ctx.metric("labelled_rows", row.n);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
