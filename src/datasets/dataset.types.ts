import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { ErrorCode } from "../kernel/errors";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { CODE, ErrorInterface, MESSAGE, MutationResult, registerErrorMember } from "../kernel/graphql/results";
import type { DatasetSourceRow } from "./dataset-source.entity";
import type { DatasetVersionRow } from "./dataset-version.entity";
import type { DatasetRow } from "./dataset.entity";
import { SchemaPolicyError } from "./dataset.errors";
import type { ColumnProfile, ColumnSchema, DatasetProfile, FileFormat, SchemaDiff, SchemaPolicy } from "./types";

export const SchemaPolicyEnum = { ALLOW_ALL: "ALLOW_ALL", FAIL_ON_BREAKING: "FAIL_ON_BREAKING", FAIL_ON_ANY: "FAIL_ON_ANY" } as const;
registerEnumType(SchemaPolicyEnum, {
  name: "SchemaPolicy",
  description: "What a new version's schema may change: anything, only additive changes, or nothing.",
  valuesConfig: {
    FAIL_ON_BREAKING: { description: "Additive changes are accepted; breaking ones (removed, renamed, narrowed columns) are refused." },
    FAIL_ON_ANY: { description: "Any schema change is refused." },
    ALLOW_ALL: { description: "Any schema change is accepted." },
  },
});
export const SourceKindEnum = { FILE: "FILE", POSTGRES_QUERY: "POSTGRES_QUERY" } as const;
registerEnumType(SourceKindEnum, {
  description: "Where a source reads from: files on the server, or a PostgreSQL query.",
  name: "DatasetSourceKind",
  valuesConfig: {
    POSTGRES_QUERY: { description: "A read-only SELECT against a database whose URL is a project secret." },
    FILE: { description: "Files (paths or globs) inside the server's data roots." },
  },
});
export const FileFormatEnum = { csv: "csv", parquet: "parquet", json: "json", jsonl: "jsonl" } as const;
registerEnumType(FileFormatEnum, {
  description: "Format of a FILE source's files.",
  name: "FileFormat",
  valuesConfig: {
    parquet: { description: "Apache Parquet." },
    json: {
      description:
        "JSON: an array of objects, one row each (`[{…}, {…}]`), or objects one after another (a file holding one object is one row). Nested objects and arrays become STRUCT and LIST columns.",
    },
    jsonl: { description: "JSON Lines: one JSON object per line. Nested objects and arrays become STRUCT and LIST columns." },
    csv: { description: "Comma- (or otherwise) separated text; see `csv` options." },
  },
});

@ObjectType({ description: "A named series of immutable, content-hashed versions in a project." })
export class Dataset {
  @Field(() => ID, { description: "Server-assigned UUID of the dataset." })
  id: string;

  @Field(() => ID, { description: "Project the dataset belongs to." })
  projectId: string;

  @Field({ description: "Unique within the project: lowercase letters, digits, _ and -." })
  name: string;

  @Field({ description: "Free text; empty when none." })
  description: string;

  @Field(() => SchemaPolicyEnum, { description: "Which schema changes a new version may make." })
  schemaPolicy: SchemaPolicy;

  @Field(() => ID, { nullable: true, description: "UUID of the newest version; null before the first ingest." })
  latestVersionId: string | null;

  @Field({ description: "When the dataset was created." })
  createdAt: Date;

  @Field({ description: "When the dataset last changed (e.g. got a new version)." })
  updatedAt: Date;

