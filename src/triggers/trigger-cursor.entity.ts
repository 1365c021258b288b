import { Column, Entity, PrimaryColumn } from "typeorm";

/** How far a consumer of the event stream (the event-rule matcher) has read. */
@Entity({ name: "trigger_cursors" })
export class TriggerCursorRow {
  @PrimaryColumn({ type: "text" })
  name: string;

  @Column({ name: "last_event_id", type: "bigint" })
  lastEventId: string;
}
