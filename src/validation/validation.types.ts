import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { ExpectationResult } from "./run-suite";
import type { ValidationReportRow } from "./validation-report.entity";
import type { ValidationSuiteRow } from "./validation-suite.entity";

@ObjectType({ description: "One version of an expectation suite attached to a dataset." })
export class ValidationSuite {
  @Field(() => ID, { description: "Server-assigned UUID of this suite version." })
  id: string;

  @Field(() => ID, { description: "The dataset's project." })
  projectId: string;

  @Field(() => ID, { description: "The dataset the suite is attached to." })
  datasetId: string;

  @Field({ description: "The suite's name, unique per dataset; its versions share it." })
  name: string;

  @Field(() => Int, { description: "1 for the first definition of the name, +1 for each changed one." })
  version: number;

  @Field(() => GraphQLJSONObject, {
    description: "The suite, defaults filled in: `{ name, expectations: [{ type, column?, severity, mostly, … }] }`.",
  })
  definition: Record<string, unknown>;

  @Field({ description: "`sha256:` of the canonical definition." })
  hash: string;

  @Field({ description: "When this version was defined." })
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

  @Field(() => String, { nullable: true, description: "The expectation's own `id` from the suite; null when it has none." })
  id: string | null;

  @Field({ description: "The expectation type, e.g. `not_null`, `between`, `distribution`." })
  type: string;

  @Field(() => String, {
    nullable: true,
    description: "The column checked; null for table-level expectations such as `row_count_between`.",
  })
  column: string | null;

  @Field({ description: "`warn` or `error`." })
  severity: string;

  @Field({ description: "Whether the expectation held; false also when it could not be evaluated (see `error`)." })
  success: boolean;

  @Field(() => GraphQLJSON, {
    nullable: true,
    description:
      "Row-level: the fraction of rows that pass; otherwise the row count, mean, std, quantile, age in seconds, or PSI/KS statistic.",
  })
  observedValue: number | string | null;

  @Field(() => Float, {
    nullable: true,
    description: "Rows judged: the non-null values (every row for `not_null` and `row_count_between`).",
  })
  elementCount: number | null;

  @Field(() => Float, { nullable: true, description: "Row-level expectations only." })
  unexpectedCount: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "`unexpectedCount / elementCount` (0 when nothing was judged); null for aggregate expectations.",
  })
  unexpectedFraction: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "The passing fraction the expectation requires, 0-1; null for aggregates, which ignore it.",
  })
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

@ObjectType({ description: "Counts of a report's expectation results." })
export class ValidationStatistics {
  @Field(() => Int, { description: "Expectations in the suite (each has a result)." })
  evaluated: number;

  @Field(() => Int, { description: "Expectations that held." })
  successful: number;

  @Field(() => Int, { description: "Failed expectations of severity `warn`." })
  failedWarn: number;

  @Field(() => Int, { description: "Failed expectations of severity `error`; the report fails when this is above 0." })
  failedError: number;
}

@ObjectType({ description: "A dataset version checked against a suite." })
export class ValidationReport {
  @Field(() => ID, { description: "Server-assigned UUID of the report." })
  id: string;

  @Field(() => ID, { description: "The dataset's project." })
  projectId: string;

  @Field(() => ID, { description: "The dataset checked." })
  datasetId: string;

  @Field(() => ID, { description: "The dataset version checked." })
  datasetVersionId: string;

  @Field(() => ID, { nullable: true, description: "The stored suite; null for a pipeline stage's inline suite." })
  suiteId: string | null;

  @Field({ description: "The suite's name (inline suites have one too)." })
  suiteName: string;

  @Field({ description: "`sha256:` of the suite definition used, to tell versions apart." })
  suiteHash: string;

  @Field({ description: "No `error`-severity expectation failed." })
  success: boolean;

  @Field(() => Float, { description: "Rows in the dataset version." })
  rowCount: number;

  @Field(() => ValidationStatistics, { description: "How many expectations held and failed, by severity." })
  statistics: ValidationStatistics;

  @Field(() => [ExpectationResultType], { description: "One result per expectation, in suite order." })
  results: ExpectationResultType[];

