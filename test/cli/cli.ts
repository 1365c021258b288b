import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The repository root (this file runs from dist/test/cli). */
export const REPO = path.resolve(__dirname, "../../..");
const BIN = path.join(REPO, "bin/sluice.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern`; rejects after `timeoutMs` or if the process ends first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
}

/**
 * Starts `sluice …` (bin/sluice.js) as a child process with `env` over a clean environment: no
 * SLUICE_* variables are inherited, and colour is off.
 */
export function startCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000): RunningCli {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLUICE_") && k !== "FORCE_COLOR"));
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...base, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      for (const l of listeners) l();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let exited = false;
  void done.then(() => (exited = true));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitForOutput(pattern, wait = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stdout)) finish();
          else if (exited || child.exitCode !== null)
            finish(new Error(`sluice ${args.join(" ")} ended before printing ${pattern}:\n${stdout}\n${stderr}`));
        };
        const t = setTimeout(
          () => finish(new Error(`no ${pattern} within ${wait} ms from sluice ${args.join(" ")}:\n${stdout}\n${stderr}`)),
          wait,
        );
        const finish = (err?: Error) => {
          clearTimeout(t);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs `sluice …` to the end. */
export function sluice(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return startCli(args, env).done;
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Stage modules the CLI tests' pipelines run (written next to their spec files). */
export const STAGES_TS = `
const pause = (ctx: any, ms: number) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error("aborted"));
    };
    const t = setTimeout(() => {
      ctx.signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    ctx.signal.addEventListener("abort", onAbort, { once: true });
  });

/** Logs two lines and writes its output. */
export async function hello(ctx: any) {
  ctx.log(\`hello from \${ctx.stageName}\`);
  ctx.log(\`text is \${ctx.params.text ?? "unset"}\`);
  if (ctx.outputs.out) await ctx.outputs.out.writeText("hi");
}

/** Logs \`tick 0\` … \`tick n-1\`, \`ms\` apart. */
export async function ticks(ctx: any) {
  const n = Number(ctx.params.n ?? 8);
  for (let i = 0; i < n; i++) {
    ctx.log(\`tick \${i}\`);
    await pause(ctx, Number(ctx.params.ms ?? 200));
  }
  if (ctx.outputs.out) await ctx.outputs.out.writeText("ticked");
}

/** Always fails. */
export async function boom(ctx: any) {
  ctx.log("about to fail");
  throw new Error("kaboom in the stage");
}
`;
