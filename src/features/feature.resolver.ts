import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { type MutationScope, prepareMutation, runMutation } from "../kernel/mutation";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { Permission } from "../kernel/roles";
import { Dataset, DatasetVersion } from "../datasets";
import { Artifact } from "../artifacts/artifact.types";
import {
  BuildTrainingSetInput,
  BuildTrainingSetPayload,
  BuildTrainingSetResult,
  DefineFeatureViewInput,
  DefineFeatureViewPayload,
  DefineFeatureViewResult,
  FeatureMaterialization,
  FeatureMaterializationConnection,
  FeatureMaterializationOrder,
  FeatureView,
  FeatureViewConnection,
  FeatureViewFilter,
  FeatureViewOrder,
  MaterializeFeatureViewInput,
  MaterializeFeatureViewPayload,
  MaterializeFeatureViewResult,
  OnlineFeatureVector,
  OnlineFeatures,
  TrainingSet,
  TrainingSetConnection,
  TrainingSetFilter,
  TrainingSetOrder,
  TrainingSetView,
  featureMaterializationSort,
  featureViewSort,
  trainingSetSort,
} from "./feature.types";
import type { DatasetService } from "../datasets/dataset.service";
import type { Database } from "../db/data-source";
import type { FeatureService } from "./feature.service";

async function datasetVersion(datasets: DatasetService, id: string, projectId: string): Promise<DatasetVersion | null> {
  const row = await datasets.version(id);
  return row ? DatasetVersion.from(row, projectId) : null;
}

async function artifact(db: Database, id: string): Promise<Artifact> {
  return Artifact.from(await db.dataSource.getRepository(ArtifactRow).findOneByOrFail({ id }));
}

/** What FeatureViewResolver uses. */
export interface FeatureViewResolverDeps {
  datasets: DatasetService;
  features: FeatureService;
}

@Resolver(() => FeatureView)
export class FeatureViewResolver {
  constructor(readonly deps: FeatureViewResolverDeps) {}

