/**
 * Start latency of a sandboxed `{ module }` stage on the local runner: one-shot hosts (a
 * bubblewrap sandbox and a Node process per attempt) against the warm pool (an idle host of the
 * same project), with worker threads (trusted code, no sandbox) as the floor. For each mode, N
 * attempts one after the other of a stage that logs at once and returns:
 * - start: from `runner.run` to the stage's first log line (the stage is running);
 * - total: from `runner.run` to its outcome (the attempt's whole cost to the runner).
 *
 * Run by hand: `npm run build && node dist/bench/sandbox-start.js [N=40]` (needs /usr/bin/bwrap).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import type { StageTask } from "../runners/contract";
import { createLocalRunner, type LocalRunner } from "../runners/local";
import { percentile } from "./support";

const BWRAP = "/usr/bin/bwrap";
const N = Number(process.argv[2] ?? 40);

async function measure(
  runner: LocalRunner,
  root: string,
  code: string,
  projectId: string | undefined,
): Promise<{ start: number[]; total: number[] }> {
  const start: number[] = [];
  const total: number[] = [];
  // One attempt first, not counted: it loads what every mode loads once (and warms the pool).
  for (let i = -1; i < N; i++) {
    const workDir = path.join(root, projectId ?? "shared", `attempt-${projectId ?? "none"}-${i}`);
    mkdirSync(path.join(workDir, "outputs"), { recursive: true });
    const task: StageTask = {
      stageRunId: `sr-${i}`,
      runId: "run",
      attempt: 1,
      stageName: "hello",
      run: { module: "stage.js", export: "hello" },
      baseDir: code,
      params: {},
      inputs: {},
      outputs: {},
      workDir,
      ...(projectId ? { projectId } : {}),
    };
    const t0 = performance.now();
    let first: number | undefined;
    const outcome = await runner.run(
      task,
      { log: () => (first ??= performance.now()), metric: () => undefined },
      new AbortController().signal,
    );
    const t1 = performance.now();
    if (outcome.status !== "succeeded") throw new Error(`attempt failed: ${JSON.stringify(outcome)}`);
    rmSync(workDir, { recursive: true, force: true });
    if (i < 0) continue;
    start.push((first ?? t1) - t0);
    total.push(t1 - t0);
  }
  return { start, total };
}

function row(label: string, xs: { start: number[]; total: number[] }): string {
  const f = (v: number[], p: number) =>
    percentile(
      [...v].sort((a, b) => a - b),
      p,
    )
      .toFixed(1)
      .padStart(7);
  return `${label.padEnd(34)} ${f(xs.start, 50)} ${f(xs.start, 95)}   ${f(xs.total, 50)} ${f(xs.total, 95)}`;
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), "sluice-bench-sandbox-"));
  const code = path.join(root, "code");
  mkdirSync(code);
  writeFileSync(path.join(code, "stage.js"), `exports.hello = (ctx) => { ctx.log("hello"); };\n`);
  const sandbox = { mode: "sandbox" as const, bwrap: BWRAP, hide: [] };
  const results: Array<[string, { start: number[]; total: number[] }]> = [];
  try {
    const threads = createLocalRunner({ threads: 1, isolation: { mode: "trusted" } });
    results.push(["worker thread (trusted, no sandbox)", await measure(threads, root, code, undefined)]);
    await threads.close();
    const cold = createLocalRunner({ threads: 1, isolation: sandbox, warmPool: { max: 0 } });
    results.push(["sandboxed, one-shot host (cold)", await measure(cold, root, code, "project-a")]);
    await cold.close();
    const warm = createLocalRunner({ threads: 1, isolation: sandbox });
    results.push(["sandboxed, warm pool (same project)", await measure(warm, root, code, "project-a")]);
    await warm.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(
    `${N} attempts per mode, one at a time; ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(`${"ms".padEnd(34)} start p50   p95     total p50   p95`);
  for (const [label, xs] of results) console.log(row(label, xs));
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
