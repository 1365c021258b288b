import { AuditEventRow } from "../audit/audit-event.entity";
import { ApiTokenRow } from "../auth/api-token.entity";
import { PrincipalRow } from "../auth/principal.entity";
import { RoleBindingRow } from "../auth/role-binding.entity";
import { EventRow } from "../events/event.entity";
import { ProjectRow } from "../projects/project.entity";

/** Every TypeORM entity, by capability. A new capability adds its rows here and a migration. */
export const entities = [ProjectRow, PrincipalRow, ApiTokenRow, RoleBindingRow, AuditEventRow, EventRow];
