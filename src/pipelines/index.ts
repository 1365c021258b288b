/**
 * The public surface of `pipelines`: pipeline specs and their immutable, content-hashed versions.
 * This folder owns the spec (`spec.ts`, also the SDK), its validation (the DAG, stage parameters,
 * operator contracts, secret grants) and canonical hashing; runs plan from a `PipelineVersionRow`
 * and its DAG, triggers target a `PipelineRow`. `canonical.ts` is pure and imported on its own by
 * the features definition (a pure core), which must not load this index's entities.
 */
export { PipelineRow } from "./pipeline.entity";
export { PipelineVersionRow } from "./pipeline-version.entity";
export type { AppliedSpec, ApplyHook } from "./pipeline.service";
export { Pipeline, PipelineVersion } from "./pipeline.types";
export type { ArtifactKind, JsonSchema, NormalizedPipelineSpec, NormalizedSlaSpec, PipelineSpec, StageSpec } from "./spec";
export { canonicalHash, canonicalJson } from "./canonical";
export { buildDag } from "./dag";
export { DEPLOYMENT_NAME } from "./deployment-name";
export { NAME_PATTERN, resolveStageParams } from "./validate";
export { checkSecretGrants, runGrantField } from "./secret-grants";
export type { OperatorContract } from "./operator-contracts";
