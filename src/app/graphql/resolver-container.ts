import "reflect-metadata";
import type { ResolverContainer } from "../../kernel/context";
import { AuditResolver } from "../../audit/audit.resolver";
import { HealthResolver } from "../../health/health.resolver";
import { AuthResolver } from "../../auth/auth.resolver";
import { ProjectRoleBindingsResolver } from "../../auth/project-role-bindings.resolver";
import { DatasetResolver, DatasetVersionResolver } from "../../datasets/dataset.resolver";
import {
  FeatureMaterializationResolver,
  FeatureViewResolver,
  TrainingSetResolver,
  TrainingSetViewResolver,
} from "../../features/feature.resolver";
import { EvaluationResolver, ModelVersionEvaluationResolver } from "../../evaluation/evaluation.resolver";
import {
  GovernanceResolver,
  ModelVersionApprovalResolver,
  RegisteredModelPolicyResolver,
  StageRunGateResolver,
} from "../../governance/governance.resolver";
import { ModelVersionResolver, RegisteredModelResolver } from "../../registry/registry.resolver";
import { ExperimentResolver, TrackingRunResolver } from "../../tracking/tracking.resolver";
import { PipelineResolver } from "../../pipelines/pipeline.resolver";
import { ProjectResolver } from "../../projects/project.resolver";
import { AgentResolver, ArtifactResolver, RunResolver, StageRunResolver } from "../../runs";
import { DatasetVersionValidationResolver, ValidationResolver } from "../../validation/validation.resolver";
import { SecretResolver } from "../../secrets/secret.resolver";
import { StageRunSearchResolver } from "../../training/search.resolver";
import { NotificationChannelResolver, NotificationDeliveryResolver } from "../../notifications/notification.resolver";
import { PredictionLogResolver } from "../../serving/prediction-log/prediction-log.resolver";
import { ServingResolver } from "../../serving/serving.resolver";
import { DeploymentResolver } from "../../deployments/deployment.resolver";
import { EventRuleResolver, ScheduleResolver, TriggerFireResolver } from "../../triggers";
import { MonitoringResolver, MonitoringWindowResolver } from "../../monitoring/monitoring.resolver";
import { CostResolver, ModelVersionCostResolver, RunCostResolver } from "../../costs";
import { SlaResolver } from "../../slas";
import type { Services } from "../services";

/*
 * Resolvers receive what they use through their constructor (a `…Deps` interface declared next
 * to each class), never the Services bag. This table is where the app hands it to them: one
 * factory per resolver class, run once per server. A resolver class in the schema without a
 * factory fails `buildSluiceSchema`, so the omission shows at startup and in every schema test.
 */

type ResolverClass = abstract new (...args: never[]) => object;

interface Factory {
  resolverClass: ResolverClass;
  build: (services: Services) => object;
}

function factory<T extends object>(resolverClass: abstract new (...args: never[]) => T, build: (services: Services) => T): Factory {
  return { resolverClass, build };
}

