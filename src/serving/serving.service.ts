/**
 * Inference as the routes and GraphQL `predict` use it: resolve the served name, decode the
 * request against the serving model's signature, run it through that model's micro-batcher,
 * encode the answer — counted and timed in the serving metrics.
 */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ErrorCode, InvalidInputError, NotFoundError, SluiceError } from "../kernel/errors";
import type { EventBus } from "../events/event-bus";
import type { RegistryService } from "../registry";
import type { RunObserver, RunUsage } from "./batcher";
import type { EndpointOutcome, EndpointStatsRecorder } from "./endpoint-stats/endpoint-stats-recorder";
import { CLASS_LABEL_OUTPUT, fetchesFor, servedSignature, withClassLabels } from "./class-labels";
import { DEFAULT_REQUEST_BOUNDS, type RequestBounds, checkOutputBytes, checkRows } from "./bounds";
import type { FeatureEnricher } from "./enrichment/enricher";
import { type InferenceOutcome, ServingMetrics } from "./metrics";
import { type OipResponse, type OipTensorMetadata, decodeRequest, encodePredictions, encodeResponse, tensorMetadata } from "./oip";
import type { PredictionLog } from "./prediction-log/prediction-log";
import { predictionRows } from "./prediction-log/prediction-rows";
import { ChampionServingRegistry, type ServedModelRef, type ServedRoute, type ServingRegistry } from "./serving-registry";
import type { LoadedModel, ModelHolder, ModelSettings } from "./session";

/** The records-form answer: one prediction object per instance. */
export interface RecordsResponse {
  model_name: string;
  model_version: string;
  id: string;
  /** Set when the request was enriched: see {@link lookupParameters}. */
  parameters?: Record<string, unknown>;
  predictions: Array<Record<string, unknown>>;
}

/**
 * What an enriched response reports, so that imputation is never silent: `features_looked_up`
 * (entity keys looked up, summed over the views) and `features_imputed` (those that gave missing
 * values — unknown keys, or rows outside the TTL — which the model then saw as missing).
 */
export function lookupParameters(lookups: Array<{ keys: number; unknown: number; expired: number }>): Record<string, number> | undefined {
  if (lookups.length === 0) return undefined;
  return {
    features_looked_up: lookups.reduce((n, l) => n + l.keys, 0),
    features_imputed: lookups.reduce((n, l) => n + l.unknown + l.expired, 0),
  };
}

/** OIP model metadata; a classifier with recorded class names says them in `parameters.class_labels` (index order). */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: "onnxruntime";
  inputs: OipTensorMetadata[];
  outputs: Array<OipTensorMetadata & { parameters?: Record<string, unknown> }>;
  parameters?: { class_labels: string[] };
}

function outcomeOf(err: unknown): InferenceOutcome {
  if (!(err instanceof SluiceError)) return "error";
  switch (err.code) {
    case ErrorCode.BAD_USER_INPUT:
      return "bad_request";
    case ErrorCode.NOT_FOUND:
      return "not_found";
    case ErrorCode.CONFLICT:
      return "refused";
    case ErrorCode.FORBIDDEN:
    case ErrorCode.UNAUTHENTICATED:
      return "forbidden";
    default:
      return "error";
  }
}

/** Rows a decoded request runs: its rows, else the largest first dimension of its feeds. */
function requestRows(request: { rows: number | undefined; feeds: Record<string, { dims: readonly number[] }> }): number {
  if (request.rows !== undefined) return request.rows;
  return Math.max(1, ...Object.values(request.feeds).map((t) => Number(t.dims[0] ?? 1)));
}

/** Which model of a route answered (or, for `shadow`, was sent a copy). */
export type Variant = "primary" | "canary" | "shadow";

/** What one request learned on its way, for endpoint statistics: filled in as it goes. */
interface RequestNote extends RunUsage {
  variant: Variant;
  modelVersionId: string | undefined;
  rows: number;
}

function newNote(): RequestNote {
  return { variant: "primary", modelVersionId: undefined, rows: 0, cpuMs: 0 };
}

