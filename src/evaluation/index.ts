/** Model evaluation and fairness: the pure core (no I/O). See report.ts for the stored report's shape. */
export * from "./common";
export * from "./curves";
export * from "./classification";
export * from "./regression";
export * from "./slices";
export * from "./fairness";
export * from "./compare";
export * from "./report";
