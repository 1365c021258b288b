import type { Logger } from "pino";
import type { Caller } from "./principal";
import { type Permission, allowedProjects, isAllowed } from "./roles";
import { ForbiddenError, UnauthenticatedError } from "./errors";
import type { MutationLedger } from "./ledger";

/**
 * Permission checks for one operation. Every root resolver must call `require` (or
 * `visibleProjects`) before touching data; a guard fails the operation when one did not,
 * so a forgotten check is a loud bug rather than an open door.
 */
export class Authorizer {
  private checks = 0;

  constructor(readonly caller: Caller | null) {}

  /** Throws UNAUTHENTICATED without a caller, FORBIDDEN when no grant allows `permission`. */
  require(permission: Permission, projectId?: string): Caller {
    this.checks++;
    const caller = this.caller;
    if (!caller) throw new UnauthenticatedError("Authentication required: send 'Authorization: Bearer <token>'");
    if (!isAllowed(caller.grants, permission, projectId)) {
      const scope = projectId ? `in project ${projectId}` : "globally";
      throw new ForbiddenError(`${caller.principalName} lacks the ${permission} permission ${scope}`);
    }
    return caller;
  }

  /** Whether `permission` is held, without throwing (counts as a check). */
  can(permission: Permission, projectId?: string): boolean {
    this.checks++;
    return this.caller !== null && isAllowed(this.caller.grants, permission, projectId);
  }

  /** The projects the caller may use with `permission`: `"all"` or a list of ids. */
  /**
   * The projects a list may show: the one asked for (which the caller must be allowed), else
   * every project the caller may see with `permission`.
   */
  projectScope(permission: Permission, projectId: string | null | undefined): "all" | string[] {
    if (projectId) {
      this.require(permission, projectId);
      return [projectId];
    }
    return this.visibleProjects(permission);
  }

  visibleProjects(permission: Permission): "all" | string[] {
    this.checks++;
    if (!this.caller) throw new UnauthenticatedError("Authentication required: send 'Authorization: Bearer <token>'");
    return allowedProjects(this.caller.grants, permission);
  }

  /** Count of checks so far; the guard compares it before and after a resolver. */
  get checkCount(): number {
    return this.checks;
  }
}

/** Checks a bearer token: the caller it belongs to, or UNAUTHENTICATED saying why. */
export interface TokenVerifier {
  authenticate(token: string): Promise<Caller>;
}

/**
 * The part of the app's services the kernel itself uses: the ledger of mutations (`runMutation`)
 * and token checks (`httpContext`). Capabilities receive what they use through their own
 * constructors and route parameters, never from the request context.
 */
export interface AppServices {
  readonly ledger: MutationLedger;
  readonly tokens: TokenVerifier;
}

/**
 * The resolver instances of one server, each built once with the dependencies it declares
 * (type-graphql's container): `get(DatasetResolver)` is the one instance serving every request.
 */
export interface ResolverContainer {
  get<T>(resolverClass: abstract new (...args: never[]) => T): T;
}

/** What every resolver receives. One per HTTP request, one per subscription operation. */
export interface RequestContext {
  requestId: string;
  authz: Authorizer;
  services: AppServices;
  log: Logger;
  /** Aborted when the client goes away before its response is sent (HTTP only); long polls stop waiting then. */
  signal?: AbortSignal;
  /** GraphQL operations only: this server's resolver instances (see `resolverOf`). */
  resolvers?: ResolverContainer;
}

/**
 * The instance of `resolverClass` serving this operation, for code that runs outside it: a
 * subscription's `subscribe` function, which type-graphql calls without the instance, reads its
 * resolver's dependencies through `resolverOf(ctx, TheResolver).deps`.
 */
export function resolverOf<T>(ctx: RequestContext, resolverClass: abstract new (...args: never[]) => T): T {
  if (!ctx.resolvers) throw new Error(`No resolvers on this request context (only GraphQL operations carry them): ${resolverClass.name}`);
  return ctx.resolvers.get(resolverClass);
}
