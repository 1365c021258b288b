import type { RequestContext } from "../kernel/context";
import { InvalidInputError } from "../kernel/errors";
import { Permission } from "../kernel/roles";
import type { EventBus, EventFilter } from "./event-bus";
import type { EventRow } from "./event.entity";

/**
 * The body every cursor-replaying GraphQL subscription shares: resolve what is subscribed to,
 * check the caller may read its project, refuse a malformed `after` cursor, then open the stream
 * (stored rows after the cursor first, then live ones). A resolver says only the scope:
 *
 * ```ts
 * @Subscription(() => ProjectEvent, {
 *   subscribe: cursorSubscription<{ projectId: string }, EventRow>(({ projectId }, ctx) =>
 *     eventScope(resolverOf(ctx, ProjectResolver).deps.events, projectId, { projectId })),
 * })
 * ```
 *
 * No GraphQL import here (events is storage): the returned function has the shape type-graphql's
 * `subscribe` option takes.
 */

/** What a subscription reads. */
export interface SubscriptionScope<T> {
  /** The project whose READ permission the caller needs (undefined when the subject was not found: only a global grant passes). */
  projectId: string | null | undefined;
  /** Thrown after the permission check when the subject does not exist, so a refused caller learns nothing. */
  missing?: Error;
  /** The stream after `after` (exclusive; undefined: live only). */
  open: (after: string | undefined) => AsyncIterable<T>;
}

/** Cursors are row ids: decimal strings. "" and null mean none. */
export function parseStreamCursor(after: string | null | undefined, field = "after"): string | undefined {
  if (after === null || after === undefined || after === "") return undefined;
  if (!/^\d{1,19}$/.test(after)) throw new InvalidInputError([{ field, message: "must be a cursor received from this subscription" }]);
  return after;
}

/** A `subscribe` function for type-graphql's `@Subscription` from the scope of its arguments. */
export function cursorSubscription<Args, T>(
  scope: (args: Args, ctx: RequestContext) => SubscriptionScope<T> | Promise<SubscriptionScope<T>>,
): (resolverData: { args: any; context: any }) => Promise<AsyncIterable<T>> {
  return async ({ args, context }) => {
    const ctx = context as RequestContext;
    const { projectId, missing, open } = await scope(args as Args, ctx);
    ctx.authz.require(Permission.READ, projectId ?? undefined);
    if (missing) throw missing;
    return open(parseStreamCursor((args as { after?: string | null }).after));
  };
}

/** The scope of a subscription to the event stream of `projectId` (or of a subject in it) matching `filter`. */
export function eventScope(events: EventBus, projectId: string | null | undefined, filter: EventFilter): SubscriptionScope<EventRow> {
  return { projectId, open: (after) => events.subscribe(filter, after) };
}
