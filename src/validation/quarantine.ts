import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { queryJson, sqlIdent, sqlString, withSandbox } from "../datasets/columnar";
import { checkParameters, describeColumns, parquetSource, resolveColumn, unexpectedRowSql } from "./predicates";
import { isRowLevel, validateSuite, type SuiteDefinition } from "./suite";

/**
 * Quarantine: splitting a data set into the rows that pass and the rows that fail the suite's
 * error-severity row-level expectations. Warn-severity and aggregate expectations never move a
 * row, since they do not judge rows or are not meant to block them.
 */

/** The column DuckDB adds for `file_row_number = true`; it orders the output and is then dropped. */
const ROW_NUMBER = "file_row_number";

/**
 * Writes the rows of `parquetFile` that fail any error-severity row-level expectation to
 * `failOut`, and the others to `passOut`, both Parquet with the input's columns and row order.
 * `parquetFile` is one file: row order is the file's, so a glob of several files would interleave.
 * Throws `InvalidInputError` when such an expectation cannot be evaluated (unknown column, bad
 * regex): a check that cannot run must not let rows through silently.
 */
export async function splitRows(
  parquetFile: string,
  suite: SuiteDefinition,
  passOut: string,
  failOut: string,
): Promise<{ passed: number; failed: number }> {
  const normalized = validateSuite(suite);
  const plain = parquetSource(parquetFile);
  // Expectations carry user text: run where only the input and the two outputs are reachable.
  return withSandbox({ read: [parquetFile], write: [passOut, failOut] }, async (conn) => {
    const columns = await describeColumns(conn, plain);
    if (columns.some((c) => c.name === ROW_NUMBER)) {
      throw new InvalidInputError([
        { field: "parquetFile", message: `has a column named ${ROW_NUMBER}, which quarantine needs for row order` },
      ]);
    }
    // Predicates read the plain relation (the `unique` semi-join scans it again); the split reads
    // it with row numbers, since joins do not promise to keep file order but an ORDER BY does.
    const numbered = `read_parquet(${sqlString(parquetFile)}, file_row_number = true)`;
    const problems: InputProblem[] = [];
    const predicates: string[] = [];
    for (const [i, e] of normalized.expectations.entries()) {
      if (!isRowLevel(e) || e.severity !== "error") continue;
      const { column, error } = resolveColumn(e, columns);
      const why = error ?? (await checkParameters(conn, e));
      if (why) problems.push({ field: `expectations[${i}]`, message: why });
      else predicates.push(unexpectedRowSql(e, column!, plain));
    }
    if (problems.length > 0) throw new InvalidInputError(problems);

    const failing = predicates.length === 0 ? "FALSE" : predicates.join(" OR ");
    // Predicates are never NULL, so NOT(failing) is exactly the complement and no row is lost or doubled.
    const copy = async (where: string, file: string) => {
      const sql = `COPY (SELECT * EXCLUDE (${sqlIdent(ROW_NUMBER)}) FROM ${numbered} WHERE ${where} ORDER BY ${sqlIdent(ROW_NUMBER)})
                   TO ${sqlString(file)} (FORMAT parquet)`;
      const [row] = await queryJson(conn, sql);
      return Number(row.Count);
    };
    const failed = await copy(`(${failing})`, failOut);
    const passed = await copy(`NOT (${failing})`, passOut);
    return { passed, failed };
  });
}
