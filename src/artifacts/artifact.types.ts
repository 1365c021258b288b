import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, ObjectType } from "type-graphql";
import type { ArtifactRow } from "./artifact.entity";

@ObjectType({ description: "A recorded output: content-addressed bytes, their kind, and their lineage." })
export class Artifact {
  @Field(() => ID, { description: "Server-assigned UUID of the artifact." })
  id: string;

  @Field(() => ID, { description: "Project the artifact belongs to." })
  projectId: string;

  @Field({ description: "What the artifact is: Dataset, FeatureSet, Model, Report, Metrics or File." })
  kind: string;

  @Field({
    description:
      "Where a client reads the content: the server's `/artifacts/{id}/content` route. The store's own location stays inside the server.",
  })
  uri: string;

  @Field({ description: "`sha256:<hex>` of the content." })
  hash: string;

  @Field(() => Float, { description: "Bytes." })
  size: number;

  @Field({ description: "True when the content is a folder (its hash covers the tree), false for a single file." })
  isDirectory: boolean;

  @Field(() => GraphQLJSONObject, {
    description: "Free-form JSON the producer attached (e.g. a model's framework or a dataset's row count).",
  })
  metadata: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: "The stage run that produced it." })
  producedBy: string | null;

  @Field(() => ID, { nullable: true, description: "The pipeline run whose stage produced it; null when uploaded outside a run." })
  runId: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The name of the stage output it was recorded as; null when not produced by a stage.",
  })
  outputName: string | null;

  @Field({ description: "When the artifact was recorded." })
  createdAt: Date;

  static from(row: ArtifactRow): Artifact {
    // The stored uri names the server's artifact folder: never part of an answer.
    return Object.assign(new Artifact(), { ...row, uri: `/artifacts/${row.id}/content`, size: Number(row.size) });
  }
}
