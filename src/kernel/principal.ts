import type { Grant } from "./roles";

/**
 * The authenticated caller of one request: the principal, the token used, and the roles it
 * holds. Built once per request (or WebSocket connection) by `AuthService.authenticate`.
 */
export interface Caller {
  principalId: string;
  principalName: string;
  tokenId: string;
  grants: readonly Grant[];
}
