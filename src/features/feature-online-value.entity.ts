import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { ProjectRow } from "../projects";
import { FeatureMaterializationRow } from "./feature-materialization.entity";
import { FeatureViewRow } from "./feature-view.entity";

/**
 * The online store: the latest feature row of each entity of a view, keyed by view *name* (not
 * version) so that serving asks for "trip_stats" and gets whichever version was loaded last.
 * Written only by FeatureService's batched upsert; read by `onlineFeatures`.
 */
@Entity({ name: "feature_online_values" })
export class FeatureOnlineValueRow {
  @PrimaryColumn({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "feature_online_values_project_id_fkey" })
  project?: ProjectRow;

  @PrimaryColumn({ name: "view_name", type: "text" })
  viewName: string;

  /** `encodeEntityKey` of the key values: a JSON array of strings. */
  @PrimaryColumn({ name: "entity_key", type: "text" })
  entityKey: string;

  @Column({ name: "feature_view_id", type: "uuid" })
  featureViewId: string;

  @ManyToOne(() => FeatureViewRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "feature_view_id", foreignKeyConstraintName: "feature_online_values_feature_view_id_fkey" })
  featureView?: FeatureViewRow;

  @Column({ name: "materialization_id", type: "uuid" })
  materializationId: string;

  @ManyToOne(() => FeatureMaterializationRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "materialization_id", foreignKeyConstraintName: "feature_online_values_materialization_id_fkey" })
  materialization?: FeatureMaterializationRow;

  /** Microsecond precision, as DuckDB's timestamps: TTL checks compare it exactly. */
  @Column({ name: "event_timestamp", type: "timestamptz" })
  eventTimestamp: Date;

  /** Feature name → value, as DuckDB's `to_json` spells it. */
  @Column({ type: "jsonb" })
  values: JsonObject;
}
