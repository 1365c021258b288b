import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { queryJson, sqlString, withDuckDb, profileParquet, describeParquet } from "../../datasets/columnar";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { splitRows } from "../quarantine";
import { runSuite } from "../run-suite";
import { type SuiteDefinition, validateSuite } from "../suite";
import { quarantinable } from "../gate";

/** Parameters of the `validate` operator. */
export interface ValidateParams {
  /** The expectation suite, inline: versioned with the pipeline that holds it. */
  suite: SuiteDefinition;
  /** Split rows failing `error` row-level expectations off instead of failing the gate. @default false */
  quarantine?: boolean;
  /** Failing rows kept per expectation in the report. @default 20 */
  sampleSize?: number;
}

/** Writes `file`'s rows matching nothing, keeping its columns: an empty quarantine or passed output. */
async function copyParquet(file: string, out: string, limit?: number): Promise<void> {
  await withDuckDb((conn) =>
    queryJson(
      conn,
      `COPY (SELECT * FROM read_parquet(${sqlString(file)})${limit === 0 ? " LIMIT 0" : ""}) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    ),
  );
}

/**
 * `validate`: a gate. Checks the `data` input (a Dataset) against the inline suite — and a
 * `reference` input for distribution expectations — and writes the report as the `report`
 * output. An `error` breach fails the stage with `GATE_FAILED` (so nothing downstream runs, the
 * report is stored and `validation.failed` is emitted), unless `quarantine` is set and every
 * breach is row-level: then the failing rows go to the `quarantine` output (recorded as a version
 * of `<dataset>-quarantine`) and the rest to `passed`, which downstream stages read.
 */
export async function validate(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as ValidateParams;
  const data = required(ctx.inputs, "data", "input", "validate");
  const reportOut = required(ctx.outputs, "report", "output", "validate");
  return withInputErrorsFinal(async () => {
    const suite = validateSuite(p.suite);
    const report = await runSuite(data.path, suite, { referenceFile: ctx.inputs.reference?.path, sampleSize: p.sampleSize });
    const s = report.statistics;
    ctx.log(`suite ${suite.name}: ${s.successful}/${s.evaluated} passed, ${s.failedError} error and ${s.failedWarn} warn failures`);
    ctx.metric("expectations_failed_error", s.failedError);
    ctx.metric("expectations_failed_warn", s.failedWarn);
    const register = {
      type: "validationReport",
      report,
      suite,
      dataInput: "data",
      referenceInput: ctx.inputs.reference ? "reference" : null,
    };
    if (!report.success && !(p.quarantine && quarantinable(suite, report))) {
      const failed = report.results.filter((r) => !r.success && r.severity === "error");
      const what = failed.map((r) => `${r.type}${r.column ? `(${r.column})` : ""}`).join(", ");
      throw Object.assign(new Error(`validation gate ${suite.name} failed: ${what}`), {
        failureType: "GATE_FAILED",
        nonRetryable: true,
        details: register,
      });
    }
    await reportOut.writeJson(report);
    const outputs: Record<string, StageOutputResult> = {};
    if (p.quarantine) {
      const passed = required(ctx.outputs, "passed", "output", "validate");
      const quarantine = required(ctx.outputs, "quarantine", "output", "validate");
      let counts = { passed: report.rowCount, failed: 0 };
      if (report.success && report.statistics.failedError === 0) {
        await copyParquet(data.path, passed.path);
        await copyParquet(data.path, quarantine.path, 0);
      } else {
        counts = await splitRows(data.path, suite, passed.path, quarantine.path);
      }
      ctx.log(`quarantined ${counts.failed} of ${counts.passed + counts.failed} rows`);
      ctx.metric("rows_quarantined", counts.failed);
      outputs.passed = { metadata: { rowCount: counts.passed, format: "parquet" } };
      outputs.quarantine = { metadata: { rowCount: counts.failed, format: "parquet" } };
      // Profiled here, off the server's thread, for the quarantine's dataset version.
      const quarantined =
        counts.failed > 0
          ? { quarantineProfile: await profileParquet(quarantine.path), quarantineSchema: await describeParquet(quarantine.path) }
          : {};
      outputs.report = {
        metadata: { register: { ...register, quarantineOutput: "quarantine", quarantinedRows: counts.failed, ...quarantined } },
      };
    } else outputs.report = { metadata: { register } };
    return outputs;
  });
}
