import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../../kernel/context";
import { PageArgsInput } from "../../kernel/graphql/connection";
import { captureErrors } from "../../kernel/graphql/results";
import { runMutation } from "../../kernel/mutation";
import { Permission } from "../../kernel/roles";
import { type OutcomeInput, PredictionLogService } from "./prediction-log.service";
import {
  LoggedPrediction,
  LoggedPredictionConnection,
  LoggedPredictionFilter,
  LoggedPredictionOrder,
  loggedPredictionSort,
  OutcomesPayload,
  OutcomesResult,
  RecordOutcomeInput,
  RecordOutcomesInput,
} from "./prediction-log.types";

/** What PredictionLogResolver uses. */
export interface PredictionLogResolverDeps {
  predictionLog: PredictionLogService;
}

@Resolver()
export class PredictionLogResolver {
  constructor(readonly deps: PredictionLogResolverDeps) {}

  @Query(() => LoggedPredictionConnection, {
    description: "A served model's logged predictions, newest first, with outcomes once reported.",
  })
  async predictions(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The model's project." }) projectId: string,
    @Arg("model", { description: "The registered model's name (or id)." }) model: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => LoggedPredictionFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: LoggedPredictionFilter | null,
    @Arg("orderBy", () => LoggedPredictionOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: LoggedPredictionOrder | null,
  ): Promise<LoggedPredictionConnection> {
    ctx.authz.require(Permission.READ, projectId);
    const rows = await this.deps.predictionLog.list(projectId, model, page, filter ?? {}, loggedPredictionSort(orderBy));
    return LoggedPredictionConnection.from(rows, LoggedPrediction.from);
  }

  @Mutation(() => OutcomesResult, { description: "Joins one ground-truth outcome to its logged prediction(s). Needs EDITOR." })
  async recordOutcome(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RecordOutcomeInput,
  ): Promise<typeof OutcomesResult> {
    return this.record(ctx, input.projectId, input.model, [{ predictionId: input.predictionId, outcome: input.outcome }], "single", input);
  }

  @Mutation(() => OutcomesResult, {
    description:
      "Joins ground-truth outcomes to logged predictions by prediction id; unknown ids are counted and listed, not refused. Needs EDITOR.",
  })
  async recordOutcomes(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RecordOutcomesInput,
  ): Promise<typeof OutcomesResult> {
    return this.record(ctx, input.projectId, input.model, input.outcomes, "outcomes", input);
  }

  private record(
    ctx: RequestContext,
    projectId: string,
    model: string,
    outcomes: OutcomeInput[],
    form: "single" | "outcomes",
    input: unknown,
  ) {
    return captureErrors(async () => {
      // Rows still queued are written first (outside the transaction: PGlite has one session), so fresh predictions match.
      await this.deps.predictionLog.log.flush();
      return runMutation(ctx, { action: "prediction.recordOutcomes", permission: Permission.WRITE, projectId, input }, async (tx) => {
        PredictionLogService.check(outcomes, form === "single" ? "" : "outcomes");
        const service = this.deps.predictionLog;
        const m = await service.model(projectId, model, tx.manager);
        const r = await service.recordOutcomes(tx, m, outcomes);
        return { value: Object.assign(new OutcomesPayload(), r), targetId: m.id, result: { matched: r.matched, unmatched: r.unmatched } };
      });
    });
  }
}
