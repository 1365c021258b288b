import { ArgsType, type ClassType, Field, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { Page } from "../pagination";

export enum OrderDirection {
  ASC = "ASC",
  DESC = "DESC",
}
registerEnumType(OrderDirection, {
  name: "OrderDirection",
  description: "Which way a list is sorted.",
  valuesConfig: { ASC: { description: "Smallest (or oldest, or A) first." }, DESC: { description: "Largest (or newest, or Z) first." } },
});

@ObjectType({ description: "Where a page sits in its list (Relay cursor connections)." })
export class PageInfo {
  @Field({ description: "True when more items follow; pass `endCursor` as `after` to get them." })
  hasNextPage: boolean;

  @Field({ description: "True when items come before this page (only when the page was asked `after` a cursor)." })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true, description: "The cursor of the first item of the page; null when the page is empty." })
  startCursor: string | null;

  @Field(() => String, { nullable: true, description: "The cursor of the last item of the page: the `after` of the next page." })
  endCursor: string | null;
}

/** `first`/`after` forward pagination, shared by every list. */
@ArgsType()
export class PageArgsInput {
  @Field(() => Int, { nullable: true, description: "Items to return, 0-500. Default 50." })
  first?: number | null;

  @Field(() => String, { nullable: true, description: "Return items after this cursor (an `endCursor`)." })
  after?: string | null;
}

/** The shape every generated connection class has. */
export interface ConnectionOf<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: PageInfo;
  totalCount(): Promise<number>;
}

/**
 * Builds the `<Name>Connection` and `<Name>Edge` types for a node type. `totalCount` is a
 * resolver method, so its COUNT query runs only when a client selects it.
 */
export function Connection<TNode extends object>(nodeType: ClassType<TNode>, name: string) {
  @ObjectType(`${name}Edge`, { description: `One ${name} of a page, with its cursor.` })
  class Edge {
    @Field({ description: "Opaque position of this item; pass it as `after` to page on from here." })
    cursor: string;

    @Field(() => nodeType, { description: "The item." })
    node: TNode;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionType implements ConnectionOf<TNode> {
    @Field(() => [Edge], { description: "The items of this page with their cursors, in list order." })
    edges: Edge[];

    @Field(() => [nodeType], { description: "The nodes of `edges`, for clients that need no cursors." })
    nodes: TNode[];

    @Field(() => PageInfo, { description: "Where this page sits in the list: whether more follow, and the cursors." })
    pageInfo: PageInfo;

    count: () => Promise<number>;

    @Field(() => Int, { description: "Items in the whole filtered list, not just this page." })
    totalCount(): Promise<number> {
      return this.count();
    }

    /** Wraps a service page, mapping each row to its GraphQL type. */
    static from<TRow>(page: Page<TRow>, toNode: (row: TRow) => TNode): ConnectionType {
      const nodes = page.rows.map(toNode);
      return Object.assign(new ConnectionType(), {
        nodes,
        edges: nodes.map((node, i) => Object.assign(new Edge(), { node, cursor: page.cursors[i]! })),
        pageInfo: Object.assign(new PageInfo(), {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: page.cursors[0] ?? null,
          endCursor: page.cursors[page.cursors.length - 1] ?? null,
        }),
        count: page.totalCount,
      });
    }
  }
  return ConnectionType;
}

/** An `orderBy` input as a service takes it: an entity property and a direction. */
export interface Sort<P extends string> {
  property: P;
  direction: "ASC" | "DESC";
}

/**
 * Builds the `<Name>Order` input (`field` from `fieldEnum`, whose values are entity
 * properties, and `direction`) and a function giving the sort to use, `fallback` when the
 * client sent none.
 */
export function OrderBy<P extends string>(
  name: string,
  fieldEnum: Record<string, P>,
  fallback: Sort<P>,
  fieldDescriptions: Partial<Record<string, string>> = {},
) {
  const valuesConfig = Object.fromEntries(
    Object.entries(fieldEnum).map(([key, property]) => [key, { description: fieldDescriptions[key] ?? `Sorts by \`${property}\`.` }]),
  );
  registerEnumType(fieldEnum, { name: `${name}OrderField`, description: `What a ${name} list can be sorted by.`, valuesConfig });

  @InputType(`${name}Order`, {
    description: `How to sort a ${name} list; without one it is sorted by \`${fallback.property}\` ${fallback.direction}.`,
  })
  class Order {
    @Field(() => fieldEnum, { description: "What to sort by." })
    field: P;

    @Field(() => OrderDirection, { defaultValue: fallback.direction, description: "Which way to sort." })
    direction: OrderDirection;
  }

  const sortOf = (order: Order | null | undefined): Sort<P> => (order ? { property: order.field, direction: order.direction } : fallback);
  return { Order, sortOf };
}
