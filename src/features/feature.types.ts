import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
import { MutationResult } from "../kernel/graphql/results";
import { isWindowFeature } from "./definition";
import type { FeatureMaterializationRow } from "./feature-materialization.entity";
import type { FeatureViewRow } from "./feature-view.entity";
import { definitionOf, type OnlineVector } from "./feature.service";
import type { TrainingSetRow, TrainingSetViewRef } from "./training-set.entity";

@ObjectType({ description: "One feature of a view: a row-level SQL expression, or an aggregation over a trailing window." })
export class FeatureDefinition {
  @Field()
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
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field()
  name: string;

  @Field(() => Int, { description: "1, 2, 3… per name; a changed definition is a new version." })
  version: number;

  @Field({ description: "`sha256:<hex>` of the normalized definition." })
  hash: string;

  @Field(() => [String], { description: "The entity key columns." })
  entities: string[];

  @Field()
  timestampColumn: string;

  @Field(() => Int, { nullable: true, description: "How long a feature row stays valid after its event time; null for ever." })
  ttlSeconds: number | null;

  @Field(() => String, { nullable: true, description: "SQL boolean over source rows; others are left out." })
  filter: string | null;

  @Field(() => [FeatureDefinition])
  features: FeatureDefinition[];

  @Field(() => GraphQLJSONObject, { description: "The normalized definition, as `defineFeatureView` takes it." })
  definition: Record<string, unknown>;

  @Field(() => ID)
  sourceDatasetId: string;

  @Field()
  description: string;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
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
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  featureViewId: string;

  @Field(() => ID)
  sourceVersionId: string;

  @Field(() => ID, { description: "The offline feature table: a FeatureSet Parquet artifact." })
  artifactId: string;

  @Field(() => Float, { description: "Rows of the offline table: one per entity and event time." })
  rowCount: number;

  @Field(() => Int, { description: "Entities written to the online store; 0 when materialized offline only." })
  onlineRows: number;

  @Field(() => ID, { nullable: true, description: "The stage run that produced it." })
  producedBy: string | null;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
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
  @Field()
  name: string;

  @Field({ description: "The DuckDB type." })
  type: string;
}

@ObjectType({ description: "What a training set took from one view." })
export class TrainingSetView {
  /** The training set's project, for field resolvers' authorization. */
  projectId: string;

  @Field(() => ID)
  featureViewId: string;

  @Field()
  name: string;

  @Field(() => Int)
  version: number;

  @Field(() => ID)
  materializationId: string;

  @Field(() => [String], { description: "The features taken, in column order." })
  features: string[];
}

@ObjectType({ description: "A point-in-time correct training set: entity rows joined with features as of each row's time." })
export class TrainingSet {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => String, { nullable: true })
  name: string | null;

  @Field(() => ID, { description: "The Parquet file: a FeatureSet artifact." })
  artifactId: string;

  @Field(() => ID)
  entityVersionId: string;

  @Field()
  timestampColumn: string;

  @Field(() => [TrainingSetView])
  views: TrainingSetView[];

  @Field(() => Float)
  rowCount: number;

  @Field(() => [FeatureColumn], { description: "The entity dataset's columns, then the features." })
  columns: FeatureColumn[];

  @Field(() => ID, { nullable: true })
  producedBy: string | null;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
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

  @Field(() => Date, { nullable: true })
  eventTimestamp: Date | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Feature name → value; null unless found." })
  values: Record<string, unknown> | null;

  static from(v: OnlineVector): OnlineFeatureVector {
    return Object.assign(new OnlineFeatureVector(), v);
  }
}

@ObjectType({ description: "Online feature values of one view, one vector per requested key in request order." })
export class OnlineFeatures {
  @Field()
  view: string;

  @Field(() => [OnlineFeatureVector])
  vectors: OnlineFeatureVector[];
}

export const FeatureViewConnection = Connection(FeatureView, "FeatureView");
export type FeatureViewConnection = InstanceType<typeof FeatureViewConnection>;
export const FeatureMaterializationConnection = Connection(FeatureMaterialization, "FeatureMaterialization");
export type FeatureMaterializationConnection = InstanceType<typeof FeatureMaterializationConnection>;
export const TrainingSetConnection = Connection(TrainingSet, "TrainingSet");
export type TrainingSetConnection = InstanceType<typeof TrainingSetConnection>;

