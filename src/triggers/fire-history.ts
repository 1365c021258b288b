import type { Page, PageArgs } from "../kernel/pagination";
import { paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { TriggerFireRow } from "./trigger-fire.entity";

/** The fires of one schedule or event rule, newest first. */
export async function listFires(db: Database, sourceId: string, page: PageArgs): Promise<Page<TriggerFireRow>> {
  const qb = db.dataSource.getRepository(TriggerFireRow).createQueryBuilder("f").where("f.sourceId = :sourceId", { sourceId });
  return paginate(qb, page, { property: "firedAt", direction: "DESC" });
}
