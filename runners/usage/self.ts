/**
 * A stage measuring itself where it runs: a worker thread of the local runner
 * (`method: "worker-thread"`) or a sandboxed module process (`method: "process"`).
 *
 * - **Worker thread.** `/proc/thread-self/stat` and `io`, read on the worker's own thread
 *   (synchronous reads run on the calling thread): the CPU time and read/write bytes of that
 *   thread, exact to the 10 ms tick. Work the stage hands to other threads (libuv's pool for
 *   asynchronous file I/O, DuckDB's and onnxruntime's own threads) is not in it. Threads share
 *   their process's memory, so no peak memory is reported.
 * - **Process.** `/proc/self/stat` and `io` (all threads, plus children the stage waited for)
 *   from the attempt's start to its end, and the process's peak resident set, reset at the start
 *   (`clear_refs`) so that a warm host reused across attempts measures each one alone.
 */
import type { StageUsage } from "../contract";
import { CLOCK_TICKS_PER_SECOND, readCpuTicks, readIoBytes, readMemory, resetPeakMemory } from "./proc";

export interface SelfMeter {
  stop(): StageUsage;
}

/** Starts measuring the calling thread (`thread`) or the whole calling process (`process`). */
export function startSelfMeter(scope: "thread" | "process"): SelfMeter {
  const path = scope === "thread" ? "thread-self" : "self";
  const startedAt = performance.now();
  const ticksOf = (c: ReturnType<typeof readCpuTicks>) => (c ? c.own + (scope === "process" ? c.children : 0) : undefined);
  const cpu0 = ticksOf(readCpuTicks(path));
  const io0 = readIoBytes(path);
  const peakReset = scope === "process" && resetPeakMemory(path);
  return {
    stop() {
      const usage: StageUsage = {
        cpuSeconds: 0,
        wallSeconds: (performance.now() - startedAt) / 1000,
        method: scope === "thread" ? "worker-thread" : "process",
      };
      const cpu1 = ticksOf(readCpuTicks(path));
      if (cpu0 !== undefined && cpu1 !== undefined) usage.cpuSeconds = Math.max(0, cpu1 - cpu0) / CLOCK_TICKS_PER_SECOND;
      const io1 = readIoBytes(path);
      if (io0 && io1) {
        usage.bytesRead = Math.max(0, io1.read - io0.read);
        usage.bytesWritten = Math.max(0, io1.written - io0.written);
      }
      if (peakReset) {
        const memory = readMemory(path);
        if (memory) usage.peakMemoryBytes = memory.peak;
      }
      return usage;
    },
  };
}
