import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import type { NotifierPlugin, OutboundNetwork } from "../../plugins/notifier";
import { webhookNotifier } from "../../plugins/webhook";
import { type InputProblem, InvalidInputError } from "../kernel/errors";
import type { JsonObject } from "../db/json";

/**
 * The notifier plugins this server knows, by kind. A new plugin is one line here (its module in
 * `plugins/<kind>/` exports a `NotifierPlugin`).
 */
const PLUGINS: readonly NotifierPlugin<any>[] = [webhookNotifier];

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true, logger: false });
const byKind = new Map<string, { plugin: NotifierPlugin<any>; validate: ValidateFunction }>(
  PLUGINS.map((p) => [p.kind, { plugin: p, validate: ajv.compile(p.configSchema) }]),
);

/** The kinds a channel may have. */
export const NOTIFIER_KINDS: readonly string[] = PLUGINS.map((p) => p.kind);

/** The plugin of `kind`. @throws InvalidInputError on `kind` when there is none. */
export function notifierPlugin(kind: string): NotifierPlugin<any> {
  const entry = byKind.get(kind);
  if (!entry) throw new InvalidInputError([{ field: "kind", message: `must be one of: ${NOTIFIER_KINDS.join(", ")}` }]);
  return entry.plugin;
}

/** `config.<path>` for an ajv error, naming the property for `required` and `additionalProperties`. */
function problemOf(e: ErrorObject): InputProblem {
  const path = e.instancePath.split("/").filter(Boolean);
  if (e.keyword === "required") path.push(String(e.params.missingProperty));
  if (e.keyword === "additionalProperties") {
    path.push(String(e.params.additionalProperty));
    return { field: ["config", ...path].join("."), message: "is not a setting of this kind" };
  }
  return { field: ["config", ...path].join("."), message: e.message ?? "is invalid" };
}

/**
 * Validates a channel's config against its plugin: the JSON Schema (defaults filled in), then
 * the plugin's own checks (a target the network policy refuses, among them). Returns a copy; the input is not changed.
 *
 * @throws InvalidInputError naming `config.<field>` for each problem.
 */
export function checkNotifierConfig(kind: string, config: unknown, network: OutboundNetwork): JsonObject {
  const entry = byKind.get(kind);
  if (!entry) throw new InvalidInputError([{ field: "kind", message: `must be one of: ${NOTIFIER_KINDS.join(", ")}` }]);
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new InvalidInputError([{ field: "config", message: "must be a JSON object" }]);
  }
  const copy = structuredClone(config) as JsonObject;
  if (!entry.validate(copy)) throw new InvalidInputError((entry.validate.errors ?? []).map(problemOf));
  const problems = entry.plugin.checkConfig?.(copy, network) ?? [];
  if (problems.length > 0) throw new InvalidInputError(problems.map((p) => ({ field: `config.${p.field}`, message: p.message })));
  return copy;
}
