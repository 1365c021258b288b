/**
 * The process groups of running stages, killed when this process exits: the last resort for
 * unsandboxed (trusted) stages, whose processes would otherwise outlive a server that exits on a
 * second signal or a crash. (A sandbox dies with its parent by itself; `SIGKILL` of the runner
 * leaves unsandboxed stages running: Node offers nothing to tie a child's life to its parent's.)
 * @internal shared by the runner plugins.
 */
import { readdirSync, readFileSync } from "node:fs";

const groups = new Set<number>();
let hooked = false;

/** Tracks the group led by `pid` until the returned function is called. */
export function trackProcessGroup(pid: number): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", killAll);
  }
  groups.add(pid);
  return () => groups.delete(pid);
}

function killAll(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // ESRCH: already gone.
    }
  }
  groups.clear();
}

/**
 * Sends `signal` to every process of group `pgid` but `except` (Linux, by `/proc`). Used to ask a
 * sandboxed stage to stop: bubblewrap itself would die of the `SIGTERM`, and the sandbox with it
 * at once, before the stage could clean up.
 */
export function signalGroupExcept(pgid: number, except: number, signal: NodeJS.Signals): void {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === except) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): state, ppid, pgrp, …
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) process.kill(Number(entry), signal);
    } catch {
      // Gone meanwhile, or not ours to signal.
    }
  }
}
