import {
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type ValidationContext,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
} from "graphql";
import { ErrorCode } from "../../kernel/errors";
import { DEFAULT_PAGE_SIZE } from "../../kernel/pagination";

/*
 * Every measure here visits each fragment once and reuses its result wherever it is spread, so
 * a document of n bytes costs O(n) to measure whatever its spreads multiply to: thirty fragments
 * each spreading the previous one twice select 2^30 fields, and are measured (and refused) in
 * microseconds. A fragment met again while being measured (a cycle, which validation refuses
 * anyway) counts as empty.
 */

/** The fragments of a document by name. */
function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  return fragments;
}

/**
 * Refuses operations nested deeper than `maxDepth` selection sets (fragments followed,
 * introspection included), before any resolver runs: a depth bomb costs one parse.
 */
export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context.getDocument());
    // Depth below a fragment's own selection set, per fragment name; -1 while being measured.
    const memo = new Map<string, number>();
    const depthBelow = (set: SelectionSetNode): number => {
      let max = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.selectionSet) max = Math.max(max, 1 + depthBelow(sel.selectionSet));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthBelow(sel.selectionSet));
        } else {
          max = Math.max(max, fragmentDepth(sel.name.value));
        }
      }
      return max;
    };
    const fragmentDepth = (name: string): number => {
      const known = memo.get(name);
      if (known !== undefined) return Math.max(known, 0);
      const frag = fragments.get(name);
      if (!frag) return 0;
      memo.set(name, -1);
      const depth = depthBelow(frag.selectionSet);
      memo.set(name, depth);
      return depth;
    };
    return {
      OperationDefinition(node) {
        const depth = 1 + depthBelow(node.selectionSet);
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

/** What an operation asks of the server, once its fragments are expanded. */
export interface OperationSize {
  /**
   * Estimated work: a field costs 1 plus its selection; a paginated field (one with a `first`
   * argument) costs 1 plus its page size (`first`, or the default page size) times its
   * selection. On an abstract type, the costliest possible type counts.
   */
  cost: number;
  /** Selections (fields, spreads, inline fragments) after expanding fragments. */
  nodes: number;
}

interface Measure {
  /** Cost per possible concrete type name (the costs the former graphql-query-complexity rule gave). */
  costs: Map<string, number>;
  nodes: number;
}

function addCost(costs: Map<string, number>, cost: number, typeNames: readonly string[]): void {
  for (const name of typeNames) costs.set(name, (costs.get(name) ?? 0) + cost);
}

function maxCost(costs: Map<string, number>): number {
  let max = 0;
  for (const c of costs.values()) max = Math.max(max, c);
  return max;
}

function inputError(err: GraphQLError): GraphQLError {
  return new GraphQLError(err.message, {
    nodes: err.nodes,
    extensions: { ...err.extensions, code: ErrorCode.BAD_USER_INPUT, reason: "INVALID_VARIABLES", http: { status: 400 } },
  });
}

/**
 * The cost and node count of the operation `operationName` (the only one when null), with
 * `variables` supplying page sizes and `@include`/`@skip` conditions. Each fragment is measured
 * once. Throws BAD_USER_INPUT when the variables do not fit the operation.
 */
export function operationSize(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): OperationSize {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return { cost: 0, nodes: 0 };
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) throw inputError(coerced.errors[0]!);
  const values = coerced.coerced;
  const fragments = fragmentsOf(document);
  const memo = new Map<string, Measure | null>();

  const possibleTypeNames = (type: GraphQLCompositeType): string[] =>
    isAbstractType(type) ? schema.getPossibleTypes(type).map((t) => t.name) : [type.name];

  const skipped = (sel: SelectionNode): boolean => {
    if (!sel.directives?.length) return false;
    const skip = getDirectiveValues(GraphQLSkipDirective, sel, values);
    if (skip?.if === true) return true;
    const include = getDirectiveValues(GraphQLIncludeDirective, sel, values);
    return include?.if === false;
  };

  const fieldDef = (type: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
    return isObjectType(type) || isInterfaceType(type) ? type.getFields()[name] : undefined;
  };

  const measureSet = (set: SelectionSetNode, type: GraphQLCompositeType): Measure => {
    const costs = new Map<string, number>();
    const here = possibleTypeNames(type);
    let nodes = 0;
    for (const sel of set.selections) {
      nodes++;
      if (skipped(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        const field = fieldDef(type, sel.name.value);
        if (!field) continue; // unknown fields are refused by validation
        const fieldType = getNamedType(field.type);
        let child = 0;
        if (sel.selectionSet && isCompositeType(fieldType)) {
          const inner = measureSet(sel.selectionSet, fieldType);
          child = maxCost(inner.costs);
          nodes += inner.nodes;
        }
        let cost = 1 + child;
        if (field.args.some((a) => a.name === "first")) {
          let args: Record<string, unknown>;
          try {
            args = getArgumentValues(field, sel, values);
          } catch (err) {
            if (err instanceof GraphQLError) throw inputError(err);
            throw err;
          }
          const first = typeof args.first === "number" ? args.first : DEFAULT_PAGE_SIZE;
          cost = 1 + Math.max(first, 1) * child;
        }
        addCost(costs, cost, here);
      } else {
        let inner: Measure | null;
        let on: GraphQLCompositeType | undefined;
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          const named = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
          on = named && isCompositeType(named) ? named : undefined;
          inner = on ? measureSet(sel.selectionSet, on) : null;
        } else {
          const frag = fragments.get(sel.name.value);
          const named = frag ? schema.getType(frag.typeCondition.name.value) : undefined;
          on = named && isCompositeType(named) ? named : undefined;
          inner = on ? measureFragment(sel.name.value, frag!, on) : null;
        }
        if (!inner || !on) continue;
        nodes += inner.nodes;
        addCost(costs, maxCost(inner.costs), possibleTypeNames(on));
      }
    }
    return { costs, nodes };
  };

  const measureFragment = (name: string, frag: FragmentDefinitionNode, on: GraphQLCompositeType): Measure | null => {
    if (memo.has(name)) return memo.get(name) ?? null; // null: a cycle, counted as empty
    memo.set(name, null);
    const measure = measureSet(frag.selectionSet, on);
    memo.set(name, measure);
    return measure;
  };

  const root = rootType(schema, operation);
  if (!root) return { cost: 0, nodes: 0 };
  const measure = measureSet(operation.selectionSet, root);
  return { cost: maxCost(measure.costs), nodes: measure.nodes };
}

function rootType(schema: GraphQLSchema, operation: OperationDefinitionNode) {
  if (operation.operation === "query") return schema.getQueryType();
  if (operation.operation === "mutation") return schema.getMutationType();
  return schema.getSubscriptionType();
}

/** The limits `sizeError` checks. */
export interface SizeLimits {
  maxCost: number;
  maxNodes: number;
}

/** The refusal for an operation over a size limit, or undefined when it fits. */
export function sizeError(size: OperationSize, limits: SizeLimits): GraphQLError | undefined {
  if (size.nodes > limits.maxNodes) {
    return new GraphQLError(
      `Query selects ${size.nodes} fields once its fragments are expanded, over the limit of ${limits.maxNodes}; select fewer fields or spread fragments fewer times (SLUICE_MAX_NODES)`,
      {
        extensions: {
          code: ErrorCode.BAD_USER_INPUT,
          reason: "QUERY_TOO_LARGE",
          nodes: size.nodes,
          maxNodes: limits.maxNodes,
          http: { status: 400 },
        },
      },
    );
  }
  if (size.cost > limits.maxCost) return costError(size.cost, limits.maxCost);
  return undefined;
}

/** The refusal for an operation over the cost limit. */
export function costError(cost: number, maxCost: number): GraphQLError {
  return new GraphQLError(`Query cost ${cost} exceeds the limit of ${maxCost}; request smaller pages or fewer fields (SLUICE_MAX_COST)`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "QUERY_TOO_COSTLY", cost, maxCost, http: { status: 400 } },
  });
}

/**
 * Refuses subscription operations sent over HTTP (POST or GET), which cannot stream: they are
 * served over WebSocket on the same path. A validation rule, so the refusal comes before
 * Apollo's own (a 405 for GET, an internal error for POST) and answers 400.
 */
export function noSubscriptionOverHttpRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(node) {
      if (node.operation !== "subscription") return;
      context.reportError(
        new GraphQLError(
          "Subscriptions are served over WebSocket, not HTTP: open a WebSocket to this server's /graphql path (graphql-ws protocol, ws:// or wss://) and subscribe there",
          { nodes: [node], extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "SUBSCRIPTION_OVER_HTTP" } },
        ),
      );
    },
  };
}
