/**
 * The public surface of `validation`: expectation suites on a dataset, run over a version's
 * Parquet into a validation report, with quarantine of failing rows. The operators' stage hooks
 * record a `validate` stage's report through `ValidationService`.
 */
export { ValidationEvents, ValidationService } from "./validation.service";
export type { ValidationReport } from "./run-suite";
export type { Suite } from "./suite";
