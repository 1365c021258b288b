import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Database } from "../db/data-source";
import type { SecretService } from "../secrets";
import type { DatasetService, Materialized } from "./dataset.service";
import { materializePostgresQuery, type QueryOptions } from "./sources/postgres-query";
import type { FileFormat, SourceConfig } from "./types";

/**
 * Turns a source into a materialized data set (Parquet in the artifact store, with schema and
 * profile), whatever the source: files inside the allowed roots, or a read-only query whose
 * database URL is a project secret (revealed here, used once, never logged or returned).
 */
export class IngestionService {
  constructor(
    private readonly db: Database,
    private readonly datasets: DatasetService,
    private readonly secrets: SecretService,
    private readonly roots: readonly string[],
    /** The bounds of SQL sources (SLUICE_SQL_SOURCE_TIMEOUT_MS, SLUICE_SQL_SOURCE_MAX_ROWS). */
    private readonly queryLimits: Pick<QueryOptions, "statementTimeoutMs" | "maxRows"> = {},
  ) {}

  async materialize(projectId: string, config: SourceConfig): Promise<Materialized> {
    if (config.kind === "FILE") return this.datasets.materializeFileSource(config, [...this.roots]);
    const url = await this.secrets.reveal(this.db.dataSource.manager, projectId, config.secret);
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-query-"));
    try {
      const out = path.join(scratch, "data.parquet");
      const read = await materializePostgresQuery(config, url, out, this.queryLimits);
      return await this.datasets.storeParquet(out, read.rowCount, read.schema, {
        kind: "POSTGRES_QUERY",
        secret: config.secret,
        query: config.query,
      });
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  /** Materializes an uploaded file (already on local disk) of `format`. */
  async materializeUpload(file: string, format: FileFormat, name: string): Promise<Materialized> {
    const data = await this.datasets.materializeFileSource({ kind: "FILE", paths: [file], format }, [path.dirname(file)]);
    return { ...data, origin: { kind: "UPLOAD", name, format, size: (await fs.stat(file).catch(() => ({ size: 0 }))).size } };
  }
}
