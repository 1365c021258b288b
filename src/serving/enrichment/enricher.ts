/**
 * Online-feature enrichment for serving: for the model version a request runs on, the plan of
 * which inputs its feature views can fill (from the version's lineage), and the lookups that fill
 * them from the online store (`feature_online_values`).
 *
 * What is cached and what is not: a version's plan depends only on its signature, its lineage and
 * the feature view versions the lineage names, all immutable, so plans are kept per version id
 * (bounded). Online values change at every materialization and are never cached: each request
 * reads them, one query per view.
 */
import { Counter, type Registry } from "prom-client";
import { InvalidInputError } from "../../kernel/errors";
import type { FeatureView, FeatureService } from "../../features";
import type { Database } from "../../db/data-source";
import type { ServedModelRef } from "../serving-registry";
import type { LoadedModel } from "../session";
import { type EnrichedRequest, enrichRequest } from "./enrich-request";
import { type EnrichmentPlan, NO_ENRICHMENT, planEnrichment } from "./plan";

/** The request parameter that reads the online store as of another instant than now. */
export const FEATURES_AS_OF = "features_as_of";

/**
 * `parameters.features_as_of` of a request (an ISO 8601 instant, e.g. `2001-03-01T00:00:00Z`):
 * the instant the online values are read as of, so that their TTL is measured from it rather
 * than from the server's clock — for replaying or backtesting past traffic (the demo replays
 * 2001). Undefined when the request does not set it.
 *
 * @throws InvalidInputError naming `parameters.features_as_of` when it is not an instant
 */
export function featuresAsOf(body: unknown): Date | undefined {
  const parameters = (body as { parameters?: unknown } | null)?.parameters;
  if (typeof parameters !== "object" || parameters === null) return undefined;
  const raw = (parameters as Record<string, unknown>)[FEATURES_AS_OF];
  if (raw === undefined || raw === null) return undefined;
  const at = typeof raw === "string" && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? new Date(raw) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw new InvalidInputError([
      { field: `parameters.${FEATURES_AS_OF}`, message: "must be an ISO 8601 date or instant, e.g. 2001-03-01T00:00:00Z" },
    ]);
  }
  return at;
}

/** Plans kept: one per model version served recently; older ones are rebuilt on demand. */
const MAX_PLANS = 256;

interface VersionPlan {
  projectId: string;
  plan: EnrichmentPlan;
}

export class FeatureEnricher {
  private readonly plans = new Map<string, Promise<VersionPlan>>();
  /** Totals since start (tests and benches read them; `/metrics` has them by model and view). */
  readonly stats = { requests: 0, keys: 0, unknown: 0, expired: 0 };
  private lookups: Counter<"model" | "view"> | undefined;
  private misses: Counter<"model" | "view" | "reason"> | undefined;

  constructor(
    private readonly db: Database,
    private readonly features: FeatureService,
  ) {}

  /** Registers `sluice_serving_feature_lookups_total` and `sluice_serving_feature_misses_total` (called once by the server). */
  instrument(registry: Registry): void {
    if (this.lookups) return;
    this.lookups = new Counter({
      name: "sluice_serving_feature_lookups_total",
      help: "Entity keys looked up in the online feature store to enrich inference requests, by model and feature view",
      labelNames: ["model", "view"] as const,
      registers: [registry],
    });
    this.misses = new Counter({
      name: "sluice_serving_feature_misses_total",
      help: "Looked-up entity keys that gave missing feature values: unknown to the store, or older than the view's TTL",
      labelNames: ["model", "view", "reason"] as const,
      registers: [registry],
    });
  }

  /**
   * `body` with the view features it left out filled from the online store, or undefined when the
   * model has no feature views or the request sends everything itself.
   *
   * @throws InvalidInputError (400) for a view feature sent with none of the keys to look it up
   */
  async enrich(ref: ServedModelRef, model: LoadedModel, body: unknown): Promise<EnrichedRequest | undefined> {
    const versionId = model.identity.versionId;
    if (!versionId) return undefined;
    const { projectId, plan } = await this.planOf(versionId, model);
    if (plan.views.length === 0) return undefined;
    const asOf = featuresAsOf(body);
    const enriched = await enrichRequest(body, plan, model.signature, async (view, keys) =>
      this.features.onlineByEncodedKeys(projectId, view, keys, asOf),
    );
    if (enriched) this.count(ref.name, enriched);
    return enriched;
  }

  private count(model: string, enriched: EnrichedRequest): void {
    if (enriched.lookups.length > 0) this.stats.requests++;
    for (const l of enriched.lookups) {
      this.stats.keys += l.keys;
      this.stats.unknown += l.unknown;
      this.stats.expired += l.expired;
      this.lookups?.inc({ model, view: l.view }, l.keys);
      if (l.unknown > 0) this.misses?.inc({ model, view: l.view, reason: "unknown" }, l.unknown);
      if (l.expired > 0) this.misses?.inc({ model, view: l.view, reason: "expired" }, l.expired);
    }
  }

  /** The plan of one model version, built once (a failed build is retried by the next request). */
  private planOf(versionId: string, model: LoadedModel): Promise<VersionPlan> {
    let plan = this.plans.get(versionId);
    if (!plan) {
      plan = this.buildPlan(versionId, model);
      plan.catch(() => this.plans.delete(versionId));
      if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value!);
      this.plans.set(versionId, plan);
    }
    return plan;
  }

  private async buildPlan(versionId: string, model: LoadedModel): Promise<VersionPlan> {
    const [version]: Array<{ project_id: string; lineage: { featureViewIds?: unknown } | null }> = await this.db.dataSource.query(
      `SELECT project_id, lineage FROM model_versions WHERE id = $1`,
      [versionId],
    );
    if (!version) return { projectId: "", plan: NO_ENRICHMENT };
    const ids = Array.isArray(version.lineage?.featureViewIds) ? (version.lineage.featureViewIds as string[]) : [];
    if (ids.length === 0) return { projectId: version.project_id, plan: NO_ENRICHMENT };
    const rows: Array<{ id: string; definition: FeatureView }> = await this.db.dataSource.query(
      `SELECT id, definition FROM feature_views WHERE id = ANY($1::uuid[]) AND project_id = $2`,
      [ids, version.project_id],
    );
    // In lineage order, so that which view feeds an input does not depend on the database.
    const views = ids.map((id) => rows.find((r) => r.id === id)?.definition).filter((v): v is FeatureView => v !== undefined);
    return { projectId: version.project_id, plan: planEnrichment(model.signature, views) };
  }
}
