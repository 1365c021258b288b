import path from "node:path";
import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { profileParquet } from "../columnar/profile";
import { materializeFiles } from "../columnar/read";
import type { CsvOptions, FileFormat, SchemaPolicy } from "../types";

/** Parameters of the `ingest` operator (its JSON Schema is in `src/operators/catalog.ts`). */
export interface IngestParams {
  /** The dataset the data becomes a version of; created in the run's project when missing. */
  dataset: string;
  /** Files or globs to read, inside the data roots. Omit to read the stage's `file` input instead. */
  paths?: string[];
  format: FileFormat;
  hivePartitioning?: boolean;
  csv?: CsvOptions;
  /** A SQL condition over the rows: only those are kept (e.g. one month of a larger file). */
  where?: string;
  /** The policy of a dataset this stage creates. @default FAIL_ON_BREAKING */
  schemaPolicy?: SchemaPolicy;
}

/** The folders file paths may name: `SLUICE_DATA_ROOTS` as the server reads it, else the working directory. */
function dataRoots(): string[] {
  const raw = process.env.SLUICE_DATA_ROOTS?.trim();
  return raw ? raw.split(",").map((s) => path.resolve(s.trim())) : [process.cwd()];
}

/**
 * `ingest`: reads files (the `paths` parameter, or the stage's `file` input) into one Parquet file
 * as the `data` output (kind Dataset), with its schema and profile. When the stage succeeds, the
 * server records the output as the next version of `dataset` — content-addressed (the same data
 * is the same version), schema-checked against the dataset's policy (a refused change fails the
 * stage with `OUTPUT_REJECTED`) — and emits `dataset.version.created`.
 */
export async function ingest(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as IngestParams;
  const out = required(ctx.outputs, "data", "output", "ingest");
  return withInputErrorsFinal(async () => {
    const file = ctx.inputs.file;
    const config = {
      kind: "FILE" as const,
      paths: file ? [file.path] : (p.paths ?? []),
      format: p.format,
      ...(p.hivePartitioning ? { hivePartitioning: true } : {}),
      ...(p.csv ? { csv: p.csv } : {}),
    };
    const roots = file ? [path.dirname(file.path)] : dataRoots();
    const read = await materializeFiles(config, out.path, { roots, where: p.where });
    const profile = await profileParquet(out.path);
    ctx.log(`ingested ${read.rowCount} rows from ${read.files.length} file(s) for dataset ${p.dataset}`);
    ctx.metric("rows", read.rowCount);
    return {
      data: {
        metadata: {
          dataset: p.dataset,
          rowCount: read.rowCount,
          format: "parquet",
          register: {
            type: "datasetVersion",
            dataset: p.dataset,
            schemaPolicy: p.schemaPolicy ?? "FAIL_ON_BREAKING",
            rowCount: read.rowCount,
            schema: read.schema,
            profile,
            origin: { kind: file ? "STAGE_INPUT" : "FILE", format: p.format, files: read.files, where: p.where ?? null },
          },
        },
      },
    };
  });
}
