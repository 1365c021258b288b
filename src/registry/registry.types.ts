import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { ModelAliasHistoryRow, ModelAliasRow } from "./model-alias.entity";
import type { ModelVersionRow, ModelVersionStatus } from "./model-version.entity";
import type { RegisteredModelRow } from "./registered-model.entity";

export const ModelVersionStatusEnum = {
  PENDING_APPROVAL: "PENDING_APPROVAL",
  APPROVED: "APPROVED",
  REJECTED: "REJECTED",
  ARCHIVED: "ARCHIVED",
} as const;
registerEnumType(ModelVersionStatusEnum, {
  name: "ModelVersionStatus",
  description: "Governance moves a version out of PENDING_APPROVAL; ARCHIVED is final.",
});

@ObjectType({ description: "A named series of model versions in a project." })
export class RegisteredModel {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field()
  name: string;

  @Field()
  description: string;

  @Field(() => GraphQLJSONObject)
  tags: Record<string, string>;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  /** The model's own governance policy (not a field: `policy` resolves it with the default). */
  ownPolicy: Record<string, unknown> | null;

  static from(row: RegisteredModelRow): RegisteredModel {
    return Object.assign(new RegisteredModel(), {
      ownPolicy: row.policy ?? null,
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      description: row.description,
      tags: row.tags,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One version of a registered model: an ONNX file with its signature, metrics and lineage." })
export class ModelVersion {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  registeredModelId: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => Int)
  version: number;

  @Field(() => ModelVersionStatusEnum)
  status: ModelVersionStatus;

  @Field(() => ID, { description: "The ONNX file, a Model artifact." })
  artifactId: string;

  @Field({ description: "Where an authorized token downloads the ONNX file (GET)." })
  downloadPath: string;

  @Field(() => GraphQLJSONObject, {
    description: "`{ inputs, outputs: [{ name, type, shape }], opsets, producer }`, read from the ONNX graph.",
  })
  signature: Record<string, unknown>;

  @Field(() => GraphQLJSONObject)
  metrics: Record<string, number>;

  @Field(() => GraphQLJSONObject)
  tags: Record<string, string>;

  @Field()
  description: string;

  @Field({ description: "`UPLOAD` or `RUN`." })
  source: string;

  @Field(() => GraphQLJSONObject, {
    description: "`{ runId, stageRunId, stage, pipelineVersionId, codeVersion, datasetVersionIds, featureViewIds }` for a run's output.",
  })
  lineage: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: "Who uploaded it, or triggered the run that trained it." })
  createdBy: string | null;

  @Field()
  createdAt: Date;

  static from(row: ModelVersionRow): ModelVersion {
    return Object.assign(new ModelVersion(), {
      id: row.id,
      registeredModelId: row.registeredModelId,
      projectId: row.projectId,
      version: row.version,
      status: row.status,
      artifactId: row.artifactId,
      downloadPath: `/model-versions/${row.id}/model.onnx`,
      signature: row.signature,
      metrics: row.metrics,
      tags: row.tags,
      description: row.description,
      source: row.source,
      lineage: row.lineage,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "One move of an alias." })
export class ModelAliasMove {
  @Field(() => ID, { nullable: true })
  fromVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "Null when the alias was deleted." })
  toVersionId: string | null;

  @Field(() => ID, { nullable: true })
  actorId: string | null;

  @Field()
  at: Date;

  static from(row: ModelAliasHistoryRow): ModelAliasMove {
    return Object.assign(new ModelAliasMove(), {
      fromVersionId: row.fromVersionId,
      toVersionId: row.toVersionId,
      actorId: row.actorId,
      at: row.at,
    });
  }
}

@ObjectType({ description: "A name (`champion`, `challenger`…) pointing at one version." })
export class ModelAlias {
  @Field()
  alias: string;

  @Field(() => ID)
  versionId: string;

  @Field(() => ID)
  registeredModelId: string;

  @Field()
  updatedAt: Date;

  static from(row: ModelAliasRow): ModelAlias {
    return Object.assign(new ModelAlias(), {
      alias: row.alias,
      versionId: row.versionId,
      registeredModelId: row.registeredModelId,
      updatedAt: row.updatedAt,
    });
  }
}

export const {
  Connection: RegisteredModelConnection,
  Order: RegisteredModelOrder,
  sortOf: registeredModelSort,
  Filter: RegisteredModelFilter,
} = ListTypes(RegisteredModel, "RegisteredModel", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    projectId: FilterBy.id("Only models of this project."),
    nameContains: FilterBy.text("Only models whose name contains this text."),
  },
});
export type RegisteredModelConnection = InstanceType<typeof RegisteredModelConnection>;
export type RegisteredModelOrder = InstanceType<typeof RegisteredModelOrder>;
export type RegisteredModelFilter = InstanceType<typeof RegisteredModelFilter>;

export const {
  Connection: ModelVersionConnection,
  Order: ModelVersionOrder,
  sortOf: modelVersionSort,
  Filter: ModelVersionFilter,
} = ListTypes(ModelVersion, "ModelVersion", {
  orderBy: { VERSION: "version", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "version", direction: "DESC" },
  filter: {
    status: FilterBy.oneOf(ModelVersionStatusEnum, "Only versions in this approval status."),
  },
});
export type ModelVersionConnection = InstanceType<typeof ModelVersionConnection>;
export type ModelVersionOrder = InstanceType<typeof ModelVersionOrder>;
export type ModelVersionFilter = InstanceType<typeof ModelVersionFilter>;

@InputType()
export class CreateRegisteredModelInput {
  @Field(() => ID)
  projectId: string;

  @Field({ description: "1-128 letters, digits, _ . and -." })
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  tags?: Record<string, unknown> | null;
}

@InputType()
export class UpdateRegisteredModelInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the tags." })
  tags?: Record<string, unknown> | null;
}

@InputType({ description: "A version from a run's Model output (an ONNX file); uploads go over HTTP instead." })
export class CreateModelVersionInput {
  @Field(() => ID)
  registeredModelId: string;

  @Field(() => ID)
  artifactId: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`name → number`." })
  metrics?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  tags?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType()
export class UpdateModelVersionInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the tags." })
  tags?: Record<string, unknown> | null;
}

@InputType()
export class SetModelAliasInput {
  @Field(() => ID)
  registeredModelId: string;

  @Field({ description: "Lowercase letters, digits, _ and -, e.g. champion." })
  alias: string;

  @Field(() => Int)
  version: number;
}

@InputType()
export class DeleteModelAliasInput {
  @Field(() => ID)
  registeredModelId: string;

  @Field()
  alias: string;
}

@InputType()
export class ModelVersionIdInput {
  @Field(() => ID)
  id: string;
}

@ObjectType()
export class RegisteredModelPayload {
  @Field(() => RegisteredModel)
  registeredModel: RegisteredModel;
}

@ObjectType()
export class ModelVersionPayload {
  @Field(() => ModelVersion)
  modelVersion: ModelVersion;
}

@ObjectType()
export class ModelAliasPayload {
  @Field(() => RegisteredModel)
  registeredModel: RegisteredModel;

  @Field(() => ModelAlias, { nullable: true, description: "Null after a delete." })
  alias: ModelAlias | null;
}

export const RegisteredModelResult = MutationResult("RegisteredModel", RegisteredModelPayload);
export const ModelVersionResult = MutationResult("ModelVersion", ModelVersionPayload);
export const ModelAliasResult = MutationResult("ModelAlias", ModelAliasPayload);
