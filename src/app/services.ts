import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Logger } from "pino";
import { createLocalArtifactStore } from "../artifacts/local-store";
import { removeTree } from "../artifacts/tree";
import { AuditService } from "../audit/audit.service";
import { AuthService } from "../auth/auth.service";
import type { Database } from "../db/data-source";
import { EventBus } from "../events/event-bus";
import { MessageBus } from "../events/message-bus";
import type { ArtifactStore } from "../artifacts/store";
import { PipelineService } from "../pipelines/pipeline.service";
import { ProjectService } from "../projects/project.service";
import { AgentService, LogService, MetricsService, RunService, type StageHooks, resolveDeploymentInputsWith } from "../runs";
import { DatasetService } from "../datasets/dataset.service";
import { IngestionService } from "../datasets/ingestion.service";
import { EvaluationService } from "../evaluation/evaluation.service";
import { NotificationService } from "../notifications/notification.service";
import { WebhookTargetPolicy } from "../notifications/webhook-targets";
import { FeatureService } from "../features/feature.service";
import { GovernanceService } from "../governance/governance.service";
import { RegistryService } from "../registry/registry.service";
import { TrackingService } from "../tracking/tracking.service";
import { searchTrialsHook } from "../training/search-hook";
import { dataPlaneHooks } from "../operators/hooks";
import { OPERATOR_CONTRACTS } from "../operators/catalog";
import { registerOperatorContracts } from "../pipelines/operator-contracts";
import { SecretService } from "../secrets/secret.service";
import { FeatureEnricher } from "../serving/enrichment/enricher";
import { PredictionLog } from "../serving/prediction-log/prediction-log";
import { PredictionLogService } from "../serving/prediction-log/prediction-log.service";
import { ServingService } from "../serving/serving.service";
import { EndpointStatsRecorder } from "../serving/endpoint-stats/endpoint-stats-recorder";
import { EndpointStatsService } from "../serving/endpoint-stats/endpoint-stats.service";
import { StageHealthService } from "../health/stage-health.service";
import { ChampionServingRegistry } from "../serving/serving-registry";
import { DeploymentService } from "../deployments/deployment.service";
import { DeploymentServingRegistry } from "../deployments/deployment-serving-registry";
import { deploymentModelArtifact } from "../deployments/deployment-input";
import { ValidationService } from "../validation/validation.service";
import { loadSecretKey } from "../secrets/secret-key";
import { EventRuleService } from "../triggers/event-rule.service";
import { ScheduleService } from "../triggers/schedule.service";
import { MonitoringService } from "../monitoring/monitoring.service";
import { CostService } from "../costs";
import { SlaChecker, SlaService } from "../slas";
import type { SluiceConfig } from "./config";
import { registerServerFolder } from "../kernel/server-paths";
import type { MutationLedger } from "../kernel/ledger";
import type { TokenVerifier } from "../kernel/context";
import { mutationLedger } from "./mutation-ledger";

