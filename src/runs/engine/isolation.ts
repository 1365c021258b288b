import type { Logger } from "pino";
import { probeSandbox, resolveProgram, type StageIsolation } from "../../../runners/sandbox";

/** The server's settings for hosting project code (`SLUICE_SANDBOX_BWRAP`, `SLUICE_TRUSTED_CODE`, …). */
export interface IsolationSettings {
  sandboxBwrap: string;
  trustedCode: boolean;
  codeRoots: readonly string[];
  stageMemoryBytes: number;
}

/**
 * How this server (or `sluice runner`) hosts project code, said once in its log: sandboxed when
 * bubblewrap passes its probe; otherwise unsandboxed if `SLUICE_TRUSTED_CODE` says every EDITOR is trusted, else not at
 * all. `hide` are the server's own folders, kept out of every sandbox.
 */
export function stageIsolation(config: IsolationSettings, hide: string[], log: Logger): StageIsolation {
  // Resolved once, here: a stage's own PATH (its `env`) must never choose the program that sandboxes it.
  const bwrap = config.sandboxBwrap === "none" ? undefined : resolveProgram(config.sandboxBwrap);
  const problem =
    config.sandboxBwrap === "none" ? "SLUICE_SANDBOX_BWRAP=none" : !bwrap ? `${config.sandboxBwrap} not found` : probeSandbox(bwrap);
  if (!problem && bwrap) {
    // prlimit must be a system program: the sandbox shows /usr and /bin, not the rest of the host.
    const prlimit = resolveProgram("prlimit");
    const limits = prlimit && /^\/(usr\/)?s?bin\//.test(prlimit) ? { prlimit, dataBytes: config.stageMemoryBytes } : undefined;
    if (!limits) log.warn("prlimit (util-linux) not found: sandboxed stages run without a memory limit (SLUICE_STAGE_MEMORY)");
    log.info(
      { bwrap, codeRoots: config.codeRoots, stageMemoryBytes: limits?.dataBytes },
      "project code (command and module stages) runs sandboxed with bubblewrap",
    );
    return { mode: "sandbox", bwrap, hide, codeRoots: config.codeRoots, limits };
  }
  if (config.trustedCode) {
    log.warn({ problem }, "no sandbox for project code; SLUICE_TRUSTED_CODE=1: command and module stages run unsandboxed");
    return { mode: "trusted" };
  }
  log.error(
    { problem },
    "no sandbox for project code: command and module stages will be refused (SANDBOX_UNAVAILABLE); install bubblewrap, or set SLUICE_TRUSTED_CODE=1 if every EDITOR is trusted with this server",
  );
  return { mode: "refuse" };
}
