/**
 * Where project code (command and module stages) runs: inside a bubblewrap sandbox that sees only
 * the system's programs, the stage's own work folder, its inputs and the pipeline's code; or,
 * when the operator declared every EDITOR trusted, unsandboxed; or nowhere. `runners/PROTOCOL.md`
 * ("Isolation") is the prose version.
 * @internal shared by the runner plugins.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, lstatSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import type { StageOutcome, StageTask } from "./contract";
import { FailureType, failed } from "./failures";

/**
 * How a runner hosts project code:
 * - `sandbox`: every command and module stage runs under bubblewrap (`bwrap`), `hide` listing
 *   server folders (data dir, artifact store, work root) that must stay invisible even when the
 *   pipeline's folder contains them;
 * - `trusted`: unsandboxed, with only the documented environment (`SLUICE_TRUSTED_CODE=1`);
 * - `refuse`: no sandbox and no trust: command and module stages fail `SANDBOX_UNAVAILABLE`.
 */
export type StageIsolation =
  | {
      mode: "sandbox";
      bwrap: string;
      hide?: readonly string[];
      codeRoots?: readonly string[];
      /** Resource limits of every stage process, set by `prlimit` (a system program, so inside the sandbox too). */
      limits?: { prlimit: string; dataBytes: number };
    }
  | { mode: "trusted" }
  | { mode: "refuse" };

/**
 * The program line a sandbox runs for `argv`: under the isolation's resource limits when it has
 * them (`prlimit` then execs `argv`, so no extra process stays between the sandbox and the stage).
 */
export function limitedCommand(isolation: { limits?: { prlimit: string; dataBytes: number } }, argv: readonly string[]): string[] {
  if (!isolation.limits) return [...argv];
  return [isolation.limits.prlimit, `--data=${isolation.limits.dataBytes}`, "--", ...argv];
}

/** The runner label a stage asks for to keep the network inside its sandbox. */
export const NETWORK_LABEL = "network";

/** The uid and gid a sandboxed stage runs as (nobody). */
export const SANDBOX_ID = "65534";

/** Whether the stage's runner labels ask for the network. */
export function wantsNetwork(task: StageTask): boolean {
  return (task.labels ?? []).includes(NETWORK_LABEL);
}

/** The failure of a project-code stage on a runner that has no sandbox and was not told to trust project code. */
export function sandboxUnavailable(runnerName: string): StageOutcome {
  return failed(
    FailureType.SANDBOX_UNAVAILABLE,
    `the ${runnerName} runner has no sandbox (bubblewrap) to run project code in, so it refuses command and module stages; ` +
      "install bubblewrap on the runner's machine, or set SLUICE_TRUSTED_CODE=1 there to run project code unsandboxed " +
      "(only when everyone who may edit a pipeline is trusted with the server itself)",
    true,
    { setting: "SLUICE_TRUSTED_CODE" },
  );
}

