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
import * as ort from "onnxruntime-node";
import { SluiceError } from "../app/errors";
import type { ModelSignature } from "../registry/signature";
import { type BatchSettings, MicroBatcher, type OutputMap, type RunObserver } from "./batcher";
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
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of signature.inputs) {
    const dims = (spec.shape ?? [1, 1]).map((d) => (d === null ? 1 : d));
    const n = dims.reduce((a, b) => a * b, 1);
    switch (spec.type) {
      case "string":
        feeds[spec.name] = new ort.Tensor("string", new Array<string>(n).fill(""), dims);
        break;
      case "bool":
        feeds[spec.name] = new ort.Tensor("bool", new Uint8Array(n), dims);
        break;
      case "int64":
        feeds[spec.name] = new ort.Tensor("int64", new BigInt64Array(n), dims);
        break;
      case "uint64":
        feeds[spec.name] = new ort.Tensor("uint64", new BigUint64Array(n), dims);
        break;
      case "double":
        feeds[spec.name] = new ort.Tensor("float64", new Float64Array(n), dims);
        break;
      case "float16":
        feeds[spec.name] = new ort.Tensor("float16", new Uint16Array(n), dims);
        break;
      case "int32":
        feeds[spec.name] = new ort.Tensor("int32", new Int32Array(n), dims);
        break;
      case "int16":
        feeds[spec.name] = new ort.Tensor("int16", new Int16Array(n), dims);
        break;
      case "int8":
        feeds[spec.name] = new ort.Tensor("int8", new Int8Array(n), dims);
        break;
      case "uint32":
        feeds[spec.name] = new ort.Tensor("uint32", new Uint32Array(n), dims);
        break;
      case "uint16":
        feeds[spec.name] = new ort.Tensor("uint16", new Uint16Array(n), dims);
        break;
      case "uint8":
        feeds[spec.name] = new ort.Tensor("uint8", new Uint8Array(n), dims);
        break;
      default:
        feeds[spec.name] = new ort.Tensor("float32", new Float32Array(n), dims);
    }
  }
  return feeds;
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
    observe?: RunObserver,
  ) {
    this.batcher = new MicroBatcher((feeds, fetches) => this.session.run(feeds, fetches), signature, settings, observe);
    this.released = new Promise((resolve) => (this.releasedSignal = resolve));
  }

  /**
   * Creates the session from an ONNX file (path or bytes) and warms it.
   *
   * @throws ModelLoadError when onnxruntime cannot load it, it has no tensor output, or the warm-up run fails
   */
  static async load(
    source: string | Uint8Array,
    identity: ModelIdentity,
    signature: ModelSignature,
    settings: BatchSettings,
    observe?: RunObserver,
  ): Promise<LoadedModel> {
    const fetches = signature.outputs.filter(isTensorOutput).map((o) => o.name);
    if (fetches.length === 0)
      throw new ModelLoadError(identity, "it has no tensor outputs (only sequences or maps, which onnxruntime-node cannot return)");
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
    return new LoadedModel(session, identity, signature, settings, observe);
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

  /** Runs one request through the batcher. */
  infer(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<OutputMap> {
    return this.batcher.submit(feeds, fetches);
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
