import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Encryption of secret values: AES-256-GCM with a random 96-bit IV per value. The stored bytes
 * are `version (1) | iv (12) | tag (16) | ciphertext`. The project id and secret name are bound
 * in as additional authenticated data, so a ciphertext copied onto another secret's row does not
 * decrypt. Pure: no I/O.
 */

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** AES-256 keys are 32 bytes. */
export const KEY_BYTES = 32;

/** A key and its fingerprint, which rows record so that a wrong key is told from a corrupt value. */
export interface SecretKey {
  readonly key: Buffer;
  /** 16 hex digits of SHA-256 over the key; says nothing usable about the key itself. */
  readonly id: string;
}

/** Wraps 32 key bytes with their fingerprint. Throws when the key is not 32 bytes. */
export function secretKeyOf(key: Buffer): SecretKey {
  if (key.length !== KEY_BYTES) throw new Error(`A secret key is ${KEY_BYTES} bytes; got ${key.length}`);
  const id = createHash("sha256").update("sluice-secret-key:").update(key).digest("hex").slice(0, 16);
  return Object.freeze({ key: Buffer.from(key), id });
}

function aad(projectId: string, name: string): Buffer {
  return Buffer.from(`sluice-secret:v${VERSION}:${projectId}:${name}`, "utf8");
}

/** Encrypts `value` for the secret `name` of `projectId`. */
export function encryptSecret(key: SecretKey, projectId: string, name: string, value: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(projectId, name));
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

/**
 * Decrypts what `encryptSecret` made for the same project and name.
 *
 * @throws Error when the bytes are malformed, or were made under another key or for another
 *   secret, or altered (GCM authentication fails). The message never holds key or value.
 */
export function decryptSecret(key: SecretKey, projectId: string, name: string, stored: Uint8Array): string {
  const bytes = Buffer.from(stored);
  if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) throw new Error("the stored ciphertext is malformed");
  const iv = bytes.subarray(1, 1 + IV_BYTES);
  const tag = bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const body = bytes.subarray(1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key.key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(projectId, name));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
  } catch {
    throw new Error("the stored ciphertext does not authenticate under this key");
  }
}
