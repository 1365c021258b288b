import { type ClassType, Field, Float, ID, InputType, Int } from "type-graphql";
import { Connection, OrderBy, type Sort } from "./connection";

/**
 * One field of a list's filter input: its GraphQL type and what it keeps. `T` is the value a
 * resolver receives, so the generated filter class is typed.
 */
export interface FilterField<T> {
  type: () => unknown;
  description: string;
  defaultValue?: T;
  /** Phantom: carries `T` for `FilterOf`. */
  readonly __value?: T;
}

/** The filter fields a list can take, by GraphQL type. */
export const FilterBy = {
  id: (description: string): FilterField<string> => ({ type: () => ID, description }),
  text: (description: string): FilterField<string> => ({ type: () => String, description }),
  texts: (description: string): FilterField<string[]> => ({ type: () => [String], description }),
  flag: (description: string, defaultValue?: boolean): FilterField<boolean> => ({ type: () => Boolean, description, defaultValue }),
  int: (description: string): FilterField<number> => ({ type: () => Int, description }),
  number: (description: string): FilterField<number> => ({ type: () => Float, description }),
  time: (description: string): FilterField<Date> => ({ type: () => Date, description }),
  oneOf: <E extends Record<string, string>>(enumType: E, description: string): FilterField<E[keyof E]> => ({
    type: () => enumType,
    description,
  }),
  someOf: <E extends Record<string, string>>(enumType: E, description: string): FilterField<E[keyof E][]> => ({
    type: () => [enumType],
    description,
  }),
};

/** The filter class's instance type: every field optional and nullable. */
export type FilterOf<F extends Record<string, FilterField<unknown>>> = {
  [K in keyof F]?: (F[K] extends FilterField<infer T> ? T : never) | null;
};

/** What a list is: its node type, its sort fields with the default, and its filter fields. */
export interface ListSpec<P extends string, F extends Record<string, FilterField<unknown>>> {
  /** Enum key → entity property, e.g. `{ CREATED_AT: "createdAt", NAME: "name" }`. */
  orderBy: Record<string, P>;
  /** The sort used when a client sends no `orderBy`. */
  defaultOrder: Sort<P>;
  /** What each sort key means, when `Sorts by <property>.` is not enough. */
  orderDescriptions?: Partial<Record<string, string>>;
  /** The `<Name>Filter` input's fields; omit for a list without a filter. */
  filter?: F;
  /** The filter input's own description. */
  filterDescription?: string;
}

/**
 * Defines the GraphQL types of one list from a short description: `<Name>Connection` and
 * `<Name>Edge` (see `Connection`), the `<Name>Order` input with its `<Name>OrderField` enum and
 * the sort to use (`sortOf`, see `OrderBy`), and the `<Name>Filter` input, every field optional.
 * Resolvers take `filter: <Name>Filter`, `orderBy: <Name>Order` and `PageArgsInput`.
 */
export function ListTypes<TNode extends object, P extends string, F extends Record<string, FilterField<unknown>> = Record<string, never>>(
  nodeType: ClassType<TNode>,
  name: string,
  spec: ListSpec<P, F>,
) {
  const ConnectionType = Connection(nodeType, name);
  const { Order, sortOf } = OrderBy(name, spec.orderBy, spec.defaultOrder, spec.orderDescriptions);
  // A list without filter fields gets no (empty, hence invalid) filter input.
  const Filter = (spec.filter ? filterInput(name, spec.filter, spec.filterDescription) : undefined) as ClassType<FilterOf<F>>;
  return { Connection: ConnectionType, Order, sortOf, Filter };
}

/** The `<Name>Filter` input: one optional, nullable field per entry of `fields`. */
function filterInput(name: string, fields: Record<string, FilterField<unknown>>, description?: string): ClassType<object> {
  @InputType(`${name}Filter`, { description: description ?? `Narrows a ${name} list: an item must match every field given.` })
  class Filter {}
  for (const [key, field] of Object.entries(fields)) {
    const defaults = field.defaultValue !== undefined ? { defaultValue: field.defaultValue } : {};
    Field(field.type as never, { nullable: true, description: field.description, ...defaults })(Filter.prototype, key);
  }
  return Filter;
}
