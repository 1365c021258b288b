/**
 * The public surface of `registry`: registered models, their immutable versions (an ONNX file,
 * its signature and metrics, an approval status) and aliases with their history. Other
 * capabilities relate rows to the registry's entities, read a model's signature, load and check
 * an ONNX file the way registration does (serving, scoring, evaluation), and follow
 * `RegistryEvents`. `metrics.ts` (`finiteMetrics`) is pure and imported on its own by the
 * evaluation metrics, which must not load this index's entities.
 */
export { ModelAliasHistoryRow, ModelAliasRow } from "./model-alias.entity";
export { ModelVersionRow, type ModelVersionStatus } from "./model-version.entity";
export { RegisteredModelRow } from "./registered-model.entity";
export { RegistryEvents, type PreparedModel, RegistryService } from "./registry.service";
export { ModelVersion, ModelVersionStatusEnum, RegisteredModel } from "./registry.types";
export { type ModelSignature, type TensorSpec, decodeModel, readSignature } from "./signature";
export { LABEL_INDEX_OUTPUT, LABEL_OUTPUT, answerOutputs, answerSignature, fetchesFor } from "./class-label-outputs";
export { type OutputCheckSettings, checkModelOutputs, formatBytes } from "./output-check";
export { syntheticFeeds } from "./synthetic-feeds";
export { valueDependentSizes } from "./value-dependent-sizes";
export { modelVersionIdOfFile } from "./version-of-file";
