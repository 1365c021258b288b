import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { type MutationScope, prepareMutation, runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import {
  CreateModelVersionInput,
  CreateRegisteredModelInput,
  DeleteModelAliasInput,
  ModelAlias,
  ModelAliasMove,
  ModelAliasPayload,
  ModelAliasResult,
  ModelVersion,
  ModelVersionConnection,
  ModelVersionFilter,
  ModelVersionIdInput,
  ModelVersionOrder,
  ModelVersionPayload,
  ModelVersionResult,
  RegisteredModel,
  RegisteredModelConnection,
  RegisteredModelFilter,
  RegisteredModelOrder,
  RegisteredModelPayload,
  RegisteredModelResult,
  SetModelAliasInput,
  UpdateModelVersionInput,
  UpdateRegisteredModelInput,
  modelVersionSort,
  registeredModelSort,
} from "./registry.types";
import type { RegistryService } from "./registry.service";

const modelPayload = (row: Parameters<typeof RegisteredModel.from>[0]) =>
  Object.assign(new RegisteredModelPayload(), { registeredModel: RegisteredModel.from(row) });
const versionPayload = (row: Parameters<typeof ModelVersion.from>[0]) =>
  Object.assign(new ModelVersionPayload(), { modelVersion: ModelVersion.from(row) });

/** What RegisteredModelResolver uses. */
export interface RegisteredModelResolverDeps {
  registry: RegistryService;
}

@Resolver(() => RegisteredModel)
export class RegisteredModelResolver {
  constructor(readonly deps: RegisteredModelResolverDeps) {}

  @Query(() => RegisteredModel, { nullable: true, description: "A registered model by id, or by project and name." })
  async registeredModel(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the model; or give `projectId` and `name` instead." }) id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "Project of the model, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "Name of the model, with `projectId`." }) name?: string | null,
  ): Promise<RegisteredModel | null> {
    const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key ? await this.deps.registry.modelByName(by.key.projectId, by.key.name) : await this.deps.registry.model(by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
    return row ? RegisteredModel.from(row) : null;
  }

  @Query(() => RegisteredModelConnection, { description: "Registered models the caller may read." })
  async registeredModels(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => RegisteredModelFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: RegisteredModelFilter | null,
    @Arg("orderBy", () => RegisteredModelOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: RegisteredModelOrder | null,
  ): Promise<RegisteredModelConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.registry.listModels(
      { projectIds, nameContains: filter?.nameContains ?? undefined },
      page,
      registeredModelSort(orderBy),
    );
    return RegisteredModelConnection.from(result, RegisteredModel.from);
  }

  @Query(() => ModelVersion, { nullable: true, description: "A model version by id, by model and number, or by model and alias." })
  async modelVersion(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the version; or give `registeredModelId` with `version` or `alias`." })
    id?: string | null,
    @Arg("registeredModelId", () => ID, { nullable: true, description: "The registered model, with `version` or `alias`." })
    registeredModelId?: string | null,
    @Arg("version", () => Int, { nullable: true, description: "The version number, with `registeredModelId`." }) version?: number | null,
    @Arg("alias", () => String, { nullable: true, description: "An alias of the model (e.g. `champion`), with `registeredModelId`." })
    alias?: string | null,
  ): Promise<ModelVersion | null> {
    const registry = this.deps.registry;
    const by = lookupBy(
      { id, registeredModelId, version, alias },
      {
        key: [
          ["registeredModelId", "version"],
          ["registeredModelId", "alias"],
        ],
      },
    );
    const row = !by.key
      ? await registry.version(by.id)
      : "version" in by.key
        ? await registry.versionByNumber(by.key.registeredModelId, by.key.version)
        : await registry.versionByAlias(by.key.registeredModelId, by.key.alias);
    const model = by.key && !row ? await registry.model(by.key.registeredModelId) : null;
    ctx.authz.require(Permission.READ, row?.projectId ?? model?.projectId);
    return row ? ModelVersion.from(row) : null;
  }

  @FieldResolver(() => ModelVersionConnection, { description: "Newest first by default." })
  async versions(
    @Root() model: RegisteredModel,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ModelVersionFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ModelVersionFilter | null,
    @Arg("orderBy", () => ModelVersionOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ModelVersionOrder | null,
  ): Promise<ModelVersionConnection> {
    ctx.authz.require(Permission.READ, model.projectId);
    const result = await this.deps.registry.listVersions(
      { registeredModelId: model.id, status: filter?.status ?? undefined },
      page,
      modelVersionSort(orderBy),
    );
    return ModelVersionConnection.from(result, ModelVersion.from);
  }

  @FieldResolver(() => [ModelAlias], { description: "The model's aliases and the versions they point at." })
  async aliases(@Root() model: RegisteredModel, @Ctx() ctx: RequestContext): Promise<ModelAlias[]> {
    ctx.authz.require(Permission.READ, model.projectId);
    return (await this.deps.registry.aliases(model.id)).map(ModelAlias.from);
  }

  @FieldResolver(() => [ModelAliasMove], { description: "Every move of `alias` (or of every alias), oldest first." })
  async aliasHistory(
    @Root() model: RegisteredModel,
    @Ctx() ctx: RequestContext,
    @Arg("alias", () => String, { nullable: true, description: "Only the moves of this alias; all aliases when omitted." })
    alias?: string | null,
  ): Promise<ModelAliasMove[]> {
    ctx.authz.require(Permission.READ, model.projectId);
    return (await this.deps.registry.aliasHistory(model.id, alias ?? undefined)).map(ModelAliasMove.from);
  }

  @Mutation(() => RegisteredModelResult, { description: "Creates a registered model. Needs EDITOR." })
  async createRegisteredModel(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateRegisteredModelInput,
  ): Promise<typeof RegisteredModelResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "model.create", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const row = await this.deps.registry.createModel(tx, input);
        return { value: modelPayload(row), targetId: row.id };
      }),
    );
  }

  @Mutation(() => RegisteredModelResult, { description: "Changes a registered model's description or tags. Needs EDITOR." })
  async updateRegisteredModel(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateRegisteredModelInput,
  ): Promise<typeof RegisteredModelResult> {
    return captureErrors(async () => {
      const model = await this.deps.registry.model(input.id);
      return runMutation(ctx, { action: "model.update", permission: Permission.WRITE, projectId: model?.projectId, input }, async (tx) => {
        const row = await this.deps.registry.updateModel(tx, input.id, input);
        return { value: modelPayload(row), targetId: row.id };
      });
    });
  }

  @Mutation(() => ModelVersionResult, {
    description: "Registers a run's Model output (an ONNX file) as the model's next version, with its lineage. Needs EDITOR.",
  })
  async createModelVersion(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateModelVersionInput,
  ): Promise<typeof ModelVersionResult> {
    return captureErrors(async () => {
      const model = await this.deps.registry.model(input.registeredModelId);
      const scope: MutationScope = { action: "model.version.create", permission: Permission.WRITE, projectId: model?.projectId, input };
      const prepared = await prepareMutation(ctx, scope, async () => {
        if (!model) throw new NotFoundError("RegisteredModel", input.registeredModelId);
        return this.deps.registry.prepareFromArtifact(model.projectId, input.artifactId);
      });
      return runMutation(ctx, scope, async (tx) => {
        // Separation of duties reads createdBy: for a run's output it is whoever triggered the run.
        const [run] = prepared.lineage.runId
          ? await tx.manager.query(`SELECT created_by FROM runs WHERE id = $1`, [prepared.lineage.runId])
          : [undefined];
        const row = await this.deps.registry.createVersion(tx, model!.id, prepared, {
          ...input,
          createdBy: run?.created_by ?? tx.caller.principalId,
        });
        return { value: versionPayload(row), targetId: row.id, result: { versionId: row.id, version: row.version } };
      });
    });
  }

  @Mutation(() => ModelVersionResult, { description: "Changes a version's description or tags. Needs EDITOR." })
  async updateModelVersion(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateModelVersionInput,
  ): Promise<typeof ModelVersionResult> {
    return captureErrors(async () => {
      const v = await this.deps.registry.version(input.id);
      return runMutation(
        ctx,
        { action: "model.version.update", permission: Permission.WRITE, projectId: v?.projectId, input },
        async (tx) => {
          const row = await this.deps.registry.updateVersion(tx, input.id, input);
          return { value: versionPayload(row), targetId: row.id };
        },
      );
    });
  }

  @Mutation(() => ModelVersionResult, { description: "Archives a version no alias points at (final). Needs EDITOR." })
  async archiveModelVersion(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ModelVersionIdInput,
  ): Promise<typeof ModelVersionResult> {
    return captureErrors(async () => {
      const v = await this.deps.registry.version(input.id);
      return runMutation(
        ctx,
        { action: "model.version.archive", permission: Permission.WRITE, projectId: v?.projectId, input },
        async (tx) => {
          const row = await this.deps.registry.archiveVersion(tx, input.id);
          return { value: versionPayload(row), targetId: row.id };
        },
      );
    });
  }

  @Mutation(() => ModelAliasResult, { description: "Points an alias at a version, atomically, keeping its history. Needs EDITOR." })
  async setModelAlias(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetModelAliasInput,
  ): Promise<typeof ModelAliasResult> {
    return captureErrors(async () => {
      const model = await this.deps.registry.model(input.registeredModelId);
      return runMutation(
        ctx,
        { action: "model.alias.set", permission: Permission.WRITE, projectId: model?.projectId, input },
        async (tx) => {
          const alias = await this.deps.registry.setAlias(tx, input.registeredModelId, input.alias, input.version);
          return {
            value: Object.assign(new ModelAliasPayload(), { registeredModel: RegisteredModel.from(model!), alias: ModelAlias.from(alias) }),
            targetId: model!.id,
          };
        },
      );
    });
  }

  @Mutation(() => ModelAliasResult, { description: "Removes an alias (its history stays). Needs EDITOR." })
  async deleteModelAlias(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DeleteModelAliasInput,
  ): Promise<typeof ModelAliasResult> {
    return captureErrors(async () => {
      const model = await this.deps.registry.model(input.registeredModelId);
      return runMutation(
        ctx,
        { action: "model.alias.delete", permission: Permission.WRITE, projectId: model?.projectId, input },
        async (tx) => {
          await this.deps.registry.deleteAlias(tx, input.registeredModelId, input.alias);
          return {
            value: Object.assign(new ModelAliasPayload(), { registeredModel: RegisteredModel.from(model!), alias: null }),
            targetId: model!.id,
          };
        },
      );
    });
  }
}

/** What ModelVersionResolver uses. */
export interface ModelVersionResolverDeps {
  registry: RegistryService;
}

@Resolver(() => ModelVersion)
export class ModelVersionResolver {
  constructor(readonly deps: ModelVersionResolverDeps) {}

  @FieldResolver(() => RegisteredModel, { description: "The registered model this is a version of." })
  async registeredModel(@Root() v: ModelVersion, @Ctx() ctx: RequestContext): Promise<RegisteredModel> {
    ctx.authz.require(Permission.READ, v.projectId);
    return RegisteredModel.from((await this.deps.registry.model(v.registeredModelId))!);
  }

  @FieldResolver(() => [String], { description: "The aliases pointing at this version." })
  async aliases(@Root() v: ModelVersion, @Ctx() ctx: RequestContext): Promise<string[]> {
    ctx.authz.require(Permission.READ, v.projectId);
    return (await this.deps.registry.aliases(v.registeredModelId)).filter((a) => a.versionId === v.id).map((a) => a.alias);
  }
}
