/**
 * Shared pieces of the drift statistics. Everything in src/monitoring/drift is pure (no I/O, no
 * database): the monitoring service feeds it a stored reference summary and a window of typed
 * arrays, and stores what comes back.
 */
import { InvalidInputError } from "../../kernel/errors";

/** A numeric column: NaN is a missing value. */
export type NumericColumn = Float64Array | Float32Array;
/** A categorical column: strings or integer codes; null, undefined and NaN are missing. */
export type CategoricalColumn = ArrayLike<string | number | null | undefined>;
export type Column = NumericColumn | CategoricalColumn;

export type FeatureKind = "numeric" | "categorical";

/**
 * Thrown for input the statistics cannot work with: a BAD_USER_INPUT error whose one problem's
 * `field` is the feature (column) or option at fault.
 */
export class DriftInputError extends InvalidInputError {
  constructor(field: string, message: string) {
    super([{ field, message }]);
    this.name = "DriftInputError";
  }
}

export function isNumericColumn(column: unknown): column is NumericColumn {
  return column instanceof Float64Array || column instanceof Float32Array;
}

/** The share an empty PSI bin counts as, so that ln(0) never occurs (Evidently's value). */
export const PSI_EPSILON = 1e-4;

/** Σ (current − reference) · ln(current / reference) over shares, empty shares counted as ε. */
export function psiTerm(referenceShare: number, currentShare: number, epsilon = PSI_EPSILON): number {
  const r = referenceShare === 0 ? epsilon : referenceShare;
  const c = currentShare === 0 ? epsilon : currentShare;
  return (c - r) * Math.log(c / r);
}
