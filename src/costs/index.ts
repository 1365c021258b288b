/**
 * The public surface of `costs`: resource usage priced into money (per project, pipeline, stage,
 * endpoint, model version and day), per-project prices and budgets, and the leader's budget check.
 */
export { BudgetAlertRow, ProjectCostSettingsRow } from "./cost.entities";
export { CostEvents, CostService, type ProjectStorage, type UsageCost } from "./cost.service";
export { CostResolver, ModelVersionCostResolver, RunCostResolver } from "./cost.resolver";
export { BudgetLoop } from "./budget-loop";
export { type CostGroup, type Money, type Prices, type UsageFigures, DEFAULT_PRICES, parsePrices, priceUsage, rollUp } from "./pricing";
