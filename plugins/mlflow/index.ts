export { MlflowClient, MlflowHttpError } from "./client";
export { MIRRORED_EVENTS, MlflowMirror, startMlflowMirror } from "./mirror";
