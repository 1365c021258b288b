/** What other folders use of triggers: the server's wiring, the resolvers, and cron's fire times (SLA deadlines). */
export { EventRuleResolver } from "./event-rule.resolver";
export { EventRuleService } from "./event-rule.service";
export { ScheduleResolver, TriggerFireResolver } from "./schedule.resolver";
export { ScheduleService } from "./schedule.service";
export { TriggerService, type TriggerServiceOptions, startTriggerService } from "./trigger.service";
export { EVENT_HOOK_PATH, registerEventHook } from "./webhook";
export { latestMissedFire } from "./cron";
