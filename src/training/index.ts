/**
 * The public surface of `training`: the built-in trainers (linear and logistic regression,
 * gradient-boosted trees) and hyperparameter search, fitted inside Sluice and exported as ONNX.
 * Other folders read the trainers' hyperparameter schemas and search limits (the operator
 * catalogue checks a `train` stage's parameters with them) and load Parquet columns as typed
 * arrays the way training does. Everything here is pure (no database, no GraphQL): the pipeline
 * validation loads it through the operator catalogue.
 */
export { type Table, getColumn } from "./data";
export { HYPERPARAMETERS, TRAIN_ALGORITHMS, type TrainAlgorithm, hyperparameterSchema } from "./hyperparameters";
export { MAX_TRIALS, searchSpecProblems } from "./search";
export { LoadColumnsError, loadTable } from "./load-table";
