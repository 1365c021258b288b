// Stage modules of the python-trainer example, loaded by the local runner (TypeScript is transpiled on load).
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
 * The Dataset version (Parquet) as a CSV file a Python script can read with numpy alone: Debian
 * ships no pyarrow, so Parquet stops here. A seeded sample of flights with what is known when a
 * flight is scheduled (its hour, day of week and distance) and the outcome `delayed` (more than
 * 15 minutes late), rows with a missing value left out.
 */
export async function toCsv(ctx: Ctx): Promise<void> {
  const sample = Number(ctx.params.sample ?? 50_000);
  const seed = Number(ctx.params.seed ?? 42);
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    // One thread: the reservoir sample (and so the CSV) is then the same on every run for a seed.
    await conn.run("SET threads = 1");
    await conn.run(`COPY (
        SELECT hour(date) + minute(date) / 60.0 AS hour, dayofweek(date) AS day_of_week, distance,
               (delay > 15)::INTEGER AS delayed
        FROM read_parquet(${quote(ctx.inputs.flights.path)})
        WHERE date IS NOT NULL AND distance IS NOT NULL AND delay IS NOT NULL
        USING SAMPLE reservoir(${sample} ROWS) REPEATABLE (${seed})
      ) TO ${quote(ctx.outputs.csv.path)} (FORMAT csv, HEADER true)`);
    const reader = await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_csv(${quote(ctx.outputs.csv.path)}, header = true)`);
    const [row] = reader.getRowObjectsJson() as Array<{ n: number }>;
    ctx.log(`${row.n} flights written as CSV`);
    ctx.metric("csv_rows", row.n);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
