import Ajv, { type ValidateFunction } from "ajv";
import type { NotifierPlugin, OutboundNetwork } from "../../plugins/notifier";
import { webhookNotifier } from "../../plugins/webhook";
import { InvalidInputError } from "../kernel/errors";
import { schemaProblems } from "../kernel/schema-problems";
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
  if (!entry.validate(copy))
    throw new InvalidInputError(
      schemaProblems(entry.validate.errors, {
        data: copy,
        base: "config",
        messages: { additionalProperties: "is not a setting of this kind" },
      }),
    );
  const problems = entry.plugin.checkConfig?.(copy, network) ?? [];
  if (problems.length > 0) throw new InvalidInputError(problems.map((p) => ({ field: `config.${p.field}`, message: p.message })));
  return copy;
}
