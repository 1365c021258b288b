/**
 * Benchmark: drift statistics on real seasonal change, `flights-3m.parquet` (Jan–Jun 2001).
 *
 * Five numeric features read with DuckDB: delay, distance, hour (hour + minute/60), weekday
 * (ISO day of week) and delay per 100 miles (continuous, many distinct values). The reference is
 * January (summarized once: timed apart); two windows are compared with it:
 *   - June (~0.5M rows): the real seasonal comparison, figures per feature;
 *   - all 3,000,000 rows: the size of issue 6's target (a drift window over 3M rows × 5
 *     features in < 1 s).
 * Beside each, the same statistics in SciPy on the same arrays (ks_2samp, wasserstein_distance,
 * numpy PSI over the reference's deciles) in a child /usr/bin/python3, when it has SciPy: the
 * arrays are written to temporary binary files and read with numpy.fromfile (reading not timed).
 *
 * Run by hand:  npx tsc -p . && node dist/bench/drift.js   (results go to bench/RESULTS.md)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { queryJson, withDuckDb } from "../src/datasets/columnar/duckdb";
import { driftReport, summarizeReference, type ReferenceSummary } from "../src/monitoring/drift";
import { REPO_ROOT, log } from "./support";

const FLIGHTS = path.join(REPO_ROOT, "node_modules/vega-datasets/data/flights-3m.parquet");
const FEATURES = {
  delay: "delay",
  distance: "distance",
  hour: "hour(date) + minute(date) / 60.0",
  weekday: "isodow(date)",
  delay_per_100mi: "100.0 * delay / distance",
} as const;
type Window = Record<keyof typeof FEATURES, Float64Array>;

async function load(where: string): Promise<Window> {
  return withDuckDb(async (conn) => {
    const select = Object.entries(FEATURES)
      .map(([name, sql]) => `CAST(${sql} AS DOUBLE) AS ${name}`)
      .join(", ");
    const [{ n }] = await queryJson(conn, `SELECT count(*)::BIGINT AS n FROM read_parquet('${FLIGHTS}') WHERE ${where}`);
    const rows = Number(n);
    const out = Object.fromEntries(Object.keys(FEATURES).map((k) => [k, new Float64Array(rows)])) as Window;
    const cols = Object.values(out);
    const result = await conn.stream(`SELECT ${select} FROM read_parquet('${FLIGHTS}') WHERE ${where}`);
    let offset = 0;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      for (let c = 0; c < cols.length; c++) {
        const values = chunk.getColumnValues(c);
        const col = cols[c];
        for (let r = 0; r < chunk.rowCount; r++) col[offset + r] = values[r] === null ? NaN : Number(values[r]);
      }
      offset += chunk.rowCount;
    }
    if (offset !== rows) throw new Error(`read ${offset} rows, expected ${rows}`);
    return out;
  });
}

function best<T>(runs: number, fn: () => T): { value: T; ms: number[] } {
  const ms: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = fn();
    ms.push(performance.now() - t0);
  }
  return { value, ms };
}

const PYTHON = `
import json, sys, time, numpy as np
from scipy import stats
d = sys.argv[1]
out = {}
for name in sys.argv[2].split(","):
    ref = np.fromfile(f"{d}/{name}.ref", dtype=np.float64); cur = np.fromfile(f"{d}/{name}.cur", dtype=np.float64)
    ref = ref[~np.isnan(ref)]; cur = cur[~np.isnan(cur)]
    t0 = time.perf_counter(); ks = stats.ks_2samp(ref, cur); t1 = time.perf_counter()
    w = stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001); t2 = time.perf_counter()
    cuts = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    r = np.bincount(np.searchsorted(cuts, ref, side="right"), minlength=len(cuts) + 1) / len(ref)
    c = np.bincount(np.searchsorted(cuts, cur, side="right"), minlength=len(cuts) + 1) / len(cur)
    r = np.where(r == 0, 1e-4, r); c = np.where(c == 0, 1e-4, c)
    psi = float(np.sum((c - r) * np.log(c / r))); t3 = time.perf_counter()
    out[name] = dict(ks=float(ks.statistic), p=float(ks.pvalue), w=float(w), psi=psi, ks_ms=(t1-t0)*1e3, w_ms=(t2-t1)*1e3, psi_ms=(t3-t2)*1e3)
print(json.dumps(out))
`;

function scipy(
  ref: Window,
  cur: Window,
): Record<string, { ks: number; p: number; w: number; psi: number; ks_ms: number; w_ms: number; psi_ms: number }> | string {
  const py = "/usr/bin/python3";
  if (!fs.existsSync(py)) return "no /usr/bin/python3";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-drift-bench-"));
  try {
    for (const name of Object.keys(FEATURES) as (keyof Window)[]) {
      fs.writeFileSync(path.join(dir, `${name}.ref`), Buffer.from(ref[name].buffer));
      fs.writeFileSync(path.join(dir, `${name}.cur`), Buffer.from(cur[name].buffer));
    }
    const r = spawnSync(py, ["-c", PYTHON, dir, Object.keys(FEATURES).join(",")], { encoding: "utf8", cwd: os.tmpdir() });
    if (r.status !== 0) return `python failed: ${r.stderr.trim().split("\n").pop()}`;
    return JSON.parse(r.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function compare(label: string, summary: ReferenceSummary, ref: Window, cur: Window): void {
  const rows = cur.delay.length;
  driftReport(summary, cur); // warm-up: JIT
  const runs = best(5, () => driftReport(summary, cur));
  const ms = [...runs.ms].sort((a, b) => a - b);
  const report = runs.value;
  console.log(
    `\n${label}: ${rows.toLocaleString("en")} rows × 5 features, driftReport best of 5 ${ms[0].toFixed(0)} ms (median ${ms[2].toFixed(0)} ms, all ${runs.ms.map((x) => x.toFixed(0)).join(" ")})`,
  );
  console.log(`  dataset drift: ${report.datasetDrift} (${report.driftedCount}/${report.featureCount} features drifted)`);
  const py = scipy(ref, cur);
  console.log(
    `  ${"feature".padEnd(16)} ${"method".padEnd(11)} ${"score".padStart(9)} drift ${"psi".padStart(7)} level  ${"KS D".padStart(8)} ${"scipy D".padStart(8)} ${"W/std".padStart(8)} ${"scipy".padStart(8)} ${"psi scipy".padStart(9)}`,
  );
  let scipyMs = 0;
  for (const f of report.features) {
    const s = typeof py === "string" ? undefined : py[f.feature];
    if (s) scipyMs += s.ks_ms + s.w_ms + s.psi_ms;
    console.log(
      `  ${f.feature.padEnd(16)} ${f.method.padEnd(11)} ${f.score.toFixed(4).padStart(9)} ${String(f.drifted).padEnd(5)} ${f.psi.toFixed(4).padStart(7)} ${f.psiLevel.padEnd(6)} ${f.numeric!.ks.statistic.toFixed(5).padStart(8)} ${(s?.ks.toFixed(5) ?? "-").padStart(8)} ${f.numeric!.wassersteinNorm.toFixed(5).padStart(8)} ${(s?.w.toFixed(5) ?? "-").padStart(8)} ${(s?.psi.toFixed(4) ?? "-").padStart(9)}`,
    );
  }
  if (typeof py === "string") console.log(`  SciPy: skipped (${py})`);
  else {
    const per = Object.entries(py).map(([k, s]) => `${k} ${(s.ks_ms + s.w_ms + s.psi_ms).toFixed(0)}`);
    console.log(`  SciPy (ks_2samp + wasserstein_distance + numpy PSI), one run: ${scipyMs.toFixed(0)} ms (${per.join(", ")} ms)`);
    console.log(`  ratio SciPy / driftReport (best): ${(scipyMs / ms[0]).toFixed(1)}x`);
  }
}

async function main(): Promise<void> {
  console.log(
    `machine: ${os.cpus()[0]?.model ?? "?"}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; date ${new Date().toISOString()}; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  // A yardstick for how busy the shared machine is: one trivial pass over 3M doubles (~5–10 ms when idle).
  const probe = new Float64Array(3_000_000).map((_, i) => (i * 7919) % 1000);
  const pass = best(5, () => {
    let s = 0;
    for (let i = 0; i < probe.length; i++) s += Math.floor(probe[i] / 20);
    return s;
  });
  console.log(`yardstick: one trivial pass over 3M doubles, best of 5 ${Math.min(...pass.ms).toFixed(1)} ms`);
  log("loading January, June and all rows with DuckDB…");
  const jan = await load("month(date) = 1");
  const jun = await load("month(date) = 6");
  const all = await load("true");
  const t0 = performance.now();
  const summary = summarizeReference(jan);
  const summaryMs = performance.now() - t0;
  const json = JSON.stringify(summary);
  console.log(
    `reference: January, ${jan.delay.length.toLocaleString("en")} rows; summarizeReference ${summaryMs.toFixed(0)} ms (once); JSON ${(json.length / 2 ** 20).toFixed(1)} MiB (sample ≤ 100,000 values per feature)`,
  );
  compare("June window", summary, jan, jun);
  compare("3M window (all rows, Jan–Jun)", summary, jan, all);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
