/**
 * The Sluice SDK as this repository's own pipeline files import it (`from "sluice"` resolves
 * here through package.json's `exports`). Its source is packages/sdk, the package users install.
 */
export * from "../packages/sdk/src/index";
