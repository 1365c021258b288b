import assert from "node:assert/strict";

/**
 * Asserts that a refusal's message names each of `names` (the offending field, value, setting or
 * file the user must act on), whatever the sentence around them says. Tests branch on the error's
 * class, `code` or `__typename`; this checks only the data the message must carry.
 */
export function assertNames(message: string | undefined | null, ...names: string[]): void {
  const text = String(message ?? "");
  for (const name of names) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    // A whole token: "x1" must not be found inside "x10".
    const token = new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`);
    assert.ok(token.test(text), `the message should name ${JSON.stringify(name)}: ${JSON.stringify(text)}`);
  }
}
