/**
 * An inference request and its answer as prediction-log rows, one per instance.
 *
 * The prediction id (what outcomes are joined on) follows one rule for both request forms:
 * 1. `parameters.prediction_ids`, a list with one string per row, when the request sends it;
 * 2. otherwise the request `id`: as is for a one-row request, `"<id>:<row>"` for row `row` of a larger one;
 * 3. otherwise none (the row is logged but no outcome can be joined to it).
 */
import type { OipResponseOutput } from "../oip";

/** What the log keeps of one row; the writer adds ids and the time. */
export interface PredictionDraft {
  projectId: string;
  registeredModelId: string;
  modelVersionId: string;
  /** The name the request was addressed to (see PredictionRow.servedName). */
  servedName: string;
  /** `primary`, `canary` or `shadow`. */
  variant: string;
  requestId: string | null;
  rowIndex: number;
  predictionId: string | null;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The prediction id of row `row` of `rows`, by the rule above. */
export function predictionIdOf(body: Json, row: number, rows: number): string | null {
  const ids = isObject(body.parameters) ? body.parameters.prediction_ids : undefined;
  if (Array.isArray(ids) && ids.length === rows && ids[row] !== undefined && ids[row] !== null) return String(ids[row]);
  if (typeof body.id === "string" && body.id !== "") return rows === 1 ? body.id : `${body.id}:${row}`;
  return null;
}

/** Row `row` of a flattened tensor with `rows` rows: the element when a row holds one, else the row's list. */
function rowOf(data: unknown[], rows: number, row: number): unknown {
  if (rows <= 0 || data.length % rows !== 0) return data;
  const per = data.length / rows;
  return per === 1 ? data[row] : data.slice(row * per, (row + 1) * per);
}

/**
 * The rows of one answered request. `body` is the request as received (already decoded and
 * accepted, so its shapes are right); `outputs` the OIP outputs; `predictions` the records-form answer.
 *
 * Linear in the request's size: each tensor is flattened once, not once per row. An output
 * without one row per input row (a model-wide answer) is logged once, on row 0, so that a
 * large request does not copy it into every row.
 */
export function predictionRows(
  ids: { projectId: string; registeredModelId: string; modelVersionId: string; servedName: string; variant: string },
  body: Json,
  rows: number,
  answer: { outputs?: OipResponseOutput[]; predictions?: Json[] },
): PredictionDraft[] {
  const requestId = typeof body.id === "string" ? body.id : null;
  const records = Array.isArray(body.instances) && answer.predictions !== undefined;
  const inputs = records ? [] : flattenedInputs(body);
  const outputs = records ? [] : (answer.outputs ?? []);
  const out: PredictionDraft[] = [];
  for (let r = 0; r < rows; r++) {
    let rowInputs: Json;
    let rowOutputs: Json;
    if (records) {
      rowInputs = ((body.instances as unknown[])[r] as Json) ?? {};
      rowOutputs = answer.predictions![r] ?? {};
    } else {
      rowInputs = {};
      for (const { name, data } of inputs) rowInputs[name] = rowOf(data, rows, r);
      rowOutputs = {};
      for (const o of outputs) {
        if (o.shape[0] === rows) rowOutputs[o.name] = rowOf(o.data, rows, r);
        else if (r === 0) rowOutputs[o.name] = o.data;
      }
    }
    out.push({ ...ids, requestId, rowIndex: r, predictionId: predictionIdOf(body, r, rows), inputs: rowInputs, outputs: rowOutputs });
  }
  return out;
}

/** Each OIP input's data, flattened once (nested `data` is row-major). */
function flattenedInputs(body: Json): Array<{ name: string; data: unknown[] }> {
  const inputs = Array.isArray(body.inputs) ? (body.inputs as unknown[]) : [];
  return inputs.filter(isObject).map((raw) => ({
    name: String(raw.name),
    data: Array.isArray(raw.data) ? (raw.data as unknown[]).flat(Infinity) : [],
  }));
}
