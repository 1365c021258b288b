import type { FileFormat } from "./types";

/** Every file format, in the order messages list them. */
export const FILE_FORMATS: readonly FileFormat[] = ["csv", "parquet", "json", "jsonl"];

const BY_EXTENSION: Readonly<Record<string, FileFormat>> = {
  csv: "csv",
  tsv: "csv",
  parquet: "parquet",
  json: "json",
  jsonl: "jsonl",
  ndjson: "jsonl",
};

/** Whether `value` names a file format. */
export function isFileFormat(value: unknown): value is FileFormat {
  return typeof value === "string" && (FILE_FORMATS as readonly string[]).includes(value);
}

/**
 * The format a file name (or a glob's last part) says, ignoring a compression suffix: `.csv`,
 * `.tsv`, `.parquet`, `.jsonl`, `.ndjson`, and `.json` as `json` (whose reader takes a JSON array
 * and JSON Lines alike); null when the name says none.
 */
export function formatFromName(name: string): FileFormat | null {
  const plain = name.toLowerCase().replace(/(\.(gz|gzip|zst|zstd))+$/, "");
  const ext = /\.([a-z0-9]+)$/.exec(plain)?.[1];
  return ext ? (BY_EXTENSION[ext] ?? null) : null;
}

/** The one format every path's name says, or null when they say none or disagree. */
export function formatFromPaths(paths: readonly string[]): FileFormat | null {
  const formats = new Set(paths.map((p) => formatFromName(p)));
  const [only] = formats;
  return formats.size === 1 && only ? only : null;
}
