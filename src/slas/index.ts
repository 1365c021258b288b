/**
 * The public surface of `slas`: SLAs as code (a pipeline spec's `slas`) and as data (the API),
 * checked continuously by the leader's SlaLoop. The app builds the service and the checker,
 * wires the spec hook (`SlaService.syncSpec` on every apply) and starts the loop.
 */
export { SlaBreachRow, SlaRow } from "./sla.entities";
export { SlaService } from "./sla.service";
export { type SlaCheck, SlaChecker, type SlaCheckerDeps } from "./sla-checker";
export { SlaLoop } from "./sla-loop";
export { SlaResolver } from "./sla.resolver";
export { SLA_STATE_EVENT_TYPES, SlaEvents } from "./sla-events";