/** The outcomes endpoint statistics keep (see EndpointOutcome); the others name no endpoint. */
function statsOutcome(outcome: InferenceOutcome): EndpointOutcome | undefined {
  return outcome === "ok" || outcome === "bad_request" || outcome === "refused" || outcome === "error" ? outcome : undefined;
}

/** Shadow requests running at once, at most: beyond it a mirror copy is dropped (counted), never queued without bound. */
export const MAX_SHADOW_IN_FLIGHT = 64;

export class ServingService {
  private metrics: ServingMetrics | undefined;
  private predictionLog: PredictionLog | undefined;
  private shadowsInFlight = 0;
  private readonly log: Logger | undefined;
  private enricher: FeatureEnricher | undefined;
  private bounds: RequestBounds = DEFAULT_REQUEST_BOUNDS;
  private endpointStats: EndpointStatsRecorder | undefined;

  constructor(
    readonly registry: ServingRegistry,
    log?: Logger,
  ) {
    this.log = log;
  }

  /** The default wiring: registered models' champions, following registry and governance events. */
  static forChampions(deps: { registry: RegistryService; events: EventBus; settings: ModelSettings; log: Logger }): ServingService {
    return ServingService.over((observe) => new ChampionServingRegistry({ ...deps, observe }), deps.log);
  }

  /** A service over the registry `build` makes, handing it the batch-size observer of this service's metrics. */
  static over(build: (observe: (name: string) => RunObserver) => ServingRegistry, log?: Logger): ServingService {
    let service: ServingService | undefined = undefined;
    const registry = build((name) => (rows, requests) => {
      service?.metrics?.batchRows.observe({ model: name }, rows);
      service?.metrics?.batchRequests.observe({ model: name }, requests);
    });
    service = new ServingService(registry, log);
    return service;
  }

  /** Offers every answered request to `log` (which samples, queues and writes it in the background). */
  logPredictionsTo(log: PredictionLog): void {
    this.predictionLog = log;
  }

  /** Counts every request in per-endpoint statistics (in memory; the recorder writes them in the background). */
  recordStatsTo(recorder: EndpointStatsRecorder): void {
    this.endpointStats = recorder;
  }

  /** Fills view features a request leaves out from the online store, by the entity keys it sends (see enrichment/). */
  enrichWith(enricher: FeatureEnricher): void {
    this.enricher = enricher;
  }

  /** Bounds every request by its rows and its outputs (`SLUICE_SERVING_MAX_ROWS`, `SLUICE_SERVING_MAX_OUTPUT_BYTES`). */
  boundWith(bounds: RequestBounds): void {
    this.bounds = bounds;
  }

  /** Registers the serving (and prediction log) metrics in the server's registry (called once by the server). */
  instrument(registry: Registry): ServingMetrics {
    this.metrics ??= new ServingMetrics(registry);
    this.predictionLog?.instrument(registry);
    this.enricher?.instrument(registry);
    this.endpointStats?.instrument(registry);
    return this.metrics;
  }

  /** What serves `ref`; 404 when no such model or endpoint exists. */
  async route(ref: ServedModelRef): Promise<ServedRoute> {
    const route = await this.registry.route(ref);
    if (!route) throw new NotFoundError("Model", ref.version ? `${ref.name} v${ref.version}` : ref.name);
    return route;
  }

  /** The primary holder of `ref`; 404 when no such model exists. */
  async holder(ref: ServedModelRef): Promise<ModelHolder> {
    return (await this.route(ref)).primary;
  }

