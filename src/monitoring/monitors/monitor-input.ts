import { type InputProblem, InvalidInputError } from "../../kernel/errors";

export const VARIANTS = ["primary", "canary", "shadow"] as const;
const METHODS = ["ks", "wasserstein", "psi", "chisquare", "jensenshannon"];

export interface FeatureOverrideInput {
  feature: string;
  method?: string | null;
  threshold?: number | null;
}

export interface MonitorSettingsInput {
  windowSize?: number | null;
  windowSeconds?: number | null;
  featureOverrides?: FeatureOverrideInput[] | null;
  driftShare?: number | null;
}

/** Checks the window and drift settings; every bad field is named. `windowSize`/`windowSeconds` of 0 mean "not by count/time". */
export function checkMonitorSettings(input: MonitorSettingsInput, maxRows: number, problems: InputProblem[]): void {
  if (input.windowSize != null && !(Number.isInteger(input.windowSize) && input.windowSize >= 0 && input.windowSize <= maxRows))
    problems.push({
      field: "windowSize",
      message: `must be an integer from 1 to ${maxRows} (SLUICE_MONITORING_MAX_WINDOW_ROWS), or 0 for none`,
    });
  if (
    input.windowSeconds != null &&
    !(Number.isInteger(input.windowSeconds) && input.windowSeconds >= 0 && input.windowSeconds <= 31 * 86400)
  )
    problems.push({ field: "windowSeconds", message: "must be an integer number of seconds from 1 to 2678400 (31 days), or 0 for none" });
  if (input.driftShare != null && !(input.driftShare > 0 && input.driftShare <= 1))
    problems.push({ field: "driftShare", message: "must be in (0, 1]" });
  const seen = new Set<string>();
  (input.featureOverrides ?? []).forEach((o, i) => {
    const at = `featureOverrides[${i}]`;
    if (typeof o.feature !== "string" || o.feature.trim() === "")
      problems.push({ field: `${at}.feature`, message: "must be a feature name" });
    else if (seen.has(o.feature)) problems.push({ field: `${at}.feature`, message: `${o.feature} is overridden twice` });
    else seen.add(o.feature);
    if (o.method != null && !METHODS.includes(o.method))
      problems.push({
        field: `${at}.method`,
        message: `must be one of ${METHODS.join(", ")} (ks, wasserstein for numbers; chisquare, jensenshannon for categories; psi for both)`,
      });
    if (o.threshold != null && !(Number.isFinite(o.threshold) && o.threshold >= 0))
      problems.push({ field: `${at}.threshold`, message: "must be a finite number ≥ 0" });
  });
}

export function overridesObject(list: FeatureOverrideInput[]): Record<string, { method?: string; threshold?: number }> {
  const out: Record<string, { method?: string; threshold?: number }> = {};
  for (const o of list)
    out[o.feature] = { ...(o.method != null ? { method: o.method } : {}), ...(o.threshold != null ? { threshold: o.threshold } : {}) };
  return out;
}

export function fail(problems: InputProblem[]): void {
  if (problems.length > 0) throw new InvalidInputError(problems);
}
