/**
 * Reading what Linux's /proc says a process or thread consumed. Every reader returns `undefined`
 * when the file is gone or unreadable (the process exited, another OS, a permission): usage is a
 * best effort that never fails a stage.
 * @internal shared by the runners' meters (`process-tree.ts`, `self.ts`).
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

/**
 * Clock ticks per second of the times in `stat` (`USER_HZ`). Linux reports these times in USER_HZ
 * on every architecture, which is 100 wherever Node runs: one tick is 10 ms of CPU.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The CPU times of `/proc/<path>/stat`, in ticks: the process's (or thread's) own, and its reaped children's. */
export interface CpuTicks {
  /** user + system time of the process (all its threads) or of the one thread. */
  own: number;
  /** user + system time of its children it has waited for (and, through them, theirs). */
  children: number;
  parentPid: number;
}

/** Fields of `/proc/<path>/stat`. `path` is `<pid>`, `self`, `thread-self` or `<pid>/task/<tid>`. */
export function readCpuTicks(path: string): CpuTicks | undefined {
  const text = readProc(`/proc/${path}/stat`);
  if (!text) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces or parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): field n is fields[n - 3].
  const num = (n: number) => Number(fields[n - 3]);
  const own = num(14) + num(15);
  const children = num(16) + num(17);
  if (!Number.isFinite(own) || !Number.isFinite(children)) return undefined;
  return { own, children, parentPid: num(4) };
}

/**
 * `rchar` and `wchar` of `/proc/<path>/io`: bytes passed through read and write system calls
 * (files, pipes and sockets alike, page cache hits included). For a process they include its
 * reaped children's, like `cutime` does.
 */
export function readIoBytes(path: string): { read: number; written: number } | undefined {
  const text = readProc(`/proc/${path}/io`);
  if (!text) return undefined;
  const read = /^rchar:\s*(\d+)/m.exec(text);
  const written = /^wchar:\s*(\d+)/m.exec(text);
  if (!read || !written) return undefined;
  return { read: Number(read[1]), written: Number(written[1]) };
}

/** `VmHWM` (peak resident set) and `VmRSS` of `/proc/<path>/status`, in bytes. */
export function readMemory(path: string): { peak: number; resident: number } | undefined {
  const text = readProc(`/proc/${path}/status`);
  if (!text) return undefined;
  const peak = /^VmHWM:\s*(\d+) kB/m.exec(text);
  const resident = /^VmRSS:\s*(\d+) kB/m.exec(text);
  // A zombie has no memory lines any more.
  if (!peak || !resident) return undefined;
  return { peak: Number(peak[1]) * 1024, resident: Number(resident[1]) * 1024 };
}

/**
 * Resets the peak resident set (`VmHWM`) of the calling process to its current size (writing 5 to
 * `clear_refs`), so that a reused process can measure one attempt's peak. False when refused.
 */
export function resetPeakMemory(path: string): boolean {
  try {
    writeFileSync(`/proc/${path}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The pids of `pid`'s children (every thread's `children` file: a thread's children are listed under it). */
export function childPids(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    const text = readProc(`/proc/${pid}/task/${tid}/children`);
    if (!text) continue;
    for (const word of text.split(" ")) if (word) out.push(Number(word));
  }
  return out;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, "latin1");
  } catch {
    return undefined;
  }
}
