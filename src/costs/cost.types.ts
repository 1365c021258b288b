import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { MutationResult } from "../kernel/graphql/results";
import type { BudgetAlertRow, ProjectCostSettingsRow } from "./cost.entities";
import type { ProjectStorage as StorageFigures } from "./cost.service";
import { COST_GROUPS, type CostGroup, type CostRow as CostRowData, type Money, type Prices, type UsageFigures } from "./pricing";

export const CostGroupEnum = Object.fromEntries(COST_GROUPS.map((g) => [g, g])) as Record<CostGroup, CostGroup>;
registerEnumType(CostGroupEnum, {
  name: "CostGroupBy",
  description: "What a cost report groups by.",
  valuesConfig: {
    PROJECT: { description: "The project." },
    PIPELINE: { description: "The pipeline whose stages ran (null for storage and inference)." },
    STAGE: { description: "The stage, within its pipeline (grouping by STAGE groups by PIPELINE too)." },
    ENDPOINT: { description: "The served name inference requests were addressed to (null for stages and storage)." },
    MODEL_VERSION: { description: "The model version that answered inference requests (null for stages and storage)." },
    DAY: { description: "The UTC day, YYYY-MM-DD." },
  },
});

@ObjectType("CostUsage", { description: "What was consumed, in the units prices are given per." })
export class CostUsageType {
  @Field(() => Int, { description: "Stage attempts whose usage was measured." })
  attempts: number;

  @Field(() => Float, { description: "CPU seconds of stage attempts (user plus system)." })
  cpuSeconds: number;

  @Field(() => Float, { description: "Wall seconds of stage attempts." })
  wallSeconds: number;

  @Field(() => Float, { description: "Peak memory (GB, 10^9 bytes) times wall hours, summed over stage attempts." })
  memoryGbHours: number;

  @Field(() => Float, { description: "Bytes stage attempts read." })
  bytesRead: number;

  @Field(() => Float, { description: "Bytes stage attempts wrote." })
  bytesWritten: number;

  @Field(() => Float, { description: "Stored artifacts (dataset versions included) in GB times months of 30 days." })
  storageGbMonths: number;

  @Field(() => Float, { description: "Inference requests." })
  requests: number;

  @Field(() => Float, { description: "Rows (instances) of the inference requests." })
  rows: number;

  @Field(() => Float, { description: "CPU seconds of the model runs answering them." })
  inferenceCpuSeconds: number;

  static of(u: UsageFigures): CostUsageType {
    return Object.assign(new CostUsageType(), u);
  }
}

@ObjectType("Money", { description: "An amount, by what it paid for, in one named currency." })
export class MoneyType {
  @Field({ description: "The currency, e.g. USD." })
  currency: string;

  @Field(() => Float, { description: "CPU: stage and inference CPU hours times the CPU-hour price." })
  compute: number;

  @Field(() => Float, { description: "Memory: GB-hours times the GB-hour price." })
  memory: number;

  @Field(() => Float, { description: "Storage: GB-months times the GB-month price." })
  storage: number;

  @Field(() => Float, { description: "Requests: millions of inference requests times their price." })
  requests: number;

  @Field(() => Float, { description: "The sum of the above." })
  total: number;

  static of(m: Money): MoneyType {
    return Object.assign(new MoneyType(), m);
  }
}

@ObjectType({ description: "One group of a cost report: its keys (null for what it is not grouped by), what it used and what that cost." })
export class CostRow {
  @Field(() => ID, { nullable: true, description: "The project, when grouped by PROJECT." })
  projectId: string | null;

  @Field(() => ID, { nullable: true, description: "The pipeline, when grouped by PIPELINE or STAGE (null for storage and inference)." })
  pipelineId: string | null;

  @Field(() => String, { nullable: true, description: "The stage, when grouped by STAGE." })
  stageName: string | null;

  @Field(() => String, { nullable: true, description: "The endpoint (served name), when grouped by ENDPOINT." })
  endpoint: string | null;

  @Field(() => ID, { nullable: true, description: "The model version, when grouped by MODEL_VERSION." })
  modelVersionId: string | null;

  @Field(() => String, { nullable: true, description: "The UTC day (YYYY-MM-DD), when grouped by DAY." })
  day: string | null;

  @Field(() => CostUsageType, { description: "What the group consumed." })
  usage: CostUsageType;

  @Field(() => MoneyType, { description: "What that cost at the project's prices." })
  cost: MoneyType;

  static of(row: CostRowData): CostRow {
    return Object.assign(new CostRow(), { ...row.keys, usage: CostUsageType.of(row.usage), cost: MoneyType.of(row.money) });
  }
}

@ObjectType({ description: "Costs over a time range, grouped: the most expensive groups first." })
export class CostReport {
  @Field(() => [CostRow], {
    description: "The groups, most expensive first; at most `first` of them. Groups in different currencies are never added up.",
  })
  rows: CostRow[];

  @Field(() => Int, { description: "How many groups there were in all." })
  totalGroups: number;

  @Field({ description: "True when `rows` holds fewer groups than `totalGroups`." })
  truncated: boolean;
}

@ObjectType("PriceTable", { description: "What a unit of each resource costs, in one currency." })
export class PriceTableType {
  @Field({ description: "The currency, e.g. USD." })
  currency: string;

