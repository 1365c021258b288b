/**
 * The operator registry: built-in operators by name, each a stage function in a module the
 * worker threads load like any `{ module }` stage. Later capabilities (ingest, validate, train…)
 * add theirs with `createLocalRunner({ operators: { ingest: { module: require.resolve("…") } } })`
 * or by spreading `BUILTIN_OPERATORS` into their own registry; nothing here needs to change.
 */
import path from "node:path";

/** Where an operator's stage function lives: an absolute module path and its export. */
export interface OperatorRef {
  /** Absolute path of the module (resolve it with `require.resolve` or `path.resolve`). */
  module: string;
  /** @default "default" */
  export?: string;
}

/** The operators every local runner has. */
export const BUILTIN_OPERATORS: Readonly<Record<string, OperatorRef>> = Object.freeze({
  noop: { module: require.resolve("./noop"), export: "noop" },
});

/** Operator name -> where its function lives. */
export type OperatorRegistry = ReadonlyMap<string, Required<OperatorRef>>;

/**
 * The built-in operators plus `extra` (an extra one of the same name replaces the built-in).
 * @throws Error when an extra operator's module path is not absolute.
 */
export function createOperatorRegistry(extra: Record<string, OperatorRef> = {}): OperatorRegistry {
  const registry = new Map<string, Required<OperatorRef>>();
  for (const [name, ref] of Object.entries({ ...BUILTIN_OPERATORS, ...extra })) {
    if (!path.isAbsolute(ref.module)) throw new Error(`operator "${name}": module must be an absolute path, got "${ref.module}"`);
    registry.set(name, { module: ref.module, export: ref.export ?? "default" });
  }
  return registry;
}
