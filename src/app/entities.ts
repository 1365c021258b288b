import { ApprovalDecisionRow, ApprovalRequestRow, GateWaitRow } from "../governance/approval-request.entity";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { BudgetAlertRow, ProjectCostSettingsRow } from "../costs/cost.entities";
import { StageRunInputRow } from "../runs/stage-run-input.entity";
import { AuditEventRow } from "../audit/audit-event.entity";
import { ApiTokenRow } from "../auth/api-token.entity";
import { PrincipalRow } from "../auth/principal.entity";
import { RoleBindingRow } from "../auth/role-binding.entity";
import { DatasetSourceRow } from "../datasets/dataset-source.entity";
import { DatasetVersionRow } from "../datasets/dataset-version.entity";
import { DatasetRow } from "../datasets/dataset.entity";
import { EventRow } from "../events/event.entity";
import { FeatureMaterializationRow } from "../features/feature-materialization.entity";
import { FeatureOnlineValueRow } from "../features/feature-online-value.entity";
import { FeatureViewRow } from "../features/feature-view.entity";
import { TrainingSetRow } from "../features/training-set.entity";
import { PipelineVersionRow } from "../pipelines/pipeline-version.entity";
import { PipelineRow } from "../pipelines/pipeline.entity";
import { ProjectRow } from "../projects/project.entity";
import { RunMetricRow } from "../runs/streams/run-metric.entity";
import { RunRow } from "../runs/run.entity";
import { RunnerAgentRow } from "../runs/agents/runner-agent.entity";
import { StageAttemptRow } from "../runs/stage-attempt.entity";
import { StageLogRow } from "../runs/streams/stage-log.entity";
import { StageRunRow } from "../runs/stage-run.entity";
import { ModelAliasHistoryRow, ModelAliasRow } from "../registry/model-alias.entity";
import { ModelVersionRow } from "../registry/model-version.entity";
import { RegisteredModelRow } from "../registry/registered-model.entity";
import { SecretRow } from "../secrets/secret.entity";
import { EvaluationReportRow } from "../evaluation/evaluation-report.entity";
import { ValidationReportRow } from "../validation/validation-report.entity";
import { ValidationSuiteRow } from "../validation/validation-suite.entity";
import { EventRuleRow } from "../triggers/event-rule.entity";
import { ScheduleRow } from "../triggers/schedule.entity";
import { TriggerCursorRow } from "../triggers/trigger-cursor.entity";
import { TriggerFireRow } from "../triggers/trigger-fire.entity";
import { NotificationChannelRow } from "../notifications/notification-channel.entity";
import { NotificationDeliveryRow } from "../notifications/notification-delivery.entity";
import { TrackingExperimentRow } from "../tracking/experiment.entity";
import { TrackingMetricRow } from "../tracking/metric.entity";
import { TrackingRunRow } from "../tracking/tracking-run.entity";
import { PredictionRow } from "../serving/prediction-log/prediction.entity";
import { EndpointStatRow } from "../serving/endpoint-stats/endpoint-stat.entity";
import { DeploymentRevisionRow, DeploymentRow } from "../deployments/deployment.entity";
import {
  AlertRow,
  AlertRuleRow,
  MonitoringMetricRow,
  MonitoringReferenceRow,
  MonitoringWindowRow,
  MonitorRow,
} from "../monitoring/monitoring.entities";
import { SlaBreachRow, SlaRow } from "../slas";

/** Every TypeORM entity, by capability. A new capability adds its rows here and a migration. */
export const entities = [
  // foundation
  ProjectRow,
  PrincipalRow,
  ApiTokenRow,
  RoleBindingRow,
  AuditEventRow,
  EventRow,
  // pipelines, runs, artifacts
  PipelineRow,
  PipelineVersionRow,
  RunRow,
  StageRunRow,
  StageAttemptRow,
  StageLogRow,
  RunMetricRow,
  RunnerAgentRow,
  ArtifactRow,
  StageRunInputRow,
  // triggers
  ScheduleRow,
  EventRuleRow,
  TriggerFireRow,
  TriggerCursorRow,
  // secrets
  SecretRow,
  // datasets
  DatasetRow,
  DatasetSourceRow,
  DatasetVersionRow,
  // validation
  ValidationSuiteRow,
  ValidationReportRow,
  // features
  FeatureViewRow,
  FeatureMaterializationRow,
  FeatureOnlineValueRow,
  TrainingSetRow,
  // registry
  RegisteredModelRow,
  ModelVersionRow,
  ModelAliasRow,
  ModelAliasHistoryRow,
  // evaluation
  EvaluationReportRow,
  // governance
  ApprovalRequestRow,
  ApprovalDecisionRow,
  GateWaitRow,
  // notifications
  NotificationChannelRow,
  NotificationDeliveryRow,
  // experiment tracking
  TrackingExperimentRow,
  TrackingRunRow,
  TrackingMetricRow,
  // prediction log
  PredictionRow,
  EndpointStatRow,
  // deployments
  DeploymentRow,
  DeploymentRevisionRow,
  // monitoring
  MonitoringReferenceRow,
  MonitorRow,
  MonitoringWindowRow,
  MonitoringMetricRow,
  AlertRuleRow,
  AlertRow,
  // costs
  ProjectCostSettingsRow,
  BudgetAlertRow,
  // slas
  SlaRow,
  SlaBreachRow,
];
