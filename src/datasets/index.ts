/**
 * The public surface of `datasets`: datasets, their sources and immutable, content-addressed
 * Parquet versions with profiles and schema policies. Other capabilities relate rows to a
 * `DatasetRow` or `DatasetVersionRow`, write derived versions through `DatasetService`, and
 * return the GraphQL `Dataset` types. The DuckDB layer every columnar capability uses has its own
 * entry, `columnar/index.ts`: it is pure (no database, no GraphQL), so pure cores can import it.
 */
export { DatasetRow } from "./dataset.entity";
export { DatasetVersionRow } from "./dataset-version.entity";
export { Dataset, DatasetVersion } from "./dataset.types";
export type { DatasetService, Materialized, WriteTx } from "./dataset.service";
export type { ColumnSchema, DatasetProfile, SchemaPolicy } from "./types";
