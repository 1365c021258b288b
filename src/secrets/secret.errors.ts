import { ConflictError } from "../kernel/errors";

/**
 * A stored secret that this server cannot decrypt: it was written under another key
 * (`SLUICE_SECRET_KEY` differs, or the key file was lost), or its bytes were altered. The
 * message names the secret and the key ids, never a value; the fix is to restore the key or to
 * set the secret again. A conflict with stored state, so it joins mutation result unions.
 */
export class SecretUnreadableError extends ConflictError {
  constructor(
    readonly secretName: string,
    message: string,
  ) {
    super(message, { field: "secret", secret: secretName });
    this.name = "SecretUnreadableError";
  }
}
