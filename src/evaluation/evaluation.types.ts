import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import type { EvaluationReportRow } from "./evaluation-report.entity";

@ObjectType({ description: "A model evaluated on one evaluation set by an `evaluate` stage: flat metrics and the plot-ready report." })
export class EvaluationReport {
  @Field(() => ID, { description: "Server-assigned UUID of the report." })
  id: string;

  @Field(() => ID, { description: "The project of the run whose `evaluate` stage wrote the report." })
  projectId: string;

  @Field({ description: "`binary`, `multiclass` or `regression`." })
  task: string;

  @Field(() => GraphQLJSONObject, { description: "Flat `name → number` (finite metrics only): roc_auc, f1, rmse…" })
  metrics: Record<string, number>;

  @Field(() => GraphQLJSONObject, {
    description:
      "The whole report (schemaVersion 1): metrics, undefinedMetrics, curves { roc, pr, calibration }, confusionMatrix, perClass, slices, fairness, comparison with the champion; residuals for regression.",
  })
  report: Record<string, unknown>;

  @Field(() => ID, { description: "The evaluated ONNX file, a Model artifact." })
  modelArtifactId: string;

  @Field(() => ID, { nullable: true, description: "The registered version of that file, once there is one." })
  modelVersionId: string | null;

  @Field(() => ID, { description: "The evaluation set, a Dataset or FeatureSet artifact." })
  dataArtifactId: string;

  @Field(() => ID, { nullable: true, description: "The evaluation set's dataset version, when it is one." })
  datasetVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "The champion scored on the same rows." })
  championArtifactId: string | null;

  @Field(() => ID, { nullable: true, description: "The `evaluate` stage run that wrote the report, when one is recorded." })
  stageRunId: string | null;

  @Field({ description: "When the report was stored." })
  createdAt: Date;

  static from(row: EvaluationReportRow): EvaluationReport {
    return Object.assign(new EvaluationReport(), {
      id: row.id,
      projectId: row.projectId,
      task: row.task,
      metrics: row.metrics,
      report: row.report,
      modelArtifactId: row.modelArtifactId,
      modelVersionId: row.modelVersionId,
      dataArtifactId: row.dataArtifactId,
      datasetVersionId: row.datasetVersionId,
      championArtifactId: row.championArtifactId,
      stageRunId: row.stageRunId,
      createdAt: row.createdAt,
    });
  }
}

export const {
  Connection: EvaluationReportConnection,
  Order: EvaluationReportOrder,
  sortOf: evaluationReportSort,
  Filter: EvaluationReportFilter,
} = ListTypes(EvaluationReport, "EvaluationReport", {
  orderBy: { CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only reports of this project."),
    modelVersionId: FilterBy.id("Only reports of this model version's file."),
    datasetVersionId: FilterBy.id("Only reports evaluated on this dataset version."),
  },
});
export type EvaluationReportConnection = InstanceType<typeof EvaluationReportConnection>;
export type EvaluationReportOrder = InstanceType<typeof EvaluationReportOrder>;
export type EvaluationReportFilter = InstanceType<typeof EvaluationReportFilter>;
