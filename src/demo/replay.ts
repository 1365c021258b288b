/**
 * Replays flights through a served endpoint as its clients would: records-form requests over
 * HTTP (`POST /v2/models/{endpoint}/infer`), several in flight at once, each flight keyed by its
 * id (`parameters.prediction_ids`) so that its outcome — known once the flight has left — can be
 * joined to the logged prediction with `recordOutcomes`.
 */
import type { SluiceClient } from "../cli/client";
import type { ReplayFlight } from "./flights-data";

export interface ReplayTarget {
  /** The server's base URL (`http://host:port`). */
  baseUrl: string;
  token: string;
  projectId: string;
  endpoint: string;
  /** The registered model whose prediction log the outcomes join (`recordOutcomes(model:)`). */
  model: string;
}

export interface ReplayedBatch {
  flights: ReplayFlight[];
  /** P(delayed) per flight, as answered. */
  probabilities: number[];
  /** The model version that answered (OIP `model_version`). */
  version: string;
}

export interface ReplayOptions {
  batchSize: number;
  concurrency: number;
  /** Called for each answered batch, once its outcomes are recorded. */
  onBatch?: (batch: ReplayedBatch) => void;
}

/**
 * Sends `flights` in order, in chunks of `outcomeChunk` flights: each chunk's batches go
 * `concurrency` at a time, then the chunk's outcomes are recorded in one `recordOutcomes` call
 * (GraphQL operations are rate-limited per token; inference requests are not).
 */
export async function replayFlights(client: SluiceClient, target: ReplayTarget, flights: ReplayFlight[], options: ReplayOptions) {
  // recordOutcomes takes at most 1,000 outcomes a call.
  const chunkSize = 1000 - (1000 % Math.min(options.batchSize, 1000));
  for (let start = 0; start < flights.length; start += chunkSize) {
    const chunk = flights.slice(start, start + chunkSize);
    const batches: ReplayFlight[][] = [];
    for (let i = 0; i < chunk.length; i += options.batchSize) batches.push(chunk.slice(i, i + options.batchSize));
    const answered: ReplayedBatch[] = [];
    let next = 0;
    const worker = async () => {
      while (next < batches.length) answered.push(await infer(target, batches[next++]!));
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, batches.length) }, worker));
    await recordOutcomes(client, target, chunk);
    for (const batch of answered) options.onBatch?.(batch);
  }
}

async function infer(target: ReplayTarget, flights: ReplayFlight[]): Promise<ReplayedBatch> {
  const res = await fetch(`${target.baseUrl}/v2/models/${encodeURIComponent(target.endpoint)}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${target.token}`, "x-sluice-project": target.projectId },
    body: JSON.stringify({ instances: flights.map((f) => f.features), parameters: { prediction_ids: flights.map((f) => f.id) } }),
  });
  const body = (await res.json()) as { error?: string; model_version?: string; predictions?: Array<{ probabilities: number[] }> };
  if (!res.ok || !body.predictions)
    throw new Error(`inference on ${target.endpoint} answered ${res.status}: ${body.error ?? "no predictions"}`);
  return { flights, probabilities: body.predictions.map((p) => p.probabilities[1]!), version: String(body.model_version) };
}

const RECORD_OUTCOMES = `mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) {
  __typename ... on OutcomesPayload { matched unmatched unmatchedIds } ... on Error { message } } }`;

/**
 * The flights' outcomes. The prediction log writes in the background, so a batch answered a
 * moment ago may not be in the table yet: unmatched ids are sent again, briefly.
 */
async function recordOutcomes(client: SluiceClient, target: ReplayTarget, flights: ReplayFlight[]): Promise<void> {
  let pending = flights;
  for (let attempt = 0; pending.length > 0; attempt++) {
    const outcomes = pending.map((f) => ({ predictionId: f.id, outcome: f.delayed }));
    const { recordOutcomes: r } = await client.request<{
      recordOutcomes: { __typename: string; message?: string; unmatchedIds?: string[] };
    }>(RECORD_OUTCOMES, { i: { projectId: target.projectId, model: target.model, outcomes } });
    if (r.__typename !== "OutcomesPayload") throw new Error(`recordOutcomes: ${r.message ?? r.__typename}`);
    const unmatched = new Set(r.unmatchedIds ?? []);
    pending = pending.filter((f) => unmatched.has(f.id));
    if (pending.length === 0 || attempt >= 50) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What one enrichment probe found: keys looked up in the online store and those imputed. */
export interface EnrichmentProbe {
  flights: number;
  /** The replay clock the store was read as of. */
  asOf: string;
  lookedUp: number;
  imputed: number;
}

/**
 * Sends `flights` with only what a client knows when a flight is scheduled — hour, day of week,
 * distance and its two airports — and leaves the airports' features to the endpoint's online
 * enrichment, read as of `asOf` (`parameters.features_as_of`): the demo replays 2001, so against
 * today's clock every feature row would be far older than the views' 7-day TTL and be imputed.
 * Answers what the response reports (`features_looked_up`, `features_imputed`).
 */
export async function probeEnrichment(target: ReplayTarget, flights: ReplayFlight[], asOf: Date): Promise<EnrichmentProbe> {
  const instances = flights.map((f) => ({
    hour: f.features.hour,
    day_of_week: f.features.day_of_week,
    distance: f.features.distance,
    origin: f.airports.origin,
    destination: f.airports.destination,
  }));
  const res = await fetch(`${target.baseUrl}/v2/models/${encodeURIComponent(target.endpoint)}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${target.token}`, "x-sluice-project": target.projectId },
    body: JSON.stringify({ instances, parameters: { features_as_of: asOf.toISOString() } }),
  });
  const body = (await res.json()) as { error?: string; parameters?: { features_looked_up?: number; features_imputed?: number } };
  if (!res.ok) throw new Error(`inference on ${target.endpoint} with online features answered ${res.status}: ${body.error ?? ""}`);
  return {
    flights: flights.length,
    asOf: asOf.toISOString(),
    lookedUp: body.parameters?.features_looked_up ?? 0,
    imputed: body.parameters?.features_imputed ?? 0,
  };
}
