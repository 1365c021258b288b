/**
 * The public surface of `governance`: approval policies and requests for model versions, their
 * decisions (with separation of duties) and the gates a run waits on. Serving follows
 * `GovernanceEvents` to load a version once it is approved.
 */
export { GovernanceEvents } from "./governance.service";
