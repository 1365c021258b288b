import { QueryFailedError } from "typeorm";
import { ConflictError, ErrorCode, SluiceError } from "./errors";

/** Escapes LIKE wildcards so that user text matches literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** SQLSTATE of a unique-constraint violation. */
const UNIQUE_VIOLATION = "23505";

/**
 * SQLSTATEs of values PostgreSQL cannot take as given: a malformed uuid or number (22P02), a NUL
 * byte or bad encoding (22021, 22P05), a number out of range (22003), a bad date (22007, 22008).
 * The input check before execution refuses most of these; this catches what slips past it.
 */
const BAD_VALUE_CODES = new Set(["22P02", "22021", "22P05", "22003", "22007", "22008"]);

/**
 * A unique violation is a conflict the caller can act on (two requests raced for one name):
 * CONFLICT naming the constraint. A value the database cannot take is the caller's input:
 * BAD_USER_INPUT with PostgreSQL's one-line reason (it quotes the value, never a file). Every
 * other error is left alone.
 */
export function translateDatabaseError(err: unknown): unknown {
  if (err instanceof QueryFailedError) {
    const driverError = err.driverError as { code?: string; constraint?: string; message?: string } | undefined;
    if (driverError?.code && BAD_VALUE_CODES.has(driverError.code)) {
      // eslint-disable-next-line no-control-regex -- NUL is exactly what this escapes
      const reason = (driverError.message ?? "a value is not valid").split("\n")[0]!.replace(/\u0000/g, "\\u0000");
      return new SluiceError(ErrorCode.BAD_USER_INPUT, `A value in the request cannot be stored or compared: ${reason}`, {
        sqlState: driverError.code,
      });
    }
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
