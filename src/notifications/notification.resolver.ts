import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { NotificationChannelRow } from "./notification-channel.entity";
import {
  CreateNotificationChannelInput,
  NotificationChannel,
  NotificationChannelConnection,
  NotificationChannelFilter,
  NotificationChannelOrder,
  NotificationChannelIdInput,
  NotificationChannelPayload,
  NotificationChannelResult,
  NotificationDelivery,
  NotificationDeliveryConnection,
  NotificationDeliveryFilter,
  NotificationDeliveryOrder,
  UpdateNotificationChannelInput,
  notificationChannelSort,
  notificationDeliverySort,
} from "./notification.types";
import type { NotificationService } from "./notification.service";

/** What the audit log keeps in place of a signing secret, whatever its redaction rules. */
const REDACTED = "[redacted]";

const summary = (row: NotificationChannelRow) => ({ id: row.id, name: row.name, kind: row.kind, enabled: row.enabled });

/** The input as audited: the signing secret replaced, the rest as given. */
function audited<T extends { signingSecret?: string | null }>(input: T): T {
  return input.signingSecret == null ? input : { ...input, signingSecret: REDACTED };
}

/** What NotificationChannelResolver uses. */
export interface NotificationChannelResolverDeps {
  notifications: NotificationService;
}

@Resolver(() => NotificationChannel)
export class NotificationChannelResolver {
  constructor(readonly deps: NotificationChannelResolverDeps) {}

  @Query(() => NotificationChannel, {
    nullable: true,
    description: "One notification channel by id, or by project and name; null when there is none.",
  })
  async notificationChannel(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "The channel's id." }) id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "The channel's project, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The channel's name, unique in its project." }) name?: string | null,
  ): Promise<NotificationChannel | null> {
    const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key ? await this.deps.notifications.getByName(by.key.projectId, by.key.name) : await this.deps.notifications.get(by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
    return row ? NotificationChannel.from(row) : null;
  }

  @Query(() => NotificationChannelConnection, { description: "The notification channels of a project, by name. Needs VIEWER there." })
  async notificationChannels(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project whose channels to list." }) projectId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => NotificationChannelFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: NotificationChannelFilter | null,
    @Arg("orderBy", () => NotificationChannelOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: NotificationChannelOrder | null,
  ): Promise<NotificationChannelConnection> {
    ctx.authz.require(Permission.READ, projectId);
    const result = await this.deps.notifications.list(
      projectId,
      { kind: filter?.kind ?? undefined, enabled: filter?.enabled ?? undefined },
      page,
      notificationChannelSort(orderBy),
    );
    return NotificationChannelConnection.from(result, NotificationChannel.from);
  }

  @Query(() => NotificationDeliveryConnection, {
    description: "The delivery log of a channel: one row per attempt, newest first. Needs VIEWER in its project.",
  })
  async notificationDeliveries(
    @Ctx() ctx: RequestContext,
    @Arg("channelId", () => ID, { description: "The channel whose delivery attempts to list." }) channelId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => NotificationDeliveryFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: NotificationDeliveryFilter | null,
    @Arg("orderBy", () => NotificationDeliveryOrder, {
      nullable: true,
      description: "How to sort the list; each list has its own default.",
    })
    orderBy?: NotificationDeliveryOrder | null,
  ): Promise<NotificationDeliveryConnection> {
    const channel = await this.deps.notifications.get(channelId);
    ctx.authz.require(Permission.READ, channel?.projectId);
    return this.deliveriesOf(ctx, channelId, page, filter, orderBy);
  }

  @FieldResolver(() => NotificationDeliveryConnection, { description: "Its delivery log, newest attempt first." })
  async deliveries(
    @Root() channel: NotificationChannel,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => NotificationDeliveryFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: NotificationDeliveryFilter | null,
    @Arg("orderBy", () => NotificationDeliveryOrder, {
      nullable: true,
      description: "How to sort the list; each list has its own default.",
    })
    orderBy?: NotificationDeliveryOrder | null,
  ): Promise<NotificationDeliveryConnection> {
    ctx.authz.require(Permission.READ, channel.projectId);
    return this.deliveriesOf(ctx, channel.id, page, filter, orderBy);
  }

  private async deliveriesOf(
    ctx: RequestContext,
    channelId: string,
    page: PageArgsInput,
    filter?: NotificationDeliveryFilter | null,
    orderBy?: NotificationDeliveryOrder | null,
  ): Promise<NotificationDeliveryConnection> {
    const result = await this.deps.notifications.deliveries(
      channelId,
      { status: filter?.status ?? undefined, eventType: filter?.eventType ?? undefined, eventId: filter?.eventId ?? undefined },
      page,
      notificationDeliverySort(orderBy),
    );
    return NotificationDeliveryConnection.from(result, NotificationDelivery.from);
  }

  @Mutation(() => NotificationChannelResult, {
    description:
      "Creates a notification channel: the project's events whose types match `eventTypes` are sent to it. Needs ADMIN in the project (it sends data out).",
  })
  async createNotificationChannel(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateNotificationChannelInput,
  ): Promise<typeof NotificationChannelResult> {
    return captureErrors(() =>
      runMutation(
        ctx,
        { action: "notification_channel.create", permission: Permission.ADMIN, projectId: input.projectId, input: audited(input) },
        async (tx) => {
          const row = await this.deps.notifications.create(tx, input.projectId, input);
          return { value: NotificationChannelPayload.of(row), targetId: row.id, result: summary(row) };
        },
      ),
    );
  }

  @Mutation(() => NotificationChannelResult, { description: "Changes a notification channel. Needs ADMIN in its project." })
  async updateNotificationChannel(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateNotificationChannelInput,
  ): Promise<typeof NotificationChannelResult> {
    return captureErrors(async () => {
      const existing = await this.deps.notifications.get(input.id);
      return runMutation(
        ctx,
        { action: "notification_channel.update", permission: Permission.ADMIN, projectId: existing?.projectId, input: audited(input) },
        async (tx) => {
          const row = await this.deps.notifications.update(tx, input.id, input);
          return { value: NotificationChannelPayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }

  @Mutation(() => NotificationChannelResult, {
    description: "Deletes a notification channel with its delivery log (its secret stays). Needs ADMIN in its project.",
  })
  async deleteNotificationChannel(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: NotificationChannelIdInput,
  ): Promise<typeof NotificationChannelResult> {
    return captureErrors(async () => {
      const existing = await this.deps.notifications.get(input.id);
      return runMutation(
        ctx,
        { action: "notification_channel.delete", permission: Permission.ADMIN, projectId: existing?.projectId, input },
        async (tx) => {
          const row = await this.deps.notifications.delete(tx, input.id);
          return { value: NotificationChannelPayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }
}

@Resolver(() => NotificationDelivery)
export class NotificationDeliveryResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description:
      "The start of the receiver's answer to a failed attempt. Null unless the caller is ADMIN in the channel's project: the receiver may be an internal service.",
  })
  responseExcerpt(@Root() delivery: NotificationDelivery, @Ctx() ctx: RequestContext): string | null {
    return ctx.authz.can(Permission.ADMIN, delivery.projectId) ? delivery.excerpt : null;
  }
}
