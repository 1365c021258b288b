import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { type MutationScope, prepareMutation, runMutation } from "../kernel/mutation";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { Permission } from "../kernel/roles";
import { Artifact } from "../artifacts/artifact.types";
import {
  CreateDatasetInput,
  Dataset,
  DatasetConnection,
  DatasetFilter,
  DatasetIdInput,
  DatasetOrder,
  DatasetPayload,
  DatasetResult,
  DatasetSource,
  DatasetSourcePayload,
  DatasetSourceResult,
  DatasetVersion,
  DatasetVersionConnection,
  DatasetVersionOrder,
  IngestDatasetInput,
  IngestDatasetPayload,
  IngestDatasetResult,
  PutDatasetSourceInput,
  UpdateDatasetInput,
  datasetSort,
  datasetVersionSort,
} from "./dataset.types";
import { formatFromPaths } from "./file-format";
import type { FileSourceConfig, SourceConfig } from "./types";
import type { Database } from "../db/data-source";
import type { DatasetService } from "./dataset.service";
import type { IngestionService } from "./ingestion.service";

/** The source config a `putDatasetSource` input describes (validated by the service). */
function sourceConfigOf(input: PutDatasetSourceInput): SourceConfig {
  if (input.kind === "FILE") {
    const paths = input.paths ?? [];
    // An omitted format is the one the paths' extensions agree on; checkSourceConfig refuses none.
    const config: FileSourceConfig = { kind: "FILE", paths, format: input.format ?? formatFromPaths(paths) ?? ("" as never) };
    if (input.hivePartitioning) config.hivePartitioning = true;
    if (input.csv) config.csv = Object.fromEntries(Object.entries(input.csv).filter(([, v]) => v !== null && v !== undefined));
    return config;
  }
  return { kind: "POSTGRES_QUERY", secret: input.secret ?? "", query: input.query ?? "" };
}

/** What DatasetResolver uses. */
export interface DatasetResolverDeps {
  datasets: DatasetService;
  ingestion: IngestionService;
}

@Resolver(() => Dataset)
export class DatasetResolver {
  constructor(readonly deps: DatasetResolverDeps) {}

