import { randomUUID } from "node:crypto";
import { Authorizer, type RequestContext } from "../../src/kernel/context";
import { createLogger } from "../../src/kernel/logger";
import type { TestServer } from "./server";

/**
 * A request context for calling services directly, as the caller behind `token` (the admin by
 * default): the same authentication and authorization a GraphQL request goes through.
 */
export async function contextFor(t: TestServer, token = t.adminToken): Promise<RequestContext> {
  const services = t.server.services;
  const caller = await services.auth.authenticate(token);
  return { requestId: randomUUID(), authz: new Authorizer(caller), services, log: createLogger("silent") };
}
