import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection } from "../kernel/graphql/connection";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { ConflictProblem, ErrorInterface, MutationResult, registerErrorMember } from "../kernel/graphql/results";
import { ModelVersionStatusEnum, type ModelVersionStatus } from "../registry";
import { VersionNotApprovedError } from "./deployment.errors";
import type { EventRow } from "../events/event.entity";
import type { DeploymentChange, DeploymentMode, DeploymentRevisionRow, DeploymentRow } from "./deployment.entity";

export const DeploymentModeEnum = { REALTIME: "REALTIME", BATCH: "BATCH" } as const satisfies Record<DeploymentMode, DeploymentMode>;
registerEnumType(DeploymentModeEnum, {
  name: "DeploymentMode",
  description: "Whether an endpoint is served online or only names a model for batch scoring.",
  valuesConfig: {
    REALTIME: { description: "Answered online: `/v2/models/{name}/infer`, the records form and `predict`." },
    BATCH: { description: "Not served online (online requests get 409); a name for batch scoring." },
  },
});

export const DeploymentChangeEnum = {
  CREATED: "CREATED",
  UPDATED: "UPDATED",
  CANARY_SET: "CANARY_SET",
  SHADOW_SET: "SHADOW_SET",
  CANARY_PROMOTED: "CANARY_PROMOTED",
  ROLLED_BACK: "ROLLED_BACK",
} as const satisfies Record<DeploymentChange, DeploymentChange>;
registerEnumType(DeploymentChangeEnum, {
  name: "DeploymentChange",
  description: "What a revision of an endpoint changed.",
  valuesConfig: {
    CREATED: { description: "The endpoint was created (revision 1)." },
    UPDATED: { description: "`deployModel` changed its version, alias or mode." },
    CANARY_SET: { description: "A canary was set, changed or removed." },
    SHADOW_SET: { description: "A shadow was set, changed or removed." },
    CANARY_PROMOTED: { description: "The canary's version became the pinned version; the canary was removed." },
    ROLLED_BACK: { description: "The target of an earlier revision was restored." },
  },
});

export enum DeploymentStatus {
  SERVING = "SERVING",
  NOTHING_TO_SERVE = "NOTHING_TO_SERVE",
  BATCH = "BATCH",
}
registerEnumType(DeploymentStatus, {
  name: "DeploymentStatus",
  description: "Whether an endpoint has an approved version to answer with.",
  valuesConfig: {
    SERVING: { description: "A REALTIME endpoint whose target resolves to an APPROVED version (`servingVersion`)." },
    NOTHING_TO_SERVE: { description: "Its pinned version, or every version its alias pointed at, is no longer APPROVED (`statusReason`)." },
    BATCH: { description: "A BATCH endpoint: not served online." },
  },
});

@ObjectType({ description: "A second version answering a share of an endpoint's requests." })
export class DeploymentCanary {
  @Field(() => Int, { description: "The canary's version of the endpoint's model." })
  version: number;

  @Field(() => Int, { description: "The share of requests, 0-100 %, drawn at random per request." })
  percent: number;
}

@ObjectType({
  description:
    "A named endpoint: a registered model, pinned to a version or following an alias, with an optional canary and shadow. " +
    "Served at `/v2/models/{name}` and by `predict(model: name)`.",
})
export class Deployment {
  @Field(() => ID, { description: "Server-assigned UUID of the endpoint." })
  id: string;

  @Field(() => ID, { description: "The endpoint's project." })
  projectId: string;

  @Field({ description: "The endpoint's name, unique in the project: `/v2/models/{name}`." })
  name: string;

  @Field(() => ID, { description: "The registered model it serves." })
  registeredModelId: string;

  @Field(() => Int, { nullable: true, description: "The pinned version; null when the endpoint follows `alias`." })
  version: number | null;

  @Field(() => String, { nullable: true, description: "The alias followed (e.g. `champion`); null when a version is pinned." })
  alias: string | null;

  @Field(() => DeploymentModeEnum, { description: "REALTIME (served online) or BATCH." })
  mode: DeploymentMode;

  @Field(() => DeploymentCanary, { nullable: true, description: "The canary version and its share; null when there is none." })
  canary: DeploymentCanary | null;

