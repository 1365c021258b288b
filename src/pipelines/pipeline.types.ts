import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { FieldChange, SpecDiff } from "./diff";
import type { ApplyOutcome } from "./pipeline.service";
import type { PipelineVersionRow } from "./pipeline-version.entity";
import type { PipelineRow } from "./pipeline.entity";

export enum ApplyOutcomeEnum {
  CREATED = "CREATED",
  NEW_VERSION = "NEW_VERSION",
  UNCHANGED = "UNCHANGED",
}
registerEnumType(ApplyOutcomeEnum, {
  name: "ApplyOutcome",
  description: "What applying a spec did.",
  valuesConfig: {
    UNCHANGED: { description: "The spec equals the latest version's: nothing was stored." },
    NEW_VERSION: { description: "The spec differed from the latest version: a new version was stored." },
    CREATED: { description: "The pipeline did not exist: it was created with version 1." },
  },
});

@ObjectType({ description: "A pipeline: a named DAG of stages in a project, stored as immutable versions." })
export class Pipeline {
  @Field(() => ID, { description: "Server-assigned UUID of the pipeline." })
  id: string;

  @Field(() => ID, { description: "Project the pipeline belongs to." })
  projectId: string;

  @Field({ description: "Unique within the project; the spec's `name`." })
  name: string;

  @Field({ description: "Free text from the spec; empty when none." })
  description: string;

  @Field(() => ID, { nullable: true, description: "UUID of the newest version; null only before the first version is stored." })
  latestVersionId: string | null;

  @Field({ description: "When the pipeline was first applied." })
  createdAt: Date;

  @Field({ description: "When the pipeline last changed (e.g. got a new version)." })
  updatedAt: Date;

  static from(row: PipelineRow): Pipeline {
    return Object.assign(new Pipeline(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      description: row.description,
      latestVersionId: row.latestVersionId,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One immutable version of a pipeline, named by the hash of its normalized spec." })
export class PipelineVersion {
  @Field(() => ID, { description: "Server-assigned UUID of the version." })
  id: string;

  @Field(() => ID, { description: "The pipeline this is a version of." })
  pipelineId: string;

  @Field(() => Int, { description: "1, 2, 3… in order of first application." })
  version: number;

  @Field({ description: "`sha256:<hex>` of the canonical normalized spec." })
  contentHash: string;

  @Field(() => GraphQLJSONObject, { description: "The normalized spec (PipelineSpec)." })
  spec: Record<string, unknown>;

  @Field({ description: "Folder relative module and command paths resolve against; empty when none." })
  baseDir: string;

  @Field(() => ID, { nullable: true, description: "The principal that applied this version; null when unknown." })
  createdBy: string | null;

  @Field({ description: "When this version was first applied." })
  createdAt: Date;

  static from(row: PipelineVersionRow): PipelineVersion {
    return Object.assign(new PipelineVersion(), {
      id: row.id,
      pipelineId: row.pipelineId,
      version: row.version,
      contentHash: row.contentHash,
      spec: row.spec,
      baseDir: row.baseDir,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
    });
  }
}

export const {
  Connection: PipelineConnection,
  Order: PipelineOrder,
  sortOf: pipelineSort,
  Filter: PipelineFilter,
} = ListTypes(Pipeline, "Pipeline", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    projectId: FilterBy.id("Only pipelines of this project."),
    nameContains: FilterBy.text("Only pipelines whose name contains this text."),
  },
});
export type PipelineConnection = InstanceType<typeof PipelineConnection>;
export type PipelineOrder = InstanceType<typeof PipelineOrder>;
export type PipelineFilter = InstanceType<typeof PipelineFilter>;

export const {
  Connection: PipelineVersionConnection,
  Order: PipelineVersionOrder,
  sortOf: pipelineVersionSort,
  Filter: PipelineVersionFilter,
} = ListTypes(PipelineVersion, "PipelineVersion", {
  orderBy: { VERSION: "version", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "version", direction: "DESC" },
  filter: {
    version: FilterBy.int("Only this version number."),
  },
});
export type PipelineVersionConnection = InstanceType<typeof PipelineVersionConnection>;
export type PipelineVersionOrder = InstanceType<typeof PipelineVersionOrder>;
export type PipelineVersionFilter = InstanceType<typeof PipelineVersionFilter>;

@InputType({ description: "A pipeline spec to create or update a pipeline from (by the spec's name, in the project)." })
export class ApplyPipelineInput {
  @Field(() => ID, { description: "Project the pipeline belongs to; the caller needs EDITOR there." })
  projectId: string;

  @Field(() => GraphQLJSONObject, { description: "The pipeline spec (the JSON form of definePipeline)." })
  spec: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description: "Absolute folder the spec's relative paths resolve against, on the runners' machines.",
  })
  baseDir?: string | null;
}

