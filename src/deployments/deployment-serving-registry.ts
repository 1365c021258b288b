/**
 * Serving of endpoints: `/v2/models/{endpoint}/infer`, the records form and `predict` answer
 * from the endpoint's primary model, its canary (a share of requests) and its shadow (a copy of
 * each). A name with no endpoint falls through to the registry underneath (a registered model's
 * champion), so serving by model name works as before.
 *
 * Each endpoint asked for is kept as an entry of holders, brought in line with the database by
 * `refresh` — on the first request, on every deployment event for its name, and on every registry
 * or governance event of its model (alias moves, approvals, archiving) from any process. A new
 * version is loaded and warmed in its holder before it takes requests; requests in flight finish
 * on the old session. Every process reads the same rows, so any number of replicas agree.
 */
import type { Logger } from "pino";
import { ConflictError } from "../kernel/errors";
import type { EventBus } from "../events/event-bus";
import { GovernanceEvents } from "../governance/governance.service";
import type { ModelVersionRow } from "../registry/model-version.entity";
import { RegistryEvents, type RegistryService } from "../registry/registry.service";
import type { ModelSignature } from "../registry/signature";
import type { RunObserver } from "../serving/batcher";
import type { ServedModelRef, ServedRoute, ServingRegistry } from "../serving/serving-registry";
import { LoadedModel, ModelHolder, ModelLoadError, type ModelSettings } from "../serving/session";
import { DEPLOYMENT_EVENT_TYPES, type DeploymentService } from "./deployment.service";

interface Entry {
  key: string;
  projectId: string;
  name: string;
  deploymentId: string;
  modelId: string;
  modelName: string;
  primary: ModelHolder;
  canary: { holder: ModelHolder; percent: number } | undefined;
  shadow: ModelHolder | undefined;
  /** Refreshes, one after another. */
  chain: Promise<void>;
  /** Set once the endpoint is deleted: the entry is dropped and its holders closed. */
  gone: boolean;
}

const MODEL_EVENTS = [
  RegistryEvents.aliasMoved,
  RegistryEvents.aliasDeleted,
  RegistryEvents.versionArchived,
  // Deleting a model deletes its endpoints (cascade) without deployment events.
  RegistryEvents.modelDeleted,
  GovernanceEvents.decided,
  GovernanceEvents.expired,
];

/** Names known to have no endpoint are remembered (until an event says otherwise), at most this many. */
const MAX_NEGATIVE = 10_000;

export class DeploymentServingRegistry implements ServingRegistry {
  private readonly entries = new Map<string, Promise<Entry | undefined>>();
  /** Keys known to have no endpoint, so serving a model by its name costs no query per request. */
  private readonly none = new Set<string>();
  /** Bumped by every deployment event of a key, so a lookup that raced one is not remembered as "none". */
  private readonly generation = new Map<string, number>();
  private readonly watch: AsyncIterableIterator<{ type: string; payload: Record<string, unknown> }>;
  private closed = false;

  constructor(
    private readonly deps: {
      deployments: DeploymentService;
      registry: RegistryService;
      /** What serves names that are not endpoints (and explicit `/versions/{v}`). */
      fallback: ServingRegistry;
      events: EventBus;
      settings: ModelSettings;
      observe: (name: string) => RunObserver;
      log: Logger;
    },
  ) {
    this.watch = deps.events.subscribe({ types: [...DEPLOYMENT_EVENT_TYPES, ...MODEL_EVENTS] });
    void this.follow();
  }

  private async follow(): Promise<void> {
    try {
      for await (const event of this.watch) {
        const p = event.payload;
        if (DEPLOYMENT_EVENT_TYPES.includes(event.type)) {
          if (typeof p.projectId === "string" && typeof p.name === "string") void this.changed(p.projectId, p.name);
          continue;
        }
        if (typeof p.registeredModelId !== "string") continue;
        for (const pending of this.entries.values()) {
          const entry = await pending.catch(() => undefined);
          if (entry && entry.modelId === p.registeredModelId) this.schedule(entry);
        }
      }
    } catch (err) {
      if (!this.closed) this.deps.log.error({ err }, "serving stopped following deployment events");
    }
  }

  /**
   * The endpoint `name` of a project changed (or may have): forget that it had none, and bring
   * its entry, if any, in line. Resolves once the entry has been refreshed — the mutation that
   * made the change awaits it after commit, so this process serves the new state when it answers.
   */
  async changed(projectId: string, name: string): Promise<void> {
    const key = keyOf(projectId, name);
    this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
    this.none.delete(key);
    const entry = await this.entries.get(key)?.catch(() => undefined);
    if (entry) {
      this.schedule(entry);
      await entry.chain;
    }
  }

  async route(ref: ServedModelRef): Promise<ServedRoute | undefined> {
    const key = keyOf(ref.projectId, ref.name);
    if (this.none.has(key)) return this.deps.fallback.route(ref);
    const entry = await this.entry(key, ref.projectId, ref.name);
    if (!entry) return this.deps.fallback.route(ref);
    // An explicit version of an endpoint is that version of its model, if APPROVED.
    if (ref.version !== undefined)
      return this.deps.fallback.route({ projectId: ref.projectId, name: entry.modelName, version: ref.version });
    // Only a holder that has never served waits for the refresh under way; a loaded one keeps answering meanwhile.
    if (!entry.primary.ready && !entry.primary.refused) await entry.chain;
    if (entry.gone) return this.deps.fallback.route(ref);
    return { primary: entry.primary, canary: entry.canary, shadow: entry.shadow };
  }

