import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
import { MutationResult } from "../kernel/graphql/results";
import type { ExpectationResult } from "./run-suite";
import type { ValidationReportRow } from "./validation-report.entity";
import type { ValidationSuiteRow } from "./validation-suite.entity";

@ObjectType({ description: "One version of an expectation suite attached to a dataset." })
export class ValidationSuite {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  datasetId: string;

  @Field()
  name: string;

  @Field(() => Int)
  version: number;

  @Field(() => GraphQLJSONObject, {
    description: "The suite, defaults filled in: `{ name, expectations: [{ type, column?, severity, mostly, … }] }`.",
  })
  definition: Record<string, unknown>;

  @Field({ description: "`sha256:` of the canonical definition." })
  hash: string;

  @Field()
  createdAt: Date;

  static from(row: ValidationSuiteRow): ValidationSuite {
    return Object.assign(new ValidationSuite(), {
      id: row.id,
      projectId: row.projectId,
      datasetId: row.datasetId,
      name: row.name,
      version: row.version,
      definition: row.definition,
      hash: row.hash,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "What one expectation found." })
export class ExpectationResultType {
  @Field(() => Int, { description: "Position in the suite." })
  index: number;

  @Field(() => String, { nullable: true })
  id: string | null;

  @Field()
  type: string;

  @Field(() => String, { nullable: true })
  column: string | null;

  @Field({ description: "`warn` or `error`." })
  severity: string;

  @Field()
  success: boolean;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description:
      "Row-level: the fraction of rows that pass; otherwise the row count, mean, std, quantile, age in seconds, or PSI/KS statistic.",
  })
  observedValue: number | string | null;

  @Field(() => Float, { nullable: true })
  elementCount: number | null;

  @Field(() => Float, { nullable: true, description: "Row-level expectations only." })
  unexpectedCount: number | null;

  @Field(() => Float, { nullable: true })
  unexpectedFraction: number | null;

  @Field(() => Float, { nullable: true })
  mostly: number | null;

  @Field(() => [GraphQLJSONObject], { description: "Whole failing rows, at most 20." })
  sampleFailingRows: Record<string, unknown>[];

  @Field(() => GraphQLJSONObject, { nullable: true, description: "PSI bins, KS p-value, freshness times…" })
  details: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "Why the expectation could not be evaluated." })
  error: string | null;

  static from(r: ExpectationResult): ExpectationResultType {
    return Object.assign(new ExpectationResultType(), { ...r, details: r.details ?? null, error: r.error ?? null });
  }
}

@ObjectType()
export class ValidationStatistics {
  @Field(() => Int)
  evaluated: number;

  @Field(() => Int)
  successful: number;

  @Field(() => Int)
  failedWarn: number;

  @Field(() => Int)
  failedError: number;
}

@ObjectType({ description: "A dataset version checked against a suite." })
export class ValidationReport {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  datasetId: string;

  @Field(() => ID)
  datasetVersionId: string;

  @Field(() => ID, { nullable: true, description: "The stored suite; null for a pipeline stage's inline suite." })
  suiteId: string | null;

  @Field()
  suiteName: string;

  @Field()
  suiteHash: string;

  @Field({ description: "No `error`-severity expectation failed." })
  success: boolean;

  @Field(() => Float)
  rowCount: number;

  @Field(() => ValidationStatistics)
  statistics: ValidationStatistics;

  @Field(() => [ExpectationResultType])
  results: ExpectationResultType[];

  @Field(() => ID, { nullable: true })
  referenceVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "The version of `<dataset>-quarantine` holding the failing rows." })
  quarantineVersionId: string | null;

  @Field(() => ID, { nullable: true })
  stageRunId: string | null;

  @Field(() => Int)
  durationMs: number;

  @Field()
  createdAt: Date;

  static from(row: ValidationReportRow): ValidationReport {
    return Object.assign(new ValidationReport(), {
      id: row.id,
      projectId: row.projectId,
      datasetId: row.datasetId,
      datasetVersionId: row.datasetVersionId,
      suiteId: row.suiteId,
      suiteName: row.suiteName,
      suiteHash: row.suiteHash,
      success: row.success,
      rowCount: Number(row.rowCount),
      statistics: row.statistics,
      results: (row.results as unknown as ExpectationResult[]).map(ExpectationResultType.from),
      referenceVersionId: row.referenceVersionId,
      quarantineVersionId: row.quarantineVersionId,
      stageRunId: row.stageRunId,
      durationMs: row.durationMs,
      createdAt: row.createdAt,
    });
  }
}