  @Field(() => Float, { description: "One CPU busy for one hour." })
  cpuHour: number;

  @Field(() => Float, { description: "One GB (10^9 bytes) of peak memory held for one hour of a stage's wall time." })
  memoryGbHour: number;

  @Field(() => Float, { description: "One GB of stored artifacts for one month of 30 days." })
  storageGbMonth: number;

  @Field(() => Float, { description: "One million inference requests." })
  millionRequests: number;

  static of(p: Readonly<Prices>): PriceTableType {
    return Object.assign(new PriceTableType(), p);
  }
}

@ObjectType({ description: "A budget threshold a project crossed in one month (fired once)." })
export class BudgetAlert {
  @Field({ description: "The UTC month, YYYY-MM." })
  period: string;

  @Field(() => Int, { description: "The threshold, in percent of the budget." })
  threshold: number;

  @Field(() => Float, { description: "What the month had cost when it was crossed." })
  spent: number;

  @Field(() => Float, { description: "The monthly budget then." })
  budget: number;

  @Field({ description: "The currency of both." })
  currency: string;

  @Field({ description: "When it fired." })
  firedAt: Date;

  static from(row: BudgetAlertRow): BudgetAlert {
    return Object.assign(new BudgetAlert(), {
      period: row.period,
      threshold: row.threshold,
      spent: row.spent,
      budget: row.budget,
      currency: row.currency,
      firedAt: row.firedAt,
    });
  }
}

@ObjectType({ description: "A project's cost settings: its prices (the server's, under its own) and its monthly budget." })
export class ProjectCostSettings {
  @Field(() => ID, { description: "The project." })
  projectId: string;

  @Field(() => PriceTableType, { description: "The prices its costs are computed with." })
  prices: PriceTableType;

  @Field(() => GraphQLJSONObject, { description: "What the project sets over the server's prices (`SLUICE_PRICES`); {} when nothing." })
  priceOverride: Record<string, unknown>;

  @Field(() => Float, { nullable: true, description: "The budget for one UTC calendar month, in its currency; null: none." })
  monthlyBudget: number | null;

  @Field(() => [Int], { description: "Percentages of the budget at which `budget.threshold_crossed` fires, once each per month." })
  budgetThresholds: number[];

  @Field(() => [BudgetAlert], { description: "The thresholds crossed, newest first (the last 24)." })
  budgetAlerts: BudgetAlert[];

  static of(
    projectId: string,
    prices: Readonly<Prices>,
    row: ProjectCostSettingsRow | null,
    alerts: BudgetAlertRow[],
  ): ProjectCostSettings {
    return Object.assign(new ProjectCostSettings(), {
      projectId,
      prices: PriceTableType.of(prices),
      priceOverride: row?.prices ?? {},
      monthlyBudget: row?.monthlyBudget ?? null,
      budgetThresholds: row?.budgetThresholds ?? [50, 80, 100],
      budgetAlerts: alerts.map(BudgetAlert.from),
    });
  }
}

@ObjectType({ description: "What a project stores now: artifacts, each distinct content counted once, and of those the dataset versions." })
export class ProjectStorage {
  @Field(() => ID, { description: "The project." })
  projectId: string;

  @Field(() => Int, { description: "Distinct stored objects." })
  objects: number;

  @Field(() => Float, { description: "Bytes of all its artifacts (dataset versions included)." })
  artifactBytes: number;

  @Field(() => Float, { description: "Bytes of its dataset versions." })
  datasetBytes: number;

  static of(projectId: string, s: StorageFigures): ProjectStorage {
    return Object.assign(new ProjectStorage(), { projectId, ...s });
  }
}

@ObjectType({ description: "What something used and cost: a run's stages, or a model version's training or serving." })
export class UsageCost {
  @Field(() => CostUsageType, { description: "What was consumed." })
  usage: CostUsageType;

  @Field(() => MoneyType, { description: "What that cost at the project's prices." })
  cost: MoneyType;

  static of(u: { usage: UsageFigures; money: Money }): UsageCost {
    return Object.assign(new UsageCost(), { usage: CostUsageType.of(u.usage), cost: MoneyType.of(u.money) });
  }
}

@InputType({ description: "A project's prices and budget; omitted fields stay as they are." })
export class SetProjectCostSettingsInput {
  @Field(() => ID, { description: "The project; the caller needs ADMIN there." })
  projectId: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      "Prices over the server's: any of currency, cpuHour, memoryGbHour, storageGbMonth, millionRequests; {} goes back to the server's. Another currency than the server's needs every price.",
  })
  prices?: Record<string, unknown> | null;

  @Field(() => Float, { nullable: true, description: "The budget for one UTC calendar month, above 0." })
  monthlyBudget?: number | null;

  @Field(() => [Int], { nullable: true, description: "Percentages of the budget to alert at (1-1000, at most 10), e.g. [50, 80, 100]." })
  budgetThresholds?: number[] | null;

  @Field(() => Boolean, { nullable: true, description: "True removes the budget." })
  removeBudget?: boolean | null;
}

@ObjectType({ description: "The project's cost settings after the change." })
export class ProjectCostSettingsPayload {
  @Field(() => ProjectCostSettings, { description: "The settings now." })
  settings: ProjectCostSettings;
}

export const SetProjectCostSettingsResult = MutationResult("SetProjectCostSettings", ProjectCostSettingsPayload);