/** The long-lived services of one server process, shared by every request. */
export interface Services {
  config: SluiceConfig;
  /** Where mutations write their transaction, events and audit record (the kernel's runner uses it). */
  ledger: MutationLedger;
  /** Checks bearer tokens (the auth service, under the name the kernel knows it by). */
  tokens: TokenVerifier;
  db: Database;
  /** Carries committed messages of every stream between processes. */
  bus: MessageBus;
  events: EventBus;
  audit: AuditService;
  auth: AuthService;
  projects: ProjectService;
  pipelines: PipelineService;
  runs: RunService;
  logs: LogService;
  metrics: MetricsService;
  artifacts: ArtifactStore;
  /** Cron schedules of pipelines (fired by the trigger service of the leading server). */
  schedules: ScheduleService;
  /** Event rules and custom events. */
  eventRules: EventRuleService;
  /** Remote runners: registration, leasing, heartbeats. */
  agents: AgentService;
  /** Project secrets, encrypted at rest under the server's key. */
  secrets: SecretService;
  /** Datasets, their sources and immutable versions. */
  datasets: DatasetService;
  /** Reads sources (files, uploads, SQL queries) into profiled Parquet. */
  ingestion: IngestionService;
  /** Expectation suites and validation reports. */
  validation: ValidationService;
  /** Feature views, materializations, the online store and training sets. */
  features: FeatureService;
  /** What stage completions do for built-in operators' outputs: dataset versions, reports, materializations. */
  stageHooks: StageHooks;
  /** Registered models, versions and aliases. */
  registry: RegistryService;
  /** Stored evaluation reports of models. */
  evaluation: EvaluationService;
  /** Model policies, approval requests and decisions. */
  governance: GovernanceService;
  /** Notification channels (signed webhooks) and their delivery log. */
  notifications: NotificationService;
  /** Experiments and tracking runs (MLflow's tracking model). */
  tracking: TrackingService;
  /** Real-time inference: served names, loaded models, micro-batching. */
  serving: ServingService;
  /** Endpoints (deployments) of registered models: canary, shadow, revisions, rollback. */
  deployments: DeploymentService;
  predictionLog: PredictionLogService;
  /** Per-endpoint request statistics by minute: window totals (requests, errors, latency quantiles, rows, CPU). */
  endpointStats: EndpointStatsService;
  /** Counts inference requests in memory and adds them to the minute rows every few seconds (flush it to read at once). */
  endpointStatsRecorder: EndpointStatsRecorder;
  /** Stage health series (attempts, failures, durations, queue waits, rows) from the run engine's records. */
  stageHealth: StageHealthService;
  /** Monitors, training references, windows and their metric series, alert rules and alerts. */
  monitoring: MonitoringService;
  /** Usage priced into money, per-project prices and budgets. */
  costs: CostService;
  /** SLAs of pipelines, datasets and endpoints (API and pipeline specs). */
  slas: SlaService;
  /** Judges SLAs at an instant, opening and closing breaches (the leader's SlaLoop calls it). */
  slaChecker: SlaChecker;
}

/** Services plus what they hold open, to be released at shutdown. */
export interface OpenServices {
  services: Services;
  /** Root of the scratch folders of running stage attempts. */
  workRoot: string;
  /** Root of the artifact store (hidden from sandboxed stages but for their own inputs). */
  artifactRoot: string;
  close(): Promise<void>;
}

/**
 * Builds every service over an open, migrated database. With an in-memory database the
 * artifact and work folders are temporary and removed by `close`.
 */
