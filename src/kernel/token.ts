import { createHash, randomBytes } from "node:crypto";

/** Every Sluice token starts with this, so secret scanners and people can recognise one. */
export const TOKEN_PREFIX = "slc_";

/** A new random token: 32 bytes of entropy, base64url. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** The stored form of a token. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** The part of a token shown in listings: enough to tell tokens apart, useless to an attacker. */
export function displayPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}

/** Reads the bearer token from an `Authorization` header value, if there is one. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
