// The layer rules of DESIGN.md ("Shape of the code"), checked by `npm run lint:deps`.
//
// The graph is the runtime one (`tsPreCompilationDeps: false`): an import that only brings types is
// erased by tsc and loads nothing, so it does not count. That is what matters for the pure cores
// (they load in worker threads without the server) and for the load order.
//
// Violations that exist today are listed in .dependency-cruiser-known-violations.json and reported as
// warnings; any other one fails CI. Regenerate that file after fixing some (or after a merge) with
// `npm run lint:deps:baseline`. Cycles between capability folders are checked by
// scripts/check-folder-cycles.mjs (dependency-cruiser's `no-circular` is per file).

/** Files whose code must load without the server: no database, no GraphQL, no TypeORM, no app. */
const PURE_CORES = [
  "^src/index[.]ts$", // the SDK pipeline files import
  "^src/kernel/errors[.]ts$",
  // training: the trainers, their exporters, the search and its trials
  "^src/training/(linear|preprocess|hyperparameters|search|trial|data)[.]ts$",
  "^src/training/(logistic|export)-[^/]+[.]ts$",
  "^src/training/(gbt|onnx)/",
  // monitoring: drift statistics
  "^src/monitoring/drift/",
  // evaluation: the metrics
  "^src/evaluation/(classification|regression|curves|fairness|slices|common|compare)[.]ts$",
  // features: point-in-time compilation
  "^src/features/(compile|definition|view-schema)[.]ts$",
  // pipelines: spec validation
  "^src/pipelines/(validate|dag|spec|canonical|params-schema|field-path|diff|sla-spec|sla-objectives)[.]ts$",
  // slas: judging an SLA from what was observed
  "^src/slas/evaluate[.]ts$",
  // costs: usage priced into money
  "^src/costs/pricing[.]ts$",
  // indexes that pure cores import: the evaluation metrics, the DuckDB layer of datasets
  "^src/evaluation/index[.]ts$",
  "^src/datasets/columnar/index[.]ts$",
];

/**
 * Pure entries: pure modules of a capability that another capability may import besides its
 * index.ts, because a pure core needs them and that capability's index loads its entities and
 * GraphQL types (which a pure core must not reach). Each one loads no server code.
 */
const PURE_ENTRIES = [
  // the DuckDB layer every columnar capability uses, imported by the PIT compilation (features)
  "^src/datasets/columnar/index[.]ts$",
  // canonical JSON and its hash, imported by the feature-view definition (features, pure)
  "^src/pipelines/canonical[.]ts$",
  // the finite numbers of a metrics object, imported by the evaluation metrics (pure)
  "^src/registry/metrics[.]ts$",
  // the rule for secret names, imported by pipeline validation (pure)
  "^src/secrets/secret-name[.]ts$",
  // the feature-view definition and the expectation suite, checked at apply by the operator catalogue (pure)
  "^src/features/view-schema[.]ts$",
  "^src/validation/suite[.]ts$",
  // the SLA kinds, units and checks (a spec declares SLAs), imported by the SLA judgement (slas, pure)
  "^src/pipelines/sla-objectives[.]ts$",
];

/** What a pure core must not load, directly or through anything it imports. */
const SERVER_ONLY = ["^src/(db|app)/", "(^|/)node_modules/(graphql|type-graphql|typeorm|pg|@apollo/server)/"];

const CAPABILITY = "^src/([^/]+)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "sdk-imports-nothing",
      comment:
        "packages/sdk is the package users install: below the kernel, it imports nothing of src/, runners/ or plugins/ and no npm package " +
        "(the server takes the spec's types from it, never the other way).",
      severity: "error",
      from: { path: "^packages/sdk/" },
      to: { path: ["^(src|runners|plugins)/", "(^|/)node_modules/"] },
    },
    {
      name: "kernel-imports-no-capability",
      comment: "src/kernel is the floor: it imports nothing else of src/, runners/ or plugins/ (npm packages are fine).",
      severity: "error",
      from: { path: "^src/kernel/" },
      to: { path: "^(src/|runners/|plugins/)", pathNot: "^src/kernel/" },
    },
    {
      name: "pure-core-loads-no-server",
      comment:
        "Pure cores (trainers, drift statistics, evaluation metrics, PIT compilation, spec validation, kernel/errors.ts, the SDK) " +
        "must not reach the database, src/app, GraphQL or TypeORM, not even through another module: they load in worker threads.",
      severity: "error",
      from: { path: PURE_CORES },
      to: { path: SERVER_ONLY, reachable: true },
    },
    {
      name: "storage-imports-no-graphql",
      comment:
        "Storage (src/db, src/events, src/artifacts) sits below the API: it never imports graphql or type-graphql. A `.types.ts` file there is the API's face of that storage (the Artifact type), read by resolvers above it.",
      severity: "error",
      from: { path: "^src/(db|events|artifacts)/", pathNot: "\\.types\\.ts$" },
      to: { path: "(^|/)node_modules/(graphql|type-graphql|@apollo/server)/" },
    },
    {
      name: "runners-use-no-database",
      comment: "Runners reach the control plane through its API, never its database (src/db, typeorm, pg).",
      severity: "error",
      from: { path: "^runners/" },
      to: { path: ["^src/db/", "(^|/)node_modules/(typeorm|pg|pg-cursor)/"] },
    },
    {
      name: "nothing-imports-app",
      comment: "src/app is the roof (composition only): only src/cli, src/demo, bin, tests, benches and scripts may import it.",
      severity: "error",
      from: { path: "^(src|runners|plugins)/", pathNot: "^src/(app|cli|demo)/" },
      to: { path: "^src/app/" },
    },
    {
      name: "capability-imported-through-index",
      comment:
        "A capability imports another one only through its index.ts (its public surface), or a pure entry (PURE_ENTRIES) from pure code. " +
        "The kernel, db, events and artifacts are floors, not capabilities, and may be imported file by file.",
      severity: "error",
      from: { path: CAPABILITY, pathNot: "^src/(app|cli|demo)/" },
      to: {
        path: "^src/([^/]+)/.+",
        pathNot: ["^src/$1/", "^src/(kernel|db|events|artifacts)/", "^src/[^/]+/index[.]ts$", ...PURE_ENTRIES],
      },
    },
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    exclude: { path: "^(dist|packages/[^/]+/dist|test/.+/fixtures|bench/fixtures)/" },
    tsPreCompilationDeps: false,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".json", ".d.ts"],
      mainFields: ["main", "types", "typings"],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
