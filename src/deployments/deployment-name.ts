/** What an endpoint may be called (also checked where pipelines name one as a `deployment` input). */
export const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
