import { Arg, Args, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { Permission } from "../kernel/roles";
import { ModelVersion } from "../registry";
import {
  EvaluationReport,
  EvaluationReportConnection,
  EvaluationReportFilter,
  EvaluationReportOrder,
  evaluationReportSort,
} from "./evaluation.types";
import type { EvaluationService } from "./evaluation.service";

/** What EvaluationResolver uses. */
export interface EvaluationResolverDeps {
  evaluation: EvaluationService;
}

@Resolver()
export class EvaluationResolver {
  constructor(readonly deps: EvaluationResolverDeps) {}

  @Query(() => EvaluationReport, { nullable: true, description: "One evaluation report by id; null when there is none." })
  async evaluationReport(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "The report's id." }) id: string,
  ): Promise<EvaluationReport | null> {
    const row = await this.deps.evaluation.report(id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? EvaluationReport.from(row) : null;
  }

  @Query(() => EvaluationReportConnection, { description: "Evaluation reports the caller may read, newest first by default." })
  async evaluationReports(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => EvaluationReportFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: EvaluationReportFilter | null,
    @Arg("orderBy", () => EvaluationReportOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: EvaluationReportOrder | null,
  ): Promise<EvaluationReportConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.evaluation.reports(
      {
        projectIds,
        modelVersionId: filter?.modelVersionId ?? undefined,
        datasetVersionId: filter?.datasetVersionId ?? undefined,
      },
      page,
      evaluationReportSort(orderBy),
    );
    return EvaluationReportConnection.from(result, EvaluationReport.from);
  }
}

/** What ModelVersionEvaluationResolver uses. */
export interface ModelVersionEvaluationResolverDeps {
  evaluation: EvaluationService;
}

@Resolver(() => ModelVersion)
export class ModelVersionEvaluationResolver {
  constructor(readonly deps: ModelVersionEvaluationResolverDeps) {}

  @FieldResolver(() => EvaluationReportConnection, { description: "Evaluation reports of this version's file, newest first." })
  async evaluationReports(
    @Root() version: ModelVersion,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
  ): Promise<EvaluationReportConnection> {
    ctx.authz.require(Permission.READ, version.projectId);
    const result = await this.deps.evaluation.reports(
      { projectIds: [version.projectId], modelVersionId: version.id },
      page,
      evaluationReportSort(null),
    );
    return EvaluationReportConnection.from(result, EvaluationReport.from);
  }
}