  @Field(() => Int, {
    nullable: true,
    description: "The version that gets a copy of every request; its answers are logged, never returned.",
  })
  shadowVersion: number | null;

  @Field(() => Int, { description: "The number of the latest revision (1 at creation)." })
  revision: number;

  @Field(() => ID, { nullable: true, description: "The principal who created the endpoint; null when unknown or deleted." })
  createdBy: string | null;

  @Field({ description: "When the endpoint was created." })
  createdAt: Date;

  @Field({ description: "When its target last changed." })
  updatedAt: Date;

  static from(row: DeploymentRow): Deployment {
    return Object.assign(new Deployment(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      registeredModelId: row.registeredModelId,
      version: row.version,
      alias: row.alias,
      mode: row.mode,
      canary:
        row.canaryVersion === null
          ? null
          : Object.assign(new DeploymentCanary(), { version: row.canaryVersion, percent: row.canaryPercent }),
      shadowVersion: row.shadowVersion,
      revision: row.revision,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One change of an endpoint: its whole target after the change." })
export class DeploymentRevision {
  @Field(() => ID, { description: "Server-assigned UUID of the revision." })
  id: string;

  @Field(() => Int, { description: "The revision's number: 1 at creation, +1 per change (what `rollbackDeployment` takes)." })
  revision: number;

  @Field(() => DeploymentChangeEnum, { description: "What this change was." })
  change: DeploymentChange;

  @Field(() => ID, { description: "The registered model served after the change." })
  registeredModelId: string;

  @Field(() => Int, { nullable: true, description: "The pinned version after the change; null when it followed `alias`." })
  version: number | null;

  @Field(() => String, { nullable: true, description: "The alias followed after the change; null when a version was pinned." })
  alias: string | null;

  @Field(() => DeploymentModeEnum, { description: "The mode after the change." })
  mode: DeploymentMode;

  @Field(() => Int, { nullable: true, description: "The canary version after the change; null: no canary." })
  canaryVersion: number | null;

  @Field(() => Int, { description: "The canary's share of requests after the change, 0-100 % (0 without a canary)." })
  canaryPercent: number;

  @Field(() => Int, { nullable: true, description: "The shadow version after the change; null: no shadow." })
  shadowVersion: number | null;

  @Field(() => ID, { nullable: true, description: "Who made the change." })
  actorId: string | null;

  @Field({ description: "When the change was made." })
  createdAt: Date;

  static from(row: DeploymentRevisionRow): DeploymentRevision {
    return Object.assign(new DeploymentRevision(), {
      id: row.id,
      revision: row.revision,
      change: row.change,
      registeredModelId: row.registeredModelId,
      version: row.version,
      alias: row.alias,
      mode: row.mode,
      canaryVersion: row.canaryVersion,
      canaryPercent: row.canaryPercent,
      shadowVersion: row.shadowVersion,
      actorId: row.actorId,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "A change of a project's endpoints, as it happened." })
export class DeploymentEvent {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field({ description: "`deployment.created`, `deployment.updated`, `deployment.rolled_back` or `deployment.deleted`." })
  type: string;

  @Field(() => ID, { description: "The endpoint that changed." })
  deploymentId: string;

  @Field(() => GraphQLJSONObject, {
    description:
      "projectId, name, model, registeredModelId, version, alias, servingVersion, mode, canaryVersion, canaryPercent, shadowVersion, revision, change.",
  })
  payload: Record<string, unknown>;

  @Field({ description: "When the change happened." })
  at: Date;

  static from(row: EventRow): DeploymentEvent {
    return Object.assign(new DeploymentEvent(), {
      cursor: row.id,
      type: row.type,
      deploymentId: row.subjectId,
      payload: row.payload,
      at: row.createdAt,
    });
  }
}

@InputType({ description: "Creates the endpoint `name`, or changes its target. Give exactly one of `version` and `alias`." })
export class DeployModelInput {
  @Field(() => ID, { description: "The project of the endpoint and the model." })
  projectId: string;

  @Field({ description: "The endpoint's name, unique in the project: `/v2/models/{name}`." })
  name: string;

  @Field({ description: "The registered model's name." })
  model: string;

  @Field(() => Int, { nullable: true, description: "Pin this version (it must be APPROVED)." })
  version?: number | null;

  @Field(() => String, { nullable: true, description: "Follow this alias (e.g. `champion`; it must point at an APPROVED version)." })
  alias?: string | null;

  @Field(() => DeploymentModeEnum, { nullable: true, description: "REALTIME by default (or the endpoint's current mode)." })
  mode?: DeploymentMode | null;
}

@InputType({ description: "Names one endpoint of a project." })
export class DeploymentRefInput {
  @Field(() => ID, { description: "The endpoint's project." })
  projectId: string;

  @Field({ description: "The endpoint's name." })
  name: string;
}

@InputType({ description: "A canary: `percent` % of requests answered by `version`. A null version removes the canary." })
export class SetCanaryInput extends DeploymentRefInput {
  @Field(() => Int, { nullable: true, description: "An APPROVED version of the endpoint's model; null removes the canary." })
  version?: number | null;

  @Field(() => Int, { nullable: true, description: "0-100." })
  percent?: number | null;
}

@InputType({ description: "A shadow: every request is also run on `version`, its answer logged (variant `shadow`), never returned." })
export class SetShadowInput extends DeploymentRefInput {
  @Field(() => Int, { nullable: true, description: "An APPROVED version of the endpoint's model; null removes the shadow." })
  version?: number | null;
}

@InputType({ description: "Restores the target (version or alias, mode, canary, shadow) of an earlier revision, as a new revision." })
export class RollbackDeploymentInput extends DeploymentRefInput {
  @Field(() => Int, { nullable: true, description: "The revision whose target to return to; by default the one before the latest." })
  toRevision?: number | null;
}

@ObjectType({ description: "The endpoint a mutation created or changed." })
export class DeploymentPayload {
  @Field(() => Deployment, { description: "The endpoint as stored now." })
  deployment: Deployment;

  static of(row: DeploymentRow): DeploymentPayload {
    return Object.assign(new DeploymentPayload(), { deployment: Deployment.from(row) });
  }
}

@ObjectType("VersionNotApprovedError", {
  implements: ErrorInterface,
  description:
    "The deployment would serve a version that is not APPROVED (directly, as canary or shadow, or through an alias). Nothing changed: approve the version or pick another.",
})
export class VersionNotApprovedProblem extends ConflictProblem {
  @Field(() => ID, { description: "The registered model." })
  registeredModelId: string;

  @Field({ description: "The registered model's name." })
  modelName: string;

  @Field(() => Int, { description: "The version refused." })
  version: number;

  @Field(() => ModelVersionStatusEnum, { description: "Its status now." })
  status: ModelVersionStatus;

  @Field(() => String, { nullable: true, description: "The alias that points at it, when the deployment named an alias." })
  alias: string | null;
}
registerErrorMember(VersionNotApprovedError, VersionNotApprovedProblem, (err) => ({
  field: err.field,
  registeredModelId: err.registeredModelId,
  modelName: err.modelName,
  version: err.version,
  status: err.status as ModelVersionStatus,
  alias: err.alias,
}));

export const DeploymentResult = MutationResult("Deployment", DeploymentPayload, [VersionNotApprovedProblem]);
export const {
  Connection: DeploymentConnection,
  Order: DeploymentOrder,
  sortOf: deploymentSort,
  Filter: DeploymentFilter,
} = ListTypes(Deployment, "Deployment", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    projectId: FilterBy.id("Only endpoints of this project."),
    nameContains: FilterBy.text("Only endpoints whose name contains this text, ignoring case."),
    registeredModelId: FilterBy.id("Only endpoints serving this registered model."),
  },
});
export type DeploymentConnection = InstanceType<typeof DeploymentConnection>;
export type DeploymentOrder = InstanceType<typeof DeploymentOrder>;
export type DeploymentFilter = InstanceType<typeof DeploymentFilter>;

/** An endpoint's revisions: a page with no sort or filter of its own. */
export const DeploymentRevisionConnection = Connection(DeploymentRevision, "DeploymentRevision");
export type DeploymentRevisionConnection = InstanceType<typeof DeploymentRevisionConnection>;
