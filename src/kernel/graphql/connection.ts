import { ArgsType, type ClassType, Field, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { Page } from "../pagination";

export enum OrderDirection {
  ASC = "ASC",
  DESC = "DESC",
}
registerEnumType(OrderDirection, { name: "OrderDirection" });

@ObjectType({ description: "Where a page sits in its list (Relay cursor connections)." })
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field()
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true })
  startCursor: string | null;

  @Field(() => String, { nullable: true })
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
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor: string;

    @Field(() => nodeType)
    node: TNode;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionType implements ConnectionOf<TNode> {
    @Field(() => [Edge])
    edges: Edge[];

    @Field(() => [nodeType], { description: "The nodes of `edges`, for clients that need no cursors." })
    nodes: TNode[];

    @Field(() => PageInfo)
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
export function OrderBy<P extends string>(name: string, fieldEnum: Record<string, P>, fallback: Sort<P>) {
  registerEnumType(fieldEnum, { name: `${name}OrderField` });

  @InputType(`${name}Order`)
  class Order {
    @Field(() => fieldEnum)
    field: P;

    @Field(() => OrderDirection, { defaultValue: fallback.direction })
    direction: OrderDirection;
  }

  const sortOf = (order: Order | null | undefined): Sort<P> => (order ? { property: order.field, direction: order.direction } : fallback);
  return { Order, sortOf };
}
