import { type ClassType, Field, InterfaceType, ObjectType, createUnionType } from "type-graphql";
import { ConflictError, ErrorCode, InvalidInputError, NotFoundError } from "../errors";
import "./errors"; // registers ErrorCode in the schema
import { hideServerPaths } from "../server-paths";

/** Every typed error in a result union implements this. */
@InterfaceType("Error", { description: "An expected reason an operation did not succeed." })
export abstract class ErrorInterface {
  @Field()
  message: string;

  @Field(() => ErrorCode)
  code: ErrorCode;
}

@ObjectType("NotFoundError", { implements: ErrorInterface, description: "The resource named in the input does not exist." })
export class NotFoundProblem implements ErrorInterface {
  @Field()
  message: string;

  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field({ description: "Kind of resource, e.g. `Project`." })
  resourceType: string;

  @Field()
  resourceId: string;
}

@ObjectType("ConflictError", {
  implements: ErrorInterface,
  description: "The change clashes with stored state (a taken name, an archived project).",
})
export class ConflictProblem implements ErrorInterface {
  @Field()
  message: string;

  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field(() => String, { nullable: true, description: "The input field at fault, when one is." })
  field: string | null;
}

@ObjectType("InputProblem", { description: "One input field refused, and why." })
export class InputProblemType {
  @Field()
  field: string;

  @Field()
  message: string;
}

@ObjectType("InvalidInputError", { implements: ErrorInterface, description: "The input failed validation; `problems` names each field." })
export class InvalidInputProblem implements ErrorInterface {
  @Field()
  message: string;

  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field(() => [InputProblemType])
  problems: InputProblemType[];
}

/** The error members every mutation result union carries. */
const ERROR_MEMBERS = [NotFoundProblem, ConflictProblem, InvalidInputProblem] as const;

/**
 * `<Name>Result = <Success> | <extra errors> | NotFoundError | ConflictError | InvalidInputError`.
 * Members are resolved by class, so resolvers return class instances (which `captureErrors`
 * guarantees). An extra error member is for an outcome a client must handle with its own fields
 * (a lost lease, a refused schema change).
 */
export function MutationResult<T extends object>(name: string, success: ClassType<T>, extraErrors: readonly ClassType<object>[] = []) {
  const members = [success, ...extraErrors, ...ERROR_MEMBERS] as const;
  return createUnionType({
    name: `${name}Result`,
    types: () => members,
    resolveType: (value) => {
      for (const cls of members) if (value instanceof cls) return cls;
      return undefined;
    },
  });
}

export type ResultOf<T> = T | NotFoundProblem | ConflictProblem | InvalidInputProblem;

/**
 * Runs a mutation and turns the expected failures into union members; anything else (auth,
 * internal faults) stays a thrown, top-level error. Messages never name the server's folders. The `@capture_error` of dagster-graphql.
 */
export async function captureErrors<T>(work: () => Promise<T>): Promise<ResultOf<T>> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof NotFoundError) {
      return Object.assign(new NotFoundProblem(), {
        message: hideServerPaths(err.message),
        code: err.code,
        resourceType: err.resourceType,
        resourceId: err.resourceId,
      });
    }
    if (err instanceof ConflictError) {
      const field = typeof err.details.field === "string" ? err.details.field : null;
      return Object.assign(new ConflictProblem(), { message: hideServerPaths(err.message), code: err.code, field });
    }
    if (err instanceof InvalidInputError) {
      return Object.assign(new InvalidInputProblem(), {
        message: hideServerPaths(err.message),
        code: ErrorCode.BAD_USER_INPUT,
        problems: err.problems.map((p) => Object.assign(new InputProblemType(), { field: p.field, message: hideServerPaths(p.message) })),
      });
    }
    throw err;
  }
}
