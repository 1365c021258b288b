import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { type MutationScope, prepareMutation, runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import { DatasetVersion } from "../datasets";
import type { Suite } from "./suite";
import {
  DefineValidationSuiteInput,
  ValidateDatasetInput,
  ValidationReport,
  ValidationReportConnection,
  ValidationReportFilter,
  ValidationReportOrder,
  ValidationReportPayload,
  ValidationReportResult,
  ValidationSuite,
  ValidationSuiteConnection,
  ValidationSuiteFilter,
  ValidationSuiteOrder,
  ValidationSuitePayload,
  ValidationSuiteResult,
  validationReportSort,
  validationSuiteSort,
} from "./validation.types";
import type { DatasetService } from "../datasets/dataset.service";
import type { ValidationService } from "./validation.service";

/** What ValidationResolver uses. */
export interface ValidationResolverDeps {
  datasets: DatasetService;
  validation: ValidationService;
}

@Resolver()
export class ValidationResolver {
  constructor(readonly deps: ValidationResolverDeps) {}

  @Query(() => ValidationSuite, {
    nullable: true,
    description: "A suite version by id, or by dataset and name (the newest version unless `version` is given); null when there is none.",
  })
  async validationSuite(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "The suite version's id." }) id?: string | null,
    @Arg("datasetId", () => ID, { nullable: true, description: "The suite's dataset, with `name`." }) datasetId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The suite's name, unique in its dataset." }) name?: string | null,
    @Arg("version", () => Int, { nullable: true, description: "With `datasetId` and `name`: this version instead of the newest." })
    version?: number | null,
  ): Promise<ValidationSuite | null> {
    const by = lookupBy({ id, datasetId, name, version }, { key: ["datasetId", "name"], optional: ["version"] });
    const row = by.key
      ? await this.deps.validation.suiteByName(by.key.datasetId, by.key.name, version ?? undefined)
      : await this.deps.validation.suite(by.id);
    const dataset = by.key && !row ? await this.deps.datasets.get(by.key.datasetId) : null;
    ctx.authz.require(Permission.READ, row?.projectId ?? dataset?.projectId);
    return row ? ValidationSuite.from(row) : null;
  }

  @Query(() => ValidationSuiteConnection, { description: "Suite versions the caller may read." })
  async validationSuites(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ValidationSuiteFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ValidationSuiteFilter | null,
    @Arg("orderBy", () => ValidationSuiteOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ValidationSuiteOrder | null,
  ): Promise<ValidationSuiteConnection> {
    const result = await this.deps.validation.suites(
      {
        projectIds: ctx.authz.projectScope(Permission.READ, filter?.projectId),
        datasetId: filter?.datasetId ?? undefined,
        name: filter?.name ?? undefined,
      },
      page,
      validationSuiteSort(orderBy),
    );
    return ValidationSuiteConnection.from(result, ValidationSuite.from);
  }

  @Query(() => ValidationReport, { nullable: true, description: "One validation report by id; null when there is none." })
  async validationReport(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "The report's id." }) id: string,
  ): Promise<ValidationReport | null> {
    const row = await this.deps.validation.report(id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? ValidationReport.from(row) : null;
  }

  @Query(() => ValidationReportConnection, { description: "Validation reports the caller may read, newest first by default." })
  async validationReports(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ValidationReportFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ValidationReportFilter | null,
    @Arg("orderBy", () => ValidationReportOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ValidationReportOrder | null,
  ): Promise<ValidationReportConnection> {
    const result = await this.deps.validation.reports(
      {
        projectIds: ctx.authz.projectScope(Permission.READ, filter?.projectId),
        datasetId: filter?.datasetId ?? undefined,
        datasetVersionId: filter?.datasetVersionId ?? undefined,
        suiteName: filter?.suiteName ?? undefined,
        success: filter?.success ?? undefined,
      },
      page,
      validationReportSort(orderBy),
    );
    return ValidationReportConnection.from(result, ValidationReport.from);
  }

  @Mutation(() => ValidationSuiteResult, {
    description: "Defines an expectation suite of a dataset: a new version, or the newest when unchanged. Needs EDITOR.",
  })
  async defineValidationSuite(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DefineValidationSuiteInput,
  ): Promise<typeof ValidationSuiteResult> {
    return captureErrors(async () => {
      const dataset = await this.deps.datasets.get(input.datasetId);
      return runMutation(
        ctx,
        { action: "validation.suite.define", permission: Permission.WRITE, projectId: dataset?.projectId, input },
        async (tx) => {
          if (!dataset) throw new NotFoundError("Dataset", input.datasetId);
          const { suite, created } = await this.deps.validation.defineSuite(tx, dataset.id, input.name, {
            expectations: input.expectations,
          });
          return {
            value: Object.assign(new ValidationSuitePayload(), { suite: ValidationSuite.from(suite), created }),
            targetId: suite.id,
            result: { suiteId: suite.id, version: suite.version, created },
          };
        },
      );
    });
  }

  @Mutation(() => ValidationReportResult, {
    description:
      "Checks a dataset version against a suite and stores the report; an `error` breach emits `validation.failed`. Optionally quarantines failing rows. Needs EDITOR.",
  })
  async validateDataset(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ValidateDatasetInput,
  ): Promise<typeof ValidationReportResult> {
    return captureErrors(async () => {
      const version = await this.deps.datasets.version(input.versionId);
      const dataset = version ? await this.deps.datasets.get(version.datasetId) : null;
      const scope: MutationScope = { action: "validation.run", permission: Permission.WRITE, projectId: dataset?.projectId, input };
      const checked = await prepareMutation(ctx, scope, async () => {
        if (!version || !dataset) throw new NotFoundError("DatasetVersion", input.versionId);
        if (!input.suiteId === !input.suite)
          throw new InvalidInputError([{ field: "suiteId", message: "give suiteId or suite (a name), not both" }]);
        const suite = input.suiteId
          ? await this.deps.validation.suite(input.suiteId)
          : await this.deps.validation.latestSuite(dataset.id, input.suite!);
        if (!suite || suite.datasetId !== dataset.id) throw new NotFoundError("ValidationSuite", input.suiteId ?? input.suite!);
        const reference = input.referenceVersionId
          ? await this.deps.datasets.version(input.referenceVersionId)
          : await this.deps.datasets.versionByNumber(dataset.id, version.version - 1);
        if (input.referenceVersionId && (!reference || reference.datasetId !== dataset.id)) {
          throw new NotFoundError("DatasetVersion", input.referenceVersionId);
        }
        return this.deps.validation.check({
          version,
          dataset,
          suite: suite.definition as unknown as Suite,
          suiteId: suite.id,
          reference,
          quarantine: input.quarantine ?? false,
        });
      });
      return runMutation(ctx, scope, async (tx) => {
        const report = await this.deps.validation.record(tx, checked);
        return {
          value: Object.assign(new ValidationReportPayload(), { report: ValidationReport.from(report) }),
          targetId: report.id,
          result: { reportId: report.id, success: report.success, quarantineVersionId: report.quarantineVersionId },
        };
      });
    });
  }
}

/** What DatasetVersionValidationResolver uses. */
export interface DatasetVersionValidationResolverDeps {
  validation: ValidationService;
}

@Resolver(() => DatasetVersion)
export class DatasetVersionValidationResolver {
  constructor(readonly deps: DatasetVersionValidationResolverDeps) {}

  @FieldResolver(() => ValidationReportConnection, { description: "Validation reports of this version, newest first." })
  async validationReports(
    @Root() version: DatasetVersion,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
  ): Promise<ValidationReportConnection> {
    ctx.authz.require(Permission.READ, version.projectId);
    const result = await this.deps.validation.reports(
      { projectIds: [version.projectId], datasetVersionId: version.id },
      page,
      validationReportSort(null),
    );
    return ValidationReportConnection.from(result, ValidationReport.from);
  }
}
