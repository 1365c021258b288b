import { Counter, Histogram, type Registry } from "prom-client";
import { BoundedLabel } from "../kernel/bounded-label";

/** Distinct served names kept as `model` label values; later ones are `other` (plus `unknown` for names nobody serves). */
export const MAX_MODEL_LABELS = 500;

/** How an inference request ended, as the `outcome` label says it. */
export type InferenceOutcome = "ok" | "bad_request" | "not_found" | "refused" | "forbidden" | "error";

/**
 * Serving's Prometheus metrics, registered in the server's registry (so `/metrics` shows them):
 * requests by model and outcome, latency, rows and CPU, and rows per `session.run` (the batch size).
 * The `model` label is bounded: see `modelLabel`.
 */
export class ServingMetrics {
  readonly requests: Counter<"model" | "outcome">;
  readonly latency: Histogram<"model">;
  readonly batchRows: Histogram<"model">;
  readonly batchRequests: Histogram<"model">;
  readonly shadow: Counter<"model" | "outcome">;
  readonly rows: Counter<"model">;
  readonly cpu: Counter<"model">;
  private readonly models = new BoundedLabel(MAX_MODEL_LABELS);

  /** The `model` label of a served name: the first MAX_MODEL_LABELS names as they are, later ones `other`. */
  modelLabel(name: string): string {
    return this.models.of(name);
  }

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "sluice_inference_requests_total",
      help: "Inference requests (OIP infer and GraphQL predict) by model and outcome",
      labelNames: ["model", "outcome"] as const,
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "sluice_inference_duration_seconds",
      help: "Inference latency from decoded request to encoded response, by model",
      labelNames: ["model"] as const,
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    this.batchRows = new Histogram({
      name: "sluice_inference_batch_rows",
      help: "Rows per onnxruntime session.run (micro-batches merge concurrent requests)",
      labelNames: ["model"] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [registry],
    });
    this.batchRequests = new Histogram({
      name: "sluice_inference_batch_requests",
      help: "Requests merged into one onnxruntime session.run",
      labelNames: ["model"] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    });
    this.shadow = new Counter({
      name: "sluice_inference_shadow_requests_total",
      help: "Copies of requests sent to a deployment's shadow model: ok, error (never seen by the caller) or dropped (too many in flight)",
      labelNames: ["model", "outcome"] as const,
      registers: [registry],
    });
    this.rows = new Counter({
      name: "sluice_inference_rows_total",
      help: "Rows (instances) of decoded inference requests, by model",
      labelNames: ["model"] as const,
      registers: [registry],
    });
    this.cpu = new Counter({
      name: "sluice_inference_cpu_seconds_total",
      help: "Process CPU seconds over onnxruntime runs, shared among their requests by rows, by model",
      labelNames: ["model"] as const,
      registers: [registry],
    });
  }
}
