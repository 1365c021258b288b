import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import type { ArtifactKind } from "./kind";
import { CreatedAtColumns } from "../db/audited-columns";

/**
 * A recorded output: what kind it is, where its bytes are (content-addressed, so equal content
 * shares one stored object), and which stage run made it. Lineage runs both ways from here:
 * `producedBy` to the maker, `StageRunInputRow` to every reader.
 */
@Entity({ name: "artifacts" })
@Index("artifacts_project_hash_idx", ["projectId", "hash"])
@Index("artifacts_produced_by_idx", ["producedBy"])
@Index("artifacts_run_idx", ["runId"])
export class ArtifactRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ type: "text" })
  kind: ArtifactKind;

  @Column({ type: "text" })
  uri: string;

  /** `sha256:<hex>` of the content. */
  @Column({ type: "text" })
  hash: string;

  @Column({ type: "bigint" })
  size: string;

  @Column({ name: "is_directory", type: "boolean", default: false })
  isDirectory: boolean;

  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata: JsonObject;

  /** The stage run that produced it; null for artifacts registered directly. */
  @Column({ name: "produced_by", type: "uuid", nullable: true })
  producedBy: string | null;

  @Column({ name: "run_id", type: "uuid", nullable: true })
  runId: string | null;

  /** The output name it was produced as. */
  @Column({ name: "output_name", type: "text", nullable: true })
  outputName: string | null;
}