  @Query(() => Dataset, { nullable: true, description: "A dataset by id, or by project and name." })
  async dataset(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the dataset; or give `projectId` and `name` instead." })
    id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "Project of the dataset, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "Name of the dataset, with `projectId`." }) name?: string | null,
  ): Promise<Dataset | null> {
    const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key ? await this.deps.datasets.getByName(by.key.projectId, by.key.name) : await this.deps.datasets.get(by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
    return row ? Dataset.from(row) : null;
  }

  @Query(() => DatasetConnection, { description: "Datasets the caller may read." })
  async datasets(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => DatasetFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: DatasetFilter | null,
    @Arg("orderBy", () => DatasetOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: DatasetOrder | null,
  ): Promise<DatasetConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.datasets.list(
      { projectIds, nameContains: filter?.nameContains ?? undefined },
      page,
      datasetSort(orderBy),
    );
    return DatasetConnection.from(result, Dataset.from);
  }

  @Query(() => DatasetVersion, { nullable: true, description: "A version by id, or by dataset and number." })
  async datasetVersion(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the version; or give `datasetId` and `version` instead." })
    id?: string | null,
    @Arg("datasetId", () => ID, { nullable: true, description: "The dataset, with `version`." }) datasetId?: string | null,
    @Arg("version", () => Int, { nullable: true, description: "The version number, with `datasetId`." }) version?: number | null,
  ): Promise<DatasetVersion | null> {
    const by = lookupBy({ id, datasetId, version }, { key: ["datasetId", "version"] });
    const row = by.key
      ? await this.deps.datasets.versionByNumber(by.key.datasetId, by.key.version)
      : await this.deps.datasets.version(by.id);
    const parentId = row?.datasetId ?? by.key?.datasetId;
    const dataset = parentId ? await this.deps.datasets.get(parentId) : null;
    ctx.authz.require(Permission.READ, dataset?.projectId);
    return row && dataset ? DatasetVersion.from(row, dataset.projectId) : null;
  }

  @FieldResolver(() => DatasetVersion, { nullable: true, description: "The newest version; null before the first ingest." })
  async latestVersion(@Root() dataset: Dataset, @Ctx() ctx: RequestContext): Promise<DatasetVersion | null> {
    ctx.authz.require(Permission.READ, dataset.projectId);
    const row = dataset.latestVersionId ? await this.deps.datasets.version(dataset.latestVersionId) : null;
    return row ? DatasetVersion.from(row, dataset.projectId) : null;
  }

  @FieldResolver(() => DatasetVersionConnection, { description: "Newest first by default." })
  async versions(
    @Root() dataset: Dataset,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("orderBy", () => DatasetVersionOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: DatasetVersionOrder | null,
  ): Promise<DatasetVersionConnection> {
    ctx.authz.require(Permission.READ, dataset.projectId);
    const result = await this.deps.datasets.versions(dataset.id, page, datasetVersionSort(orderBy));
    return DatasetVersionConnection.from(result, (r) => DatasetVersion.from(r, dataset.projectId));
  }

  @FieldResolver(() => [DatasetSource], { description: "The dataset's sources, by name." })
  async sources(@Root() dataset: Dataset, @Ctx() ctx: RequestContext): Promise<DatasetSource[]> {
    ctx.authz.require(Permission.READ, dataset.projectId);
    return (await this.deps.datasets.sources(dataset.id)).map(DatasetSource.from);
  }

  @Mutation(() => DatasetResult, { description: "Creates a dataset. Needs EDITOR." })
  async createDataset(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateDatasetInput,
  ): Promise<typeof DatasetResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "dataset.create", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const row = await this.deps.datasets.create(tx, input);
        return {
          value: Object.assign(new DatasetPayload(), { dataset: Dataset.from(row) }),
          targetId: row.id,
          result: { id: row.id, name: row.name },
        };
      }),
    );
  }

  @Mutation(() => DatasetResult, { description: "Changes a dataset's description or schema policy. Needs EDITOR." })
  async updateDataset(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateDatasetInput,
  ): Promise<typeof DatasetResult> {
    return captureErrors(async () => {
      const existing = await this.deps.datasets.get(input.id);
      return runMutation(
        ctx,
        { action: "dataset.update", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          const row = await this.deps.datasets.update(tx, input.id, input);
          return { value: Object.assign(new DatasetPayload(), { dataset: Dataset.from(row) }), targetId: row.id, result: { id: row.id } };
        },
      );
    });
  }

  @Mutation(() => DatasetSourceResult, { description: "Adds a source to a dataset, or replaces the one with the same name. Needs EDITOR." })
  async putDatasetSource(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: PutDatasetSourceInput,
  ): Promise<typeof DatasetSourceResult> {
    return captureErrors(async () => {
      const dataset = await this.deps.datasets.get(input.datasetId);
      return runMutation(
        ctx,
        { action: "dataset.source.put", permission: Permission.WRITE, projectId: dataset?.projectId, input },
        async (tx) => {
          const row = await this.deps.datasets.putSource(tx, input.datasetId, input.name, sourceConfigOf(input));
          return {
            value: Object.assign(new DatasetSourcePayload(), { source: DatasetSource.from(row) }),
            targetId: row.id,
            result: { id: row.id },
          };
        },
      );
    });
  }

  @Mutation(() => DatasetSourceResult, { description: "Removes a source (its versions stay). Needs EDITOR." })
  async deleteDatasetSource(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DatasetIdInput,
  ): Promise<typeof DatasetSourceResult> {
    return captureErrors(async () => {
      const source = await this.deps.datasets.source(input.id);
      const dataset = source ? await this.deps.datasets.get(source.datasetId) : null;
      return runMutation(
        ctx,
        { action: "dataset.source.delete", permission: Permission.WRITE, projectId: dataset?.projectId, input },
        async (tx) => {
          const row = await this.deps.datasets.deleteSource(tx, input.id);
          return {
            value: Object.assign(new DatasetSourcePayload(), { source: DatasetSource.from(row) }),
            targetId: row.id,
            result: { id: row.id },
          };
        },
      );
    });
  }

  @Mutation(() => IngestDatasetResult, {
    description:
      "Reads a source into a new version (Parquet, profiled, schema-checked against the dataset's policy). Identical data returns the existing version. Needs EDITOR.",
  })
  async ingestDataset(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: IngestDatasetInput,
  ): Promise<typeof IngestDatasetResult> {
    return captureErrors(async () => {
      const dataset = await this.deps.datasets.get(input.datasetId);
      const scope: MutationScope = { action: "dataset.ingest", permission: Permission.WRITE, projectId: dataset?.projectId, input };
      const data = await prepareMutation(ctx, scope, async () => {
        if (!dataset) throw new NotFoundError("Dataset", input.datasetId);
        const source = (await this.deps.datasets.sources(dataset.id)).find((s) => s.name === input.source);
        if (!source) throw new NotFoundError("DatasetSource", input.source);
        return {
          source,
          materialized: await this.deps.ingestion.materialize(dataset.projectId, source.config as unknown as SourceConfig),
        };
      });
      // A SchemaPolicyError answers as its registered member, SchemaChangeRefusedError.
      return runMutation(ctx, scope, async (tx) => {
        const r = await this.deps.datasets.registerVersion(tx, dataset!.id, data.materialized, { sourceId: data.source.id });
        return {
          value: Object.assign(new IngestDatasetPayload(), {
            version: DatasetVersion.from(r.version, dataset!.projectId),
            created: r.created,
          }),
          targetId: r.version.id,
          result: { versionId: r.version.id, version: r.version.version, created: r.created, rowCount: Number(r.version.rowCount) },
        };
      });
    });
  }
}

/** What DatasetVersionResolver uses. */
export interface DatasetVersionResolverDeps {
  db: Database;
}

@Resolver(() => DatasetVersion)
export class DatasetVersionResolver {
  constructor(readonly deps: DatasetVersionResolverDeps) {}

  @FieldResolver(() => Artifact, { description: "The Parquet file, content-addressed." })
  async artifact(@Root() v: DatasetVersion, @Ctx() ctx: RequestContext): Promise<Artifact> {
    ctx.authz.require(Permission.READ, v.projectId);
    return Artifact.from(await this.deps.db.dataSource.getRepository(ArtifactRow).findOneByOrFail({ id: v.artifactId }));
  }
}
