/**
 * What an artifact is. Outputs declare their kind; an input wired with `from` takes the kind of the
 * output it names, and an input given a stored `artifact` states the kind that artifact must have.
 * Defined by the SDK (packages/sdk), which pipeline authors install.
 */
export { ARTIFACT_KINDS, type ArtifactKind } from "../../packages/sdk/src/spec";
