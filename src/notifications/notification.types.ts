import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { NotificationChannelRow } from "./notification-channel.entity";
import type { DeliveryStatus, NotificationDeliveryRow } from "./notification-delivery.entity";

export const DeliveryStatusEnum = {
  PENDING: "PENDING",
  SUCCEEDED: "SUCCEEDED",
  RETRYING: "RETRYING",
  FAILED: "FAILED",
  CANCELLED: "CANCELLED",
} as const satisfies Record<DeliveryStatus, DeliveryStatus>;
registerEnumType(DeliveryStatusEnum, {
  name: "NotificationDeliveryStatus",
  description: "What one delivery attempt came to.",
  valuesConfig: {
    PENDING: { description: "Queued: sent at `dueAt` (or being sent)." },
    SUCCEEDED: { description: "The receiver accepted it (HTTP 2xx)." },
    RETRYING: { description: "Failed (network error, timeout, 429 or 5xx); the next attempt is queued." },
    FAILED: { description: "Failed for good: not retryable (3xx, other 4xx), or the last attempt." },
    CANCELLED: { description: "Not sent: the channel was disabled, or its secret removed, before its turn." },
  },
});

@ObjectType({ description: "Where a project's events are sent: a notifier plugin (a signed webhook) and the event types it hears." })
export class NotificationChannel {
  @Field(() => ID, { description: "Server-assigned UUID of the channel." })
  id: string;

  @Field(() => ID, { description: "The project whose events the channel hears." })
  projectId: string;

  @Field({ description: "Unique in the project: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: "The notifier plugin, e.g. `webhook`." })
  kind: string;

  @Field(() => GraphQLJSONObject, { description: "The plugin's settings, defaults filled in; webhook: `{ url, timeoutMs }`." })
  config: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: "The project secret the channel signs with, by name; its value is never returned." })
  secretName: string | null;

  @Field(() => [String], { description: "Event type patterns: `approval.decided`, `approval.*` (one or more segments), `*` (all)." })
  eventTypes: string[];

  @Field({ description: "False: no events are sent, and queued attempts are cancelled." })
  enabled: boolean;

  @Field(() => ID, { nullable: true, description: "The principal who created the channel; null when unknown or deleted." })
  createdBy: string | null;

  @Field({ description: "When the channel was created." })
  createdAt: Date;

  @Field({ description: "When the channel was last changed." })
  updatedAt: Date;

