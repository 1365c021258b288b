import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { InvalidInputError } from "../kernel/errors";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import { ModelVersion } from "../registry";
import { Run } from "../runs";
import { type CostService, MAX_REPORT_GROUPS } from "./cost.service";
import {
  CostGroupEnum,
  CostReport,
  CostRow,
  ProjectCostSettings,
  ProjectCostSettingsPayload,
  ProjectStorage,
  SetProjectCostSettingsInput,
  SetProjectCostSettingsResult,
  UsageCost,
} from "./cost.types";
import { type CostGroup, withOverride } from "./pricing";

/** Budget alerts listed with a project's settings. */
const LISTED_BUDGET_ALERTS = 24;

/** What CostResolver uses. */
export interface CostResolverDeps {
  costs: CostService;
}

@Resolver()
export class CostResolver {
  constructor(readonly deps: CostResolverDeps) {}

  @Query(() => CostReport, {
    description:
      "What stages, storage and inference cost over [from, to) (at most 400 days), grouped by `groupBy`, in the projects the caller may read (or the one named): the most expensive groups first.",
  })
  async costs(
    @Ctx() ctx: RequestContext,
    @Arg("groupBy", () => [CostGroupEnum], { description: "What to group by; [] gives one total per currency." }) groupBy: CostGroup[],
    @Arg("from", { description: "Start of the range (included)." }) from: Date,
    @Arg("to", { description: "End of the range (excluded)." }) to: Date,
    @Arg("projectId", () => ID, { nullable: true, description: "Only this project." }) projectId?: string | null,
    @Arg("first", () => Int, { defaultValue: 100, description: `Most groups returned, 1-${MAX_REPORT_GROUPS}.` }) first = 100,
  ): Promise<CostReport> {
    if (!(Number.isInteger(first) && first >= 1 && first <= MAX_REPORT_GROUPS)) {
      throw new InvalidInputError([{ field: "first", message: `must be 1 to ${MAX_REPORT_GROUPS}` }]);
    }
    let projects: "all" | string[];
    if (projectId) {
      ctx.authz.require(Permission.READ, projectId);
      projects = [projectId];
    } else projects = ctx.authz.visibleProjects(Permission.READ);
    const report = await this.deps.costs.report({ projects, groupBy: [...new Set(groupBy)], from, to, first });
    return Object.assign(new CostReport(), {
      rows: report.rows.map(CostRow.of),
      totalGroups: report.totalGroups,
      truncated: report.rows.length < report.totalGroups,
    });
  }

  @Query(() => ProjectCostSettings, { description: "A project's prices, monthly budget and the budget alerts it fired. Needs READ." })
  async projectCostSettings(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project." }) projectId: string,
  ): Promise<ProjectCostSettings> {
    ctx.authz.require(Permission.READ, projectId);
    return this.settingsView(projectId);
  }

  @Query(() => ProjectStorage, { description: "What a project stores now: artifact and dataset-version bytes. Needs READ." })
  async projectStorage(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project." }) projectId: string,
  ): Promise<ProjectStorage> {
    ctx.authz.require(Permission.READ, projectId);
    return ProjectStorage.of(projectId, await this.deps.costs.storage(projectId));
  }

  @Mutation(() => SetProjectCostSettingsResult, {
    description:
      "Sets a project's prices (over the server's `SLUICE_PRICES`) and its monthly budget with alert thresholds. Needs ADMIN in the project.",
  })
  async setProjectCostSettings(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetProjectCostSettingsInput,
  ): Promise<typeof SetProjectCostSettingsResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "costs.settings.set", permission: Permission.ADMIN, projectId: input.projectId, input }, async (tx) => {
        const row = await this.deps.costs.setSettings(tx, input.projectId, input);
        return {
          value: Object.assign(new ProjectCostSettingsPayload(), {
            // Read in the transaction: it holds the connection (PGlite has one).
            settings: ProjectCostSettings.of(
              input.projectId,
              withOverride(this.deps.costs.serverPrices, row.prices),
              row,
              await this.deps.costs.budgetAlerts(input.projectId, LISTED_BUDGET_ALERTS, tx.manager),
            ),
          }),
          targetId: input.projectId,
          result: { prices: row.prices, monthlyBudget: row.monthlyBudget, budgetThresholds: row.budgetThresholds },
        };
      }),
    );
  }

  private async settingsView(projectId: string): Promise<ProjectCostSettings> {
    const settings = await this.deps.costs.settings(projectId);
    const prices = withOverride(this.deps.costs.serverPrices, settings?.prices);
    return ProjectCostSettings.of(projectId, prices, settings, await this.deps.costs.budgetAlerts(projectId, LISTED_BUDGET_ALERTS));
  }
}

/** What RunCostResolver uses. */
export interface RunCostResolverDeps {
  costs: CostService;
}

@Resolver(() => Run)
export class RunCostResolver {
  constructor(readonly deps: RunCostResolverDeps) {}

  @FieldResolver(() => UsageCost, { description: "What its stage attempts used and cost, at its project's prices." })
  async cost(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<UsageCost> {
    ctx.authz.require(Permission.READ, run.projectId);
    return UsageCost.of(await this.deps.costs.runCost(run.id, run.projectId));
  }
}

/** What ModelVersionCostResolver uses. */
export interface ModelVersionCostResolverDeps {
  costs: CostService;
}

@Resolver(() => ModelVersion)
export class ModelVersionCostResolver {
  constructor(readonly deps: ModelVersionCostResolverDeps) {}

  @FieldResolver(() => UsageCost, {
    nullable: true,
    description: "What training it cost: the stages of the run that produced its file. Null for an uploaded file.",
  })
  async trainingCost(@Root() v: ModelVersion, @Ctx() ctx: RequestContext): Promise<UsageCost | null> {
    ctx.authz.require(Permission.READ, v.projectId);
    const runId = await this.deps.costs.producingRun(v.id);
    return runId ? UsageCost.of(await this.deps.costs.runCost(runId, v.projectId)) : null;
  }

  @FieldResolver(() => UsageCost, {
    description: "What serving it has cost so far: the inference requests it answered, on every endpoint.",
  })
  async servingCost(@Root() v: ModelVersion, @Ctx() ctx: RequestContext): Promise<UsageCost> {
    ctx.authz.require(Permission.READ, v.projectId);
    return UsageCost.of(await this.deps.costs.servingCost(v.id, v.projectId));
  }
}