  static from(row: DatasetRow): Dataset {
    return Object.assign(new Dataset(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      description: row.description,
      schemaPolicy: row.schemaPolicy,
      latestVersionId: row.latestVersionId,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "Where a dataset's data comes from. A SQL source names a secret; it never holds a credential." })
export class DatasetSource {
  @Field(() => ID, { description: "Server-assigned UUID of the source." })
  id: string;

  @Field(() => ID, { description: "The dataset the source feeds." })
  datasetId: string;

  @Field({ description: "Unique within the dataset; `ingestDataset` names a source by it." })
  name: string;

  @Field(() => SourceKindEnum, { description: "FILE or POSTGRES_QUERY." })
  kind: string;

  @Field(() => GraphQLJSONObject, { description: "The source config: paths, format and options, or secret name and query." })
  config: Record<string, unknown>;

  @Field({ description: "When the source was first put." })
  createdAt: Date;

  static from(row: DatasetSourceRow): DatasetSource {
    return Object.assign(new DatasetSource(), {
      id: row.id,
      datasetId: row.datasetId,
      name: row.name,
      kind: String(row.config.kind),
      config: row.config,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "One column of a dataset version's schema." })
export class DatasetColumn {
  @Field({ description: "Column name." })
  name: string;

  @Field({ description: "The DuckDB type, e.g. BIGINT, DOUBLE, VARCHAR, TIMESTAMP." })
  type: string;

  @Field({ description: "True when the column may hold nulls." })
  nullable: boolean;

  static from(c: ColumnSchema): DatasetColumn {
    return Object.assign(new DatasetColumn(), c);
  }
}

@ObjectType({ description: "One histogram bin: [lower, upper); the last bin includes upper." })
export class HistogramBin {
  @Field(() => Float, { description: "Lower bound, inclusive." })
  lower: number;

  @Field(() => Float, { description: "Upper bound, exclusive except for the last bin." })
  upper: number;

  @Field(() => Float, { description: "Values in the bin." })
  count: number;
}

@ObjectType({ description: "One quantile of a numeric column." })
export class QuantileValue {
  @Field(() => Float, { description: "The quantile, between 0 and 1 (0.5 is the median)." })
  q: number;

  @Field(() => Float, { description: "The column's value at that quantile." })
  value: number;
}

@ObjectType({ description: "One frequent value of a column and how often it occurs." })
export class TopValue {
  @Field({ description: "The value, as text." })
  value: string;

  @Field(() => Float, { description: "Rows holding the value." })
  count: number;
}

@ObjectType({ description: "What a version's profile says of one column, ready to plot." })
export class ColumnProfileType {
  @Field({ description: "Column name." })
  name: string;

  @Field({ description: "The DuckDB type, e.g. BIGINT, DOUBLE, VARCHAR." })
  type: string;

  @Field({ description: "`numeric`, `categorical`, `temporal` or `boolean`." })
  kind: string;

  @Field(() => Float, { description: "Values in the column, nulls included (the row count)." })
  count: number;

  @Field(() => Float, { description: "Number of null values." })
  nullCount: number;

  @Field(() => Float, {
    description:
      "Number of distinct non-null values: counted exactly when `distinctExact`, else a HyperLogLog estimate (on real columns, some per cent off either way).",
  })
  distinctCount: number;

  @Field({
    description:
      "True when `distinctCount` is exact; false when it is an estimate (versions over the exact-profile row bound, 10 M rows, and profiles stored before exact counts).",
  })
  distinctExact: boolean;

  @Field(() => Float, {
    description: "The number of distinct non-null values, as `distinctCount`.",
    deprecationReason: "Use `distinctCount`, and `distinctExact` to know whether it is exact.",
  })
  distinctEstimate: number;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`{ value }`: a number, string or ISO timestamp." })
  min: { value: unknown } | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: "`{ value }`: the largest value (a number, string or ISO timestamp); null when the column is all null or not orderable.",
  })
  max: { value: unknown } | null;

  @Field(() => Float, { nullable: true, description: "Mean of a numeric column; null for other kinds or when all values are null." })
  mean: number | null;

  @Field(() => Float, { nullable: true, description: "Standard deviation of a numeric column; null for other kinds or too few values." })
  std: number | null;

  @Field(() => [QuantileValue], {
    description:
      "Quantiles of a numeric column at q = 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99; empty for other kinds. When `quantilesExact`, an integer or decimal column's quantile is a value of the column (the smallest whose share of values at or below it reaches q) and a floating-point column's is interpolated between its two neighbouring values; otherwise they are t-digest estimates.",
  })
  quantiles: QuantileValue[];

  @Field({
    description:
      "True when `quantiles` are exact; false when they are estimates (versions over the exact-profile row bound, 10 M rows, and profiles stored before exact quantiles).",
  })
  quantilesExact: boolean;

  @Field(() => [HistogramBin], { description: "Equal-width bins of a numeric column; empty for other kinds." })
  histogram: HistogramBin[];

  @Field(() => [TopValue], { description: "The most frequent values with their counts, most frequent first." })
  topValues: TopValue[];

  static from(p: ColumnProfile): ColumnProfileType {
    // Profiles stored before exact statistics carry only `distinctEstimate`, and were estimates.
    const stored = p as Partial<ColumnProfile> & Pick<ColumnProfile, "distinctEstimate">;
    return Object.assign(new ColumnProfileType(), {
      ...p,
      distinctCount: stored.distinctCount ?? stored.distinctEstimate,
      distinctExact: stored.distinctExact ?? false,
      distinctEstimate: stored.distinctCount ?? stored.distinctEstimate,
      quantilesExact: stored.quantilesExact ?? false,
      min: p.min === null ? null : { value: p.min },
      max: p.max === null ? null : { value: p.max },
    });
  }
}

@ObjectType({ description: "Summary statistics of a dataset version, computed at ingest." })
export class DatasetProfileType {
  @Field(() => Float, { description: "Rows in the version." })
  rowCount: number;

  @Field(() => [ColumnProfileType], { description: "One profile per column, in schema order." })
  columns: ColumnProfileType[];

  static from(p: DatasetProfile): DatasetProfileType {
    return Object.assign(new DatasetProfileType(), { rowCount: p.rowCount, columns: p.columns.map(ColumnProfileType.from) });
  }
}

@ObjectType({ description: "A column whose type changed." })
export class RetypedColumn {
  @Field({ description: "Column name." })
  name: string;

  @Field({ description: "The DuckDB type in the earlier version." })
  from: string;

  @Field({ description: "The DuckDB type in this version." })
  to: string;

  @Field({ description: "Every old value fits the new type (e.g. INTEGER to BIGINT)." })
  widening: boolean;
}

@ObjectType({ description: "A column that looks renamed: removed under one name and added under another." })
export class RenamedColumn {
  @Field({ description: "The column's name in the earlier version." })
  from: string;

  @Field({ description: "The column's name in this version." })
  to: string;

  @Field({ description: "The column's DuckDB type." })
  type: string;

  @Field({ description: "Why it looks renamed: similar names or matching values." })
  reason: string;
}

@ObjectType({ description: "How a version's columns differ from the version before." })
export class SchemaDiffType {
  @Field(() => [DatasetColumn], { description: "Columns only in this version." })
  added: DatasetColumn[];

  @Field(() => [DatasetColumn], { description: "Columns only in the earlier version." })
  removed: DatasetColumn[];

  @Field(() => [RetypedColumn], { description: "Columns whose type changed." })
  retyped: RetypedColumn[];

  @Field(() => [RenamedColumn], { description: "Columns that look renamed." })
  renamed: RenamedColumn[];

  @Field({ description: "True when a change could break readers (a column removed, renamed or narrowed)." })
  breaking: boolean;

  @Field({ description: "True when anything differs." })
  changed: boolean;

  static from(d: SchemaDiff): SchemaDiffType {
    return Object.assign(new SchemaDiffType(), {
      ...d,
      added: d.added.map(DatasetColumn.from),
      removed: d.removed.map(DatasetColumn.from),
      retyped: d.retyped.map((r) => Object.assign(new RetypedColumn(), r)),
      renamed: d.renamed.map((r) => Object.assign(new RenamedColumn(), r)),
    });
  }
}

@ObjectType({ description: "One immutable version of a dataset: a Parquet artifact with its schema and profile." })
export class DatasetVersion {
  @Field(() => ID, { description: "Server-assigned UUID of the version." })
  id: string;

  @Field(() => ID, { description: "The dataset this is a version of." })
  datasetId: string;

  /** The dataset's project, for field resolvers' authorization. */
  projectId: string;

  @Field(() => Int, { description: "1, 2, 3… in order of ingestion." })
  version: number;

  @Field({ description: "`sha256:<hex>` of the Parquet file." })
  contentHash: string;

  @Field(() => ID, { description: "The Parquet artifact holding the data." })
  artifactId: string;

  @Field(() => Float, { description: "Rows in the version." })
  rowCount: number;

  @Field(() => [DatasetColumn], { description: "The columns, in order." })
  schema: DatasetColumn[];

  @Field(() => DatasetProfileType, { description: "Summary statistics of each column." })
  profile: DatasetProfileType;

  @Field(() => SchemaDiffType, { nullable: true, description: "Null for the first version." })
  schemaDiff: SchemaDiffType | null;

  @Field(() => ID, { nullable: true, description: "The source it was ingested from; null for an upload or a run's output." })
  sourceId: string | null;

  @Field(() => GraphQLJSONObject, { description: "What was read: files with sizes, the query, or the upload." })
  origin: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: "The stage run that produced it." })
  producedBy: string | null;

