/**
 * "Did you mean …?" for misspelled names: the known name closest to an unknown one, when it is
 * close enough to be a likely typo (an edit or two, or the same name in another case).
 */

/** Levenshtein distance; names are short, so the quadratic table is cheap. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/**
 * The name of `known` closest to `name` (case-insensitively), or undefined when none is within
 * a third of the name's length in edits (at least one edit): `algoritm` → `algorithm`,
 * `Target` → `target`, `colour` → nothing among `metric, min, max`.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    if (candidate === name) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "x"?` for {@link closestName}'s answer, or "" when there is none. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const near = closestName(name, known);
  return near === undefined ? "" : `; did you mean ${JSON.stringify(near)}?`;
}
