import { QueryFailedError } from "typeorm";
import { ConflictError } from "../app/errors";

/** Escapes LIKE wildcards so that user text matches literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** SQLSTATE of a unique-constraint violation. */
const UNIQUE_VIOLATION = "23505";

/**
 * A unique violation is a conflict the caller can act on (two requests raced for one name);
 * turns it into CONFLICT naming the constraint, and leaves every other error alone.
 */
export function translateDatabaseError(err: unknown): unknown {
  if (err instanceof QueryFailedError) {
    const driverError = err.driverError as { code?: string; constraint?: string } | undefined;
    if (driverError?.code === UNIQUE_VIOLATION) {
      return new ConflictError(
        `The change clashes with an existing record (${driverError.constraint ?? "unique constraint"}); reload and retry`,
        {
          constraint: driverError.constraint ?? null,
        },
      );
    }
  }
  return err;
}

/**
 * The rows of an `UPDATE … RETURNING` or `DELETE … RETURNING` run through TypeORM's
 * `manager.query`, which answers `[rows, rowCount]` for those commands and `rows` otherwise.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === "number") return result[0] as T[];
  return result as T[];
}
