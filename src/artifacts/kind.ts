/**
 * What an artifact is. Outputs declare their kind; an input wired with `from` takes the kind of the
 * output it names, and an input given a stored `artifact` states the kind that artifact must have.
 */
export type ArtifactKind = "Dataset" | "FeatureSet" | "Model" | "Report" | "Metrics" | "File";
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ["Dataset", "FeatureSet", "Model", "Report", "Metrics", "File"];
