/**
 * The notifier plugin contract: what every notifier (the signed webhook first; later chat or
 * e-mail) implements, and what Sluice's notification dispatcher hands it. Plain data crosses
 * this boundary, and failures are values (`DeliveryResult`), never thrown, so the dispatcher
 * decides retries from data alone. `plugins/README.md` describes the same contract in prose.
 */

import type { LookupFunction } from "node:net";

/** A JSON Schema (draft-07, as ajv reads it in strict mode). */
export type JsonSchema = Record<string, unknown>;

/** The event a notification carries: a row of Sluice's event stream, as plain data. */
export interface NotifiedEvent {
  /** The event's id in the stream (a decimal string; the subscription cursor). */
  id: string;
  /** `noun.verb`, e.g. `approval.decided`, `validation.failed`, `alert.fired`. */
  type: string;
  /** When the event happened (not when it is delivered). */
  createdAt: Date;
  projectId: string;
  subjectId: string | null;
  actorId: string | null;
  payload: Record<string, unknown>;
}

/** One attempt to deliver one event to one channel. */
export interface Notification {
  /**
   * Identifies the message to the receiver, the same on every retry (an idempotency key):
   * `evt_<event id>`. Never contains a `.`.
   */
  messageId: string;
  event: NotifiedEvent;
  /** 1 for the first attempt. */
  attempt: number;
}

/** What one attempt came to. */
export interface DeliveryResult {
  ok: boolean;
  /** Whether trying again later may succeed (network error, timeout, 5xx, 429); ignored when `ok`. */
  retryable: boolean;
  /** The receiver's HTTP status, for HTTP-based notifiers, when one answered. */
  httpStatus?: number;
  /** Why it failed, short and fit for a log (never a secret, never the receiver's answer). */
  error?: string;
  /**
   * The start of the receiver's answer to a failed attempt. Only project admins may read it: the
   * receiver may be an internal service whose answer is not for every project reader (nor the log).
   */
  responseExcerpt?: string;
  /** The receiver asked to wait this long before the next attempt (`Retry-After`). */
  retryAfterMs?: number;
  durationMs: number;
}

/** Sends notifications for one channel: built from its validated config and its secret. */
export interface Notifier {
  /** Never throws: every failure comes back as a `DeliveryResult`. `signal` aborts the attempt (server shutdown). */
  send(notification: Notification, signal?: AbortSignal): Promise<DeliveryResult>;
}

/**
 * What Sluice lets a notifier reach on the network (`SLUICE_WEBHOOK_ALLOW`): every plugin that
 * opens connections must resolve names with `lookup` and check literal IPs with
 * `assertLiteralHost`, so loopback and private addresses stay out of reach.
 */
export interface OutboundNetwork {
  /** Why a host given in a channel's config is refused (a literal IP in a refused range), or undefined. */
  hostProblem(hostname: string): string | undefined;
  /** Throws (with a message fit for the delivery log) when connecting to this literal IP is refused. */
  assertLiteralHost(hostname: string): void;
  /** A `dns.lookup` for sockets that fails when every address the name resolves to is refused. */
  lookup: LookupFunction;
}

/** A problem with one config field; `field` is a dotted path below `config`, e.g. `url`. */
export interface ConfigProblem {
  field: string;
  message: string;
}

/**
 * A notifier plugin: the module's default export. `C` is its config, as its schema describes it.
 */
export interface NotifierPlugin<C = Record<string, unknown>> {
  /** The channel `kind` that selects this plugin, e.g. `webhook`. */
  kind: string;
  /** One line for documentation and error messages. */
  description: string;
  /** The channel config's JSON Schema; Sluice validates with ajv (strict, all errors, defaults applied). */
  configSchema: JsonSchema;
  /** Checks JSON Schema cannot express (a URL that parses); an empty list when the config is good. */
  checkConfig?(config: C, network: OutboundNetwork): ConfigProblem[];
  /** Whether a channel of this kind needs a signing secret (a project secret the channel names). */
  requiresSecret: boolean;
  /** Checks the secret's format (never echoing it); undefined when it is good. */
  checkSecret?(secret: string): string | undefined;
  /** Builds the sender of one channel. `secret` is the channel's secret value when it has one. */
  create(config: C, secret: string | undefined, network: OutboundNetwork): Notifier;
}
