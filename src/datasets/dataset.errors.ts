import { ErrorCode, SluiceError } from "../kernel/errors";
import type { SchemaDiff, SchemaPolicy } from "./types";

/** A new version's schema changes what the dataset's policy forbids; nothing was recorded. */
export class SchemaPolicyError extends SluiceError {
  constructor(
    readonly dataset: string,
    readonly policy: SchemaPolicy,
    readonly diff: SchemaDiff,
    readonly violations: string[],
  ) {
    super(ErrorCode.CONFLICT, `Dataset ${dataset} (policy ${policy}) refuses this schema change: ${violations.join("; ")}`, {
      policy,
      violations,
    });
  }
}
