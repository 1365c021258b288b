import { createHash } from "node:crypto";
import { canonicalJson, type StageSpec } from "../../pipelines";

/**
 * The cache key of a stage run: what it runs (the `run` field, which carries the code
 * version), its resolved parameters, the content hashes of its inputs, and the names of the
 * secrets it is granted (never their values: a key is stored, and a value set again does not
 * change it). Two stage runs with equal keys compute the same thing, so the later may reuse the
 * earlier's outputs.
 */
export function cacheKeyOf(stage: StageSpec, params: Record<string, unknown>, inputHashes: Record<string, string>): string {
  const granted = stage.secrets && Object.keys(stage.secrets).length > 0 ? { secrets: stage.secrets } : {};
  const material = canonicalJson({ run: stage.run, outputs: stage.outputs ?? {}, params, inputs: inputHashes, ...granted });
  return `sha256:${createHash("sha256").update(material).digest("hex")}`;
}
