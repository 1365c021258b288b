import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { ErrorCode } from "../kernel/errors";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { CODE, ErrorInterface, MESSAGE, MutationResult, registerErrorMember } from "../kernel/graphql/results";
import type { DatasetSourceRow } from "./dataset-source.entity";
import type { DatasetVersionRow } from "./dataset-version.entity";
import type { DatasetRow } from "./dataset.entity";
import { SchemaPolicyError } from "./dataset.errors";
import type { ColumnProfile, ColumnSchema, DatasetProfile, SchemaDiff, SchemaPolicy } from "./types";

export const SchemaPolicyEnum = { ALLOW_ALL: "ALLOW_ALL", FAIL_ON_BREAKING: "FAIL_ON_BREAKING", FAIL_ON_ANY: "FAIL_ON_ANY" } as const;
registerEnumType(SchemaPolicyEnum, {
  name: "SchemaPolicy",
  description: "What a new version's schema may change: anything, only additive changes, or nothing.",
});
export const SourceKindEnum = { FILE: "FILE", POSTGRES_QUERY: "POSTGRES_QUERY" } as const;
registerEnumType(SourceKindEnum, { name: "DatasetSourceKind" });
export const FileFormatEnum = { csv: "csv", parquet: "parquet", jsonl: "jsonl" } as const;
registerEnumType(FileFormatEnum, { name: "FileFormat" });

@ObjectType({ description: "A named series of immutable, content-hashed versions in a project." })
export class Dataset {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field()
  name: string;

  @Field()
  description: string;

  @Field(() => SchemaPolicyEnum)
  schemaPolicy: SchemaPolicy;

  @Field(() => ID, { nullable: true })
  latestVersionId: string | null;

  @Field()
  createdAt: Date;

  @Field()
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
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

  @Field()
  name: string;

  @Field(() => SourceKindEnum)
  kind: string;

  @Field(() => GraphQLJSONObject, { description: "The source config: paths, format and options, or secret name and query." })
  config: Record<string, unknown>;

  @Field()
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

@ObjectType()
export class DatasetColumn {
  @Field()
  name: string;

  @Field({ description: "The DuckDB type, e.g. BIGINT, DOUBLE, VARCHAR, TIMESTAMP." })
  type: string;

  @Field()
  nullable: boolean;

  static from(c: ColumnSchema): DatasetColumn {
    return Object.assign(new DatasetColumn(), c);
  }
}

@ObjectType({ description: "One histogram bin: [lower, upper); the last bin includes upper." })
export class HistogramBin {
  @Field(() => Float)
  lower: number;

  @Field(() => Float)
  upper: number;

  @Field(() => Float)
  count: number;
}

@ObjectType()
export class QuantileValue {
  @Field(() => Float)
  q: number;

  @Field(() => Float)
  value: number;
}

@ObjectType()
export class TopValue {
  @Field()
  value: string;

  @Field(() => Float)
  count: number;
}

@ObjectType({ description: "What a version's profile says of one column, ready to plot." })
export class ColumnProfileType {
  @Field()
  name: string;

  @Field()
  type: string;

  @Field({ description: "`numeric`, `categorical`, `temporal` or `boolean`." })
  kind: string;

  @Field(() => Float)
  count: number;

  @Field(() => Float)
  nullCount: number;

  @Field(() => Float)
  distinctEstimate: number;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`{ value }`: a number, string or ISO timestamp." })
  min: { value: unknown } | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  max: { value: unknown } | null;

  @Field(() => Float, { nullable: true })
  mean: number | null;

  @Field(() => Float, { nullable: true })
  std: number | null;

  @Field(() => [QuantileValue])
  quantiles: QuantileValue[];

  @Field(() => [HistogramBin])
  histogram: HistogramBin[];

  @Field(() => [TopValue])
  topValues: TopValue[];

  static from(p: ColumnProfile): ColumnProfileType {
    return Object.assign(new ColumnProfileType(), {
      ...p,
      min: p.min === null ? null : { value: p.min },
      max: p.max === null ? null : { value: p.max },
    });
  }
}

@ObjectType()
export class DatasetProfileType {
  @Field(() => Float)
  rowCount: number;

  @Field(() => [ColumnProfileType])
  columns: ColumnProfileType[];

  static from(p: DatasetProfile): DatasetProfileType {
    return Object.assign(new DatasetProfileType(), { rowCount: p.rowCount, columns: p.columns.map(ColumnProfileType.from) });
  }
}

@ObjectType()
export class RetypedColumn {
  @Field()
  name: string;

  @Field()
  from: string;

