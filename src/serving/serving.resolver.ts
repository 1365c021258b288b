import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Arg, Ctx, Field, ID, ObjectType, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { Permission } from "../kernel/roles";
import type { ServingService } from "./serving.service";

@ObjectType({ description: "Predictions of a served model, one per instance, in request order." })
export class Prediction {
  @Field({ description: "The served name." })
  modelName: string;

  @Field({ description: "The model version that answered." })
  modelVersion: string;

  @Field(() => [GraphQLJSONObject], {
    description: "One object per instance: output name → value (a list when the output has several values per row).",
  })
  predictions: Array<Record<string, unknown>>;
}

/** What ServingResolver uses. */
export interface ServingResolverDeps {
  serving: ServingService;
}

@Resolver()
export class ServingResolver {
  constructor(readonly deps: ServingResolverDeps) {}

  @Query(() => Prediction, {
    description:
      "Runs a served model — the project's deployment (endpoint) of that name, else the registered model's APPROVED 'champion' " +
      "version — on instances in the records form, " +
      "each {column: value} for the model's per-column inputs, through the same micro-batcher as the OIP routes.",
  })
  async predict(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project of the deployment or registered model." }) projectId: string,
    @Arg("model", { description: "A deployment's name in the project, else a registered model's name whose champion answers." })
    model: string,
    @Arg("instances", () => [GraphQLJSON], { description: "The rows to score, each an object of column → value." })
    instances: unknown[],
  ): Promise<Prediction> {
    ctx.authz.require(Permission.READ, projectId);
    const r = await this.deps.serving.predict({ projectId, name: model }, instances);
    return Object.assign(new Prediction(), { modelName: r.model_name, modelVersion: r.model_version, predictions: r.predictions });
  }
}
