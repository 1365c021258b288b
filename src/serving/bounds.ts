/**
 * Per-request bounds of inference: rows (checked on the raw body, before enrichment, decoding or
 * any run) and output bytes (rows × the model's measured bytes per row, checked before the run).
 * Both refusals are `PayloadTooLargeError`: 413 on the OIP routes, BAD_USER_INPUT in GraphQL.
 */
import { PayloadTooLargeError } from "../kernel/errors";
import { formatBytes } from "../registry";

export interface RequestBounds {
  /** Most rows in one request. `SLUICE_SERVING_MAX_ROWS`. @default 10000 */
  maxRows: number;
  /** Most output bytes one request may produce (rows × measured bytes per row). `SLUICE_SERVING_MAX_OUTPUT_BYTES`. @default 64 MiB */
  maxOutputBytes: number;
}

export const DEFAULT_REQUEST_BOUNDS: Readonly<RequestBounds> = Object.freeze({ maxRows: 10_000, maxOutputBytes: 64 * 1024 ** 2 });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The rows a request body claims, read without decoding it: the records form's instances, or the
 * largest first dimension among the OIP inputs' shapes (decoding later checks the data against it).
 */
export function claimedRows(body: unknown): { rows: number; field: string } {
  if (!isObject(body)) return { rows: 0, field: "body" };
  if (body.instances !== undefined && body.inputs === undefined) {
    return { rows: Array.isArray(body.instances) ? body.instances.length : 0, field: "instances" };
  }
  let rows = 0;
  if (Array.isArray(body.inputs)) {
    for (const raw of body.inputs) {
      const first = isObject(raw) && Array.isArray(raw.shape) ? raw.shape[0] : undefined;
      if (typeof first === "number" && Number.isFinite(first) && first > rows) rows = first;
    }
  }
  return { rows, field: "inputs" };
}

/** @throws PayloadTooLargeError naming the request's rows and the limit */
export function checkRows(body: unknown, bounds: RequestBounds): void {
  const { rows, field } = claimedRows(body);
  if (rows > bounds.maxRows) {
    throw new PayloadTooLargeError([
      {
        field,
        message: `the request has ${rows} rows; the limit is ${bounds.maxRows} rows per request (SLUICE_SERVING_MAX_ROWS): send them in smaller requests`,
      },
    ]);
  }
}

/** @throws PayloadTooLargeError when `rows` of a model giving `bytesPerRow` would pass the output limit */
export function checkOutputBytes(rows: number, bytesPerRow: number | undefined, bounds: RequestBounds): void {
  if (bytesPerRow === undefined || rows * bytesPerRow <= bounds.maxOutputBytes) return;
  const most = Math.max(1, Math.floor(bounds.maxOutputBytes / bytesPerRow));
  throw new PayloadTooLargeError([
    {
      field: "inputs",
      message: `${rows} rows of this model would produce about ${formatBytes(rows * bytesPerRow)} of outputs (${formatBytes(bytesPerRow)} per row, measured when the version was registered); the limit is ${formatBytes(bounds.maxOutputBytes)} per request (SLUICE_SERVING_MAX_OUTPUT_BYTES): send at most ${most} rows per request`,
    },
  ]);
}
