/**
 * The output-size check of a model: run once on synthetic batches built from its signature, in a
 * child process (output-check-child.ts) whose address space is capped and whose time is limited,
 * so that a tiny hostile model (an Expand of a [1, 1] input to [1, 10^8], say) allocates its
 * gigabytes there and fails there, never in the server. It answers the model's output bytes per
 * row — what serving multiplies by a request's rows — or why the model is refused: outputs over
 * the per-row limit (with the measured size), outputs growing faster than the rows, more memory
 * or time than the check allows, or a file onnxruntime cannot load.
 *
 * The cap is `ulimit -v` through /bin/sh (Linux, macOS); without a shell only the time limit applies.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { ModelSignature } from "./signature";
import { CHECK_ROWS } from "./synthetic-feeds";

export interface OutputCheckSettings {
  /** Most output bytes per row a model may produce. `SLUICE_SERVING_MAX_OUTPUT_BYTES_PER_ROW`. @default 64 KiB */
  maxOutputBytesPerRow: number;
  /** Address space of the check process. `SLUICE_MODEL_CHECK_MEMORY`. @default 2 GiB */
  memoryBytes: number;
  /** Longest the check may run. `SLUICE_MODEL_CHECK_TIMEOUT_MS`. @default 20000 */
  timeoutMs: number;
}

export const DEFAULT_OUTPUT_CHECK: Readonly<OutputCheckSettings> = Object.freeze({
  maxOutputBytesPerRow: 64 * 1024,
  memoryBytes: 2 * 1024 ** 3,
  timeoutMs: 20_000,
});

/** The verdict: the measured bytes per row, or the reason the model is refused. */
export type OutputCheck =
  { ok: true; outputBytesPerRow: number | undefined } | { ok: false; reason: string; kind: "load" | "outputs" | "memory" | "time" | "run" };

/** Checks running at once; more wait, so a burst of uploads cannot start a burst of processes. */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const CHILD = path.join(__dirname, "output-check-child.js");
const SHELL = "/bin/sh";

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Runs the child on `bytes` and collects its lines, how it ended, and `timedOut` when the parent had to kill it. */
function runChild(
  bytes: Uint8Array,
  signature: ModelSignature,
  settings: OutputCheckSettings,
): Promise<{ lines: Array<Record<string, unknown>>; timedOut: boolean; code: number | null; signal: NodeJS.Signals | null }> {
  const nodeArgs = ["--max-old-space-size=256", CHILD, String(settings.maxOutputBytesPerRow)];
  const capped = process.platform !== "win32" && fs.existsSync(SHELL);
  // The model never sees the server's environment (database URL, keys): only what loading needs.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "" };
  if (process.env.LD_LIBRARY_PATH) env.LD_LIBRARY_PATH = process.env.LD_LIBRARY_PATH;
  const child = capped
    ? spawn(SHELL, ["-c", `ulimit -v ${Math.floor(settings.memoryBytes / 1024)} && exec "$0" "$@"`, process.execPath, ...nodeArgs], {
        env,
        stdio: ["pipe", "pipe", "ignore"],
      })
    : spawn(process.execPath, nodeArgs, { env, stdio: ["pipe", "pipe", "ignore"] });
  return new Promise((resolve) => {
    let out = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, settings.timeoutMs);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      // A well-behaved child writes a few short lines; more is not read.
      if (out.length < 64 * 1024) out += chunk;
    });
    // A child that dies before reading everything closes the pipe: that is its exit, reported below.
    child.stdin!.on("error", () => undefined);
    child.stdin!.write(`${JSON.stringify(signature)}\n`);
    child.stdin!.end(bytes);
    child.on("error", () => undefined);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines: Array<Record<string, unknown>> = [];
      for (const line of out.split("\n")) {
        try {
          if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not one of the child's lines
        }
      }
      resolve({ lines, timedOut, code, signal });
    });
  });
}

/**
 * Measures `bytes` (an ONNX model whose signature is `signature`) in a capped child process.
 *
 * A model onnxruntime loads but cannot run on synthetic zeros is not refused here (such a model
 * may still score real data in batch): its figure is undefined, and serving measures it again,
 * refusing to load what cannot run.
 */
export async function checkModelOutputs(
  bytes: Uint8Array,
  signature: ModelSignature,
  settings: OutputCheckSettings = DEFAULT_OUTPUT_CHECK,
): Promise<OutputCheck> {
  const { lines, timedOut, code, signal } = await slot(() => runChild(bytes, signature, settings));
  const measured = new Map<number, number>();
  let error: { message: string; stage: string } | undefined;
  let done = false;
  for (const l of lines) {
    if (typeof l.rows === "number" && typeof l.bytes === "number") measured.set(l.rows, l.bytes);
    else if (typeof l.error === "string") error = { message: l.error, stage: String(l.stage) };
    else if (l.done === true) done = true;
  }
  const limit = settings.maxOutputBytesPerRow;
  for (const [rows, total] of measured) {
    if (total > limit * rows) {
      return {
        ok: false,
        kind: "outputs",
        reason: `its outputs take ${formatBytes(Math.ceil(total / rows))} per row (${total} bytes for ${rows} synthetic row${rows === 1 ? "" : "s"}), over the limit of ${formatBytes(limit)} per row (SLUICE_SERVING_MAX_OUTPUT_BYTES_PER_ROW)`,
      };
    }
  }
  const next = CHECK_ROWS.find((r) => !measured.has(r)) ?? CHECK_ROWS[0];
  const onRows = `${next} synthetic row${next === 1 ? "" : "s"}`;
  if (timedOut) {
    return {
      ok: false,
      kind: "time",
      reason: `running it on ${onRows} took over ${settings.timeoutMs} ms (SLUICE_MODEL_CHECK_TIMEOUT_MS)`,
    };
  }
  if (lines.length === 0 && signal === null && code !== 0) {
    // The check process never started its work (no node, no compiled child): the server's fault, not the model's.
    throw new Error(`the model output check process exited with code ${code} before checking anything`);
  }
  // Out of the capped address space: onnxruntime says it could not allocate, or the process is killed or aborts.
  const outOfMemory = (error && /alloc|memory/i.test(error.message)) || (!done && !error);
  if (outOfMemory) {
    return {
      ok: false,
      kind: "memory",
      reason: `running it on ${onRows} needed more than the ${formatBytes(settings.memoryBytes)} of memory the check allows (SLUICE_MODEL_CHECK_MEMORY)`,
    };
  }
  if (error?.stage === "load") return { ok: false, kind: "load", reason: `onnxruntime cannot load it: ${error.message}` };
  const b1 = measured.get(1);
  if (b1 === undefined) return { ok: true, outputBytesPerRow: undefined };
  // Outputs affine in the rows (fixed + perRow × n) never pass n × b1; anything more grows faster than the rows.
  for (const [rows, total] of measured) {
    if (total > rows * b1) {
      return {
        ok: false,
        kind: "outputs",
        reason: `its outputs grow faster than its rows: ${b1} bytes for 1 synthetic row, ${total} bytes for ${rows}`,
      };
    }
  }
  return { ok: true, outputBytesPerRow: Math.max(b1, 1) };
}