  @Field()
  to: string;

  @Field({ description: "Every old value fits the new type (e.g. INTEGER to BIGINT)." })
  widening: boolean;
}

@ObjectType()
export class RenamedColumn {
  @Field()
  from: string;

  @Field()
  to: string;

  @Field()
  type: string;

  @Field({ description: "Why it looks renamed: similar names or matching values." })
  reason: string;
}

@ObjectType({ description: "How a version's columns differ from the version before." })
export class SchemaDiffType {
  @Field(() => [DatasetColumn])
  added: DatasetColumn[];

  @Field(() => [DatasetColumn])
  removed: DatasetColumn[];

  @Field(() => [RetypedColumn])
  retyped: RetypedColumn[];

  @Field(() => [RenamedColumn])
  renamed: RenamedColumn[];

  @Field()
  breaking: boolean;

  @Field()
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
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  datasetId: string;

  /** The dataset's project, for field resolvers' authorization. */
  projectId: string;

  @Field(() => Int)
  version: number;

  @Field({ description: "`sha256:<hex>` of the Parquet file." })
  contentHash: string;

  @Field(() => ID)
  artifactId: string;

  @Field(() => Float)
  rowCount: number;

  @Field(() => [DatasetColumn])
  schema: DatasetColumn[];

  @Field(() => DatasetProfileType)
  profile: DatasetProfileType;

  @Field(() => SchemaDiffType, { nullable: true, description: "Null for the first version." })
  schemaDiff: SchemaDiffType | null;

  @Field(() => ID, { nullable: true })
  sourceId: string | null;

  @Field(() => GraphQLJSONObject, { description: "What was read: files with sizes, the query, or the upload." })
  origin: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: "The stage run that produced it." })
  producedBy: string | null;

  @Field()
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

@InputType()
export class CreateDatasetInput {
  @Field(() => ID)
  projectId: string;

  @Field({ description: "Lowercase letters, digits, _ and -." })
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => SchemaPolicyEnum, { nullable: true, description: "Default FAIL_ON_BREAKING." })
  schemaPolicy?: SchemaPolicy | null;
}

@InputType()
export class UpdateDatasetInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => SchemaPolicyEnum, { nullable: true })
  schemaPolicy?: SchemaPolicy | null;
}

@InputType()
export class CsvOptionsInput {
  @Field(() => String, { nullable: true })
  delimiter?: string | null;

  @Field(() => Boolean, { nullable: true })
  header?: boolean | null;

  @Field(() => String, { nullable: true })
  quote?: string | null;

  @Field(() => String, { nullable: true })
  escape?: string | null;

  @Field(() => String, { nullable: true })
  nullString?: string | null;
}

@InputType({ description: "A FILE source (paths, format) or a POSTGRES_QUERY source (secret, query)." })
export class PutDatasetSourceInput {
  @Field(() => ID)
  datasetId: string;

  @Field()
  name: string;

  @Field(() => SourceKindEnum)
  kind: "FILE" | "POSTGRES_QUERY";

  @Field(() => [String], { nullable: true, description: "FILE: paths or globs inside SLUICE_DATA_ROOTS." })
  paths?: string[] | null;

  @Field(() => FileFormatEnum, { nullable: true })
  format?: "csv" | "parquet" | "jsonl" | null;

  @Field(() => Boolean, { nullable: true, description: "FILE: read key=value folder names as columns." })
  hivePartitioning?: boolean | null;

  @Field(() => CsvOptionsInput, { nullable: true })
  csv?: CsvOptionsInput | null;

  @Field(() => String, { nullable: true, description: "POSTGRES_QUERY: the name of a project secret holding the database URL." })
  secret?: string | null;

  @Field(() => String, { nullable: true, description: "POSTGRES_QUERY: a read-only SELECT." })
  query?: string | null;
}

@InputType()
export class IngestDatasetInput {
  @Field(() => ID)
  datasetId: string;

  @Field({ description: "The source's name." })
  source: string;
}

@InputType()
export class DatasetIdInput {
  @Field(() => ID)
  id: string;
}

@ObjectType()
export class DatasetPayload {
  @Field(() => Dataset)
  dataset: Dataset;
}

@ObjectType()
export class DatasetSourcePayload {
  @Field(() => DatasetSource)
  source: DatasetSource;
}

@ObjectType()
export class IngestDatasetPayload {
  @Field(() => DatasetVersion)
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

  @Field(() => SchemaPolicyEnum)
  policy: SchemaPolicy;

  @Field(() => [String])
  violations: string[];

  @Field(() => SchemaDiffType)
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
