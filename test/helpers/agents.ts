import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRemoteAgent, type RemoteAgent, type RemoteAgentOptions } from "../../runners/remote";
import { dataOf, type TestServer } from "./server";
import { waitUntil } from "./eventually";

/** The repository root (where bin/sluice.js lives). */
export function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
  return dir;
}

/** An in-process remote agent of the server at `t` (or at a URL), with a fresh work folder; `cleanup()` stops it. */
export function inProcessAgent(
  t: TestServer | string,
  token: string,
  options: Partial<RemoteAgentOptions> = {},
): RemoteAgent & { cleanup(): Promise<void> } {
  const workDir = mkdtempSync(path.join(os.tmpdir(), "sluice-agent-test-"));
  const agent = createRemoteAgent({
    server: typeof t === "string" ? t : t.url,
    token,
    name: `agent-${Math.random().toString(36).slice(2, 8)}`,
    workDir,
    drainGraceMs: 0,
    killGraceMs: 500,
    maxBackoffMs: 500,
    ...options,
  });
  return Object.assign(agent, {
    async cleanup() {
      await agent.stop();
      rmSync(workDir, { recursive: true, force: true });
    },
  });
}

/** `node bin/sluice.js runner …` as a child process, with what it printed kept for failure messages. */
export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  workDir: string;
}

/**
 * Like test servers, agents run project code as trusted (unsandboxed) unless `env` says otherwise:
 * most tests' stages touch scratch files outside their work folder.
 */
export function spawnAgent(t: TestServer, token: string, args: string[], env: Record<string, string> = {}): AgentProcess {
  const workDir = mkdtempSync(path.join(os.tmpdir(), "sluice-agent-proc-"));
  const child = spawn(process.execPath, ["bin/sluice.js", "runner", "--server", t.url, "--work-dir", workDir, ...args], {
    cwd: repositoryRoot(),
    env: {
      ...process.env,
      SLUICE_SANDBOX_BWRAP: "none",
      SLUICE_TRUSTED_CODE: "1",
      SLUICE_TOKEN: token,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      rmSync(workDir, { recursive: true, force: true });
      resolve(code ?? signal ?? -1);
    }),
  );
  return { child, output: () => out, exited, workDir };
}

/** The registered runner named `name`, once it is (polls `runners`). */
export async function waitForRunner(t: TestServer, name: string, timeoutMs = 10_000): Promise<{ id: string; status: string }> {
  return waitUntil(
    `runner ${name} to register`,
    async () => {
      const runners = dataOf(await t.gql(`{ runners(first: 500) { nodes { id name status } } }`)).runners.nodes as Array<{
        id: string;
        name: string;
        status: string;
      }>;
      return runners.find((r) => r.name === name);
    },
    { timeoutMs },
  );
}
