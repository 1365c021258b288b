import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import { isWindowFeature } from "./definition";
import type { FeatureMaterializationRow } from "./feature-materialization.entity";
import type { FeatureViewRow } from "./feature-view.entity";
import { definitionOf, type OnlineVector } from "./feature.service";
import type { TrainingSetRow, TrainingSetViewRef } from "./training-set.entity";

@ObjectType({ description: "One feature of a view: a row-level SQL expression, or an aggregation over a trailing window." })
export class FeatureDefinition {
  @Field({ description: "The feature's name: its column in feature tables and training sets." })
  name: string;

  @Field(() => String, { nullable: true, description: "SQL over one source row; absent for a `count` of rows." })
  expr: string | null;

  @Field(() => String, { nullable: true, description: "`sum`, `avg`, `count`, `min`, `max` or `stddev`; null for a row-level feature." })
  aggregation: string | null;

  @Field(() => String, { nullable: true, description: "The window, e.g. `7d`: rows in [ts - window, ts) of the same entity." })
  window: string | null;

  @Field(() => String, { nullable: true, description: "The DuckDB type the value is cast to." })
  type: string | null;
}

@ObjectType({ description: "One version of a feature view: an immutable, hashed definition over a source dataset." })
export class FeatureView {
  @Field(() => ID, { description: "Server-assigned UUID of this view version." })
  id: string;

  @Field(() => ID, { description: "The view's project." })
  projectId: string;

  @Field({ description: "The view's name, unique in the project; its versions share it." })
  name: string;

  @Field(() => Int, { description: "1, 2, 3… per name; a changed definition is a new version." })
  version: number;

  @Field({ description: "`sha256:<hex>` of the normalized definition." })
  hash: string;

  @Field(() => [String], { description: "The entity key columns." })
  entities: string[];

  @Field({ description: "The source column holding each row's event time." })
  timestampColumn: string;

  @Field(() => String, {
    nullable: true,
    description:
      "The source column holding when each row was written (Feast's created_timestamp_column): of several rows with one entity key " +
      "and one event time, the one created last is the feature row the point-in-time join and the online store use. Null when the " +
      "view names none: then the last such row in file order is used.",
  })
  createdTimestampColumn: string | null;

  @Field(() => Int, { nullable: true, description: "How long a feature row stays valid after its event time; null for ever." })
  ttlSeconds: number | null;

  @Field(() => String, { nullable: true, description: "SQL boolean over source rows; others are left out." })
  filter: string | null;

  @Field(() => [FeatureDefinition], { description: "The view's features, in column order." })
  features: FeatureDefinition[];

  @Field(() => GraphQLJSONObject, { description: "The normalized definition, as `defineFeatureView` takes it." })
  definition: Record<string, unknown>;

  @Field(() => ID, { description: "The dataset the view reads." })
  sourceDatasetId: string;

  @Field({ description: "Free text about the view; empty when none was given." })
  description: string;

  @Field(() => ID, { nullable: true, description: "The principal who defined this version; null when unknown or deleted." })
  createdBy: string | null;

  @Field({ description: "When this version was defined." })
  createdAt: Date;

