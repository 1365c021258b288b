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
  valuesConfig: {
    REJECTED: { description: "An approver refused it." },
    PENDING_APPROVAL: { description: "New; waiting for an approval decision." },
    ARCHIVED: { description: "Retired; final." },
    APPROVED: { description: "Approved: may be deployed." },
  },
});

@ObjectType({ description: "A named series of model versions in a project." })
export class RegisteredModel {
  @Field(() => ID, { description: "Server-assigned UUID of the registered model." })
  id: string;

  @Field(() => ID, { description: "Project the model belongs to." })
  projectId: string;

  @Field({ description: "Unique within the project: 1-128 letters, digits, _ . and -." })
  name: string;

  @Field({ description: "Free text; empty when none." })
  description: string;

  @Field(() => GraphQLJSONObject, { description: "`key → value` strings attached to the model." })
  tags: Record<string, string>;

  @Field({ description: "When the model was registered." })
  createdAt: Date;

  @Field({ description: "When the model last changed." })
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
  @Field(() => ID, { description: "Server-assigned UUID of the version." })
  id: string;

  @Field(() => ID, { description: "The registered model this is a version of." })
  registeredModelId: string;

  @Field(() => ID, { description: "Project of the registered model." })
  projectId: string;

  @Field(() => Int, { description: "1, 2, 3… within the registered model." })
  version: number;

  @Field(() => ModelVersionStatusEnum, { description: "Where the version stands in approval; only APPROVED versions deploy." })
  status: ModelVersionStatus;

  @Field(() => ID, { description: "The ONNX file, a Model artifact." })
  artifactId: string;

  @Field({ description: "Where an authorized token downloads the ONNX file (GET)." })
  downloadPath: string;

  @Field(() => GraphQLJSONObject, {
    description: "`{ inputs, outputs: [{ name, type, shape }], opsets, producer, classLabels? }`, read from the ONNX graph.",
  })
  signature: Record<string, unknown>;

  @Field(() => [String], {
    nullable: true,
    description:
      "A classifier's class names in index order: class index i (column i of `probabilities`) is class classLabels[i]; " +
      "serving answers each row's name as the `label` output (BYTES) and its index as `label_index` (INT64). Read from the ONNX file's metadata_props " +
      '"sluice.class_labels" (written by the built-in trainers), else from a training run\'s recorded classes. ' +
      "Null for regressors and for classifiers whose names were not recorded.",
  })
  classLabels: string[] | null;

  @Field(() => GraphQLJSONObject, { description: "`name → number`: evaluation metrics recorded with the version." })
  metrics: Record<string, number>;

  @Field(() => GraphQLJSONObject, { description: "`key → value` strings attached to the version." })
  tags: Record<string, string>;

  @Field({ description: "Free text; empty when none." })
  description: string;

  @Field({ description: "`UPLOAD` or `RUN`." })
  source: string;

  @Field(() => GraphQLJSONObject, {
    description: "`{ runId, stageRunId, stage, pipelineVersionId, codeVersion, datasetVersionIds, featureViewIds }` for a run's output.",
  })
  lineage: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: "Who uploaded it, or triggered the run that trained it." })
  createdBy: string | null;

  @Field({ description: "When the version was registered." })
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
      classLabels: Array.isArray(row.signature.classLabels) ? (row.signature.classLabels as string[]) : null,
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
  @Field(() => ID, { nullable: true, description: "The version it pointed at before; null when the alias was created." })
  fromVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "Null when the alias was deleted." })
  toVersionId: string | null;

  @Field(() => ID, { nullable: true, description: "The principal that moved the alias; null when unknown." })
  actorId: string | null;

  @Field({ description: "When the alias moved." })
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
  @Field({ description: "Name of the alias, e.g. `champion`." })
  alias: string;

  @Field(() => ID, { description: "The model version the alias points at." })
  versionId: string;

  @Field(() => ID, { description: "The registered model the alias belongs to." })
  registeredModelId: string;

  @Field({ description: "When the alias last moved." })
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

@InputType({ description: "A new registered model: project, name, description and tags." })
export class CreateRegisteredModelInput {
  @Field(() => ID, { description: "Project the model belongs to; the caller needs EDITOR there." })
  projectId: string;

  @Field({ description: "1-128 letters, digits, _ . and -." })
  name: string;

  @Field(() => String, { nullable: true, description: "Free text; empty when omitted." })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`key → value` strings attached to the model." })
  tags?: Record<string, unknown> | null;
}

@InputType({ description: "Changes to a registered model; omitted fields stay as they are." })
export class UpdateRegisteredModelInput {
  @Field(() => ID, { description: "UUID of the registered model to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "The new description." })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the tags." })
  tags?: Record<string, unknown> | null;
}

@InputType({ description: "A version from a run's Model output (an ONNX file); uploads go over HTTP instead." })
export class CreateModelVersionInput {
  @Field(() => ID, { description: "The registered model the new version belongs to." })
  registeredModelId: string;

  @Field(() => ID, { description: "The Model artifact (an ONNX file) a run produced." })
  artifactId: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`name → number`." })
  metrics?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`key → value` strings attached to the version." })
  tags?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "Free text; empty when omitted." })
  description?: string | null;
}

@InputType({ description: "Changes to a model version; omitted fields stay as they are." })
export class UpdateModelVersionInput {
  @Field(() => ID, { description: "UUID of the model version to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "The new description." })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the tags." })
  tags?: Record<string, unknown> | null;
}

@InputType({ description: "Points an alias of a registered model at one of its versions." })
export class SetModelAliasInput {
  @Field(() => ID, { description: "The registered model." })
  registeredModelId: string;

  @Field({ description: "Lowercase letters, digits, _ and -, e.g. champion." })
  alias: string;

  @Field(() => Int, { description: "The version number the alias will point at." })
  version: number;
}

@InputType({ description: "The alias to delete from a registered model." })
export class DeleteModelAliasInput {
  @Field(() => ID, { description: "The registered model the alias belongs to." })
  registeredModelId: string;

  @Field({ description: "Name of the alias, e.g. `champion`." })
  alias: string;
}

@InputType({ description: "Names one model version." })
export class ModelVersionIdInput {
  @Field(() => ID, { description: "UUID of the model version." })
  id: string;
}

@ObjectType({ description: "The registered model after the change." })
export class RegisteredModelPayload {
  @Field(() => RegisteredModel, { description: "The registered model after the change." })
  registeredModel: RegisteredModel;
}

@ObjectType({ description: "The model version after the change." })
export class ModelVersionPayload {
  @Field(() => ModelVersion, { description: "The model version after the change." })
  modelVersion: ModelVersion;
}

@ObjectType({ description: "The model and the alias after the change." })
export class ModelAliasPayload {
  @Field(() => RegisteredModel, { description: "The registered model after the change." })
  registeredModel: RegisteredModel;

  @Field(() => ModelAlias, { nullable: true, description: "Null after a delete." })
  alias: ModelAlias | null;
}

export const RegisteredModelResult = MutationResult("RegisteredModel", RegisteredModelPayload);
export const ModelVersionResult = MutationResult("ModelVersion", ModelVersionPayload);
export const ModelAliasResult = MutationResult("ModelAlias", ModelAliasPayload);