  async metadata(ref: ServedModelRef): Promise<ModelMetadata> {
    const holder = await this.holder(ref);
    if (holder.refused) throw holder.refused;
    const model = holder.current;
    if (!model) throw new NotFoundError("Model", ref.name);
    const signature = servedSignature(model.signature);
    const classLabels = signature.classLabels;
    return {
      name: ref.name,
      versions: await this.registry.versions(ref),
      platform: "onnxruntime",
      inputs: signature.inputs.map(tensorMetadata),
      // The index output and the names output both say which names the classes have.
      outputs: signature.outputs.map((o) =>
        classLabels && (o.name === "label" || o.name === CLASS_LABEL_OUTPUT)
          ? { ...tensorMetadata(o), parameters: { class_labels: classLabels } }
          : tensorMetadata(o),
      ),
      ...(classLabels ? { parameters: { class_labels: classLabels } } : {}),
    };
  }

  /** Whether `ref` can serve now, and if not, why. */
  async ready(ref: ServedModelRef): Promise<{ ready: boolean; reason?: string }> {
    const holder = await this.holder(ref);
    return holder.ready ? { ready: true } : { ready: false, reason: holder.refused?.message ?? "not loaded" };
  }

  /**
   * One inference request, in the OIP form (`inputs`) or the records form (`instances`).
   *
   * @throws InvalidInputError (400) naming the problem; PayloadTooLargeError (413) for too many
   *   rows or outputs; NotFoundError (404) for an unknown model; ConflictError (409) when the
   *   served version is not approved
   */
  async infer(ref: ServedModelRef, body: unknown): Promise<OipResponse | RecordsResponse> {
    return this.measure(ref, async (note) => {
      // Before anything that costs per row: lookups, decoding, the run, the log.
      checkRows(body, this.bounds);
      const route = await this.route(ref);
      // The canary split, per request. A canary that cannot serve right now (being replaced,
      // or its version no longer approved) sends its share to the primary rather than fail it.
      const canary = route.canary;
      const useCanary = canary !== undefined && canary.percent > 0 && canary.holder.ready && Math.random() * 100 < canary.percent;
      note.variant = useCanary ? "canary" : "primary";
      const answer = await this.answer(useCanary ? canary.holder : route.primary, ref, body, note);
      if (route.shadow) this.mirror(route.shadow, ref, body);
      return answer;
    });
  }

  /** Runs one request on `holder`'s model and logs it as `note.variant`, noting its version, rows and CPU. */
  private answer(holder: ModelHolder, ref: ServedModelRef, body: unknown, note: RequestNote): Promise<OipResponse | RecordsResponse> {
    const variant = note.variant;
    return holder.use(async (model) => {
      note.modelVersionId = model.identity.versionId;
      // Enriched requests are decoded with the looked-up features and logged with the keys too.
      const enriched = await this.enricher?.enrich(ref, model, body);
      // Clients see `class_label` even where serving, not the graph, computes it (class-labels.ts).
      const request = decodeRequest(enriched?.body ?? body, servedSignature(model.signature));
      note.rows = requestRows(request);
      checkOutputBytes(note.rows, model.outputBytesPerRow, this.bounds);
      const logged = enriched?.logged ?? body;
      const fetched = await this.run(model, request.feeds, fetchesFor(model.signature, request.outputs), note);
      const outputs = withClassLabels(model.signature, request.outputs, fetched);
      const response = encodeResponse(model.identity, request, outputs, request.outputs);
      const parameters = enriched ? lookupParameters(enriched.lookups) : undefined;
      if (!request.records) {
        this.logPrediction(ref, model, logged, request.rows, { outputs: response.outputs }, variant);
        return parameters ? { ...response, parameters: { ...response.parameters, ...parameters } } : response;
      }
      const predictions = encodePredictions(response.outputs, request.rows ?? 0);
      this.logPrediction(ref, model, logged, request.rows, { predictions }, variant);
      return {
        model_name: response.model_name,
        model_version: response.model_version,
        id: response.id,
        ...(parameters ? { parameters } : {}),
        predictions,
      };
    });
  }

