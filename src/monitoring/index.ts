/**
 * The public surface of `monitoring` for other capabilities: the project's alert list, which SLA
 * breaches (src/slas) join. The server's wiring imports the service, loop and resolvers by file.
 */
export { AlertEvents } from "./alerts/alert-evaluator";
export { deleteSlaAlerts, openSlaAlert, resolveSlaAlert, type SlaAlertInput } from "./alerts/sla-alerts";
