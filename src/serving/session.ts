/**
 * Loaded models and the holder that swaps them without failing a request.
 *
 * A `LoadedModel` is one `ort.InferenceSession` with its signature and its micro-batcher, warmed
 * at load by one run on dummy inputs built from the signature (so the first real request does
 * not pay for lazy initialisation, and a model that cannot run is refused before it serves).
 * Requests hold it while they run (`holder.use`), counted; a retired model releases its session
 * only when the last of them is done.
 *
 * A `ModelHolder` is what a name serves. `swap` loads and warms the new model first, then
 * switches in one synchronous step — a request takes the current model and counts itself in the
 * same tick, so there is no moment with no model and no request on a released session — and
 * retires the old one, which finishes its in-flight requests (queued batches included).
 */
import fs from "node:fs/promises";
import * as ort from "onnxruntime-node";
import type { SluiceError } from "../kernel/errors";
import {
  type OutputCheckSettings,
  checkModelOutputs,
  formatBytes,
  type ModelSignature,
  decodeModel,
  syntheticFeeds,
  valueDependentSizes,
} from "../registry";
import { type BatchSettings, MicroBatcher, type OutputMap, type RunObserver, type RunUsage } from "./batcher";
import { isTensorOutput } from "./oip";

/** Which model version this is, as the response names it. */
export interface ModelIdentity {
  /** The served name (`/v2/models/{name}`). */
  name: string;
  /** The version number, as a string (OIP `model_version`). */
  version: string;
  /** The registry's version id, when it came from the registry. */
  versionId?: string;
  /** The registered model's id, when it came from the registry. */
  registeredModelId?: string;
}

/** A model onnxruntime could not load or run on dummy inputs: it is not served. */
export class ModelLoadError extends Error {
  constructor(identity: ModelIdentity, reason: string) {
    super(`version ${identity.version} of ${identity.name} cannot be served: ${reason}`);
    this.name = "ModelLoadError";
  }
}

/** Dummy feeds for the warm-up run: every dynamic dimension 1, zeros, "" and false. */
export function dummyFeeds(signature: ModelSignature): Record<string, ort.Tensor> {
  return syntheticFeeds(signature, 1);
}

/** How a served model is loaded and run. */
export interface ModelSettings extends BatchSettings {
  /**
   * The output check a version passes before it loads when its signature has no measured
   * `outputBytesPerRow` (registered before the check existed), and the per-row limit a measured
   * figure must still meet. Unset only where tests load files directly.
   */
  outputCheck?: OutputCheckSettings;
}

