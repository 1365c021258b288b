import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { ProjectRow } from "../projects";
import type { PriceOverride } from "./pricing";

/**
 * A project's own cost settings: prices over the server's `SLUICE_PRICES`, and a monthly budget
 * with the thresholds (percent) at which `budget.threshold_crossed` fires. One row per project,
 * written by `setProjectCostSettings` (audited).
 */
@Entity({ name: "project_cost_settings" })
export class ProjectCostSettingsRow {
  @PrimaryColumn({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "project_cost_settings_project_id_fkey" })
  project?: ProjectRow;

  /** Prices set over the server's (any of currency, cpuHour, memoryGbHour, storageGbMonth, millionRequests). */
  @Column({ type: "jsonb", default: () => "'{}'" })
  prices: PriceOverride;

  /** The budget for one UTC calendar month, in the project's currency; null: no budget. */
  @Column({ name: "monthly_budget", type: "double precision", nullable: true })
  monthlyBudget: number | null;

  /** Percentages of the budget at which to alert, e.g. [50, 80, 100]. */
  @Column({ name: "budget_thresholds", type: "jsonb", default: () => "'[50, 80, 100]'" })
  budgetThresholds: number[];

  @Column({ name: "updated_at", type: "timestamptz", precision: 3, default: () => "now()" })
  updatedAt: Date;
}

/**
 * A budget threshold a project crossed in one month: the row is what makes the alert fire once
 * (inserted with the event, in one transaction; a second insert for the same key does nothing).
 */
@Entity({ name: "budget_alerts" })
export class BudgetAlertRow {
  @PrimaryColumn({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "budget_alerts_project_id_fkey" })
  project?: ProjectRow;

  /** The UTC month, `YYYY-MM`. */
  @PrimaryColumn({ type: "text" })
  period: string;

  /** The threshold crossed, in percent of the budget. */
  @PrimaryColumn({ type: "integer" })
  threshold: number;

  /** What the month had cost when the threshold was found crossed. */
  @Column({ type: "double precision" })
  spent: number;

  @Column({ type: "double precision" })
  budget: number;

  @Column({ type: "text" })
  currency: string;

  @Column({ name: "fired_at", type: "timestamptz", precision: 3 })
  firedAt: Date;
}
