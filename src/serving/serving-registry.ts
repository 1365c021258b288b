/**
 * Which model a served name means. The routes and `predict` ask a `ServingRegistry`; the
 * deployment layer (src/deployments: endpoints, canary, shadow) wraps this one as its fallback.
 *
 * `ChampionServingRegistry` serves registered models by name: in a project, the name of a
 * registered model serves the version its `champion` alias points at (and
 * `/versions/{n}` serves version n), provided that version is APPROVED. Models are loaded on
 * first use and kept; when the alias moves, a version is approved, rejected or archived
 * (events `model.alias.moved`, `model.alias.deleted`, `approval.decided`,
 * `model.version.archived`, from any server process), the name is re-read and the holder
 * swaps to the new version — loaded and warmed first, in-flight requests finishing on the old.
 */
import type { Logger } from "pino";
import { ConflictError, ErrorCode, NotFoundError, SluiceError } from "../kernel/errors";
import type { EventBus } from "../events/event-bus";
import type { ModelVersionRow, RegistryService } from "../registry";
import type { RunObserver } from "./batcher";
import { MODEL_SERVING_EVENTS, RefreshPath, loadVersion, type RefreshedEntry } from "./refresh-path";
import { ModelHolder, type ModelSettings } from "./session";

/** A served name: a model name in a project, and optionally an explicit version. */
export interface ServedModelRef {
  projectId: string;
  name: string;
  /** `/versions/{version}`; undefined lets the registry choose (the champion). */
  version?: string;
}

/**
 * What a served name answers with: the primary model, and for a deployment with a canary a
 * second model taking `percent` % of requests, and a shadow that gets a copy of each request.
 */
export interface ServedRoute {
  primary: ModelHolder;
  canary?: { holder: ModelHolder; percent: number };
  shadow?: ModelHolder;
}

export interface ServingRegistry {
  /** What serves `ref`, or undefined when nothing by that name exists (404). */
  route(ref: ServedModelRef): Promise<ServedRoute | undefined>;
  /** The versions that may be asked for explicitly (OIP metadata `versions`). */
  versions(ref: ServedModelRef): Promise<string[]>;
  /** Told (after commit) that the endpoint `name` changed in this process, so it serves the change before the caller hears back. */
  changed?(projectId: string, name: string): Promise<void>;
  close(): Promise<void>;
}

/** The alias whose version a model's name serves. */
export const SERVED_ALIAS = "champion";

/** Nothing to serve under an existing model's name: no champion alias, or no such version. */
export class NothingServedError extends SluiceError {
  constructor(message: string) {
    super(ErrorCode.NOT_FOUND, message);
  }
}

interface Entry extends RefreshedEntry {
  /** A version number, or undefined for the champion alias. */
  pinned: number | undefined;
  holder: ModelHolder;
}

export class ChampionServingRegistry implements ServingRegistry {
  private readonly path: RefreshPath<Entry>;
  private readonly entries: Map<string, Promise<Entry | undefined>>;

  constructor(
    private readonly deps: {
      registry: RegistryService;
      events: EventBus;
      settings: ModelSettings;
      /** Told of every session.run (rows, requests), for the batch-size metric. */
      observe: (name: string) => RunObserver;
      log: Logger;
    },
  ) {
    // Every entry of a model that an event touched is re-read.
    this.path = new RefreshPath<Entry>({
      events: deps.events,
      log: deps.log,
      types: MODEL_SERVING_EVENTS,
      refresh: (entry) => this.refresh(entry),
      subject: "model",
    });
    this.entries = this.path.entries;
  }

  async route(ref: ServedModelRef): Promise<ServedRoute | undefined> {
    const holder = await this.resolve(ref);
    return holder && { primary: holder };
  }

  async resolve(ref: ServedModelRef): Promise<ModelHolder | undefined> {
    const pinned = ref.version === undefined ? undefined : Number(ref.version);
    if (pinned !== undefined && !(Number.isSafeInteger(pinned) && pinned > 0)) {
      throw new NothingServedError(`model ${ref.name} has no version ${JSON.stringify(ref.version)}: versions are numbers 1, 2, …`);
    }
    const key = `${ref.projectId}\u0000${ref.name}\u0000${pinned ?? ""}`;
    let pending = this.entries.get(key);
    if (!pending) {
      pending = this.open(ref.projectId, ref.name, pinned);
      this.entries.set(key, pending);
      // A name that does not exist (yet) is not kept: it may be created later.
      void pending.then(
        (e) => e === undefined && this.entries.get(key) === pending && this.entries.delete(key),
        () => this.entries.get(key) === pending && this.entries.delete(key),
      );
    }
    const entry = await pending;
    if (!entry) return undefined;
    await entry.chain;
    // A refresh that failed outright (the database away, say) left nothing to serve and no reason: try again.
    if (!entry.holder.ready && !entry.holder.refused) {
      this.schedule(entry);
      await entry.chain;
    }
    return entry.holder;
  }

  async versions(ref: ServedModelRef): Promise<string[]> {
    const model = await this.deps.registry.modelByName(ref.projectId, ref.name);
    if (!model) return [];
    const page = await this.deps.registry.listVersions(
      { registeredModelId: model.id, status: "APPROVED" },
      { first: 500 },
      { property: "version", direction: "ASC" },
    );
    return page.rows.map((v) => String(v.version));
  }

  private async open(projectId: string, name: string, pinned: number | undefined): Promise<Entry | undefined> {
    const model = await this.deps.registry.modelByName(projectId, name);
    if (!model) return undefined;
    // Only versions that exist get an entry, so asking for made-up numbers cannot grow the map.
    if (pinned !== undefined && !(await this.deps.registry.versionByNumber(model.id, pinned))) return undefined;
    const entry: Entry = { modelId: model.id, name: model.name, pinned, holder: new ModelHolder(), chain: Promise.resolve() };
    this.schedule(entry);
    return entry;
  }

  private schedule(entry: Entry): void {
    this.path.schedule(entry);
  }

  /** Brings the entry's holder in line with the registry: the right version, loaded, or a refusal saying why. */
  private async refresh(entry: Entry): Promise<void> {
    if (this.path.closed) return;
    const { registry } = this.deps;
    const v: ModelVersionRow | null =
      entry.pinned === undefined
        ? await registry.versionByAlias(entry.modelId, SERVED_ALIAS)
        : await registry.versionByNumber(entry.modelId, entry.pinned);
    if (!v) {
      await entry.holder.refuse(
        entry.pinned === undefined
          ? new NothingServedError(`model ${entry.name} has no '${SERVED_ALIAS}' alias, so nothing is served under its name`)
          : new NotFoundError("ModelVersion", `${entry.name} v${entry.pinned}`),
      );
      return;
    }
    if (v.status !== "APPROVED") {
      await entry.holder.refuse(
        new ConflictError(`version ${v.version} of ${entry.name} is ${v.status}; only APPROVED versions are served`, {
          version: v.version,
          status: v.status,
        }),
      );
      return;
    }
    await loadVersion(entry.holder, v, entry.name, "model", this.deps);
  }

  async close(): Promise<void> {
    await this.path.close((entry) => entry.holder.close());
  }
}
