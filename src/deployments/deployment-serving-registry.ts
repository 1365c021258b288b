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
import { type ModelVersionRow, RegistryEvents, type RegistryService } from "../registry";
import {
  type RunObserver,
  MODEL_SERVING_EVENTS,
  RefreshPath,
  loadVersion,
  type RefreshedEntry,
  type ServedModelRef,
  type ServedRoute,
  type ServingRegistry,
  ModelHolder,
  type ModelSettings,
} from "../serving";
import { DEPLOYMENT_EVENT_TYPES, type DeploymentService } from "./deployment.service";

interface Entry extends RefreshedEntry {
  key: string;
  projectId: string;
  deploymentId: string;
  modelName: string;
  primary: ModelHolder;
  canary: { holder: ModelHolder; percent: number } | undefined;
  shadow: ModelHolder | undefined;
  /** Set once the endpoint is deleted: the entry is dropped and its holders closed. */
  gone: boolean;
}

const MODEL_EVENTS = [
  ...MODEL_SERVING_EVENTS,
  // Deleting a model deletes its endpoints (cascade) without deployment events.
  RegistryEvents.modelDeleted,
];

/** Names known to have no endpoint are remembered (until an event says otherwise), at most this many. */
const MAX_NEGATIVE = 10_000;

export class DeploymentServingRegistry implements ServingRegistry {
  private readonly path: RefreshPath<Entry>;
  private readonly entries: Map<string, Promise<Entry | undefined>>;
  /** Keys known to have no endpoint, so serving a model by its name costs no query per request. */
  private readonly none = new Set<string>();
  /** Bumped by every deployment event of a key, so a lookup that raced one is not remembered as "none". */
  private readonly generation = new Map<string, number>();

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
    this.path = new RefreshPath<Entry>({
      events: deps.events,
      log: deps.log,
      types: [...DEPLOYMENT_EVENT_TYPES, ...MODEL_EVENTS],
      refresh: (entry) => this.refresh(entry),
      // A deployment event names the endpoint; the model events reach entries through their model.
      intercept: (event) => {
        if (!DEPLOYMENT_EVENT_TYPES.includes(event.type)) return false;
        const p = event.payload;
        if (typeof p.projectId === "string" && typeof p.name === "string") void this.changed(p.projectId, p.name);
        return true;
      },
      subject: "endpoint",
    });
    this.entries = this.path.entries;
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
    this.path.schedule(entry);
  }

  /** Brings the entry's holders in line with the endpoint's row: the right versions loaded, or a refusal saying why. */
  private async refresh(entry: Entry): Promise<void> {
    if (this.path.closed || entry.gone) return;
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

  /** Loads `v` into `holder`; the answer names the endpoint (OIP `model_name`) and the version that answered. */
  private load(holder: ModelHolder, v: ModelVersionRow, entry: Entry): Promise<void> {
    return loadVersion(holder, v, entry.name, "endpoint", this.deps);
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
    await this.path.close((entry) => this.closeHolders(entry));
    await this.deps.fallback.close();
  }
}

function keyOf(projectId: string, name: string): string {
  return `${projectId}\u0000${name}`;
}
