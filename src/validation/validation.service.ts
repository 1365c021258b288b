import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import type { JsonObject } from "../db/json";
import { type DatasetVersionRow, DatasetRow, type DatasetService, type Materialized, type WriteTx } from "../datasets";
import { describeParquet } from "../datasets/columnar";
import { canonicalHash } from "../pipelines";
import { lockWritableProject } from "../projects";
import { splitRows } from "./quarantine";
import { type ValidationReport, runSuite } from "./run-suite";
import { quarantinable } from "./gate";
import { type Suite, validateSuite } from "./suite";
import { ValidationReportRow } from "./validation-report.entity";
import { ValidationSuiteRow } from "./validation-suite.entity";

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Events of validation. `validation.failed` is the alert: an `error` expectation was breached. */
export const ValidationEvents = {
  reportCreated: "validation.report.created",
  failed: "validation.failed",
} as const;

/** A check done, waiting to be recorded: the report, and the quarantined rows if any. */
export interface CheckedVersion {
  version: DatasetVersionRow;
  dataset: DatasetRow;
  suite: Suite;
  suiteId: string | null;
  report: ValidationReport;
  referenceVersionId: string | null;
  quarantine: Materialized | null;
  /** When the quarantined rows are already an artifact (a `validate` stage's output). */
  quarantineArtifactId?: string;
}

/** The name of the dataset a dataset's quarantined rows go to. */
export function quarantineDatasetName(dataset: string): string {
  return `${dataset.slice(0, 52)}-quarantine`;
}

/**
 * Expectation suites and their reports. Checking data is DuckDB's work (`run-suite.ts`), done
 * before any transaction; recording the report (and a quarantine version) is one transaction.
 */
export class ValidationService {
  constructor(
    private readonly db: Database,
    private readonly datasets: DatasetService,
  ) {}

  /** Defines a suite of a dataset: the next version, or the newest when its definition is the same. */
  async defineSuite(
    tx: MutationTx,
    datasetId: string,
    name: string,
    definition: unknown,
  ): Promise<{ suite: ValidationSuiteRow; created: boolean }> {
    if (!NAME.test(name))
      throw new InvalidInputError([{ field: "name", message: "must be 1-63 characters of lowercase letters, digits, _ and -" }]);
    const suite = validateSuite({ ...(definition as object), name });
    const dataset = await tx.manager.findOne(DatasetRow, { where: { id: datasetId }, lock: { mode: "pessimistic_write" } });
    if (!dataset) throw new NotFoundError("Dataset", datasetId);
    await lockWritableProject(tx.manager, dataset.projectId);
    const hash = canonicalHash(suite);
    const newest = await tx.manager.findOne(ValidationSuiteRow, { where: { datasetId, name }, order: { version: "DESC" } });
    if (newest?.hash === hash) return { suite: newest, created: false };
    const next = (newest?.version ?? 0) + 1;
    const row = await tx.manager.save(
      tx.manager.create(ValidationSuiteRow, {
        projectId: dataset.projectId,
        datasetId,
        name,
        version: next,
        definition: suite as unknown as JsonObject,
        hash,
        createdBy: tx.caller.principalId,
      }),
    );
    return { suite: row, created: true };
  }

