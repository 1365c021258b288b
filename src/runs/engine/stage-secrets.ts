/**
 * The secrets a stage receives when it starts: the project secrets its spec grants, decrypted
 * for the runner and nowhere else (not stored, not logged, not in an event).
 */
import type { EntityManager } from "typeorm";
import type { StageFailure } from "../../../runners/contract";
import { FailureType } from "../../../runners/failures";
import { NotFoundError } from "../../kernel/errors";
import type { StageSpec } from "../../pipelines";
import { SecretUnreadableError, type SecretService } from "../../secrets";

/** The variable names and secret names a stage is granted (names only: safe to show). */
export function secretGrantsOf(stage: StageSpec): Array<{ variable: string; secret: string }> {
  return Object.entries(stage.secrets ?? {}).map(([variable, secret]) => ({ variable, secret }));
}

/**
 * The values of the secrets `stage` is granted, from `projectId` (the run's project) only, by
 * variable name; or, when one is gone or unreadable, a non-retryable `SECRET_UNAVAILABLE`
 * failure naming it (never a value).
 */
export async function revealStageSecrets(
  secrets: SecretService,
  manager: EntityManager,
  projectId: string,
  stage: StageSpec,
): Promise<{ values: Record<string, string> } | { failure: StageFailure }> {
  const values: Record<string, string> = {};
  const bySecret = new Map<string, string>();
  for (const { variable, secret } of secretGrantsOf(stage)) {
    try {
      let value = bySecret.get(secret);
      if (value === undefined) {
        value = await secrets.reveal(manager, projectId, secret);
        bySecret.set(secret, value);
      }
      values[variable] = value;
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof SecretUnreadableError)) throw err;
      const why =
        err instanceof NotFoundError ? `the project has no secret ${secret} (deleted since the pipeline was applied?)` : err.message;
      return {
        failure: {
          type: FailureType.SECRET_UNAVAILABLE,
          message: `stage ${stage.name} is granted ${secret} as ${variable}, but ${why}`,
          nonRetryable: true,
          details: { variable, secret },
        },
      };
    }
  }
  return { values };
}