  static from(row: FeatureViewRow): FeatureView {
    const def = definitionOf(row);
    return Object.assign(new FeatureView(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      version: row.version,
      hash: row.hash,
      entities: def.entities,
      timestampColumn: def.timestampColumn,
      createdTimestampColumn: def.createdTimestampColumn ?? null,
      ttlSeconds: def.ttlSeconds ?? null,
      filter: def.filter ?? null,
      features: def.features.map((f) =>
        Object.assign(new FeatureDefinition(), {
          name: f.name,
          expr: f.expr ?? null,
          aggregation: isWindowFeature(f) ? f.aggregation : null,
          window: isWindowFeature(f) ? f.window : null,
          type: f.type ?? null,
        }),
      ),
      definition: row.definition,
      sourceDatasetId: row.sourceDatasetId,
      description: row.description,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "A view version's feature table computed from one source dataset version." })
export class FeatureMaterialization {
  @Field(() => ID, { description: "Server-assigned UUID of the materialization." })
  id: string;

  @Field(() => ID, { description: "The view's project." })
  projectId: string;

  @Field(() => ID, { description: "The view version materialized." })
  featureViewId: string;

  @Field(() => ID, { description: "The source dataset version it was computed from." })
  sourceVersionId: string;

  @Field(() => ID, { description: "The offline feature table: a FeatureSet Parquet artifact." })
  artifactId: string;

  @Field(() => Float, { description: "Rows of the offline table: one per entity and event time." })
  rowCount: number;

  @Field(() => Int, { description: "Entities written to the online store; 0 when materialized offline only." })
  onlineRows: number;

  @Field(() => ID, { nullable: true, description: "The stage run that produced it." })
  producedBy: string | null;

  @Field(() => ID, { nullable: true, description: "The principal who asked for it; null when unknown or deleted." })
  createdBy: string | null;

  @Field({ description: "When it was stored." })
  createdAt: Date;

  static from(row: FeatureMaterializationRow): FeatureMaterialization {
    return Object.assign(new FeatureMaterialization(), {
      id: row.id,
      projectId: row.projectId,
      featureViewId: row.featureViewId,
      sourceVersionId: row.sourceVersionId,
      artifactId: row.artifactId,
      rowCount: Number(row.rowCount),
      onlineRows: row.onlineRows,
      producedBy: row.producedBy,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "A column of a Parquet file as DuckDB reads it." })
export class FeatureColumn {
  @Field({ description: "The column's name." })
  name: string;

  @Field({ description: "The DuckDB type." })
  type: string;
}

@ObjectType({ description: "What a training set took from one view." })
export class TrainingSetView {
  /** The training set's project, for field resolvers' authorization. */
  projectId: string;

  @Field(() => ID, { description: "The view version read." })
  featureViewId: string;

  @Field({ description: "The view's name." })
  name: string;

  @Field(() => Int, { description: "The view version's number." })
  version: number;

  @Field(() => ID, { description: "The materialization the features were read from." })
  materializationId: string;

  @Field(() => [String], { description: "The features taken, in column order." })
  features: string[];
}

@ObjectType({ description: "A point-in-time correct training set: entity rows joined with features as of each row's time." })
export class TrainingSet {
  @Field(() => ID, { description: "Server-assigned UUID of the training set." })
  id: string;

  @Field(() => ID, { description: "The training set's project." })
  projectId: string;

  @Field(() => String, { nullable: true, description: "The name given when it was built; null when none was." })
  name: string | null;

  @Field(() => ID, { description: "The Parquet file: a FeatureSet artifact." })
  artifactId: string;

  @Field(() => ID, { description: "The entity dataset version: keys and timestamps, one training row each." })
  entityVersionId: string;

  @Field({ description: "The entity dataset's column with each row's time; features are joined as of it." })
  timestampColumn: string;

  @Field(() => [TrainingSetView], { description: "What was taken from each view, in join order." })
  views: TrainingSetView[];

  @Field(() => Float, { description: "Rows of the training set: one per entity row." })
  rowCount: number;

  @Field(() => [FeatureColumn], { description: "The entity dataset's columns, then the features." })
  columns: FeatureColumn[];

  @Field(() => ID, { nullable: true, description: "The stage run that built it; null when built by the `buildTrainingSet` mutation." })
  producedBy: string | null;

  @Field(() => ID, { nullable: true, description: "The principal who built it; null when unknown or deleted." })
  createdBy: string | null;

  @Field({ description: "When it was stored." })
  createdAt: Date;

  static from(row: TrainingSetRow): TrainingSet {
    return Object.assign(new TrainingSet(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      artifactId: row.artifactId,
      entityVersionId: row.entityVersionId,
      timestampColumn: row.timestampColumn,
      views: (row.views as unknown as TrainingSetViewRef[]).map((v) =>
        Object.assign(new TrainingSetView(), { ...v, projectId: row.projectId }),
      ),
      rowCount: Number(row.rowCount),
      columns: (row.columns as Array<{ name: string; type: string }>).map((c) =>
        Object.assign(new FeatureColumn(), { name: c.name, type: c.type }),
      ),
      producedBy: row.producedBy,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "The online values of one entity." })
export class OnlineFeatureVector {
  @Field(() => [String], { description: "The key as asked for, with values spelled as stored (numbers in decimal)." })
  entityKey: string[];

  @Field({ description: "False for an unknown key, and for a row older than the view's TTL." })
  found: boolean;

  @Field({ description: "A row exists but is older than the view's TTL; its values are withheld." })
  expired: boolean;

  @Field(() => Date, { nullable: true, description: "The event time of the stored row; null when no row was found." })
  eventTimestamp: Date | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Feature name → value; null unless found." })
  values: Record<string, unknown> | null;

  static from(v: OnlineVector): OnlineFeatureVector {
    return Object.assign(new OnlineFeatureVector(), v);
  }
}

@ObjectType({ description: "Online feature values of one view, one vector per requested key in request order." })
export class OnlineFeatures {
  @Field({ description: "The view's name, as asked for." })
  view: string;

  @Field(() => [OnlineFeatureVector], { description: "One vector per requested key, in request order." })
  vectors: OnlineFeatureVector[];
}

export const {
  Connection: FeatureViewConnection,
  Order: FeatureViewOrder,
  sortOf: featureViewSort,
  Filter: FeatureViewFilter,
} = ListTypes(FeatureView, "FeatureView", {
  orderBy: { NAME: "name", VERSION: "version", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    projectId: FilterBy.id("Only views of this project."),
    nameContains: FilterBy.text("Only views whose name contains this text, ignoring case."),
    name: FilterBy.text("Exactly this view name."),
    allVersions: FilterBy.flag("List every version; by default only the latest version of each name."),
  },
});
export type FeatureViewConnection = InstanceType<typeof FeatureViewConnection>;
export type FeatureViewOrder = InstanceType<typeof FeatureViewOrder>;
export type FeatureViewFilter = InstanceType<typeof FeatureViewFilter>;

export const {
  Connection: FeatureMaterializationConnection,
  Order: FeatureMaterializationOrder,
  sortOf: featureMaterializationSort,
} = ListTypes(FeatureMaterialization, "FeatureMaterialization", {
  orderBy: { CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
});
export type FeatureMaterializationConnection = InstanceType<typeof FeatureMaterializationConnection>;
export type FeatureMaterializationOrder = InstanceType<typeof FeatureMaterializationOrder>;

export const {
  Connection: TrainingSetConnection,
  Order: TrainingSetOrder,
  sortOf: trainingSetSort,
  Filter: TrainingSetFilter,
} = ListTypes(TrainingSet, "TrainingSet", {
  orderBy: { CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only training sets of this project."),
    nameContains: FilterBy.text("Only training sets whose name contains this text, ignoring case."),
  },
});
export type TrainingSetConnection = InstanceType<typeof TrainingSetConnection>;
export type TrainingSetOrder = InstanceType<typeof TrainingSetOrder>;
export type TrainingSetFilter = InstanceType<typeof TrainingSetFilter>;

@InputType({ description: "A feature view definition; a changed definition of an existing name makes a new version." })
export class DefineFeatureViewInput {
  @Field(() => ID, { description: "The project to define the view in." })
  projectId: string;

  @Field(() => GraphQLJSON, {
    description:
      "The view: {name, entities, timestampColumn, createdTimestampColumn?, ttlSeconds?, source: {dataset}, filter?, features: [...]}.",
  })
  definition: unknown;

  @Field(() => String, { nullable: true, description: "Free text about the view." })
  description?: string | null;
}

@InputType({ description: "Computes a view version's feature table from a source dataset version." })
export class MaterializeFeatureViewInput {
  @Field(() => ID, { description: "A view version's id." })
  featureViewId: string;

  @Field(() => ID, { nullable: true, description: "A version of the view's source dataset; default its latest." })
  sourceVersionId?: string | null;

  @Field(() => Boolean, { defaultValue: true, description: "Also load the latest row per entity into the online store." })
  online: boolean;
}

@InputType({ description: "One view to join into a training set." })
export class TrainingSetViewInput {
  @Field({ description: "The view's name in the project." })
  name: string;

  @Field(() => [String], { nullable: true, description: "Features to take, by name; all when absent." })
  features?: string[] | null;

  @Field(() => Int, { nullable: true, description: "The view version; default the latest. Its latest materialization is read." })
  version?: number | null;
}

@InputType({ description: "Builds a point-in-time correct training set from an entity dataset version and feature views." })
export class BuildTrainingSetInput {
  @Field(() => ID, { description: "The project of the views and the entity dataset." })
  projectId: string;

  @Field(() => ID, { description: "A dataset version with the entity key columns and a timestamp column." })
  entityVersionId: string;

  @Field({ defaultValue: "event_timestamp", description: "The entity dataset's column with each row's time." })
  timestampColumn: string;

  @Field(() => [TrainingSetViewInput], { description: "The views to join, at least one." })
  views: TrainingSetViewInput[];

  @Field({ defaultValue: false, description: "Name feature columns `view__feature`." })
  prefix: boolean;

  @Field(() => String, { nullable: true, description: "A name for the training set, to find it again." })
  name?: string | null;
}

@ObjectType({ description: "The view version a definition resolved to." })
export class DefineFeatureViewPayload {
  @Field(() => FeatureView, { description: "The new version, or the existing one with the same definition." })
  featureView: FeatureView;

  @Field({ description: "False when the same definition already existed (that version is returned)." })
  created: boolean;
}

@ObjectType({ description: "The materialization a mutation computed." })
export class MaterializeFeatureViewPayload {
  @Field(() => FeatureMaterialization, { description: "The stored materialization." })
  materialization: FeatureMaterialization;
}

@ObjectType({ description: "The training set a mutation built." })
export class BuildTrainingSetPayload {
  @Field(() => TrainingSet, { description: "The stored training set." })
  trainingSet: TrainingSet;
}

export const DefineFeatureViewResult = MutationResult("DefineFeatureView", DefineFeatureViewPayload);
export const MaterializeFeatureViewResult = MutationResult("MaterializeFeatureView", MaterializeFeatureViewPayload);
export const BuildTrainingSetResult = MutationResult("BuildTrainingSet", BuildTrainingSetPayload);