  static from(row: NotificationChannelRow): NotificationChannel {
    return Object.assign(new NotificationChannel(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      kind: row.kind,
      config: row.config,
      secretName: row.secretName,
      eventTypes: row.eventTypes,
      enabled: row.enabled,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One attempt to deliver one event to one channel." })
export class NotificationDelivery {
  @Field(() => ID, { description: "Server-assigned UUID of the attempt." })
  id: string;

  @Field(() => ID, { description: "The channel delivered to." })
  channelId: string;

  @Field({ description: "The event's id (its stream cursor)." })
  eventId: string;

  @Field({ description: "The event's type, e.g. `approval.decided`." })
  eventType: string;

  @Field(() => Int, { description: "1 for the first attempt; a retry is a new attempt." })
  attempt: number;

  @Field(() => DeliveryStatusEnum, { description: "What the attempt came to (so far)." })
  status: DeliveryStatus;

  @Field({ description: "When the attempt is (or was) due." })
  dueAt: Date;

  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status, when it answered." })
  httpStatus: number | null;

  @Field(() => String, { nullable: true, description: "Why it failed (or was cancelled)." })
  error: string | null;

  /** Read through `responseExcerpt`, which shows it to project admins only. */
  excerpt: string | null;

  projectId: string;

  @Field(() => Int, { nullable: true, description: "How long the attempt took, in milliseconds." })
  durationMs: number | null;

  @Field(() => Date, { nullable: true, description: "When the attempt ended; null while PENDING." })
  finishedAt: Date | null;

  @Field({ description: "When the attempt was queued." })
  createdAt: Date;

  static from(row: NotificationDeliveryRow): NotificationDelivery {
    return Object.assign(new NotificationDelivery(), {
      id: row.id,
      channelId: row.channelId,
      eventId: String(row.eventId),
      eventType: row.eventType,
      attempt: row.attempt,
      status: row.status,
      dueAt: row.dueAt,
      httpStatus: row.httpStatus,
      error: row.error,
      excerpt: row.responseExcerpt,
      projectId: row.projectId,
      durationMs: row.durationMs,
      finishedAt: row.finishedAt,
      createdAt: row.createdAt,
    });
  }
}

export const {
  Connection: NotificationChannelConnection,
  Order: NotificationChannelOrder,
  sortOf: notificationChannelSort,
  Filter: NotificationChannelFilter,
} = ListTypes(NotificationChannel, "NotificationChannel", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    kind: FilterBy.text("Only channels of this notifier plugin, e.g. `webhook`."),
    enabled: FilterBy.flag("True: only enabled channels; false: only disabled ones."),
  },
});
export type NotificationChannelConnection = InstanceType<typeof NotificationChannelConnection>;
export type NotificationChannelOrder = InstanceType<typeof NotificationChannelOrder>;
export type NotificationChannelFilter = InstanceType<typeof NotificationChannelFilter>;

export const {
  Connection: NotificationDeliveryConnection,
  Order: NotificationDeliveryOrder,
  sortOf: notificationDeliverySort,
  Filter: NotificationDeliveryFilter,
} = ListTypes(NotificationDelivery, "NotificationDelivery", {
  orderBy: { CREATED_AT: "createdAt", DUE_AT: "dueAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    status: FilterBy.oneOf(DeliveryStatusEnum, "Only attempts in this status, e.g. FAILED."),
    eventType: FilterBy.text("Exactly this event type."),
    eventId: FilterBy.text("The attempts of one event."),
  },
  filterDescription: "Narrows a channel's delivery attempts: an attempt must match every field given.",
});
export type NotificationDeliveryConnection = InstanceType<typeof NotificationDeliveryConnection>;
export type NotificationDeliveryOrder = InstanceType<typeof NotificationDeliveryOrder>;
export type NotificationDeliveryFilter = InstanceType<typeof NotificationDeliveryFilter>;

@InputType({ description: "A new notification channel of a project." })
export class CreateNotificationChannelInput {
  @Field(() => ID, { description: "The project whose events the channel hears." })
  projectId: string;

  @Field({ description: "Unique in the project: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: "The notifier plugin: `webhook`." })
  kind: string;

  @Field(() => GraphQLJSONObject, {
    description: "The plugin's settings; webhook: `{ url, timeoutMs? }` (timeout 1000-30000 ms, default 10000).",
  })
  config: Record<string, unknown>;

  @Field(() => [String], { description: "Event type patterns: `approval.decided`, `approval.*`, `*`." })
  eventTypes: string[];

  @Field(() => Boolean, { defaultValue: true, description: "False creates the channel without sending anything yet." })
  enabled: boolean;

  @Field(() => String, { nullable: true, description: "The project secret holding the signing secret (required for webhooks)." })
  secretName?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "A Standard Webhooks secret (`whsec_` + base64 of 24-64 random bytes), stored as the project secret `secretName`. Never returned or audited.",
  })
  signingSecret?: string | null;
}

@InputType({ description: "Changes a notification channel; a field left out or null keeps its value." })
export class UpdateNotificationChannelInput {
  @Field(() => ID, { description: "The channel to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "A new name, unique in the project." })
  name?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the settings." })
  config?: Record<string, unknown> | null;

  @Field(() => [String], { nullable: true, description: "Replaces the patterns." })
  eventTypes?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: "Enables or disables the channel; disabling cancels its queued attempts." })
  enabled?: boolean | null;

  @Field(() => String, { nullable: true, description: "Another project secret to sign with, by name." })
  secretName?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "A new signing secret, stored as the project secret `secretName`. Never returned or audited.",
  })
  signingSecret?: string | null;
}

@InputType({ description: "Names one notification channel." })
export class NotificationChannelIdInput {
  @Field(() => ID, { description: "The channel's id." })
  id: string;
}

@ObjectType({ description: "The notification channel a mutation created or changed." })
export class NotificationChannelPayload {
  @Field(() => NotificationChannel, { description: "The channel as stored now." })
  notificationChannel: NotificationChannel;

  static of(row: NotificationChannelRow): NotificationChannelPayload {
    return Object.assign(new NotificationChannelPayload(), { notificationChannel: NotificationChannel.from(row) });
  }
}

export const NotificationChannelResult = MutationResult("NotificationChannel", NotificationChannelPayload);
