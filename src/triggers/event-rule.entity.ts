import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { PipelineRow } from "../pipelines";
import type { JsonObject } from "../db/json";
import { AuditedColumns } from "../db/audited-columns";

/** `on <eventType> where <filter> -> run <pipeline> with <params from the event>`. */
@Entity({ name: "event_rules" })
@Index("event_rules_pipeline_name_key", ["pipelineId", "name"], { unique: true })
@Index("event_rules_type_idx", ["eventType"])
export class EventRuleRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "pipeline_id", type: "uuid" })
  pipelineId: string;

  @ManyToOne(() => PipelineRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "pipeline_id", foreignKeyConstraintName: "event_rules_pipeline_id_fkey" })
  pipeline?: PipelineRow;

  @Column({ type: "text" })
  name: string;

  /** e.g. `dataset.version.created`, `run.failed`, or a custom type. */
  @Column({ name: "event_type", type: "text" })
  eventType: string;

  /** Equality conditions on the event: `{ "payload.dataset": "flights" }`. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  filter: JsonObject;

  /** Run parameters by stage, where a string `"$.payload.x"` is taken from the event. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  params: JsonObject;

  @Column({ type: "boolean", default: true })
  enabled: boolean;
}