  @Field(() => ID, { nullable: true, description: "The dataset version `distribution` expectations compared with; null when none did." })
  referenceVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "The version of `<dataset>-quarantine` holding the failing rows." })
  quarantineVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "The pipeline stage run that validated; null for the `validateDataset` mutation." })
  stageRunId: string | null;

  @Field(() => Int, { description: "How long the check took, in milliseconds." })
  durationMs: number;

  @Field({ description: "When the report was stored." })
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

export const {
  Connection: ValidationSuiteConnection,
  Order: ValidationSuiteOrder,
  sortOf: validationSuiteSort,
  Filter: ValidationSuiteFilter,
} = ListTypes(ValidationSuite, "ValidationSuite", {
  orderBy: { NAME: "name", VERSION: "version", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only suites of this project."),
    datasetId: FilterBy.id("Only suites attached to this dataset."),
    name: FilterBy.text("Only versions of the suite of this name (exact)."),
  },
});
export type ValidationSuiteConnection = InstanceType<typeof ValidationSuiteConnection>;
export type ValidationSuiteOrder = InstanceType<typeof ValidationSuiteOrder>;
export type ValidationSuiteFilter = InstanceType<typeof ValidationSuiteFilter>;

export const {
  Connection: ValidationReportConnection,
  Order: ValidationReportOrder,
  sortOf: validationReportSort,
  Filter: ValidationReportFilter,
} = ListTypes(ValidationReport, "ValidationReport", {
  orderBy: { CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only reports of this project."),
    datasetId: FilterBy.id("Only reports on versions of this dataset."),
    datasetVersionId: FilterBy.id("Only reports on this dataset version."),
    suiteName: FilterBy.text("Only reports of the suite of this name (exact)."),
    success: FilterBy.flag("True: only passing reports; false: only failing ones."),
  },
});
export type ValidationReportConnection = InstanceType<typeof ValidationReportConnection>;
export type ValidationReportOrder = InstanceType<typeof ValidationReportOrder>;
export type ValidationReportFilter = InstanceType<typeof ValidationReportFilter>;

@InputType({ description: "A suite definition for a dataset; a changed definition of an existing name makes a new version." })
export class DefineValidationSuiteInput {
  @Field(() => ID, { description: "The dataset to attach the suite to." })
  datasetId: string;

  @Field({ description: "Lowercase letters, digits, _ and -." })
  name: string;

  @Field(() => [GraphQLJSONObject], {
    description:
      "Expectations: `{ type, column?, severity?: warn|error (error), mostly?: (0,1] (1), … }` with type not_null, between, in_set, unique, matches_regex, value_lengths_between, row_count_between, mean_between, std_between, quantile_between, freshness, distribution.",
  })
  expectations: Record<string, unknown>[];
}

@InputType({ description: "Checks one dataset version against a stored suite, now." })
export class ValidateDatasetInput {
  @Field(() => ID, { description: "The dataset version to check." })
  versionId: string;

  @Field(() => ID, { nullable: true, description: "A stored suite version; or give `suite` to use the newest version of that name." })
  suiteId?: string | null;

  @Field(() => String, { nullable: true, description: "A suite name of the dataset; its newest version is used. Give this or `suiteId`." })
  suite?: string | null;

  @Field(() => ID, { nullable: true, description: "The version `distribution` expectations compare with. Default: the version before." })
  referenceVersionId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Write rows failing `error` row-level expectations to a version of `<dataset>-quarantine`. Default false.",
  })
  quarantine?: boolean | null;
}

@ObjectType({ description: "The suite version a definition resolved to." })
export class ValidationSuitePayload {
  @Field(() => ValidationSuite, { description: "The new version, or the newest one when the definition was unchanged." })
  suite: ValidationSuite;

  @Field({ description: "False when the definition equals the newest version's (which is returned)." })
  created: boolean;
}

@ObjectType({ description: "The report of a validation run." })
export class ValidationReportPayload {
  @Field(() => ValidationReport, { description: "The stored report." })
  report: ValidationReport;
}

export const ValidationSuiteResult = MutationResult("ValidationSuite", ValidationSuitePayload);
export const ValidationReportResult = MutationResult("ValidationReport", ValidationReportPayload);
