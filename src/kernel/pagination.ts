import type { ObjectLiteral, SelectQueryBuilder } from "typeorm";
import { InvalidInputError } from "./errors";

/** Items per page when `first` is not given. */
export const DEFAULT_PAGE_SIZE = 50;
/** The most items one page may hold. */
export const MAX_PAGE_SIZE = 500;

/** Relay forward pagination arguments. */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** How a list is ordered: an entity property and a direction; ties break on `id`. */
export interface SortSpec<T> {
  property: keyof T & string;
  direction: "ASC" | "DESC";
}

/** One page of rows with their cursors. `totalCount` runs its query only when asked for. */
export interface Page<T> {
  rows: T[];
  cursors: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: () => Promise<number>;
}

type CursorValue = string | number | null;

function encodeCursor(sortValue: unknown, id: string): string {
  const v: CursorValue = sortValue instanceof Date ? sortValue.toISOString() : (sortValue as CursorValue);
  return Buffer.from(JSON.stringify([v, id]), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): [CursorValue, string] {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[1] === "string") return parsed as [CursorValue, string];
  } catch {
    // fall through to the error below
  }
  throw new InvalidInputError([{ field: "after", message: "is not a cursor this list returned; pass an endCursor from pageInfo" }]);
}

/**
 * Keyset pagination over `qb` (which holds only filters): rows after the `after` cursor in
 * `sort` order, ties broken by id. Keyset rather than OFFSET so that a page costs the same
 * deep in a list as at its start, and rows inserted meanwhile neither repeat nor vanish.
 */
export async function paginate<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  args: PageArgs,
  sort: SortSpec<T>,
): Promise<Page<T>> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new InvalidInputError([{ field: "first", message: `must be an integer from 0 to ${MAX_PAGE_SIZE}` }]);
  }
  const alias = qb.alias;
  const countQuery = qb.clone();
  const op = sort.direction === "ASC" ? ">" : "<";
  const byId = sort.property === "id";
  if (args.after) {
    const [value, id] = decodeCursor(args.after);
    if (byId) qb.andWhere(`${alias}.id ${op} :cursorId`, { cursorId: id });
    else qb.andWhere(`(${alias}.${sort.property}, ${alias}.id) ${op} (:cursorValue, :cursorId)`, { cursorValue: value, cursorId: id });
  }
  qb.orderBy(`${alias}.${sort.property}`, sort.direction);
  if (!byId) qb.addOrderBy(`${alias}.id`, sort.direction);
  const fetched = await qb.limit(first + 1).getMany();
  const rows = fetched.slice(0, first);
  let count: Promise<number> | undefined;
  return {
    rows,
    cursors: rows.map((r) => encodeCursor(r[sort.property], r.id)),
    hasNextPage: fetched.length > first,
    hasPreviousPage: Boolean(args.after),
    totalCount: () => (count ??= countQuery.getCount()),
  };
}