export const ValidationSuiteConnection = Connection(ValidationSuite, "ValidationSuite");
export type ValidationSuiteConnection = InstanceType<typeof ValidationSuiteConnection>;
export const ValidationReportConnection = Connection(ValidationReport, "ValidationReport");
export type ValidationReportConnection = InstanceType<typeof ValidationReportConnection>;
export const { Order: ValidationSuiteOrder, sortOf: validationSuiteSort } = OrderBy(
  "ValidationSuite",
  { NAME: "name", VERSION: "version", CREATED_AT: "createdAt" } as const,
  { property: "createdAt", direction: "DESC" },
);
export type ValidationSuiteOrder = InstanceType<typeof ValidationSuiteOrder>;
export const { Order: ValidationReportOrder, sortOf: validationReportSort } = OrderBy(
  "ValidationReport",
  { CREATED_AT: "createdAt" } as const,
  { property: "createdAt", direction: "DESC" },
);
export type ValidationReportOrder = InstanceType<typeof ValidationReportOrder>;

@InputType()
export class ValidationSuiteFilter {
  @Field(() => ID, { nullable: true })
  projectId?: string | null;

  @Field(() => ID, { nullable: true })
  datasetId?: string | null;

  @Field(() => String, { nullable: true })
  name?: string | null;
}

@InputType()
export class ValidationReportFilter {
  @Field(() => ID, { nullable: true })
  projectId?: string | null;

  @Field(() => ID, { nullable: true })
  datasetId?: string | null;

  @Field(() => ID, { nullable: true })
  datasetVersionId?: string | null;

  @Field(() => String, { nullable: true })
  suiteName?: string | null;

  @Field(() => Boolean, { nullable: true })
  success?: boolean | null;
}

@InputType()
export class DefineValidationSuiteInput {
  @Field(() => ID)
  datasetId: string;

  @Field({ description: "Lowercase letters, digits, _ and -." })
  name: string;

  @Field(() => [GraphQLJSONObject], {
    description:
      "Expectations: `{ type, column?, severity?: warn|error (error), mostly?: (0,1] (1), … }` with type not_null, between, in_set, unique, matches_regex, value_lengths_between, row_count_between, mean_between, std_between, quantile_between, freshness, distribution.",
  })
  expectations: Record<string, unknown>[];
}

@InputType()
export class ValidateDatasetInput {
  @Field(() => ID, { description: "The dataset version to check." })
  versionId: string;

  @Field(() => ID, { nullable: true, description: "A stored suite version; or give `suite` to use the newest version of that name." })
  suiteId?: string | null;

  @Field(() => String, { nullable: true })
  suite?: string | null;

  @Field(() => ID, { nullable: true, description: "The version `distribution` expectations compare with. Default: the version before." })
  referenceVersionId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Write rows failing `error` row-level expectations to a version of `<dataset>-quarantine`. Default false.",
  })
  quarantine?: boolean | null;
}

@ObjectType()
export class ValidationSuitePayload {
  @Field(() => ValidationSuite)
  suite: ValidationSuite;

  @Field({ description: "False when the definition equals the newest version's (which is returned)." })
  created: boolean;
}

@ObjectType()
export class ValidationReportPayload {
  @Field(() => ValidationReport)
  report: ValidationReport;
}

export const ValidationSuiteResult = MutationResult("ValidationSuite", ValidationSuitePayload);
export const ValidationReportResult = MutationResult("ValidationReport", ValidationReportPayload);