  async versions(ref: ServedModelRef): Promise<string[]> {
    const entry = await this.entries.get(keyOf(ref.projectId, ref.name))?.catch(() => undefined);
    return this.deps.fallback.versions(entry ? { projectId: ref.projectId, name: entry.modelName } : ref);
  }

  private entry(key: string, projectId: string, name: string): Promise<Entry | undefined> {
    let pending = this.entries.get(key);
    if (!pending) {
      const generation = this.generation.get(key) ?? 0;
      pending = this.open(key, projectId, name);
      this.entries.set(key, pending);
      void pending.then(
        (e) => {
          if (e !== undefined || this.entries.get(key) !== pending) return;
          this.entries.delete(key);
          if ((this.generation.get(key) ?? 0) === generation) {
            if (this.none.size >= MAX_NEGATIVE) this.none.clear();
            this.none.add(key);
          }
        },
        () => this.entries.get(key) === pending && this.entries.delete(key),
      );
    }
    return pending;
  }

  private async open(key: string, projectId: string, name: string): Promise<Entry | undefined> {
    const row = await this.deps.deployments.byName(projectId, name);
    if (!row) return undefined;
    const model = await this.deps.deployments.modelOf(row);
    const entry: Entry = {
      key,
      projectId,
      name,
      deploymentId: row.id,
      modelId: row.registeredModelId,
      modelName: model?.name ?? "",
      primary: new ModelHolder(),
      canary: undefined,
      shadow: undefined,
      chain: Promise.resolve(),
      gone: false,
    };
    this.schedule(entry);
    return entry;
  }

  private schedule(entry: Entry): void {
    entry.chain = entry.chain.then(() =>
      this.refresh(entry).catch((err) => this.deps.log.error({ err, endpoint: entry.name }, "serving could not refresh an endpoint")),
    );
  }

  /** Brings the entry's holders in line with the endpoint's row: the right versions loaded, or a refusal saying why. */
  private async refresh(entry: Entry): Promise<void> {
    if (this.closed || entry.gone) return;
    const { deployments } = this.deps;
    const row = await deployments.byName(entry.projectId, entry.name);
    if (!row) {
      // Deleted: later requests for the name fall through to the model registry.
      entry.gone = true;
      if (this.entries.get(entry.key) !== undefined) this.entries.delete(entry.key);
      await this.closeHolders(entry);
      return;
    }
    const model = await deployments.modelOf(row);
    entry.deploymentId = row.id;
    entry.modelId = row.registeredModelId;
    entry.modelName = model?.name ?? entry.modelName;
    if (row.mode === "BATCH") {
      await entry.primary.refuse(
        new ConflictError(`endpoint ${entry.name} is a BATCH deployment: it is not served online (switch its mode to REALTIME)`),
      );
      await this.dropCanary(entry);
      await this.dropShadow(entry);
      return;
    }
    const served = await deployments.servedVersions(row, entry.modelName);
    if (served.primary) await this.load(entry.primary, served.primary, entry);
    else await entry.primary.refuse(new ConflictError(`endpoint ${entry.name} has nothing to serve: ${served.reason}`));

    if (served.canary) {
      const holder = entry.canary?.holder ?? new ModelHolder();
      await this.load(holder, served.canary, entry);
      // Published only once loaded and warmed: until then the whole share goes to the primary.
      entry.canary = { holder, percent: row.canaryPercent };
    } else await this.dropCanary(entry);

    if (served.shadow) {
      const holder = entry.shadow ?? new ModelHolder();
      await this.load(holder, served.shadow, entry);
      entry.shadow = holder;
    } else await this.dropShadow(entry);
  }

  /** Loads and warms `v` into `holder` unless it serves it already; a version that cannot load leaves what serves. */
  private async load(holder: ModelHolder, v: ModelVersionRow, entry: Entry): Promise<void> {
    if (holder.ready && holder.current?.identity.versionId === v.id) return;
    const file = await this.deps.registry.versionFile(v);
    // The answer names the endpoint (OIP `model_name`) and the version that answered (`model_version`).
    const identity = { name: entry.name, version: String(v.version), versionId: v.id, registeredModelId: v.registeredModelId };
    try {
      await holder.swap(() =>
        LoadedModel.load(file, identity, v.signature as unknown as ModelSignature, this.deps.settings, this.deps.observe(entry.name)),
      );
      this.deps.log.info({ endpoint: entry.name, version: v.version }, "endpoint serving a new model version");
    } catch (err) {
      if (!(err instanceof ModelLoadError)) throw err;
      this.deps.log.error({ err, endpoint: entry.name, version: v.version }, "a model version failed to load for an endpoint");
      if (!holder.ready) await holder.refuse(new ConflictError(err.message));
    }
  }

  private async dropCanary(entry: Entry): Promise<void> {
    const old = entry.canary;
    entry.canary = undefined;
    // Requests that took it already finish on it; the session is released after them.
    if (old) await old.holder.close();
  }

  private async dropShadow(entry: Entry): Promise<void> {
    const old = entry.shadow;
    entry.shadow = undefined;
    if (old) await old.close();
  }

  private async closeHolders(entry: Entry): Promise<void> {
    await this.dropCanary(entry);
    await this.dropShadow(entry);
    await entry.primary.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watch.return?.();
    for (const pending of this.entries.values()) {
      const entry = await pending.catch(() => undefined);
      if (entry) {
        await entry.chain;
        await this.closeHolders(entry);
      }
    }
    this.entries.clear();
    await this.deps.fallback.close();
  }
}

function keyOf(projectId: string, name: string): string {
  return `${projectId}\u0000${name}`;
}
