import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import type { RunService } from "../runs";

/** The settings firing triggers reads (the app passes its configuration, which has these). */
export interface TriggerSettings {
  /** PostgreSQL URL for the leader lock's own connection; unused on PGlite. */
  databaseUrl: string | undefined;
  /** Schedules that would fire more often than this are not fired. */
  minScheduleSeconds: number;
}

/** What the trigger service uses of the server: storage, the event stream, the runs it starts. */
export interface TriggerDeps {
  db: Database;
  events: EventBus;
  runs: RunService;
  config: TriggerSettings;
}
