import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import { StageRunRow } from "./stage-run.entity";
import { ArtifactRow } from "../artifacts/artifact.entity";

/** Lineage: stage run `stageRunId` read `artifactId` as its input `inputName`. */
@Entity({ name: "stage_run_inputs" })
@Index("stage_run_inputs_artifact_idx", ["artifactId"])
export class StageRunInputRow {
  @PrimaryColumn({ name: "stage_run_id", type: "uuid" })
  stageRunId: string;

  @ManyToOne(() => StageRunRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "stage_run_id", foreignKeyConstraintName: "stage_run_inputs_stage_run_id_fkey" })
  stageRun?: StageRunRow;

  @PrimaryColumn({ name: "input_name", type: "text" })
  inputName: string;

  @Column({ name: "artifact_id", type: "uuid" })
  artifactId: string;

  @ManyToOne(() => ArtifactRow, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "artifact_id", foreignKeyConstraintName: "stage_run_inputs_artifact_id_fkey" })
  artifact?: ArtifactRow;
}
