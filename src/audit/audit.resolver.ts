import { Arg, Args, Ctx, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { Permission } from "../kernel/roles";
import { AuditEvent, AuditEventConnection, AuditEventFilter, AuditEventOrder, auditEventSort } from "./audit.types";
import type { AuditService } from "./audit.service";

/** What AuditResolver uses. */
export interface AuditResolverDeps {
  audit: AuditService;
}

@Resolver()
export class AuditResolver {
  constructor(readonly deps: AuditResolverDeps) {}

  @Query(() => AuditEventConnection, {
    description: "The audit log, newest first. Global ADMIN sees all; a project ADMIN sees its project when filtering by it.",
  })
  async auditEvents(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => AuditEventFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: AuditEventFilter | null,
    @Arg("orderBy", () => AuditEventOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: AuditEventOrder | null,
  ): Promise<AuditEventConnection> {
    ctx.authz.require(Permission.ADMIN, filter?.projectId ?? undefined);
    const result = await this.deps.audit.list(
      {
        actorId: filter?.actorId ?? undefined,
        projectId: filter?.projectId ?? undefined,
        action: filter?.action ?? undefined,
        outcome: filter?.outcome ?? undefined,
        since: filter?.since ?? undefined,
        until: filter?.until ?? undefined,
      },
      page,
      auditEventSort(orderBy),
    );
    return AuditEventConnection.from(result, AuditEvent.from);
  }
}
