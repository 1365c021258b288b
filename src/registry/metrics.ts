/**
 * The finite numbers of a metrics object: what can be stored as a model version's or report's
 * flat metrics (a null AUC of a one-class slice, NaN or Infinity are dropped).
 */
export function finiteMetrics(value: unknown): Record<string, number> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1])));
}
