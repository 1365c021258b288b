/**
 * What a stage function written for the local runner sees: the types of its context and result.
 * They are defined by the SDK (packages/sdk/src/stage.ts), which stage code imports them from
 * (`import type { StageContext } from "sluice"`); `runners/PROTOCOL.md` ("The local runner")
 * describes the same in prose.
 */
export type * from "../../packages/sdk/src/stage";