  /**
   * Sends a copy of an answered request to the shadow model after the answer is on its way: its
   * answer goes to the prediction log (variant `shadow`) only, and whatever fails there — a
   * shadow that refuses, cannot decode the request, or breaks — never reaches the caller.
   */
  private mirror(shadow: ModelHolder, ref: ServedModelRef, body: unknown): void {
    if (!shadow.ready) return;
    if (this.shadowsInFlight >= MAX_SHADOW_IN_FLIGHT) {
      this.metrics?.shadow.inc({ model: ref.name, outcome: "dropped" });
      return;
    }
    this.shadowsInFlight++;
    setImmediate(() => {
      const note: RequestNote = { ...newNote(), variant: "shadow" };
      const started = process.hrtime.bigint();
      this.answer(shadow, ref, body, note)
        .then(
          () => {
            this.metrics?.shadow.inc({ model: ref.name, outcome: "ok" });
            this.recordStats(ref, note, "ok", started);
          },
          (err: unknown) => {
            this.metrics?.shadow.inc({ model: ref.name, outcome: "error" });
            this.recordStats(ref, note, outcomeOf(err), started);
            this.log?.debug({ err, model: ref.name }, "a shadow request failed");
          },
        )
        .finally(() => this.shadowsInFlight--);
    });
  }

  /** The records form for GraphQL `predict`: one prediction object per instance. */
  async predict(ref: ServedModelRef, instances: unknown[]): Promise<RecordsResponse> {
    return (await this.infer(ref, { instances })) as RecordsResponse;
  }

  /** Hands an answered request to the prediction log; whatever goes wrong there, the prediction stands. */
  private logPrediction(
    ref: ServedModelRef,
    model: LoadedModel,
    body: unknown,
    rows: number | undefined,
    answer: Parameters<typeof predictionRows>[3],
    variant: Variant,
  ): void {
    const log = this.predictionLog;
    const { registeredModelId, versionId } = model.identity;
    if (!log || !registeredModelId || !versionId || !log.sampled()) return;
    try {
      const ids = { projectId: ref.projectId, registeredModelId, modelVersionId: versionId, servedName: ref.name, variant };
      log.offer(predictionRows(ids, body as Record<string, unknown>, rows ?? 1, answer));
    } catch {
      // Building the rows only reads an accepted request; should it still fail, the log loses a request, not the caller.
    }
  }

  private async run(model: LoadedModel, feeds: Parameters<LoadedModel["infer"]>[0], fetches: string[], usage: RunUsage) {
    try {
      return await model.infer(feeds, fetches, usage);
    } catch (err) {
      // The inputs passed every check, so what onnxruntime refuses is in their values.
      throw new InvalidInputError([
        { field: "inputs", message: `onnxruntime could not run the model on them: ${(err as Error).message.split("\n")[0]}` },
      ]);
    }
  }

  private async measure<T>(ref: ServedModelRef, fn: (note: RequestNote) => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    const note = newNote();
    try {
      const result = await fn(note);
      this.metrics?.requests.inc({ model: ref.name, outcome: "ok" });
      this.metrics?.latency.observe({ model: ref.name }, Number(process.hrtime.bigint() - started) / 1e9);
      this.recordStats(ref, note, "ok", started);
      return result;
    } catch (err) {
      const outcome = outcomeOf(err);
      // Names nobody serves are the client's to choose: one label for all of them keeps the registry bounded.
      this.metrics?.requests.inc({ model: outcome === "not_found" ? "unknown" : ref.name, outcome });
      this.recordStats(ref, note, outcome, started);
      throw err;
    }
  }

  /** Adds a finished request to the endpoint statistics (a synchronous, in-memory step). */
  private recordStats(ref: ServedModelRef, note: RequestNote, outcome: InferenceOutcome, started: bigint): void {
    const kept = statsOutcome(outcome);
    if (!this.endpointStats || !kept) return;
    this.endpointStats.record({
      projectId: ref.projectId,
      servedName: ref.name,
      modelVersionId: note.modelVersionId,
      variant: note.variant,
      outcome: kept,
      rows: note.rows,
      latencyMs: Number(process.hrtime.bigint() - started) / 1e6,
      cpuMs: note.cpuMs,
    });
  }

  close(): Promise<void> {
    return this.registry.close();
  }
}
