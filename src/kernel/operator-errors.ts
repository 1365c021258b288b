import { SluiceError } from "./errors";

/**
 * Marks an operator's bad-input errors non-retryable: a wrong path, a malformed file or an
 * invalid suite will fail the same way on every attempt, so retrying only delays the answer.
 */
export async function withInputErrorsFinal<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SluiceError && err.code === "BAD_USER_INPUT") {
      throw Object.assign(err, { nonRetryable: true });
    }
    throw err;
  }
}

/** A required entry of a stage's inputs or outputs, or an error naming what the stage must declare. */
export function required<T>(entries: Record<string, T>, name: string, what: "input" | "output", operator: string): T {
  const entry = entries[name];
  if (!entry) {
    throw Object.assign(new Error(`the ${operator} operator needs an ${what} named "${name}" declared in the stage`), {
      nonRetryable: true,
    });
  }
  return entry;
}
