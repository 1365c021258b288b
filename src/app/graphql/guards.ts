import {
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";
import { type ComplexityEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";
import { ErrorCode } from "../errors";
import { DEFAULT_PAGE_SIZE } from "../pagination";

/**
 * Refuses operations nested deeper than `maxDepth` selection sets (fragments followed,
 * introspection included), before any resolver runs: a depth bomb costs one parse.
 */
export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode, depth: number, seen: Set<string>): number => {
      if (depth > maxDepth) return depth;
      let max = depth;
      for (const sel of set.selections) {
        let child: SelectionSetNode | undefined;
        let childSeen = seen;
        if (sel.kind === Kind.FIELD) child = sel.selectionSet;
        else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(sel.selectionSet, depth, seen));
          continue;
        } else {
          const name = sel.name.value;
          const frag = fragments.get(name);
          if (!frag || seen.has(name)) continue;
          childSeen = new Set(seen).add(name);
          max = Math.max(max, depthOf(frag.selectionSet, depth, childSeen));
          continue;
        }
        if (child) max = Math.max(max, depthOf(child, depth + 1, childSeen));
        if (max > maxDepth) return max;
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, 1, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`Query is nested more than ${maxDepth} levels deep; ask for fewer nested fields (SLUICE_MAX_DEPTH)`, {
              nodes: [node],
              extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "QUERY_TOO_DEEP", maxDepth },
            }),
          );
        }
      },
    };
  };
}

/** Refuses `__schema` and `__type` when introspection is turned off. */
export function noIntrospectionRule(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      const name = node.name.value;
      if (name === "__schema" || name === "__type") {
        context.reportError(
          new GraphQLError("Introspection is turned off on this server (SLUICE_INTROSPECTION=false); use the published schema.graphql", {
            nodes: [node],
            extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "INTROSPECTION_DISABLED" },
          }),
        );
      }
    },
  };
}

/**
 * A paginated field costs its page size (`first`, or the default page size) times its
 * selection: the work such a query can really cause. Other fields cost 1.
 */
const pagedListEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((a) => a.name === "first")) return undefined;
  const first = typeof args.first === "number" ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + Math.max(first, 1) * childComplexity;
};

/**
 * The estimated cost of an operation, for the cost limit. Throws BAD_USER_INPUT when the
 * variables do not fit the operation (getComplexity coerces them first and throws a bare
 * GraphQLError, which would otherwise leave as INTERNAL).
 */
export function operationCost(
  schema: GraphQLSchema,
  query: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): number {
  try {
    return getComplexity({
      schema,
      query,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [pagedListEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err;
    throw new GraphQLError(err.message, {
      nodes: err.nodes,
      extensions: { ...err.extensions, code: ErrorCode.BAD_USER_INPUT, reason: "INVALID_VARIABLES", http: { status: 400 } },
    });
  }
}

/** The refusal for an operation over the cost limit. */
export function costError(cost: number, maxCost: number): GraphQLError {
  return new GraphQLError(`Query cost ${cost} exceeds the limit of ${maxCost}; request smaller pages or fewer fields (SLUICE_MAX_COST)`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "QUERY_TOO_COSTLY", cost, maxCost, http: { status: 400 } },
  });
}
