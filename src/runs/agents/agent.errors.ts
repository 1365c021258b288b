import { ErrorCode, SluiceError } from "../../kernel/errors";

/**
 * A runner spoke for a stage run it no longer holds: its lease expired and was taken back (and
 * perhaps leased to another runner), or the stage run ended meanwhile (canceled). Thrown by the
 * fenced runner operations — logs, uploads, completion — which then change nothing; the API
 * answers it as the `LeaseLostError` union member. The runner should stop the attempt and drop
 * its result.
 */
export class LeaseLostError extends SluiceError {
  constructor(
    readonly stageRunId: string,
    readonly epoch: number,
    readonly currentEpoch: number | null,
    readonly reason: "LEASE_LOST" | "NOT_RUNNING",
  ) {
    super(
      ErrorCode.CONFLICT,
      reason === "NOT_RUNNING"
        ? `Stage run ${stageRunId} is no longer running; the result of lease ${epoch} was not recorded`
        : `The lease ${epoch} of stage run ${stageRunId} was lost (it is now ${currentEpoch ?? "unleased"}); nothing was recorded`,
      { stageRunId, epoch, currentEpoch, reason },
    );
    this.name = "LeaseLostError";
  }
}