  /**
   * Checks a version against a suite (a stored one, or inline) without writing anything. With
   * `quarantine`, when every `error` breach is of row-level expectations, the failing rows are
   * split off into a Parquet file ready to become a version of the quarantine dataset.
   */
  async check(input: {
    version: DatasetVersionRow;
    dataset: DatasetRow;
    suite: Suite;
    suiteId: string | null;
    reference?: DatasetVersionRow | null;
    quarantine?: boolean;
  }): Promise<CheckedVersion> {
    const file = await this.datasets.versionFile(input.version);
    const referenceFile = input.reference ? await this.datasets.versionFile(input.reference) : undefined;
    const report = await runSuite(file, input.suite, { referenceFile });
    let quarantine: Materialized | null = null;
    if (input.quarantine && quarantinable(input.suite, report)) {
      const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-quarantine-"));
      try {
        const passOut = path.join(scratch, "passed.parquet");
        const failOut = path.join(scratch, "failed.parquet");
        const split = await splitRows(file, input.suite, passOut, failOut);
        const schema = await describeParquet(failOut);
        quarantine = await this.datasets.storeParquet(failOut, split.failed, schema, {
          kind: "QUARANTINE",
          from: { datasetId: input.dataset.id, versionId: input.version.id, version: input.version.version },
          suite: input.suite.name,
        });
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    }
    return {
      version: input.version,
      dataset: input.dataset,
      suite: input.suite,
      suiteId: input.suiteId,
      report,
      referenceVersionId: input.reference?.id ?? null,
      quarantine,
    };
  }

  /** Records a report (and its quarantine version), emitting `validation.failed` on an error breach. */
  async record(
    tx: WriteTx,
    checked: CheckedVersion,
    from: { stageRunId?: string | null; createdBy?: string | null } = {},
  ): Promise<ValidationReportRow> {
    const { dataset, version, report } = checked;
    let quarantineVersionId: string | null = null;
    if (checked.quarantine) {
      const target = await this.datasets.findOrCreate(tx, dataset.projectId, quarantineDatasetName(dataset.name), "ALLOW_ALL");
      const q = await this.datasets.registerVersion(tx, target.id, checked.quarantine, {
        producedBy: from.stageRunId ?? null,
        createdBy: from.createdBy,
        artifactId: checked.quarantineArtifactId,
      });
      quarantineVersionId = q.version.id;
    }
    const row = await tx.manager.save(
      tx.manager.create(ValidationReportRow, {
        projectId: dataset.projectId,
        datasetId: dataset.id,
        datasetVersionId: version.id,
        suiteId: checked.suiteId,
        suiteName: checked.suite.name,
        suiteHash: canonicalHash(checked.suite),
        success: report.success,
        rowCount: String(report.rowCount),
        statistics: report.statistics as unknown as JsonObject,
        results: report.results as unknown as JsonObject[],
        referenceVersionId: checked.referenceVersionId,
        quarantineVersionId,
        stageRunId: from.stageRunId ?? null,
        durationMs: Math.round(report.durationMs),
        createdBy: from.createdBy !== undefined ? from.createdBy : (tx.caller?.principalId ?? null),
      }),
    );
    const payload = {
      reportId: row.id,
      datasetId: dataset.id,
      dataset: dataset.name,
      versionId: version.id,
      version: version.version,
      suite: checked.suite.name,
      success: report.success,
      ...report.statistics,
      quarantineVersionId,
      stageRunId: from.stageRunId ?? null,
    };
    tx.emit({ type: ValidationEvents.reportCreated, projectId: dataset.projectId, subjectId: dataset.id, payload });
    if (!report.success) {
      const breached = report.results.filter((r) => !r.success && r.severity === "error").map((r) => ({ type: r.type, column: r.column }));
      tx.emit({
        type: ValidationEvents.failed,
        projectId: dataset.projectId,
        subjectId: dataset.id,
        payload: { ...payload, severity: "error", breached },
      });
    }
    return row;
  }

  async suite(id: string): Promise<ValidationSuiteRow | null> {
    return this.db.dataSource.getRepository(ValidationSuiteRow).findOneBy({ id });
  }

  /** The newest version of the suite `name` of a dataset. */
  async latestSuite(datasetId: string, name: string): Promise<ValidationSuiteRow | null> {
    return this.db.dataSource.getRepository(ValidationSuiteRow).findOne({ where: { datasetId, name }, order: { version: "DESC" } });
  }

  /** One version of the suite `name` of a dataset; the newest without `version`. */
  async suiteByName(datasetId: string, name: string, version?: number): Promise<ValidationSuiteRow | null> {
    if (version === undefined) return this.latestSuite(datasetId, name);
    return this.db.dataSource.getRepository(ValidationSuiteRow).findOneBy({ datasetId, name, version });
  }

  async report(id: string): Promise<ValidationReportRow | null> {
    return this.db.dataSource.getRepository(ValidationReportRow).findOneBy({ id });
  }

  async suites(
    filter: { projectIds: "all" | string[]; datasetId?: string; name?: string },
    page: PageArgs,
    sort: SortSpec<ValidationSuiteRow>,
  ): Promise<Page<ValidationSuiteRow>> {
    const qb = this.db.dataSource.getRepository(ValidationSuiteRow).createQueryBuilder("s");
    scopeToProjects(qb, "s", filter.projectIds);
    if (filter.datasetId) qb.andWhere("s.datasetId = :d", { d: filter.datasetId });
    if (filter.name) qb.andWhere("s.name = :n", { n: filter.name });
    return paginate(qb, page, sort);
  }

  async reports(
    filter: { projectIds: "all" | string[]; datasetId?: string; datasetVersionId?: string; suiteName?: string; success?: boolean },
    page: PageArgs,
    sort: SortSpec<ValidationReportRow>,
  ): Promise<Page<ValidationReportRow>> {
    const qb = this.db.dataSource.getRepository(ValidationReportRow).createQueryBuilder("r");
    scopeToProjects(qb, "r", filter.projectIds);
    if (filter.datasetId) qb.andWhere("r.datasetId = :d", { d: filter.datasetId });
    if (filter.datasetVersionId) qb.andWhere("r.datasetVersionId = :v", { v: filter.datasetVersionId });
    if (filter.suiteName) qb.andWhere("r.suiteName = :s", { s: filter.suiteName });
    if (filter.success !== undefined) qb.andWhere("r.success = :ok", { ok: filter.success });
    return paginate(qb, page, sort);
  }
}

function scopeToProjects(qb: { andWhere(sql: string, params?: object): unknown }, alias: string, projectIds: "all" | string[]): void {
  if (projectIds === "all") return;
  if (projectIds.length === 0) qb.andWhere("FALSE");
  else qb.andWhere(`${alias}.projectId IN (:...projectIds)`, { projectIds });
}
