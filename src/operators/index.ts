/**
 * The public surface of `operators`: the catalogue of built-in stage operators and their
 * contracts (inputs, outputs, parameters). The app registers the catalogue with pipeline
 * validation (`registerOperatorContracts` in pipelines), which checks a spec against it; the
 * contract's type is the pipelines' own. The data-plane hooks (`hooks.ts`) are composition and
 * are wired by `app/` from their own file.
 */
export { OPERATOR_CONTRACTS } from "./catalog";
