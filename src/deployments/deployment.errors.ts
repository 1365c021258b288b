import { ConflictError } from "../kernel/errors";

/**
 * A deployment was asked to serve a version that is not APPROVED (directly, as canary or shadow,
 * or through an alias pointing at it). Nothing changed; approve the version or pick another.
 */
export class VersionNotApprovedError extends ConflictError {
  constructor(
    readonly registeredModelId: string,
    readonly modelName: string,
    readonly version: number,
    readonly status: string,
    readonly field: string,
    readonly alias: string | null,
    role: string,
  ) {
    super(
      alias === null
        ? `version ${version} of ${modelName} is ${status}; only APPROVED versions can serve as ${role}`
        : `alias '${alias}' of ${modelName} points at version ${version}, which is ${status}; only APPROVED versions can be deployed`,
      { field, registeredModelId, version, status },
    );
    this.name = "VersionNotApprovedError";
  }
}
