import type { Caller } from "./principal";
import { bearerToken } from "./token";
import { UnauthenticatedError } from "./errors";
import type { RequestRateLimiter } from "./rate-limit";
import type { TokenVerifier } from "./context";

/** Where the credentials of one request or connection came from. */
export interface Credentials {
  /** The `Authorization` header (or the `authorization` connection parameter) as sent. */
  authorization: string | undefined;
  /** The client's address: the rate-limit key for requests without a valid token. */
  clientAddress: string;
}

/**
 * Rate-limits and authenticates one request. A valid token is limited per token; everything
 * else per client address, so that guessing tokens is limited too. Throws UNAUTHENTICATED,
 * saying why, when the credentials are missing, malformed, unknown, expired or revoked.
 */
export async function authenticate(tokens: TokenVerifier, limiter: RequestRateLimiter, creds: Credentials): Promise<Caller> {
  const token = bearerToken(creds.authorization);
  if (!token) {
    await limiter.consume(`ip:${creds.clientAddress}`);
    throw new UnauthenticatedError(
      creds.authorization
        ? "The Authorization header must be 'Bearer <token>'"
        : "Authentication required: send 'Authorization: Bearer <token>'",
    );
  }
  let caller: Caller;
  try {
    caller = await tokens.authenticate(token);
  } catch (err) {
    await limiter.consume(`ip:${creds.clientAddress}`);
    throw err;
  }
  await limiter.consume(`token:${caller.tokenId}`);
  return caller;
}
