/** Drift statistics for monitoring: the pure core (no I/O). See report.ts for the defaults. */
export * from "./common";
export * from "./distributions";
export * from "./sort";
export * from "./reference";
export * from "./numeric";
export * from "./categorical";
export * from "./report";
