/**
 * The public surface of `audit`: the append-only record of who did what (every mutation's
 * caller, target and outcome, with secrets redacted) and its queries. Authentication records
 * sign-ins and refused tokens through `AuditService`.
 */
export { AuditOutcome } from "./audit-event.entity";
export { AuditService } from "./audit.service";