export const { Order: FeatureViewOrder, sortOf: featureViewSort } = OrderBy(
  "FeatureView",
  { NAME: "name", VERSION: "version", CREATED_AT: "createdAt" } as const,
  { property: "name", direction: "ASC" },
);
export type FeatureViewOrder = InstanceType<typeof FeatureViewOrder>;
export const { Order: FeatureMaterializationOrder, sortOf: featureMaterializationSort } = OrderBy(
  "FeatureMaterialization",
  { CREATED_AT: "createdAt" } as const,
  { property: "createdAt", direction: "DESC" },
);
export type FeatureMaterializationOrder = InstanceType<typeof FeatureMaterializationOrder>;
export const { Order: TrainingSetOrder, sortOf: trainingSetSort } = OrderBy("TrainingSet", { CREATED_AT: "createdAt" } as const, {
  property: "createdAt",
  direction: "DESC",
});
export type TrainingSetOrder = InstanceType<typeof TrainingSetOrder>;

@InputType()
export class FeatureViewFilter {
  @Field(() => ID, { nullable: true })
  projectId?: string | null;

  @Field(() => String, { nullable: true })
  nameContains?: string | null;

  @Field(() => String, { nullable: true, description: "Exactly this view name." })
  name?: string | null;

  @Field(() => Boolean, { nullable: true, description: "List every version; by default only the latest version of each name." })
  allVersions?: boolean | null;
}

@InputType()
export class TrainingSetFilter {
  @Field(() => ID, { nullable: true })
  projectId?: string | null;

  @Field(() => String, { nullable: true })
  nameContains?: string | null;
}

@InputType()
export class DefineFeatureViewInput {
  @Field(() => ID)
  projectId: string;

  @Field(() => GraphQLJSON, {
    description: "The view: {name, entities, timestampColumn, ttlSeconds?, source: {dataset}, filter?, features: [...]}.",
  })
  definition: unknown;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType()
export class MaterializeFeatureViewInput {
  @Field(() => ID, { description: "A view version's id." })
  featureViewId: string;

  @Field(() => ID, { nullable: true, description: "A version of the view's source dataset; default its latest." })
  sourceVersionId?: string | null;

  @Field(() => Boolean, { defaultValue: true, description: "Also load the latest row per entity into the online store." })
  online: boolean;
}

@InputType()
export class TrainingSetViewInput {
  @Field()
  name: string;

  @Field(() => [String], { nullable: true, description: "Features to take, by name; all when absent." })
  features?: string[] | null;

  @Field(() => Int, { nullable: true, description: "The view version; default the latest. Its latest materialization is read." })
  version?: number | null;
}

@InputType()
export class BuildTrainingSetInput {
  @Field(() => ID)
  projectId: string;

  @Field(() => ID, { description: "A dataset version with the entity key columns and a timestamp column." })
  entityVersionId: string;

  @Field({ defaultValue: "event_timestamp" })
  timestampColumn: string;

  @Field(() => [TrainingSetViewInput])
  views: TrainingSetViewInput[];

  @Field({ defaultValue: false, description: "Name feature columns `view__feature`." })
  prefix: boolean;

  @Field(() => String, { nullable: true })
  name?: string | null;
}

@ObjectType()
export class DefineFeatureViewPayload {
  @Field(() => FeatureView)
  featureView: FeatureView;

  @Field({ description: "False when the same definition already existed (that version is returned)." })
  created: boolean;
}

@ObjectType()
export class MaterializeFeatureViewPayload {
  @Field(() => FeatureMaterialization)
  materialization: FeatureMaterialization;
}

@ObjectType()
export class BuildTrainingSetPayload {
  @Field(() => TrainingSet)
  trainingSet: TrainingSet;
}

export const DefineFeatureViewResult = MutationResult("DefineFeatureView", DefineFeatureViewPayload);
export const MaterializeFeatureViewResult = MutationResult("MaterializeFeatureView", MaterializeFeatureViewPayload);
export const BuildTrainingSetResult = MutationResult("BuildTrainingSet", BuildTrainingSetPayload);