  @Field({ description: "When the version was recorded." })
  createdAt: Date;

  static from(row: DatasetVersionRow, projectId: string): DatasetVersion {
    return Object.assign(new DatasetVersion(), {
      id: row.id,
      datasetId: row.datasetId,
      projectId,
      version: row.version,
      contentHash: row.contentHash,
      artifactId: row.artifactId,
      rowCount: Number(row.rowCount),
      schema: (row.schema as unknown as ColumnSchema[]).map(DatasetColumn.from),
      profile: DatasetProfileType.from(row.profile as unknown as DatasetProfile),
      schemaDiff: row.schemaDiff ? SchemaDiffType.from(row.schemaDiff as unknown as SchemaDiff) : null,
      sourceId: row.sourceId,
      origin: row.origin,
      producedBy: row.producedBy,
      createdAt: row.createdAt,
    });
  }
}

export const {
  Connection: DatasetConnection,
  Order: DatasetOrder,
  sortOf: datasetSort,
  Filter: DatasetFilter,
} = ListTypes(Dataset, "Dataset", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    projectId: FilterBy.id("Only datasets of this project."),
    nameContains: FilterBy.text("Only datasets whose name contains this text."),
  },
});
export type DatasetConnection = InstanceType<typeof DatasetConnection>;
export type DatasetOrder = InstanceType<typeof DatasetOrder>;
export type DatasetFilter = InstanceType<typeof DatasetFilter>;

