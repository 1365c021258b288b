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
registerEnumType(ApplyOutcomeEnum, { name: "ApplyOutcome", description: "What applying a spec did." });

@ObjectType({ description: "A pipeline: a named DAG of stages in a project, stored as immutable versions." })
export class Pipeline {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field()
  name: string;

  @Field()
  description: string;

  @Field(() => ID, { nullable: true })
  latestVersionId: string | null;

  @Field()
  createdAt: Date;

  @Field()
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
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  pipelineId: string;

  @Field(() => Int, { description: "1, 2, 3… in order of first application." })
  version: number;

  @Field({ description: "`sha256:<hex>` of the canonical normalized spec." })
  contentHash: string;

  @Field(() => GraphQLJSONObject, { description: "The normalized spec (PipelineSpec)." })
  spec: Record<string, unknown>;

  @Field({ description: "Folder relative module and command paths resolve against; empty when none." })
  baseDir: string;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
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

@InputType()
export class ApplyPipelineInput {
  @Field(() => ID)
  projectId: string;

  @Field(() => GraphQLJSONObject, { description: "The pipeline spec (the JSON form of definePipeline)." })
  spec: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description: "Absolute folder the spec's relative paths resolve against, on the runners' machines.",
  })
  baseDir?: string | null;
}

@ObjectType()
export class ApplyPipelinePayload {
  @Field(() => Pipeline)
  pipeline: Pipeline;

  @Field(() => PipelineVersion)
  version: PipelineVersion;

  @Field(() => ApplyOutcomeEnum)
  outcome: ApplyOutcome;
}

export const ApplyPipelineResult = MutationResult("ApplyPipeline", ApplyPipelinePayload);

@ObjectType({ description: "One field that differs between two versions." })
export class SpecFieldChange {
  @Field()
  path: string;

  @Field({ description: "`added`, `removed` or `changed`." })
  change: string;

  @Field(() => GraphQLJSON, { nullable: true })
  before: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  after: unknown;

  static from(c: FieldChange): SpecFieldChange {
    return Object.assign(new SpecFieldChange(), { path: c.path, change: c.change, before: c.before ?? null, after: c.after ?? null });
  }
}

@ObjectType()
export class StageSpecChange {
  @Field()
  name: string;

  @Field(() => [SpecFieldChange])
  changes: SpecFieldChange[];
}

@ObjectType({ description: "What changed from one version of a pipeline to another." })
export class PipelineVersionDiff {
  @Field(() => PipelineVersion)
  from: PipelineVersion;

  @Field(() => PipelineVersion)
  to: PipelineVersion;

  @Field()
  equal: boolean;

  @Field(() => [SpecFieldChange])
  pipeline: SpecFieldChange[];

  @Field(() => [String])
  stagesAdded: string[];

  @Field(() => [String])
  stagesRemoved: string[];

  @Field(() => [StageSpecChange])
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
