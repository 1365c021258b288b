import "reflect-metadata";
import { type GraphQLSchema, defaultFieldResolver, lexicographicSortSchema, printSchema } from "graphql";
import { GraphQLDateTime } from "graphql-scalars";
import { buildSchema } from "type-graphql";
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
import { HealthResolver } from "../../health/health.resolver";
import { CostResolver, ModelVersionCostResolver, RunCostResolver } from "../../costs";
import { SlaResolver } from "../../slas";
import type { RequestContext } from "../../kernel/context";
import { translateDatabaseError } from "../../kernel/sql-text";
import { ErrorCode, SluiceError } from "../../kernel/errors";
import { auditRefusedAttempt, auditRowsWritten, noteMutationResolverRan } from "../../kernel/mutation";
import { missingFactories } from "./resolver-container";

/**
 * Every resolver class, by capability. A new capability adds its resolvers here, and how each is
 * built (what it receives) in `resolver-container.ts`.
 */
export const resolvers = [
  ProjectResolver,
  ProjectRoleBindingsResolver,
  DeploymentResolver,
  AuthResolver,
  AuditResolver,
  PipelineResolver,
  RunResolver,
  StageRunResolver,
  ArtifactResolver,
  ScheduleResolver,
  EventRuleResolver,
  TriggerFireResolver,
  AgentResolver,
  SecretResolver,
  DatasetResolver,
  DatasetVersionResolver,
  ValidationResolver,
  DatasetVersionValidationResolver,
  FeatureViewResolver,
  FeatureMaterializationResolver,
  TrainingSetResolver,
  TrainingSetViewResolver,
  RegisteredModelResolver,
  ModelVersionResolver,
  EvaluationResolver,
  GovernanceResolver,
  ModelVersionApprovalResolver,
  RegisteredModelPolicyResolver,
  StageRunGateResolver,
  ModelVersionEvaluationResolver,
  StageRunSearchResolver,
  NotificationChannelResolver,
  NotificationDeliveryResolver,
  ExperimentResolver,
  TrackingRunResolver,
  ServingResolver,
  PredictionLogResolver,
  MonitoringResolver,
  MonitoringWindowResolver,
  HealthResolver,
  CostResolver,
  RunCostResolver,
  ModelVersionCostResolver,
  SlaResolver,
] as const;

/**
 * Wraps each Query and Mutation root field so that a resolver which returns without having
 * checked a permission fails with INTERNAL instead of answering: a forgotten check is then a
 * bug that shows in the first test, not a silent hole. (Subscriptions check in `subscribe`.)
 */
function enforcePermissionChecks(schema: GraphQLSchema): void {
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    if (!root) continue;
    for (const field of Object.values(root.getFields())) {
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = async (source, args, context: RequestContext, info) => {
        const before = context.authz.checkCount;
        let result: unknown;
        try {
          result = await resolve(source, args, context, info);
        } catch (err) {
          throw translateDatabaseError(err);
        }
        if (context.authz.checkCount === before) {
          throw new SluiceError(ErrorCode.INTERNAL, `Resolver ${root.name}.${field.name} did not check permissions`);
        }
        return result;
      };
    }
  }
}

/** A typed error member of a mutation result union (`NotFoundError`, `InvalidInputError` …). */
function isErrorMember(value: unknown): value is { code: ErrorCode; message: string } {
  const v = value as { code?: unknown; message?: unknown } | null;
  return typeof v?.message === "string" && typeof v.code === "string" && v.code in ErrorCode;
}

/**
 * Wraps each Mutation root field so that a refused attempt (thrown, or answered with an error
 * member) is audited even when it never reached `runMutation` and so wrote no row of its own:
 * the audit log promises attempts as well as changes.
 */
function auditEveryRefusal(schema: GraphQLSchema): void {
  const root = schema.getMutationType();
  if (!root) return;
  for (const field of Object.values(root.getFields())) {
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (source, args, context: RequestContext, info) => {
      noteMutationResolverRan(context);
      const before = auditRowsWritten(context);
      let result: unknown;
      try {
        result = await resolve(source, args, context, info);
      } catch (err) {
        if (auditRowsWritten(context) === before) await auditRefusedAttempt(context, field.name, args, err);
        throw err;
      }
      if (isErrorMember(result) && auditRowsWritten(context) === before) {
        await auditRefusedAttempt(context, field.name, args, new SluiceError(result.code, result.message));
      }
      return result;
    };
  }
}

/**
 * type-graphql insists on a PubSub. Sluice subscriptions all read the event bus through their
 * own `subscribe` function, so topics are never used; one that is declared fails loudly.
 */
const topicsUnsupported = {
  publish(): void {
    throw new Error("Sluice publishes through the EventBus, not type-graphql topics");
  },
  subscribe(): AsyncIterable<never> {
    throw new Error("Declare `subscribe` on @Subscription (reading the EventBus), not `topics`");
  },
};

/** Builds the executable schema from the code-first types. */
export async function buildSluiceSchema(): Promise<GraphQLSchema> {
  const missing = missingFactories(resolvers);
  if (missing.length > 0) {
    throw new Error(`Resolvers without a factory in app/graphql/resolver-container.ts: ${missing.map((c) => c.name).join(", ")}`);
  }
  const schema = await buildSchema({
    resolvers,
    // Each operation's context carries its server's resolver instances (built with their dependencies).
    container: ({ context }: { context: RequestContext }) => {
      if (!context.resolvers) throw new Error("A GraphQL operation ran without the resolvers on its context");
      return context.resolvers;
    },
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
    validate: false,
    emitSchemaFile: false,
    pubSub: topicsUnsupported,
  });
  describeRootTypes(schema);
  enforcePermissionChecks(schema);
  auditEveryRefusal(schema);
  return schema;
}

/** The SDL committed as `schema.graphql`: sorted, so that diffs show only real changes. */
export async function printSluiceSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildSluiceSchema()))}\n`;
}

/** type-graphql builds the three root types itself, without descriptions: give them theirs. */
function describeRootTypes(schema: GraphQLSchema): void {
  const roots = [
    [schema.getQueryType(), "Reads: every lookup and list of the control plane; a list is a connection (first/after, filter, orderBy)."],
    [
      schema.getMutationType(),
      "Writes: each is authorized, runs in one transaction and is written to the audit log; expected failures are members of its result union.",
    ],
    [
      schema.getSubscriptionType(),
      "Live streams over graphql-ws: `…Events` replay stored events after a cursor and then follow new ones; `runMetrics` and `stageLogStream` follow a run's metrics and logs.",
    ],
  ] as const;
  for (const [type, description] of roots) if (type) type.description = description;
}
