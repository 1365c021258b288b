import "reflect-metadata";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { graphql } from "graphql";
import { Field, Mutation, ObjectType, Query, Resolver, buildSchema } from "type-graphql";
import { ConflictError, ErrorCode, ForbiddenError, NotFoundError } from "../../src/kernel/errors";
import {
  ConflictProblem,
  ErrorInterface,
  MutationResult,
  captureErrors,
  errorMemberOf,
  registerErrorMember,
} from "../../src/kernel/graphql/results";

/** A domain conflict with its own member, extending the generic ConflictError member. */
class TakenError extends ConflictError {
  constructor(readonly owner: string) {
    super(`taken by ${owner}`, { field: "name" });
  }
}
@ObjectType("TestTakenError", { implements: ErrorInterface, description: "Taken." })
class TakenProblem extends ConflictProblem {
  @Field({ description: "Who holds it." })
  owner: string;
}
registerErrorMember(TakenError, TakenProblem, (err) => ({ field: "name", owner: err.owner }));

/** A domain refusal whose code has no generic member: outside its union it is a top-level error. */
class NotYoursError extends ForbiddenError {
  constructor(readonly holder: string) {
    super(`held by ${holder}`);
  }
}
@ObjectType("TestNotYoursError", { implements: ErrorInterface, description: "Not yours." })
class NotYoursProblem implements ErrorInterface {
  @Field({ description: "Text." })
  message: string;
  @Field(() => ErrorCode, { description: "Code." })
  code: ErrorCode;
  @Field({ description: "Who holds it." })
  holder: string;
}
registerErrorMember(NotYoursError, NotYoursProblem, (err) => ({ holder: err.holder }));

/** A subclass with no member of its own answers as its nearest registered parent. */
class TakenTwiceError extends TakenError {}

@ObjectType("TestOk", { description: "Ok." })
class Ok {
  @Field({ description: "Always true." })
  ok: boolean;
}
const TypedResult = MutationResult("TestTyped", Ok, [TakenProblem, NotYoursProblem]);
const PlainResult = MutationResult("TestPlain", Ok);

let failWith: Error = new Error("unset");

@Resolver()
class TestResolver {
  @Query({ description: "A schema needs a query." })
  ping(): boolean {
    return true;
  }

  @Mutation(() => TypedResult, { description: "Lists the domain members." })
  typed(): Promise<typeof TypedResult> {
    return captureErrors(async () => {
      throw failWith;
    });
  }

  @Mutation(() => PlainResult, { description: "Lists only the generic members." })
  plain(): Promise<typeof PlainResult> {
    return captureErrors(async () => {
      throw failWith;
    });
  }
}

describe("error members: thrown error class → result union member", () => {
  it("maps an error to the member of its nearest registered class, with its typed fields", () => {
    const taken = errorMemberOf(new TakenError("ann"));
    assert.ok(taken instanceof TakenProblem);
    assert.deepEqual({ ...taken }, { field: "name", owner: "ann", message: "taken by ann", code: ErrorCode.CONFLICT });
    assert.ok(errorMemberOf(new TakenTwiceError("bob")) instanceof TakenProblem);
    assert.ok(errorMemberOf(new NotFoundError("Thing", "x")) instanceof Object);
    assert.equal(errorMemberOf(new ForbiddenError("no")), undefined, "a plain FORBIDDEN stays top-level");
    assert.equal(errorMemberOf(new Error("boom")), undefined);
  });

  it("answers the domain member where the union lists it, else its generic parent, else the top-level error", async () => {
    const schema = await buildSchema({ resolvers: [TestResolver], validate: false });
    const ask = async (field: string) => {
      const r = await graphql({
        schema,
        source: `mutation { ${field} { __typename ... on Error { code } ... on ConflictError { field }
          ${field === "typed" ? "... on TestTakenError { owner field } ... on TestNotYoursError { holder }" : ""} } }`,
      });
      return { data: JSON.parse(JSON.stringify(r.data ?? null)), errors: r.errors };
    };

    failWith = new TakenError("ann");
    assert.deepEqual((await ask("typed")).data, { typed: { __typename: "TestTakenError", code: "CONFLICT", owner: "ann", field: "name" } });
    assert.deepEqual((await ask("plain")).data, { plain: { __typename: "ConflictError", code: "CONFLICT", field: "name" } });

    failWith = new NotYoursError("bob");
    assert.deepEqual((await ask("typed")).data, { typed: { __typename: "TestNotYoursError", code: "FORBIDDEN", holder: "bob" } });
    const plain = await ask("plain");
    assert.equal(plain.data?.plain ?? null, null);
    assert.ok(plain.errors?.[0]?.originalError instanceof NotYoursError, "outside its union it is the top-level FORBIDDEN error");

    failWith = new Error("boom");
    assert.equal((await ask("typed")).errors?.[0]?.originalError, failWith, "unexpected faults stay top-level");
  });
});
