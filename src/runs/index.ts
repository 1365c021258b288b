/**
 * The public surface of `runs`: what other capabilities and the composition root (`app/`) use.
 * Inside, `engine/` runs pipelines (planning, claims, completion, progression, and `run-state`,
 * the one writer of stage and run status), `agents/` is the remote-runner API and `streams/`
 * holds stage logs and run metrics.
 *
 * Entity classes are exported here for code that queries them and for entity files elsewhere
 * (`governance/approval-request.entity.ts`). Loading this barrel from an entity file loads the
 * engine in the middle of that file's load, which is safe only because relations name their class
 * lazily (`@ManyToOne(() => StageRunRow)`): nothing here may read another folder's entity class
 * while its module loads (no `extends`, no eager decorator argument).
 */
export { RunRow } from "./run.entity";
export { StageRunRow } from "./stage-run.entity";
export { StageAttemptRow } from "./stage-attempt.entity";
export { RunnerAgentRow } from "./agents/runner-agent.entity";
export { StageLogRow } from "./streams/stage-log.entity";
export { RunMetricRow } from "./streams/run-metric.entity";

export { RunService, type TriggerInput, type RunFilter } from "./run.service";
export { RunResolver, StageRunResolver, ArtifactResolver } from "./run.resolver";
export { Run, StageRun, Artifact } from "./run.types";
export { ResourceUsage, USAGE_SUMS_SQL, type UsageSums } from "./usage.types";

export { RunEngine, type EngineOptions } from "./engine/engine";
export { startEmbeddedEngine } from "./engine/embedded";
export { stageIsolation } from "./engine/isolation";
export { type RunStatus, type StageStatus, type TriggerKind, isTerminalRun, isTerminalStage } from "./engine/run-state";
export { RunEvents, type RunEventType } from "./engine/run-events";
export { type RunRef, runRef } from "./engine/run-meta";
export { type RunPlan, type StagePlan, isGateStage, planFor, planForVersion } from "./engine/plan";
export { type DeploymentInputResolver, resolveDeploymentInputsWith, resolveInputArtifacts } from "./engine/inputs";
export { type ProgressTx } from "./engine/progress";
export {
  type FailureHookContext,
  type HookTx,
  type OutputHookContext,
  type OutputHook,
  type FailureHook,
  StageHooks,
} from "./engine/output-hooks";
export { type GateEnd, gateAwaitingSettlement, isAwaitingGate, settleGateStage } from "./engine/gate-stage";

export { AgentService } from "./agents/agent.service";
export { AgentResolver } from "./agents/agent.resolver";
export { registerArtifactTransfer } from "./agents/artifact-transfer";

export { LogService } from "./streams/logs";
export { MetricsService } from "./streams/metrics.service";