export const {
  Connection: DatasetVersionConnection,
  Order: DatasetVersionOrder,
  sortOf: datasetVersionSort,
} = ListTypes(DatasetVersion, "DatasetVersion", {
  orderBy: { VERSION: "version", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "version", direction: "DESC" },
});
export type DatasetVersionConnection = InstanceType<typeof DatasetVersionConnection>;
export type DatasetVersionOrder = InstanceType<typeof DatasetVersionOrder>;

@InputType({ description: "A new, empty dataset: project, name, description and schema policy." })
export class CreateDatasetInput {
  @Field(() => ID, { description: "Project the dataset belongs to; the caller needs EDITOR there." })
  projectId: string;

  @Field({ description: "Lowercase letters, digits, _ and -." })
  name: string;

  @Field(() => String, { nullable: true, description: "Free text; empty when omitted." })
  description?: string | null;

  @Field(() => SchemaPolicyEnum, { nullable: true, description: "Default FAIL_ON_BREAKING." })
  schemaPolicy?: SchemaPolicy | null;
}

@InputType({ description: "Changes to a dataset; omitted fields stay as they are." })
export class UpdateDatasetInput {
  @Field(() => ID, { description: "UUID of the dataset to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "The new description." })
  description?: string | null;

  @Field(() => SchemaPolicyEnum, { nullable: true, description: "The new schema policy; applies to later versions." })
  schemaPolicy?: SchemaPolicy | null;
}

@InputType({ description: "How to read CSV files; each omitted option is detected from the file." })
export class CsvOptionsInput {
  @Field(() => String, { nullable: true, description: "Column separator, e.g. `,` or `\\t`." })
  delimiter?: string | null;

  @Field(() => Boolean, { nullable: true, description: "True when the first line holds the column names." })
  header?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Character that quotes values, usually `"`.' })
  quote?: string | null;

  @Field(() => String, { nullable: true, description: "Character that escapes a quote inside a quoted value." })
  escape?: string | null;

  @Field(() => String, { nullable: true, description: "The text that stands for null, e.g. `NA`." })
  nullString?: string | null;
}

@InputType({ description: "A FILE source (paths, format) or a POSTGRES_QUERY source (secret, query)." })
export class PutDatasetSourceInput {
  @Field(() => ID, { description: "The dataset the source feeds; the caller needs EDITOR in its project." })
  datasetId: string;

  @Field({ description: "Unique within the dataset; putting an existing name replaces that source." })
  name: string;

  @Field(() => SourceKindEnum, { description: "FILE or POSTGRES_QUERY; decides which other fields apply." })
  kind: "FILE" | "POSTGRES_QUERY";

  @Field(() => [String], { nullable: true, description: "FILE: paths or globs inside SLUICE_DATA_ROOTS." })
  paths?: string[] | null;

  @Field(() => FileFormatEnum, { nullable: true, description: "FILE: the files' format; detected from the extension when omitted." })
  format?: FileFormat | null;

  @Field(() => Boolean, { nullable: true, description: "FILE: read key=value folder names as columns." })
  hivePartitioning?: boolean | null;

  @Field(() => CsvOptionsInput, { nullable: true, description: "FILE with csv: how to read the files; omitted options are detected." })
  csv?: CsvOptionsInput | null;

  @Field(() => String, { nullable: true, description: "POSTGRES_QUERY: the name of a project secret holding the database URL." })
  secret?: string | null;

  @Field(() => String, { nullable: true, description: "POSTGRES_QUERY: a read-only SELECT." })
  query?: string | null;
}

@InputType({ description: "Which dataset to ingest, from which of its sources." })
export class IngestDatasetInput {
  @Field(() => ID, { description: "UUID of the dataset." })
  datasetId: string;

  @Field({ description: "The source's name." })
  source: string;
}

@InputType({ description: "Names one dataset." })
export class DatasetIdInput {
  @Field(() => ID, { description: "UUID of the dataset." })
  id: string;
}

@ObjectType({ description: "The dataset after the change." })
export class DatasetPayload {
  @Field(() => Dataset, { description: "The dataset after the change." })
  dataset: Dataset;
}

@ObjectType({ description: "The source after the change." })
export class DatasetSourcePayload {
  @Field(() => DatasetSource, { description: "The source after the change." })
  source: DatasetSource;
}

@ObjectType({ description: "The version the ingest produced or found." })
export class IngestDatasetPayload {
  @Field(() => DatasetVersion, { description: "The new version, or the existing one with identical data when `created` is false." })
  version: DatasetVersion;

  @Field({ description: "False when the data was identical to an existing version (which is returned)." })
  created: boolean;
}

@ObjectType("SchemaChangeRefusedError", {
  implements: ErrorInterface,
  description: "The new data changes the schema in a way the dataset's policy refuses; no version was recorded.",
})
export class SchemaChangeRefused implements ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: CODE })
  code: ErrorCode;

  @Field(() => SchemaPolicyEnum, { description: "The dataset's policy that refused the change." })
  policy: SchemaPolicy;

  @Field(() => [String], { description: "Each change the policy refuses, in words." })
  violations: string[];

  @Field(() => SchemaDiffType, { description: "How the new data's columns differ from the latest version." })
  diff: SchemaDiffType;
}
registerErrorMember(SchemaPolicyError, SchemaChangeRefused, (err) => ({
  policy: err.policy,
  violations: err.violations,
  diff: SchemaDiffType.from(err.diff),
}));

export const DatasetResult = MutationResult("Dataset", DatasetPayload);
export const DatasetSourceResult = MutationResult("DatasetSource", DatasetSourcePayload);
export const IngestDatasetResult = MutationResult("IngestDataset", IngestDatasetPayload, [SchemaChangeRefused]);
