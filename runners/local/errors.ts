/**
 * Errors a stage function throws to steer retries. Import from stage code:
 *
 * ```ts
 * import { NonRetryableError } from "sluice/runners/local/errors";
 * if (rows.length === 0) throw new NonRetryableError("the training set is empty", { input: "train" });
 * ```
 *
 * The runner recognises the error by its `nonRetryable: true` property, not by class, so any
 * error object carrying that property (from another copy of this module, or a plain object)
 * works the same. Keep this module free of imports: user stage code loads it.
 */

/**
 * A failure that retrying cannot fix (bad input, a misconfiguration): the attempt fails with
 * `STAGE_ERROR` and `nonRetryable: true`, so the engine does not retry even when the stage's retry
 * policy has attempts left. `details` (plain JSON) is copied into the failure's details.
 */
export class NonRetryableError extends Error {
  readonly nonRetryable = true;
  readonly details?: Record<string, unknown>;

  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "NonRetryableError";
    if (details) this.details = details;
  }
}
