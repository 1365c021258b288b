import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

/** A remote runner agent (`sluice runner`) as registered with the server. */
@Entity({ name: "runner_agents" })
@Index("runner_agents_name_key", ["name"], { unique: true })
export class RunnerAgentRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", array: true })
  labels: string[];

  @Column({ type: "integer" })
  concurrency: number;

  @Column({ name: "principal_id", type: "uuid", nullable: true })
  principalId: string | null;

  @Column({ type: "text", default: "" })
  hostname: string;

  @Column({ type: "text", default: "" })
  version: string;

  @Column({ name: "registered_at", type: "timestamptz", precision: 3, default: () => "now()" })
  registeredAt: Date;

  @Column({ name: "last_seen_at", type: "timestamptz", precision: 3, default: () => "now()" })
  lastSeenAt: Date;

  /** Set when the agent says it is draining or has stopped. */
  @Column({ name: "stopped_at", type: "timestamptz", precision: 3, nullable: true })
  stoppedAt: Date | null;
}
