import type { EntityManager } from "typeorm";
import type { EventDraft } from "../kernel/ledger";
import { EventRow } from "./event.entity";

export type { EventDraft };

/**
 * Key of the transaction-scoped advisory lock taken just before events are inserted. It makes
 * event ids commit in id order, so a subscriber resuming "after id N" can never later meet a
 * smaller id that committed late. It is held only from the insert to the commit.
 */
const EVENT_ORDER_LOCK = 7_404_002;

/** Inserts `drafts` in the current transaction and returns the stored rows, in order. */
export async function appendEvents(manager: EntityManager, drafts: readonly EventDraft[], actorId: string | null): Promise<EventRow[]> {
  if (drafts.length === 0) return [];
  await manager.query("SELECT pg_advisory_xact_lock($1)", [EVENT_ORDER_LOCK]);
  const result = await manager
    .createQueryBuilder()
    .insert()
    .into(EventRow)
    .values(
      drafts.map((d) =>
        manager.create(EventRow, {
          type: d.type,
          projectId: d.projectId ?? null,
          subjectId: d.subjectId ?? null,
          payload: d.payload ?? {},
          actorId,
        }),
      ),
    )
    .returning("*")
    .execute();
  const raw = result.raw as Array<Record<string, unknown>>;
  return raw.map((r) =>
    Object.assign(new EventRow(), {
      id: String(r.id),
      type: r.type,
      projectId: r.project_id,
      subjectId: r.subject_id,
      payload: r.payload,
      actorId: r.actor_id,
      createdAt: r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at)),
    }),
  );
}