/** The absolute path of `program` (a path, or a name looked up on this process's PATH), if it is an executable file. */
export function resolveProgram(program: string): string | undefined {
  const candidates = program.includes("/")
    ? [path.resolve(program)]
    : (process.env.PATH ?? "")
        .split(path.delimiter)
        .filter((dir) => path.isAbsolute(dir))
        .map((dir) => path.join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * Why `bwrap` cannot sandbox a stage here (not installed, user namespaces off…), or `undefined`
 * when it can: runs `true` in a sandbox built as for a stage.
 */
export function probeSandbox(bwrap: string): string | undefined {
  const plan = sandboxArgs({ bwrap, hide: [] }, { writable: [], readOnly: [], project: [], network: false, cwd: "/" });
  if ("failure" in plan) return "the probe's sandbox could not be planned";
  const probe = spawnSync(bwrap, [...plan.args, "--", "true"], { encoding: "utf8", timeout: 10_000, env: { PATH: "/usr/bin:/bin" } });
  if (probe.error) return `${bwrap} could not be started (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message})`;
  if (probe.status !== 0) return `${bwrap} failed its probe (exit ${probe.status ?? probe.signal}): ${probe.stderr.trim().slice(0, 300)}`;
  return undefined;
}

/** What a sandbox shows, all absolute host paths, shown at the same path inside. */
export interface SandboxMounts {
  /** Read-write (the attempt's work folder). */
  writable: string[];
  /** Read-only, chosen by the server (inputs, node, the runner's own code). */
  readOnly: string[];
  /** Read-only, chosen by the pipeline (its folder, a command's cwd, a module's folder): refused inside a hidden folder. */
  project: string[];
  /** Keep the host's network (the `network` label); otherwise the sandbox has only its own loopback. */
  network: boolean;
  /** The working directory inside. */
  cwd: string;
}

/** System folders programs need: read-only, or recreated as the same symlink (merged /usr). */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** System files that hold no secret but that programs read (library cache, certificates, names, alternatives). */
const SYSTEM_FILES = [
  "/etc/alternatives",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/localtime",
  "/etc/passwd",
  "/etc/group",
  "/etc/nsswitch.conf",
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/python3",
  "/etc/mime.types",
];

/** Folders the sandbox builds itself; nothing from the host may be shown over or inside them. */
const RESERVED = ["/proc", "/dev", "/sys"];

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function depth(p: string): number {
  return p.split("/").filter(Boolean).length;
}

/**
 * The bwrap arguments (before `--` and the program) for one stage, or the failure when a project
 * path cannot be shown (the root, a system folder the sandbox makes, or a folder the server hides).
 */
export function sandboxArgs(
  isolation: { bwrap: string; hide?: readonly string[]; codeRoots?: readonly string[] },
  mounts: SandboxMounts,
): { args: string[] } | { failure: StageOutcome } {
  const hide = (isolation.hide ?? []).map((p) => path.resolve(p));
  const codeRoots = isolation.codeRoots?.map((p) => path.resolve(p));
  for (const p of mounts.project) {
    // The pipeline's folder is chosen by whoever applied it: only folders the operator declared
    // as holding project code may be shown, or an EDITOR could show any host folder to a stage.
    if (codeRoots && !codeRoots.some((root) => isInside(path.resolve(p), root))) {
      return {
        failure: failed(
          FailureType.SANDBOX_REFUSED,
          "the pipeline's folder is outside the folders this runner hosts project code from (SLUICE_CODE_ROOTS)",
          true,
          { setting: "SLUICE_CODE_ROOTS" },
        ),
      };
    }
    if (path.resolve(p) === "/" || RESERVED.some((r) => isInside(p, r) || isInside(r, p))) {
      return {
        failure: failed(
          FailureType.SANDBOX_REFUSED,
          "the pipeline's folder cannot be shown to a sandboxed stage (it is / or a system folder)",
          true,
        ),
      };
    }
    if (hide.some((h) => isInside(p, h))) {
      return {
        failure: failed(
          FailureType.SANDBOX_REFUSED,
          "the pipeline's folder lies inside the server's own data and cannot be shown to a stage",
          true,
        ),
      };
    }
  }
  const args = ["--die-with-parent", "--unshare-all", "--uid", SANDBOX_ID, "--gid", SANDBOX_ID, "--hostname", "sluice-stage"];
  if (mounts.network) args.push("--share-net");
  for (const dir of SYSTEM_DIRS) {
    let stat;
    try {
      stat = lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else if (stat.isDirectory()) args.push("--ro-bind", dir, dir);
  }
  for (const file of SYSTEM_FILES) args.push("--ro-bind-try", file, file);
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");

  // Parents before children, so a deeper mount lands on top; at equal depth binds before masks.
  type Op = { path: string; order: number; args: string[] };
  const ops: Op[] = [];
  const seen = new Set<string>();
  const bind = (p: string, flag: string, order: number) => {
    const abs = path.resolve(p);
    if (seen.has(`${flag}:${abs}`) || !existsSync(abs)) return;
    seen.add(`${flag}:${abs}`);
    ops.push({ path: abs, order, args: [flag, abs, abs] });
  };
  for (const p of mounts.project) bind(p, "--ro-bind", 0);
  for (const p of mounts.readOnly) bind(p, "--ro-bind", 0);
  for (const p of mounts.writable) bind(p, "--bind", 0);
  const shown = ops.map((op) => op.path).concat(SYSTEM_DIRS, "/tmp");
  for (const h of hide) {
    // Only a hidden folder that some mount shows needs covering; elsewhere it is absent already.
    if (existsSync(h) && shown.some((s) => isInside(h, s))) ops.push({ path: h, order: 1, args: ["--tmpfs", h] });
  }
  ops.sort((a, b) => depth(a.path) - depth(b.path) || a.order - b.order);
  for (const op of ops) args.push(...op.args);
  args.push("--chdir", mounts.cwd);
  return { args };
}
