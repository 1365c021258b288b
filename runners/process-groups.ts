/**
 * The process groups of running stages, killed when this process exits: the last resort for
 * unsandboxed (trusted) stages, whose processes would otherwise outlive a server that exits on a
 * second signal or a crash. (A sandbox dies with its parent by itself; `SIGKILL` of the runner
 * leaves unsandboxed stages running: Node offers nothing to tie a child's life to its parent's.)
 * @internal shared by the runner plugins.
 */

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
