/**
 * Project secrets: what other capabilities may use. `SecretService.reveal` is for server code
 * only (a source's connection URL); values never leave through the API or the logs.
 */
export { SecretRow } from "./secret.entity";
export { SecretResolver } from "./secret.resolver";
export { SECRET_NAME, SecretEvents, SecretService } from "./secret.service";
export { SecretUnreadableError } from "./secret.errors";
export { type SecretKeySource, loadSecretKey } from "./secret-key";
export type { SecretKey } from "./cipher";
