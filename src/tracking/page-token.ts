import { invalid } from "./validation";

/**
 * MLflow's `page_token`: opaque to clients. Sluice's holds an offset into the ordered result
 * (as MLflow's own SQL store does), so a page costs one query with OFFSET.
 */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), "utf8").toString("base64");
}

export function decodePageToken(token: string | null | undefined): number {
  if (!token) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as { offset?: unknown };
    if (typeof parsed.offset === "number" && Number.isSafeInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // answered below
  }
  throw invalid(`Invalid page token, could not base64-decode`, "page_token");
}

/** `max_results` within `1..max`, `fallback` when absent. */
export function maxResults(value: unknown, fallback: number, max: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw invalid(
      `Invalid value ${JSON.stringify(value)} for parameter 'max_results' supplied. It must be at most ${max}, and at least 1.`,
      "max_results",
    );
  }
  return n;
}