export async function openServices(config: SluiceConfig, db: Database, log: Logger): Promise<OpenServices> {
  const temporary: string[] = [];
  const folder = async (configured: string | undefined, name: string): Promise<string> => {
    if (configured) {
      await fs.mkdir(configured, { recursive: true });
      return configured;
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `sluice-${name}-`));
    temporary.push(dir);
    return dir;
  };
  const artifactRoot = await folder(config.artifactDir, "artifacts");
  const workRoot = await folder(config.workDir, "work");
  // Answers show these folders as placeholders (see server-paths.ts); longest wins, so order is free.
  registerServerFolder(artifactRoot, "artifact store");
  registerServerFolder(workRoot, "work folder");
  if (config.dataDir !== "memory://") registerServerFolder(config.dataDir, "data folder");
  for (const root of config.dataRoots) registerServerFolder(root, "data root");
  // applyPipeline checks stages of built-in operators against the catalogue's contracts.
  registerOperatorContracts(OPERATOR_CONTRACTS);
  // A stage input `{ deployment }` reads the model file the endpoint serves when the stage starts.
  resolveDeploymentInputsWith(deploymentModelArtifact);
  const secretKey = await loadSecretKey(config, log);
  const bus = MessageBus.create(db, config.databaseUrl, log);
  const audit = new AuditService(db);
  const auth = new AuthService(db, audit);
  const logs = new LogService(db, bus);
  const metrics = new MetricsService(db, bus);
  const events = new EventBus(bus, db);
  // After every channel is registered, so the event cursor starts at the newest stored event.
  await bus.open();
  const artifacts = createLocalArtifactStore({ root: artifactRoot });
  const secrets = new SecretService(db, secretKey.key);
  const datasets = new DatasetService(db, artifacts);
  const validation = new ValidationService(db, datasets);
  const features = new FeatureService(db, artifacts);
  const evaluation = new EvaluationService(db);
  const governance = new GovernanceService(db, events);
  // Every new model version is run once on synthetic rows in a capped child process: outputs per row bounded.
  const outputCheck = {
    maxOutputBytesPerRow: config.servingMaxOutputBytesPerRow,
    memoryBytes: config.modelCheckMemoryBytes,
    timeoutMs: config.modelCheckTimeoutMs,
  };
  const registry = new RegistryService(db, artifacts, evaluation, governance, outputCheck);
  const deployments = new DeploymentService(db);
  const settings = { maxBatchRows: config.servingMaxBatch, maxWaitMs: config.servingMaxWaitMs, outputCheck };
  const servingLog = log.child({ component: "serving" });
  // Endpoints first; a name that is no endpoint serves the registered model's champion as before.
  const serving = ServingService.over(
    (observe) =>
      new DeploymentServingRegistry({
        deployments,
        registry,
        fallback: new ChampionServingRegistry({ registry, events, settings, observe, log: servingLog }),
        events,
        settings,
        observe,
        log: servingLog,
      }),
    servingLog,
  );
  // Every answered inference request is offered to the prediction log (sampled, bounded, written in the background).
  const predictionLog = new PredictionLog(db.dataSource, config.predictionLog, log.child({ component: "prediction-log" }));
  serving.logPredictionsTo(predictionLog);
  // Requests to models trained on feature views may send entity keys instead of those features.
  serving.enrichWith(new FeatureEnricher(db, features));
  // Requests are bounded by rows before any work, and by outputs (rows × measured bytes per row) before the run.
  serving.boundWith({ maxRows: config.servingMaxRows, maxOutputBytes: config.servingMaxOutputBytes });
  // Every request is counted per endpoint, version, variant and minute in memory; written every few seconds, off the request path.
  const endpointStats = new EndpointStatsService(db.dataSource);
  const endpointStatsRecorder = new EndpointStatsRecorder(db.dataSource, config.endpointStats, log.child({ component: "endpoint-stats" }));
  serving.recordStatsTo(endpointStatsRecorder);
  endpointStatsRecorder.start();
  const tracking = new TrackingService(db);
  // A train stage's hyperparameter search becomes tracking runs: one per search, a child per trial.
  const stageHooks = dataPlaneHooks({ datasets, validation, features, evaluation, store: artifacts }).onOutput(
    "searchTrials",
    searchTrialsHook(tracking),
  );
  const services: Services = {
    config,
    db,
    bus,
    events,
    audit,
    ledger: mutationLedger(db, events, audit),
    auth,
    tokens: auth,
    projects: new ProjectService(db),
    pipelines: new PipelineService(db, config.maxPipelineStages),
    runs: new RunService(db),
    logs,
    metrics,
    artifacts,
    schedules: new ScheduleService(db, config.minScheduleSeconds),
    eventRules: new EventRuleService(db, events),
    agents: new AgentService({ db, events, config, hooks: stageHooks, secrets }),
    secrets,
    datasets,
    ingestion: new IngestionService(db, datasets, secrets, config.dataRoots, {
      statementTimeoutMs: config.sqlSourceTimeoutMs,
      maxRows: config.sqlSourceMaxRows,
    }),
    validation,
    features,
    stageHooks,
    registry,
    evaluation,
    governance,
    notifications: new NotificationService(db, secrets, new WebhookTargetPolicy(config.webhookAllow)),
    tracking,
    serving,
    deployments,
    predictionLog: new PredictionLogService(db.dataSource, registry, predictionLog),
    endpointStats,
    endpointStatsRecorder,
    stageHealth: new StageHealthService(db.dataSource),
    monitoring: new MonitoringService(db, artifacts, datasets, config.monitoringMaxWindowRows),
    costs: new CostService({ db, events, prices: config.prices }),
    slas: new SlaService(db),
    slaChecker: new SlaChecker({ db, events, endpointStats }),
  };
  services.monitoring.bind(services, log.child({ component: "monitoring" }));
  // The SLAs a spec declares are created, changed and deleted in the apply's transaction.
  services.pipelines.onApply((tx, applied) => services.slas.syncSpec(tx, applied.projectId, applied.pipeline, applied.spec.slas ?? []));
  return {
    services,
    workRoot,
    artifactRoot,
    async close() {
      await serving.close();
      await predictionLog.close();
      await endpointStatsRecorder.close();
      await Promise.all([events.close(), logs.close(), metrics.close()]);
      await bus.close();
      for (const dir of temporary) await removeTree(dir).catch(() => undefined);
    },
  };
}
