import type { AuditService } from "../audit/audit.service";
import type { AuthService } from "../auth/auth.service";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import type { ProjectService } from "../projects/project.service";
import type { SluiceConfig } from "./config";

/** The long-lived services of one server process, shared by every request. */
export interface Services {
  config: SluiceConfig;
  db: Database;
  events: EventBus;
  audit: AuditService;
  auth: AuthService;
  projects: ProjectService;
}
