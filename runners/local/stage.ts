/**
 * What a stage function written for the local runner sees: the types of its context and result.
 * Type-only; import with `import type` from stage code. `runners/PROTOCOL.md` ("The local runner")
 * describes the same in prose.
 */
import type { ArtifactKind } from "../../src/artifacts/kind";

/** One input as a stage function sees it: the resolved artifact and ways to read it. */
export interface StageInput {
  artifactId: string;
  kind: ArtifactKind;
  /** Content hash (`sha256:<hex>`). */
  hash: string;
  size: number;
  /** A readable local path: a file, or a folder for multi-file artifacts. Never write to it. */
  path: string;
  metadata: Record<string, unknown>;
  /** The file's content as UTF-8 text (rejects for a folder). */
  readText(): Promise<string>;
  /** The file's content parsed as JSON. */
  readJson<T = unknown>(): Promise<T>;
  readBuffer(): Promise<Buffer>;
}

/**
 * Where one declared output goes: `path` is `workDir/outputs/<name>`, not yet created. Write it
 * as a file (`writeText`, `writeJson`, `writeBuffer`, or any code writing to `path`) or as a
 * folder (`dir()`, then files inside it).
 */
export interface StageOutputTarget {
  readonly path: string;
  /** Writes `text` (UTF-8) as the output file. Writes not awaited are awaited before the outputs are checked. */
  writeText(text: string): Promise<void>;
  /** Writes `JSON.stringify(value)` as the output file. */
  writeJson(value: unknown): Promise<void>;
  writeBuffer(data: Uint8Array): Promise<void>;
  /** Creates the output as a folder (idempotent) and returns its path. */
  dir(): string;
}

/** The context a stage function is called with. */
export interface StageContext {
  readonly runId: string;
  readonly stageRunId: string;
  readonly stageName: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** An empty folder owned by this attempt; scratch space (outputs go in `outputs`). */
  readonly workDir: string;
  /** The resolved, validated parameters. */
  readonly params: Record<string, unknown>;
  readonly inputs: Record<string, StageInput>;
  readonly outputs: Record<string, StageOutputTarget>;
  /**
   * The project secrets the stage's spec grants (`secrets: { API_KEY: "WAREHOUSE_KEY" }` gives
   * `ctx.secrets.API_KEY`), decrypted; empty without a grant. Not in `process.env`: a sandboxed
   * module process may serve other stages of the project after this one. A value the stage logs
   * is stored as `***`.
   */
  readonly secrets: Readonly<Record<string, string>>;
  /** Aborted on cancel or timeout; pass it to long calls (`fetch`, timers) or check `signal.aborted`. */
  readonly signal: AbortSignal;
  /** A stdout log line, formatted like `console.log`. `console.*` is routed to the log too. */
  log(...args: unknown[]): void;
  /**
   * A numeric metric, with an optional step (an epoch, an iteration).
   * @throws TypeError when `value` is not a finite number or `step` not a non-negative integer.
   */
  metric(key: string, value: number, step?: number): void;
}

/** What a stage may return for an output: metadata to attach, and optionally another path (relative to `workDir/outputs`). */
export interface StageOutputResult {
  path?: string;
  metadata?: Record<string, unknown>;
}

/** A stage function (and an operator): returns nothing, or metadata for some of its outputs by name. */
export type StageFunction = (
  ctx: StageContext,
) => void | Record<string, StageOutputResult> | Promise<void | Record<string, StageOutputResult>>;
