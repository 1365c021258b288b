/**
 * MLflow settings, read with the rest of the configuration (src/app/config.ts):
 *
 * - `SLUICE_MLFLOW_PROJECT` — the project (name or id) of MLflow calls that neither send
 *   `X-Sluice-Project` nor come from a token bound to exactly one project.
 * - `SLUICE_MLFLOW_MIRROR_URI` — an external MLflow tracking server (e.g. `http://mlflow:5000`);
 *   set, the mirror plugin (plugins/mlflow) copies pipeline runs and model versions there.
 * - `SLUICE_MLFLOW_MIRROR_TOKEN` — bearer token for it (MLflow's MLFLOW_TRACKING_TOKEN).
 * - `SLUICE_MLFLOW_MIRROR_EXPERIMENT` — the experiment pipeline runs are mirrored into. @default sluice
 * - `SLUICE_MLFLOW_MIRROR_RETRIES` — attempts per mirrored change before it is logged as lost. @default 5
 * - `SLUICE_MLFLOW_MIRROR_RETRY_MS` — wait before the second attempt, doubling after. @default 1000
 */
export interface MlflowSettings {
  readonly defaultProject: string | undefined;
  readonly mirror:
    | {
        readonly uri: string;
        readonly token: string | undefined;
        readonly experiment: string;
        readonly retries: number;
        readonly retryMs: number;
      }
    | undefined;
}

type Env = Record<string, string | undefined>;

function positive(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${JSON.stringify(raw)} is not valid: expected an integer >= 1`);
  return n;
}

export function mlflowSettings(env: Env): MlflowSettings {
  const uri = env.SLUICE_MLFLOW_MIRROR_URI?.trim();
  if (uri && !/^https?:\/\/[^/]+/.test(uri)) {
    throw new Error(`SLUICE_MLFLOW_MIRROR_URI=${JSON.stringify(uri)} is not valid: expected an http(s) URL of an MLflow tracking server`);
  }
  return {
    defaultProject: env.SLUICE_MLFLOW_PROJECT?.trim() || undefined,
    mirror: uri
      ? {
          uri: uri.replace(/\/+$/, ""),
          token: env.SLUICE_MLFLOW_MIRROR_TOKEN || undefined,
          experiment: env.SLUICE_MLFLOW_MIRROR_EXPERIMENT?.trim() || "sluice",
          retries: positive(env, "SLUICE_MLFLOW_MIRROR_RETRIES", 5),
          retryMs: positive(env, "SLUICE_MLFLOW_MIRROR_RETRY_MS", 1000),
        }
      : undefined,
  };
}
