/**
 * The Sluice SDK: what a repository of pipelines imports (`import { definePipeline, stage } from
 * "sluice"`). Pure spec constructors and types, the types stage code is written against, and a
 * GraphQL client on `fetch`: loading it pulls in nothing of the server.
 */
export { ARTIFACT_KINDS, SLA_KINDS, definePipeline, sla, stage } from "./spec";
export type {
  ArtifactKind,
  CachePolicy,
  Duration,
  InputRef,
  JsonSchema,
  NormalizedPipelineSpec,
  NormalizedSlaSpec,
  NormalizedStageSpec,
  PipelineSpec,
  RetryPolicy,
  SlaKind,
  SlaSpec,
  StageRun,
  StageSpec,
} from "./spec";
export { FINAL_RUN_STATUSES, SluiceClient, SluiceError } from "./client";
export type {
  AppliedPipeline,
  ClientOptions,
  GraphQLErrorEntry,
  InputProblem,
  ModelVersionView,
  OipAnswer,
  OipOutput,
  Prediction,
  RequestFailure,
  RunView,
} from "./client";
export type {
  ResolvedInput,
  StageContext,
  StageFunction,
  StageInput,
  StageOutputResult,
  StageOutputTarget,
  TableColumn,
  TableInfo,
  TableRow,
  TableValue,
  TableWriteOptions,
} from "./stage";
