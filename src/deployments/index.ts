/**
 * The public surface of `deployments`: named deployments of a registered model (which version
 * serves, under which name, with which settings). Runs read the model artifact a deployment
 * serves when a stage takes a deployment as its input.
 */
export { deploymentModelArtifact } from "./deployment-input";