@ObjectType({ description: "The pipeline after applying a spec, the version the spec now is, and what happened." })
export class ApplyPipelinePayload {
  @Field(() => Pipeline, { description: "The pipeline, with `latestVersionId` pointing at `version`." })
  pipeline: Pipeline;

  @Field(() => PipelineVersion, { description: "The version the applied spec is: new, or the existing latest when UNCHANGED." })
  version: PipelineVersion;

  @Field(() => ApplyOutcomeEnum, { description: "Whether the pipeline was created, got a new version, or was unchanged." })
  outcome: ApplyOutcome;
}

export const ApplyPipelineResult = MutationResult("ApplyPipeline", ApplyPipelinePayload);

@ObjectType({ description: "One field that differs between two versions." })
export class SpecFieldChange {
  @Field({ description: "Dotted path of the field in the spec, e.g. `params.lr`." })
  path: string;

  @Field({ description: "`added`, `removed` or `changed`." })
  change: string;

  @Field(() => GraphQLJSON, { nullable: true, description: "The value in `from`; null when the field was added." })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: "The value in `to`; null when the field was removed." })
  after: unknown;

  static from(c: FieldChange): SpecFieldChange {
    return Object.assign(new SpecFieldChange(), { path: c.path, change: c.change, before: c.before ?? null, after: c.after ?? null });
  }
}

@ObjectType({ description: "One stage present in both versions whose spec differs." })
export class StageSpecChange {
  @Field({ description: "Name of the stage." })
  name: string;

  @Field(() => [SpecFieldChange], { description: "The fields of the stage that differ." })
  changes: SpecFieldChange[];
}

@ObjectType({ description: "What changed from one version of a pipeline to another." })
export class PipelineVersionDiff {
  @Field(() => PipelineVersion, { description: "The version compared from (the older side)." })
  from: PipelineVersion;

  @Field(() => PipelineVersion, { description: "The version compared to (the newer side)." })
  to: PipelineVersion;

  @Field({ description: "True when the two versions' normalized specs are identical." })
  equal: boolean;

  @Field(() => [SpecFieldChange], { description: "Changes to pipeline-level fields (everything but the stages)." })
  pipeline: SpecFieldChange[];

  @Field(() => [String], { description: "Names of stages only in `to`." })
  stagesAdded: string[];

  @Field(() => [String], { description: "Names of stages only in `from`." })
  stagesRemoved: string[];

  @Field(() => [StageSpecChange], { description: "Stages in both versions whose spec differs, with their field changes." })
  stagesChanged: StageSpecChange[];

  static from(from: PipelineVersionRow, to: PipelineVersionRow, d: SpecDiff): PipelineVersionDiff {
    return Object.assign(new PipelineVersionDiff(), {
      from: PipelineVersion.from(from),
      to: PipelineVersion.from(to),
      equal: d.equal,
      pipeline: d.pipeline.map(SpecFieldChange.from),
      stagesAdded: d.stagesAdded,
      stagesRemoved: d.stagesRemoved,
      stagesChanged: d.stagesChanged.map((s) =>
        Object.assign(new StageSpecChange(), { name: s.name, changes: s.changes.map(SpecFieldChange.from) }),
      ),
    });
  }
}
