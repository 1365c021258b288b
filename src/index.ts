/**
 * The Sluice SDK: what pipeline files import as `import { definePipeline, stage } from "sluice"`.
 * Only pure spec constructors and types live here, so loading a pipeline file pulls in nothing of
 * the server (no database, no GraphQL, no decorators).
 */
export { ARTIFACT_KINDS, definePipeline, stage } from "./pipelines/spec";
export type {
  ArtifactKind,
  CachePolicy,
  InputRef,
  JsonSchema,
  NormalizedPipelineSpec,
  NormalizedStageSpec,
  PipelineSpec,
  RetryPolicy,
  StageRun,
  StageSpec,
} from "./pipelines/spec";
