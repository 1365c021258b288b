import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { AuditedColumns } from "../db/audited-columns";

/**
 * A service-level objective of a project: what a pipeline, dataset or endpoint owes its workflow
 * (objectives.ts says what each kind means and in which unit). Declared in a pipeline spec
 * (`source` SPEC, owned by `pipelineId` and changed only by applying that pipeline) or made
 * through the API (`source` API). The leader's SlaLoop judges it continuously and keeps its
 * current state here; breaches are `sla_breaches` rows.
 */
@Entity({ name: "slas" })
@Index("slas_project_name_key", ["projectId", "name"], { unique: true })
@Index("slas_pipeline_idx", ["pipelineId"])
export class SlaRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", default: "" })
  description: string;

  /** An SlaKind (objectives.ts). */
  @Column({ type: "text" })
  kind: string;

  /** PIPELINE, DATASET or ENDPOINT (follows from the kind). */
  @Column({ name: "subject_kind", type: "text" })
  subjectKind: string;

  /** The pipeline, dataset or endpoint name in the project. */
  @Column({ name: "subject_name", type: "text" })
  subjectName: string;

  /** In the kind's unit: seconds, a share from 0 to 1, rows, or the metric's value. */
  @Column({ type: "double precision" })
  objective: number;

  @Column({ name: "window_seconds", type: "double precision", nullable: true })
  windowSeconds: number | null;

  /** PIPELINE_DEADLINE: the one schedule it watches (null: all of the pipeline's). */
  @Column({ type: "text", nullable: true })
  schedule: string | null;

  /** ENDPOINT_LIVE_PERFORMANCE: the live metric. */
  @Column({ type: "text", nullable: true })
  metric: string | null;

  /** INFO, WARNING or CRITICAL: the severity of the alert a breach opens. */
  @Column({ type: "text", default: "WARNING" })
  severity: string;

  @Column({ type: "boolean", default: true })
  enabled: boolean;

  /** API or SPEC. */
  @Column({ type: "text", default: "API" })
  source: string;

  /** SPEC: the pipeline whose spec declares it. */
  @Column({ name: "pipeline_id", type: "uuid", nullable: true })
  pipelineId: string | null;

  /** PENDING (not judged yet), OK, BREACHED or NO_DATA. */
  @Column({ type: "text", default: "PENDING" })
  state: string;

  /** The last observed value, in the objective's unit. */
  @Column({ type: "double precision", nullable: true })
  observed: number | null;

  @Column({ name: "evaluated_at", type: "timestamptz", precision: 3, nullable: true })
  evaluatedAt: Date | null;

  /** When the SLA entered its current state. */
  @Column({ name: "state_since", type: "timestamptz", precision: 3, nullable: true })
  stateSince: Date | null;

  /** What the last value was computed from (runs, counts, fires). */
  @Column({ type: "jsonb", default: () => "'{}'" })
  detail: JsonObject;

  /** The open breach, while BREACHED. */
  @Column({ name: "open_breach_id", type: "uuid", nullable: true })
  openBreachId: string | null;
}

/** One breach of an SLA: from the judgement that broke the objective to the one that met it again. */
@Entity({ name: "sla_breaches" })
@Index("sla_breaches_sla_idx", ["slaId", "startedAt"])
@Index("sla_breaches_open_key", ["slaId"], { unique: true, where: "recovered_at IS NULL" })
export class SlaBreachRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "sla_id", type: "uuid" })
  slaId: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "started_at", type: "timestamptz", precision: 3 })
  startedAt: Date;

  @Column({ name: "recovered_at", type: "timestamptz", precision: 3, nullable: true })
  recoveredAt: Date | null;

  /** The observed value that broke the objective. */
  @Column({ type: "double precision" })
  observed: number;

  /** The value that met it again. */
  @Column({ name: "recovered_observed", type: "double precision", nullable: true })
  recoveredObserved: number | null;

  /** The objective and window when it broke (the SLA may change later). */
  @Column({ type: "double precision" })
  objective: number;

  @Column({ name: "window_seconds", type: "double precision", nullable: true })
  windowSeconds: number | null;

  /** The alert it opened in the project's alert list. */
  @Column({ name: "alert_id", type: "uuid", nullable: true })
  alertId: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  detail: JsonObject;
}
