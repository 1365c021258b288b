/**
 * The public surface of `operators`: the catalogue of built-in stage operators and their
 * contracts (inputs, outputs, parameters), which pipeline validation checks a spec against. It is
 * pure, as pipeline validation is; the data-plane hooks (`hooks.ts`) are composition and are
 * wired by `app/` from their own file.
 */
export { OPERATOR_CONTRACTS, type OperatorContract } from "./catalog";
