/**
 * Measures a child process and all its descendants while they run, from /proc: what the process
 * runner reports as a command stage's usage (`method: "process-tree"`).
 *
 * Every `intervalMs` (and at `stop`) the tree under the root pid is walked through the
 * `children` files, and each process's CPU ticks (own plus reaped children's), read/write bytes
 * (likewise cumulative) and peak resident set are read. A process that vanished was either reaped
 * by an ancestor still in the tree (its figures moved into the ancestor's: nothing to add) or
 * reaped from outside it — the root itself, reaped by this server — whose last sample is kept.
 *
 * How exact: CPU and I/O are exact for everything that ended inside the tree; for the root (and
 * orphans reaped outside it) what it did after its last sample is missed: at most one interval
 * (20 ms in the first second, then `intervalMs`) of CPU per CPU it used, and the I/O of that tail. Peak memory is the highest sum, over samples, of the live processes' own
 * peaks (`VmHWM`): exact for one process that lives past one sample after its peak, an upper bound
 * for processes whose peaks came at different times, and it misses a process that came and went
 * between two samples. Off Linux (no /proc) only wall time is reported.
 */
import type { StageUsage } from "../contract";
import { CLOCK_TICKS_PER_SECOND, childPids, readCpuTicks, readIoBytes, readMemory } from "./proc";

/** Default sampling interval: the CPU a root's last moments can escape is at most this much per CPU. */
export const DEFAULT_USAGE_SAMPLE_MS = 100;
/** The first second of a command is sampled every 20 ms. */
const FAST_SAMPLE_MS = 20;
const FAST_SAMPLING_FOR_MS = 1000;
/** Most processes followed in one tree: a fork bomb must not make the sampler itself expensive. */
const MAX_TREE = 512;

interface Sample {
  ticks: number;
  read: number;
  written: number;
  peak: number;
  parentPid: number;
}

export class ProcessTreeMeter {
  private live = new Map<number, Sample>();
  private readonly gone = { ticks: 0, read: 0, written: 0 };
  private peak = 0;
  private ioSeen = false;
  private memorySeen = false;
  private readonly startedAt = performance.now();
  private endedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /**
   * Starts sampling the tree under `rootPid` at once, every `FAST_SAMPLE_MS` for its first second
   * (most of a short command's work would otherwise fall after its last sample), then every
   * `intervalMs`.
   */
  constructor(
    private readonly rootPid: number,
    private readonly intervalMs = DEFAULT_USAGE_SAMPLE_MS,
  ) {
    this.sample();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const fast = performance.now() - this.startedAt < FAST_SAMPLING_FOR_MS;
    this.timer = setTimeout(
      () => {
        this.sample();
        this.schedule();
      },
      fast ? Math.min(FAST_SAMPLE_MS, this.intervalMs) : this.intervalMs,
    );
    this.timer.unref();
  }

  /** Reads the tree now (called by the timer; the runner calls it again when the root exits). */
  sample(): void {
    const now = new Map<number, Sample>();
    const pending = [this.rootPid];
    while (pending.length > 0 && now.size < MAX_TREE) {
      const pid = pending.pop()!;
      if (now.has(pid)) continue;
      const cpu = readCpuTicks(String(pid));
      if (!cpu) continue;
      const io = readIoBytes(String(pid));
      const memory = readMemory(String(pid));
      if (io) this.ioSeen = true;
      if (memory) this.memorySeen = true;
      // A zombie has no memory figures: keep the peak it had when it was last seen alive.
      const before = this.live.get(pid);
      now.set(pid, {
        ticks: cpu.own + cpu.children,
        read: io?.read ?? before?.read ?? 0,
        written: io?.written ?? before?.written ?? 0,
        peak: memory?.peak ?? before?.peak ?? 0,
        parentPid: cpu.parentPid,
      });
      pending.push(...childPids(pid));
    }
    for (const [pid, last] of this.live) {
      if (now.has(pid)) continue;
      // Reaped by an ancestor still in the tree (perhaps through parents that went too): its
      // figures are in that ancestor's now.
      if (this.ancestorLives(last.parentPid, now)) continue;
      this.gone.ticks += last.ticks;
      this.gone.read += last.read;
      this.gone.written += last.written;
    }
    this.live = now;
    let resident = 0;
    for (const s of now.values()) resident += s.peak;
    this.peak = Math.max(this.peak, resident);
  }

  /** Whether `pid`, or an ancestor of it known from the last sample, is in `now`. */
  private ancestorLives(pid: number, now: ReadonlyMap<number, Sample>): boolean {
    for (let p = pid, steps = 0; steps < MAX_TREE; steps++) {
      if (now.has(p)) return true;
      const last = this.live.get(p);
      if (!last) return false;
      p = last.parentPid;
    }
    return false;
  }

  /** Marks the root's exit: wall time ends here. */
  exited(): void {
    this.endedAt ??= performance.now();
  }

  /** Stops sampling and returns what the tree consumed. */
  stop(): StageUsage {
    this.stopped = true;
    clearTimeout(this.timer);
    this.sample();
    this.exited();
    let ticks = this.gone.ticks;
    let read = this.gone.read;
    let written = this.gone.written;
    for (const s of this.live.values()) {
      ticks += s.ticks;
      read += s.read;
      written += s.written;
    }
    const usage: StageUsage = {
      cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
      wallSeconds: (this.endedAt! - this.startedAt) / 1000,
      method: "process-tree",
    };
    if (this.memorySeen) usage.peakMemoryBytes = this.peak;
    if (this.ioSeen) {
      usage.bytesRead = read;
      usage.bytesWritten = written;
    }
    return usage;
  }
}