/** How each resolver class is built from the server's services. */
const factories: readonly Factory[] = [
  factory(ProjectResolver, (s) => new ProjectResolver({ events: s.events, projects: s.projects })),
  factory(ProjectRoleBindingsResolver, (s) => new ProjectRoleBindingsResolver({ auth: s.auth })),
  factory(
    DeploymentResolver,
    (s) => new DeploymentResolver({ deployments: s.deployments, events: s.events, registry: s.registry, serving: s.serving }),
  ),
  factory(AuthResolver, (s) => new AuthResolver({ auth: s.auth })),
  factory(AuditResolver, (s) => new AuditResolver({ audit: s.audit })),
  factory(PipelineResolver, (s) => new PipelineResolver({ pipelines: s.pipelines })),
  factory(
    RunResolver,
    (s) => new RunResolver({ db: s.db, events: s.events, logs: s.logs, metrics: s.metrics, pipelines: s.pipelines, runs: s.runs }),
  ),
  factory(StageRunResolver, (s) => new StageRunResolver({ db: s.db, runs: s.runs })),
  factory(ArtifactResolver, (s) => new ArtifactResolver({ db: s.db, runs: s.runs })),
  factory(ScheduleResolver, (s) => new ScheduleResolver({ db: s.db, pipelines: s.pipelines, schedules: s.schedules })),
  factory(EventRuleResolver, (s) => new EventRuleResolver({ db: s.db, eventRules: s.eventRules, pipelines: s.pipelines })),
  factory(TriggerFireResolver, (s) => new TriggerFireResolver({ runs: s.runs })),
  factory(
    AgentResolver,
    (s) => new AgentResolver({ agents: s.agents, artifacts: s.artifacts, db: s.db, events: s.events, logs: s.logs, runs: s.runs }),
  ),
  factory(SecretResolver, (s) => new SecretResolver({ secrets: s.secrets })),
  factory(DatasetResolver, (s) => new DatasetResolver({ datasets: s.datasets, ingestion: s.ingestion })),
  factory(DatasetVersionResolver, (s) => new DatasetVersionResolver({ db: s.db })),
  factory(ValidationResolver, (s) => new ValidationResolver({ datasets: s.datasets, validation: s.validation })),
  factory(DatasetVersionValidationResolver, (s) => new DatasetVersionValidationResolver({ validation: s.validation })),
  factory(FeatureViewResolver, (s) => new FeatureViewResolver({ datasets: s.datasets, features: s.features })),
  factory(
    FeatureMaterializationResolver,
    (s) => new FeatureMaterializationResolver({ datasets: s.datasets, db: s.db, features: s.features }),
  ),
  factory(TrainingSetResolver, (s) => new TrainingSetResolver({ datasets: s.datasets, db: s.db, features: s.features })),
  factory(TrainingSetViewResolver, (s) => new TrainingSetViewResolver({ features: s.features })),
  factory(RegisteredModelResolver, (s) => new RegisteredModelResolver({ registry: s.registry })),
  factory(ModelVersionResolver, (s) => new ModelVersionResolver({ registry: s.registry })),
  factory(EvaluationResolver, (s) => new EvaluationResolver({ evaluation: s.evaluation })),
  factory(GovernanceResolver, (s) => new GovernanceResolver({ events: s.events, governance: s.governance, registry: s.registry })),
  factory(ModelVersionApprovalResolver, (s) => new ModelVersionApprovalResolver({ governance: s.governance })),
  factory(RegisteredModelPolicyResolver, () => new RegisteredModelPolicyResolver()),
  factory(StageRunGateResolver, (s) => new StageRunGateResolver({ governance: s.governance })),
  factory(ModelVersionEvaluationResolver, (s) => new ModelVersionEvaluationResolver({ evaluation: s.evaluation })),
  factory(StageRunSearchResolver, (s) => new StageRunSearchResolver({ db: s.db })),
  factory(NotificationChannelResolver, (s) => new NotificationChannelResolver({ notifications: s.notifications })),
  factory(NotificationDeliveryResolver, () => new NotificationDeliveryResolver()),
  factory(ExperimentResolver, (s) => new ExperimentResolver({ db: s.db, tracking: s.tracking })),
  factory(TrackingRunResolver, (s) => new TrackingRunResolver({ tracking: s.tracking })),
  factory(ServingResolver, (s) => new ServingResolver({ serving: s.serving })),
  factory(PredictionLogResolver, (s) => new PredictionLogResolver({ predictionLog: s.predictionLog })),
  factory(
    MonitoringResolver,
    (s) => new MonitoringResolver({ events: s.events, monitoring: s.monitoring, predictionLog: s.predictionLog }),
  ),
  factory(MonitoringWindowResolver, (s) => new MonitoringWindowResolver({ monitoring: s.monitoring })),
  factory(HealthResolver, (s) => new HealthResolver({ stageHealth: s.stageHealth, endpointStats: s.endpointStats })),
  factory(CostResolver, (s) => new CostResolver({ costs: s.costs })),
  factory(RunCostResolver, (s) => new RunCostResolver({ costs: s.costs })),
  factory(ModelVersionCostResolver, (s) => new ModelVersionCostResolver({ costs: s.costs })),
  factory(SlaResolver, (s) => new SlaResolver({ events: s.events, slas: s.slas })),
];

const factoryByClass = new Map<ResolverClass, Factory>(factories.map((f) => [f.resolverClass, f]));

/** The classes among `resolverClasses` that have no factory here (empty when every one has). */
export function missingFactories(resolverClasses: readonly ResolverClass[]): ResolverClass[] {
  return resolverClasses.filter((c) => !factoryByClass.has(c));
}

/** One container per Services object, so one schema can serve any number of servers (tests start many). */
const containers = new WeakMap<Services, ResolverContainer>();

/**
 * The resolver instances of the server owning `services`, every one built now (a factory that
 * throws fails the start, not the first request) and then reused by every operation.
 */
export function resolverContainer(services: Services): ResolverContainer {
  let container = containers.get(services);
  if (!container) {
    const instances = new Map<ResolverClass, object>(factories.map((f) => [f.resolverClass, f.build(services)]));
    container = {
      get<T>(resolverClass: abstract new (...args: never[]) => T): T {
        const instance = instances.get(resolverClass as ResolverClass);
        if (!instance) throw new Error(`No factory for resolver ${resolverClass.name} in app/graphql/resolver-container.ts`);
        return instance as T;
      },
    };
    containers.set(services, container);
  }
  return container;
}
