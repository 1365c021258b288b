/**
 * What an endpoint may be called. Pipelines name endpoints as `deployment` inputs and check the
 * name when applied; the rule lives here, below the deployments capability, which imports it.
 */
export const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