  @Query(() => FeatureView, {
    nullable: true,
    description: "A feature view version by id, or by project and name (the latest version unless `version` is given).",
  })
  async featureView(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "A view version's id; or give `projectId` and `name`." }) id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "The view's project, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The view's name, with `projectId`." }) name?: string | null,
    @Arg("version", () => Int, { nullable: true, description: "The version of `name`; the latest when omitted." }) version?: number | null,
  ): Promise<FeatureView | null> {
    const by = lookupBy({ id, projectId, name, version }, { key: ["projectId", "name"], optional: ["version"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key
      ? await this.deps.features.getViewByName(by.key.projectId, by.key.name, version ?? undefined)
      : await this.deps.features.getView(by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
    return row ? FeatureView.from(row) : null;
  }

  @Query(() => FeatureViewConnection, {
    description: "Feature views the caller may read: the latest version of each name, or every version with `allVersions`.",
  })
  async featureViews(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => FeatureViewFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: FeatureViewFilter | null,
    @Arg("orderBy", () => FeatureViewOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: FeatureViewOrder | null,
  ): Promise<FeatureViewConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.features.listViews(
      {
        projectIds,
        nameContains: filter?.nameContains ?? undefined,
        name: filter?.name ?? undefined,
        allVersions: filter?.allVersions ?? false,
      },
      page,
      featureViewSort(orderBy),
    );
    return FeatureViewConnection.from(result, FeatureView.from);
  }

  @Query(() => OnlineFeatures, {
    description:
      "Online feature values of a view for a batch of entity keys (each the view's key values in order), in request order. At most 1000 keys.",
  })
  async onlineFeatures(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The view's project." }) projectId: string,
    @Arg("view", { description: "The view's name in the project." }) view: string,
    @Arg("entityKeys", () => [[String]], { description: "The keys, each the view's entity key values in `entities` order." })
    entityKeys: string[][],
  ): Promise<OnlineFeatures> {
    ctx.authz.require(Permission.READ, projectId);
    const vectors = await this.deps.features.onlineFeatures(projectId, view, entityKeys);
    return Object.assign(new OnlineFeatures(), { view, vectors: vectors.map(OnlineFeatureVector.from) });
  }

  @FieldResolver(() => Dataset, { nullable: true, description: "The dataset the view reads." })
  async sourceDataset(@Root() view: FeatureView, @Ctx() ctx: RequestContext): Promise<Dataset | null> {
    ctx.authz.require(Permission.READ, view.projectId);
    const row = await this.deps.datasets.get(view.sourceDatasetId);
    return row ? Dataset.from(row) : null;
  }

  @FieldResolver(() => FeatureMaterialization, { nullable: true, description: "This version's most recent materialization." })
  async latestMaterialization(@Root() view: FeatureView, @Ctx() ctx: RequestContext): Promise<FeatureMaterialization | null> {
    ctx.authz.require(Permission.READ, view.projectId);
    const row = await this.deps.features.latestMaterialization(view.id);
    return row ? FeatureMaterialization.from(row) : null;
  }

  @FieldResolver(() => FeatureMaterializationConnection, { description: "This version's materializations, newest first by default." })
  async materializations(
    @Root() view: FeatureView,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("orderBy", () => FeatureMaterializationOrder, {
      nullable: true,
      description: "How to sort the list; each list has its own default.",
    })
    orderBy?: FeatureMaterializationOrder | null,
  ): Promise<FeatureMaterializationConnection> {
    ctx.authz.require(Permission.READ, view.projectId);
    const result = await this.deps.features.materializations(view.id, page, featureMaterializationSort(orderBy));
    return FeatureMaterializationConnection.from(result, FeatureMaterialization.from);
  }

  @Mutation(() => DefineFeatureViewResult, {
    description:
      "Defines a feature view: a new version when the definition differs from every earlier one of the name, else the existing version. Needs EDITOR.",
  })
  async defineFeatureView(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DefineFeatureViewInput,
  ): Promise<typeof DefineFeatureViewResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "feature.define", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const r = await this.deps.features.defineView(tx, input.projectId, input.definition, input.description);
        return {
          value: Object.assign(new DefineFeatureViewPayload(), { featureView: FeatureView.from(r.view), created: r.created }),
          targetId: r.view.id,
          result: { id: r.view.id, name: r.view.name, version: r.view.version, created: r.created },
        };
      }),
    );
  }

  @Mutation(() => MaterializeFeatureViewResult, {
    description:
      "Computes a view version's feature table from a source dataset version into a FeatureSet Parquet artifact and, unless `online: false`, loads each entity's latest row into the online store. Needs EDITOR.",
  })
  async materializeFeatureView(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: MaterializeFeatureViewInput,
  ): Promise<typeof MaterializeFeatureViewResult> {
    return captureErrors(async () => {
      const view = await this.deps.features.getView(input.featureViewId);
      const scope: MutationScope = { action: "feature.materialize", permission: Permission.WRITE, projectId: view?.projectId, input };
      const prepared = await prepareMutation(ctx, scope, async () => {
        if (!view) throw new NotFoundError("FeatureView", input.featureViewId);
        return this.deps.features.prepareMaterialization(view.id, input.sourceVersionId, input.online ?? true);
      });
      try {
        return await runMutation(ctx, scope, async (tx) => {
          const row = await this.deps.features.recordMaterialization(tx, prepared);
          return {
            value: Object.assign(new MaterializeFeatureViewPayload(), { materialization: FeatureMaterialization.from(row) }),
            targetId: row.id,
            result: { id: row.id, rowCount: Number(row.rowCount), onlineRows: row.onlineRows, sourceVersionId: row.sourceVersionId },
          };
        });
      } finally {
        await prepared.dispose();
      }
    });
  }
}

/** What FeatureMaterializationResolver uses. */
export interface FeatureMaterializationResolverDeps {
  datasets: DatasetService;
  db: Database;
  features: FeatureService;
}

@Resolver(() => FeatureMaterialization)
export class FeatureMaterializationResolver {
  constructor(readonly deps: FeatureMaterializationResolverDeps) {}

  @FieldResolver(() => FeatureView, { description: "The view version materialized." })
  async featureView(@Root() m: FeatureMaterialization, @Ctx() ctx: RequestContext): Promise<FeatureView> {
    ctx.authz.require(Permission.READ, m.projectId);
    const row = await this.deps.features.getView(m.featureViewId);
    if (!row) throw new NotFoundError("FeatureView", m.featureViewId);
    return FeatureView.from(row);
  }

  @FieldResolver(() => DatasetVersion, { nullable: true, description: "The source dataset version it was computed from." })
  async sourceVersion(@Root() m: FeatureMaterialization, @Ctx() ctx: RequestContext): Promise<DatasetVersion | null> {
    ctx.authz.require(Permission.READ, m.projectId);
    return datasetVersion(this.deps.datasets, m.sourceVersionId, m.projectId);
  }