export class LoadedModel {
  private inflight = 0;
  private retired = false;
  private releasing: Promise<void> | undefined;
  private releasedSignal: (() => void) | undefined;
  /** Resolves once the session is released (after retirement and the last in-flight request). */
  readonly released: Promise<void>;
  readonly batcher: MicroBatcher;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly identity: ModelIdentity,
    readonly signature: ModelSignature,
    settings: BatchSettings,
    /** Output bytes per row, as measured at registration (or at load); what a request's rows are multiplied by. */
    readonly outputBytesPerRow: number | undefined,
    observe?: RunObserver,
  ) {
    this.batcher = new MicroBatcher((feeds, fetches) => this.session.run(feeds, fetches), signature, settings, observe);
    this.released = new Promise((resolve) => (this.releasedSignal = resolve));
  }

  /**
   * Creates the session from an ONNX file (path or bytes) and warms it.
   *
   * @throws ModelLoadError when onnxruntime cannot load it, it has no tensor output, its outputs
   *   per row are over the limit (or, unmeasured, fail the output check), or the warm-up run fails
   */
  static async load(
    source: string | Uint8Array,
    identity: ModelIdentity,
    signature: ModelSignature,
    settings: ModelSettings,
    observe?: RunObserver,
  ): Promise<LoadedModel> {
    const fetches = signature.outputs.filter(isTensorOutput).map((o) => o.name);
    if (fetches.length === 0)
      throw new ModelLoadError(identity, "it has no tensor outputs (only sequences or maps, which onnxruntime-node cannot return)");
    const outputBytesPerRow = await LoadedModel.measured(source, identity, signature, settings.outputCheck);
    let session: ort.InferenceSession;
    try {
      // Errors a request's values cause are answered to that request; onnxruntime need not print them too.
      const options: ort.InferenceSession.SessionOptions = { logSeverityLevel: 4 };
      session =
        typeof source === "string"
          ? await ort.InferenceSession.create(source, options)
          : await ort.InferenceSession.create(source, options);
    } catch (err) {
      throw new ModelLoadError(identity, `onnxruntime cannot load it: ${(err as Error).message.split("\n")[0]}`);
    }
    try {
      await session.run(dummyFeeds(signature), fetches);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw new ModelLoadError(identity, `the warm-up run on dummy inputs failed: ${(err as Error).message.split("\n")[0]}`);
    }
    return new LoadedModel(session, identity, signature, settings, outputBytesPerRow, observe);
  }

  /**
   * The version's measured output bytes per row, checked against today's limit; a version
   * registered before the measurement existed is measured now, in the capped check process,
   * before this process runs it (the warm-up would otherwise be its first run, here).
   */
  private static async measured(
    source: string | Uint8Array,
    identity: ModelIdentity,
    signature: ModelSignature,
    check: OutputCheckSettings | undefined,
  ): Promise<number | undefined> {
    if (!check) return signature.outputBytesPerRow;
    let perRow = signature.outputBytesPerRow;
    if (perRow === undefined) {
      const bytes = typeof source === "string" ? await fs.readFile(source) : source;
      let unbounded: ReturnType<typeof valueDependentSizes>;
      try {
        unbounded = valueDependentSizes(decodeModel(bytes));
      } catch {
        throw new ModelLoadError(identity, "it is not an ONNX model");
      }
      if (unbounded.length > 0) {
        const u = unbounded[0]!;
        throw new ModelLoadError(
          identity,
          `its output size depends on the values of a request (node "${u.node}", ${u.op}, takes its size from "${u.input}")`,
        );
      }
      const verdict = await checkModelOutputs(bytes, signature, check);
      if (!verdict.ok) throw new ModelLoadError(identity, verdict.reason);
      // Loads but cannot run on synthetic rows: the warm-up run below says why.
      perRow = verdict.outputBytesPerRow;
    }
    if (perRow !== undefined && perRow > check.maxOutputBytesPerRow) {
      throw new ModelLoadError(
        identity,
        `its outputs take ${formatBytes(perRow)} per row, over the limit of ${formatBytes(check.maxOutputBytesPerRow)} per row (SLUICE_SERVING_MAX_OUTPUT_BYTES_PER_ROW)`,
      );
    }
    return perRow;
  }

  /** Requests running (or queued) on this model now. */
  get inFlight(): number {
    return this.inflight;
  }

  get isRetired(): boolean {
    return this.retired;
  }

  /** Counts a request in; the caller must `leave()` exactly once. */
  enter(): void {
    if (this.retired && this.inflight === 0 && this.releasing) throw new Error("model already released");
    this.inflight++;
  }

  leave(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) void this.release();
  }

  /** Runs one request through the batcher; its share of the runs' process CPU time is added to `usage`. */
  infer(feeds: Record<string, ort.Tensor>, fetches: string[], usage?: RunUsage): Promise<OutputMap> {
    return this.batcher.submit(feeds, fetches, usage);
  }

  /** No new requests; the session is released once those in flight are done. */
  retire(): Promise<void> {
    this.retired = true;
    if (this.inflight === 0) void this.release();
    return this.released;
  }

  private release(): Promise<void> {
    this.releasing ??= this.session
      .release()
      .catch(() => undefined)
      .then(() => this.releasedSignal?.());
    return this.releasing;
  }
}

/**
 * What a served name points at: a loaded model, or a refusal (a version that is not approved,
 * a model that failed to load) that every request gets as its answer.
 */
export class ModelHolder {
  private model: LoadedModel | undefined;
  private refusal: SluiceError | undefined;
  private swapping: Promise<void> = Promise.resolve();

  constructor(initial?: LoadedModel) {
    this.model = initial;
  }

  /** The model serving now, if any. */
  get current(): LoadedModel | undefined {
    return this.model;
  }

  /** Why requests are refused now, if they are. */
  get refused(): SluiceError | undefined {
    return this.refusal;
  }

  get ready(): boolean {
    return this.model !== undefined && this.refusal === undefined;
  }

  /**
   * Runs `fn` on the current model, counted in flight for its whole duration: a swap meanwhile
   * does not release that model until `fn` is done.
   *
   * @throws the refusal, when the holder refuses requests
   */
  async use<T>(fn: (model: LoadedModel) => Promise<T>): Promise<T> {
    if (this.refusal) throw this.refusal;
    const model = this.model;
    if (!model) throw new Error("no model is loaded");
    model.enter(); // same tick as reading `this.model`: no swap can slip in between
    try {
      return await fn(model);
    } finally {
      model.leave();
    }
  }

  /**
   * Loads (and warms) the next model, then switches to it and retires the old one. Swaps are
   * serialized; a load that fails leaves the holder as it was and rethrows.
   */
  swap(next: LoadedModel | (() => Promise<LoadedModel>)): Promise<void> {
    const done = this.swapping.then(async () => {
      const loaded = typeof next === "function" ? await next() : next;
      const old = this.model;
      this.model = loaded;
      this.refusal = undefined;
      if (old && old !== loaded) void old.retire();
    });
    this.swapping = done.catch(() => undefined);
    return done;
  }

  /** From now on requests get `error`; the model (if any) is retired after its in-flight requests. */
  refuse(error: SluiceError): Promise<void> {
    const done = this.swapping.then(async () => {
      this.refusal = error;
      const old = this.model;
      this.model = undefined;
      if (old) await old.retire();
    });
    this.swapping = done.catch(() => undefined);
    return done;
  }

  /** Retires the model for good (shutdown). */
  close(): Promise<void> {
    return this.swapping.then(async () => {
      const old = this.model;
      this.model = undefined;
      if (old) await old.retire();
    });
  }
}
