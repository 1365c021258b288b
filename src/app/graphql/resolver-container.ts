import type { ResolverContainer } from "../../kernel/context";
import { AuditResolver } from "../../audit/audit.resolver";
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
import { GovernanceResolver, ModelVersionApprovalResolver, RegisteredModelPolicyResolver } from "../../governance/governance.resolver";
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
  factory(ProjectResolver, () => new ProjectResolver()),
  factory(ProjectRoleBindingsResolver, () => new ProjectRoleBindingsResolver()),
  factory(DeploymentResolver, () => new DeploymentResolver()),
  factory(AuthResolver, () => new AuthResolver()),
  factory(AuditResolver, () => new AuditResolver()),
  factory(PipelineResolver, () => new PipelineResolver()),
  factory(RunResolver, () => new RunResolver()),
  factory(StageRunResolver, () => new StageRunResolver()),
  factory(ArtifactResolver, () => new ArtifactResolver()),
  factory(ScheduleResolver, () => new ScheduleResolver()),
  factory(EventRuleResolver, () => new EventRuleResolver()),
  factory(TriggerFireResolver, () => new TriggerFireResolver()),
  factory(AgentResolver, () => new AgentResolver()),
  factory(SecretResolver, () => new SecretResolver()),
  factory(DatasetResolver, () => new DatasetResolver()),
  factory(DatasetVersionResolver, () => new DatasetVersionResolver()),
  factory(ValidationResolver, () => new ValidationResolver()),
  factory(DatasetVersionValidationResolver, () => new DatasetVersionValidationResolver()),
  factory(FeatureViewResolver, () => new FeatureViewResolver()),
  factory(FeatureMaterializationResolver, () => new FeatureMaterializationResolver()),
  factory(TrainingSetResolver, () => new TrainingSetResolver()),
  factory(TrainingSetViewResolver, () => new TrainingSetViewResolver()),
  factory(RegisteredModelResolver, () => new RegisteredModelResolver()),
  factory(ModelVersionResolver, () => new ModelVersionResolver()),
  factory(EvaluationResolver, () => new EvaluationResolver()),
  factory(GovernanceResolver, () => new GovernanceResolver()),
  factory(ModelVersionApprovalResolver, () => new ModelVersionApprovalResolver()),
  factory(RegisteredModelPolicyResolver, () => new RegisteredModelPolicyResolver()),
  factory(ModelVersionEvaluationResolver, () => new ModelVersionEvaluationResolver()),
  factory(StageRunSearchResolver, () => new StageRunSearchResolver()),
  factory(NotificationChannelResolver, () => new NotificationChannelResolver()),
  factory(NotificationDeliveryResolver, () => new NotificationDeliveryResolver()),
  factory(ExperimentResolver, () => new ExperimentResolver()),
  factory(TrackingRunResolver, () => new TrackingRunResolver()),
  factory(ServingResolver, () => new ServingResolver()),
  factory(PredictionLogResolver, () => new PredictionLogResolver()),
  factory(MonitoringResolver, () => new MonitoringResolver()),
  factory(MonitoringWindowResolver, () => new MonitoringWindowResolver()),
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
        const instance = instances.get(resolverClass);
        if (!instance) throw new Error(`No factory for resolver ${resolverClass.name} in app/graphql/resolver-container.ts`);
        return instance as T;
      },
    };
    containers.set(services, container);
  }
  return container;
}
