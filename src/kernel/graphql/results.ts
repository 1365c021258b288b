import { type ClassType, Field, InterfaceType, ObjectType, createUnionType } from "type-graphql";
import { ConflictError, ErrorCode, InvalidInputError, NotFoundError, SluiceError } from "../errors";
import "./errors"; // registers ErrorCode in the schema
import { hideServerPaths } from "../server-paths";

/** The descriptions of `message` and `code`, which every error member repeats. */
export const MESSAGE = "What went wrong and what to do, for people; branch on `__typename` and the typed fields, not on this text.";
export const CODE = "The error's code: the same as `extensions.code` of the top-level error it would otherwise be.";

/** Every typed error in a result union implements this. */
@InterfaceType("Error", { description: "An expected reason an operation did not succeed." })
export abstract class ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: CODE })
  code: ErrorCode;
}

@ObjectType("NotFoundError", { implements: ErrorInterface, description: "The resource named in the input does not exist." })
export class NotFoundProblem implements ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: CODE })
  code: ErrorCode;

  @Field({ description: "Kind of resource, e.g. `Project`." })
  resourceType: string;

  @Field({ description: "The id (or name) the input gave for it." })
  resourceId: string;
}

@ObjectType("ConflictError", {
  implements: ErrorInterface,
  description: "The change clashes with stored state (a taken name, an archived project).",
})
export class ConflictProblem implements ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: CODE })
  code: ErrorCode;

  @Field(() => String, { nullable: true, description: "The input field at fault, when one is." })
  field: string | null;
}

@ObjectType("InputProblem", { description: "One input field refused, and why." })
export class InputProblemType {
  @Field({ description: "Path of the input field, e.g. `spec.stages[2].name`." })
  field: string;

  @Field({ description: "Why the field was refused, for people." })
  message: string;
}

@ObjectType("InvalidInputError", { implements: ErrorInterface, description: "The input failed validation; `problems` names each field." })
export class InvalidInputProblem implements ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: CODE })
  code: ErrorCode;

  @Field(() => [InputProblemType], { description: "Each refused field and why; at least one." })
  problems: InputProblemType[];
}

/**
 * How a thrown error class becomes a GraphQL error member: the member's class and the typed
 * fields it carries beyond `message` and `code`.
 */
interface ErrorMemberMapping {
  member: ClassType<ErrorInterface>;
  fields: (err: SluiceError) => object;
}

/** Error class → its GraphQL member. Filled by `registerErrorMember` where each member is declared. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- keys are error classes of any constructor shape
const ERROR_MEMBERS_BY_CLASS = new Map<Function, ErrorMemberMapping>();

/**
 * The error a member was built from, kept off the GraphQL answer: a union that does not list
 * the member rethrows it, so it reaches the client as a top-level error with its code.
 */
const ORIGINAL_ERROR = Symbol("originalError");

/**
 * Declares that `errorClass` (a `SluiceError` subclass a service throws) answers as the union
 * member `member` wherever a mutation's result union lists it; `fields` gives its typed fields.
 * `captureErrors` picks the mapping of the nearest registered class up the error's prototype
 * chain, so a subclass without its own member answers as its parent's.
 */
export function registerErrorMember<E extends SluiceError, M extends ErrorInterface>(
  errorClass: abstract new (...args: never[]) => E,
  member: ClassType<M>,
  fields: (err: E) => Omit<M, keyof ErrorInterface>,
): void {
  ERROR_MEMBERS_BY_CLASS.set(errorClass, { member, fields: fields as (err: SluiceError) => object });
}

function mappingOf(err: SluiceError): ErrorMemberMapping | undefined {
  for (let proto = Object.getPrototypeOf(err); proto && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    const mapping = ERROR_MEMBERS_BY_CLASS.get(proto.constructor);
    if (mapping) return mapping;
  }
  return undefined;
}

/** `err` as its registered union member; undefined when no member is registered for it. */
export function errorMemberOf(err: unknown): ErrorInterface | undefined {
  if (!(err instanceof SluiceError)) return undefined;
  const mapping = mappingOf(err);
  if (!mapping) return undefined;
  const value = Object.assign(new mapping.member(), mapping.fields(err), { message: hideServerPaths(err.message), code: err.code });
  Object.defineProperty(value, ORIGINAL_ERROR, { value: err, enumerable: false });
  return value;
}

registerErrorMember(NotFoundError, NotFoundProblem, (err) => ({ resourceType: err.resourceType, resourceId: err.resourceId }));
registerErrorMember(ConflictError, ConflictProblem, (err) => ({ field: typeof err.details.field === "string" ? err.details.field : null }));
registerErrorMember(InvalidInputError, InvalidInputProblem, (err) => ({
  problems: err.problems.map((p) => Object.assign(new InputProblemType(), { field: p.field, message: hideServerPaths(p.message) })),
}));

/** The generic error members every mutation result union carries. */
const GENERIC_ERROR_MEMBERS = [NotFoundProblem, ConflictProblem, InvalidInputProblem] as const;

/**
 * `<Name>Result = <Success> | <domain errors> | NotFoundError | ConflictError | InvalidInputError`.
 * `domainErrors` are the typed members (registered with `registerErrorMember`) this mutation
 * can answer, for outcomes a client must handle with their own fields (an unapproved version,
 * a lost lease, a refused schema change). Members are resolved by class, most specific first; a
 * domain member the union does not list answers as a generic member it extends, or else as the
 * top-level error it was built from.
 */
export function MutationResult<T extends object>(name: string, success: ClassType<T>, domainErrors: readonly ClassType<object>[] = []) {
  const members = [success, ...domainErrors, ...GENERIC_ERROR_MEMBERS] as const;
  return createUnionType({
    name: `${name}Result`,
    description: `A mutation answer: its ${name} payload, or an expected reason it did not succeed (branch on \`__typename\`).`,
    types: () => members,
    resolveType: (value) => {
      for (const cls of members) if (value instanceof cls) return cls;
      const original = (value as { [ORIGINAL_ERROR]?: unknown })[ORIGINAL_ERROR];
      // The original is the SluiceError (an Error) the member was built from.
      if (original) throw original as Error;
      return undefined;
    },
  });
}

export type ResultOf<T> = T | ErrorInterface;

/**
 * Runs a mutation and turns the expected failures (every error class with a registered member)
 * into union members; anything else (auth, internal faults) stays a thrown, top-level error.
 * Messages never name the server's folders. The `@capture_error` of dagster-graphql.
 */
export async function captureErrors<T>(work: () => Promise<T>): Promise<T | ErrorInterface> {
  try {
    return await work();
  } catch (err) {
    const member = errorMemberOf(err);
    if (member) return member;
    throw err;
  }
}
