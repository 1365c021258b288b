import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { CreatedAtColumns } from "../../db/audited-columns";

/**
 * One logged prediction: one row (instance) of one inference request, with its inputs by input
 * name, its outputs by output name, and — once reported — the ground truth (`outcome`).
 *
 * No foreign keys: the log is append-heavy and written in the background, so it must not make
 * deleting a model wait on (or fail over) millions of log rows; rows of deleted models stay until pruned.
 */
@Entity({ name: "predictions" })
@Index("predictions_model_prediction_id_idx", ["projectId", "registeredModelId", "predictionId"])
@Index("predictions_model_created_idx", ["registeredModelId", "createdAt"])
@Index("predictions_served_name_created_idx", ["projectId", "servedName", "createdAt"])
export class PredictionRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @Column({ name: "model_version_id", type: "uuid" })
  modelVersionId: string;

  /**
   * The name the request was addressed to (`/v2/models/{name}`, `predict(model:)`): a deployment's
   * endpoint, or a registered model's name when its champion is served directly. Monitoring reads
   * the log by this name, so one endpoint's history stays together across the versions it served.
   */
  @Column({ name: "served_name", type: "text", default: "" })
  servedName: string;

  /** Which of the endpoint's versions answered: `primary`, `canary`, or `shadow` (mirrored, never returned). */
  @Column({ type: "text", default: "primary" })
  variant: string;

  /** The request's `id` (OIP), when it sent one. */
  @Column({ name: "request_id", type: "text", nullable: true })
  requestId: string | null;

  @Column({ name: "row_index", type: "int" })
  rowIndex: number;

  /** The key outcomes are joined on; see prediction-rows.ts for the rule. */
  @Column({ name: "prediction_id", type: "text", nullable: true })
  predictionId: string | null;

  @Column({ type: "jsonb" })
  inputs: Record<string, unknown>;

  @Column({ type: "jsonb" })
  outputs: Record<string, unknown>;

  @Column({ type: "jsonb", nullable: true })
  outcome: unknown;

  @Column({ name: "outcome_at", type: "timestamptz", precision: 3, nullable: true })
  outcomeAt: Date | null;
}
