/** Event types of runs and stage runs, as stored in the event stream and matched by triggers. */
export const RunEvents = {
  queued: "run.queued",
  started: "run.started",
  succeeded: "run.succeeded",
  failed: "run.failed",
  canceled: "run.canceled",
  cancelRequested: "run.cancel_requested",
  stageQueued: "stage.queued",
  stageStarted: "stage.started",
  /** An approval gate began waiting for a decision. */
  stageWaiting: "stage.waiting",
  stageSucceeded: "stage.succeeded",
  stageFailed: "stage.failed",
  stageRetrying: "stage.retrying",
  stageCanceled: "stage.canceled",
  stageSkipped: "stage.skipped",
  stageReused: "stage.reused",
} as const;

export type RunEventType = (typeof RunEvents)[keyof typeof RunEvents];
