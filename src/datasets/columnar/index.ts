/**
 * The DuckDB layer of `datasets`, the one every columnar capability uses (features, validation,
 * scoring, training, evaluation): the server's instance and SQL quoting (`duckdb.ts`), a locked
 * sandbox per job for user SQL (`sandbox.ts`, `user-sql.ts`), Parquet schemas and profiles. It is
 * pure (no database, no GraphQL, no TypeORM), so the pure cores (PIT compilation) import it; it
 * is a separate entry from `datasets/index.ts`, which loads the entities.
 */
export { queryJson, sqlIdent, sqlString, withDuckDb } from "./duckdb";
export { isSandboxRefusal, redactSandboxMessage, withSandbox } from "./sandbox";
export { refuseUserExpression } from "./user-sql";
export { queryShapeProblem, refuseUserQuery, trimQuery } from "./user-query";
export { describeParquet, typeKind } from "./schema";
export { profileParquet } from "./profile";
