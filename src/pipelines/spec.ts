/**
 * The pipeline spec's types and constructors. They are defined by the SDK (packages/sdk), the
 * package pipeline authors install, so the server validates exactly what users write against.
 */
export * from "../../packages/sdk/src/spec";