  @FieldResolver(() => Artifact, { description: "The offline feature table (Parquet)." })
  async artifact(@Root() m: FeatureMaterialization, @Ctx() ctx: RequestContext): Promise<Artifact> {
    ctx.authz.require(Permission.READ, m.projectId);
    return artifact(this.deps.db, m.artifactId);
  }
}

/** What TrainingSetResolver uses. */
export interface TrainingSetResolverDeps {
  datasets: DatasetService;
  db: Database;
  features: FeatureService;
}

@Resolver(() => TrainingSet)
export class TrainingSetResolver {
  constructor(readonly deps: TrainingSetResolverDeps) {}

  @Query(() => TrainingSet, { nullable: true, description: "One training set by id; null when there is none." })
  async trainingSet(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "The training set's id." }) id: string,
  ): Promise<TrainingSet | null> {
    const row = await this.deps.features.trainingSet(id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? TrainingSet.from(row) : null;
  }

  @Query(() => TrainingSetConnection, { description: "Training sets the caller may read, newest first by default." })
  async trainingSets(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => TrainingSetFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: TrainingSetFilter | null,
    @Arg("orderBy", () => TrainingSetOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: TrainingSetOrder | null,
  ): Promise<TrainingSetConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.features.listTrainingSets(
      { projectIds, nameContains: filter?.nameContains ?? undefined },
      page,
      trainingSetSort(orderBy),
    );
    return TrainingSetConnection.from(result, TrainingSet.from);
  }

  @FieldResolver(() => Artifact, { description: "The Parquet file." })
  async artifact(@Root() t: TrainingSet, @Ctx() ctx: RequestContext): Promise<Artifact> {
    ctx.authz.require(Permission.READ, t.projectId);
    return artifact(this.deps.db, t.artifactId);
  }

  @FieldResolver(() => DatasetVersion, { nullable: true, description: "The entity data frame: keys and timestamps." })
  async entityVersion(@Root() t: TrainingSet, @Ctx() ctx: RequestContext): Promise<DatasetVersion | null> {
    ctx.authz.require(Permission.READ, t.projectId);
    return datasetVersion(this.deps.datasets, t.entityVersionId, t.projectId);
  }

  @Mutation(() => BuildTrainingSetResult, {
    description:
      "Builds a point-in-time correct training set from an entity dataset version and the latest materialization of each view (views must have been materialized). Needs EDITOR.",
  })
  async buildTrainingSet(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: BuildTrainingSetInput,
  ): Promise<typeof BuildTrainingSetResult> {
    return captureErrors(async () => {
      const scope: MutationScope = { action: "feature.trainingSet", permission: Permission.WRITE, projectId: input.projectId, input };
      const prepared = await prepareMutation(ctx, scope, () => this.deps.features.prepareTrainingSet(input));
      return runMutation(ctx, scope, async (tx) => {
        const row = await this.deps.features.recordTrainingSet(tx, prepared);
        return {
          value: Object.assign(new BuildTrainingSetPayload(), { trainingSet: TrainingSet.from(row) }),
          targetId: row.id,
          result: { id: row.id, rowCount: Number(row.rowCount), views: prepared.views.map((v) => `${v.name}@${v.version}`) },
        };
      });
    });
  }
}

/** What TrainingSetViewResolver uses. */
export interface TrainingSetViewResolverDeps {
  features: FeatureService;
}

@Resolver(() => TrainingSetView)
export class TrainingSetViewResolver {
  constructor(readonly deps: TrainingSetViewResolverDeps) {}

  @FieldResolver(() => FeatureView, { nullable: true, description: "The view version read; null once it is deleted." })
  async featureView(@Root() v: TrainingSetView, @Ctx() ctx: RequestContext): Promise<FeatureView | null> {
    ctx.authz.require(Permission.READ, v.projectId);
    const row = await this.deps.features.getView(v.featureViewId);
    return row ? FeatureView.from(row) : null;
  }

  @FieldResolver(() => FeatureMaterialization, { nullable: true, description: "The materialization the features were read from." })
  async materialization(@Root() v: TrainingSetView, @Ctx() ctx: RequestContext): Promise<FeatureMaterialization | null> {
    ctx.authz.require(Permission.READ, v.projectId);
    const row = await this.deps.features.materialization(v.materializationId);
    return row ? FeatureMaterialization.from(row) : null;
  }
}
