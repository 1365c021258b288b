/**
 * The one path by which serving follows the database: both serving registries (a model's
 * champion, `serving-registry.ts`; an endpoint's holders, `deployments/deployment-serving-registry.ts`)
 * keep entries of loaded models, each refreshed one refresh after another when an event from any
 * process says what it serves may have changed, and load a new version into a holder the same way
 * (warmed before it takes requests, requests in flight finishing on the old session, a version
 * that cannot load leaving what serves).
 */
import type { Logger } from "pino";
import { ConflictError } from "../kernel/errors";
import type { EventBus } from "../events/event-bus";
import { GovernanceEvents } from "../governance";
import { type ModelVersionRow, RegistryEvents, type RegistryService, type ModelSignature } from "../registry";
import type { RunObserver } from "./batcher";
import { LoadedModel, type ModelHolder, ModelLoadError, type ModelSettings } from "./session";

/** Events after which what a model's name serves may have changed: its alias moved, a version decided or archived. */
export const MODEL_SERVING_EVENTS: readonly string[] = [
  RegistryEvents.aliasMoved,
  RegistryEvents.aliasDeleted,
  RegistryEvents.versionArchived,
  GovernanceEvents.decided,
  GovernanceEvents.expired,
];

/** What a registry keeps per served name: the model it reads, and its refreshes, chained. */
export interface RefreshedEntry {
  modelId: string;
  name: string;
  /** Refreshes of this entry, one after another. */
  chain: Promise<void>;
}

interface WatchedEvent {
  type: string;
  payload: Record<string, unknown>;
}

/**
 * A registry's entries by key and the loop that refreshes them: every watched event that names a
 * `registeredModelId` schedules a refresh of the entries of that model (after `intercept`, which
 * may take an event for itself and return true).
 */
export class RefreshPath<E extends RefreshedEntry> {
  readonly entries = new Map<string, Promise<E | undefined>>();
  private readonly watch: AsyncIterableIterator<WatchedEvent>;
  private stopped = false;

  constructor(
    private readonly options: {
      events: EventBus;
      log: Logger;
      /** The event types followed. */
      types: readonly string[];
      /** Brings one entry in line with the database. */
      refresh: (entry: E) => Promise<void>;
      intercept?: (event: WatchedEvent) => boolean;
      /** What an entry serves, for logs: "model", "endpoint". */
      subject: string;
    },
  ) {
    this.watch = options.events.subscribe({ types: [...options.types] });
    void this.follow();
  }

  get closed(): boolean {
    return this.stopped;
  }

  private async follow(): Promise<void> {
    try {
      for await (const event of this.watch) {
        if (this.options.intercept?.(event)) continue;
        const modelId = event.payload.registeredModelId;
        if (typeof modelId !== "string") continue;
        for (const pending of this.entries.values()) {
          const entry = await pending.catch(() => undefined);
          if (entry && entry.modelId === modelId) this.schedule(entry);
        }
      }
    } catch (err) {
      if (!this.stopped) this.options.log.error({ err }, `serving stopped following events (${this.options.subject}s)`);
    }
  }

  /** Queues a refresh of `entry` after those under way; a failure is logged, the chain goes on. */
  schedule(entry: E): void {
    entry.chain = entry.chain.then(() =>
      this.options
        .refresh(entry)
        .catch((err) =>
          this.options.log.error({ err, [this.options.subject]: entry.name }, `serving could not refresh a ${this.options.subject}`),
        ),
    );
  }

  /** Stops following, waits for each entry's refreshes, then `release`s it. */
  async close(release: (entry: E) => Promise<void>): Promise<void> {
    this.stopped = true;
    await this.watch.return?.();
    for (const pending of this.entries.values()) {
      const entry = await pending.catch(() => undefined);
      if (entry) {
        await entry.chain;
        await release(entry);
      }
    }
    this.entries.clear();
  }
}

/** What loading a version needs. */
export interface VersionLoader {
  registry: RegistryService;
  settings: ModelSettings;
  /** Told of every session.run (rows, requests), for the batch-size metric. */
  observe: (name: string) => RunObserver;
  log: Logger;
}

/**
 * Loads and warms `v` into `holder`, answering as `name` (OIP `model_name`), unless it serves it
 * already. An approved version that cannot load keeps what serves, else the holder refuses saying why.
 */
export async function loadVersion(
  holder: ModelHolder,
  v: ModelVersionRow,
  name: string,
  subject: string,
  deps: VersionLoader,
): Promise<void> {
  if (holder.ready && holder.current?.identity.versionId === v.id) return;
  const file = await deps.registry.versionFile(v);
  const identity = { name, version: String(v.version), versionId: v.id, registeredModelId: v.registeredModelId };
  try {
    await holder.swap(() => LoadedModel.load(file, identity, v.signature as unknown as ModelSignature, deps.settings, deps.observe(name)));
    deps.log.info({ [subject]: name, version: v.version }, `${subject} serving a new model version`);
  } catch (err) {
    if (!(err instanceof ModelLoadError)) throw err;
    deps.log.error({ err, [subject]: name, version: v.version }, `a model version failed to load for a ${subject}`);
    if (!holder.ready) await holder.refuse(new ConflictError(err.message));
  }
}
