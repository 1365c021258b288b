/**
 * The public surface of `evaluation`: model evaluation and fairness, the pure core (no I/O):
 * classification and regression metrics, curves, slices, fairness, comparison with a baseline,
 * the stored report's shape (report.ts), and which way a metric improves (training's search and
 * governance's policies read it). Pure cores (the trainers) import this index, so it re-exports
 * pure modules only; the `evaluate` operator, its service, entity and resolver are wired by `app/`
 * from their own files.
 */
export * from "./common";
export * from "./curves";
export * from "./classification";
export * from "./regression";
export * from "./slices";
export * from "./fairness";
export * from "./compare";
export * from "./report";
export * from "./metric-direction";
