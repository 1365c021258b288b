import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, ObjectType } from "type-graphql";
import type { ArtifactRow } from "./artifact.entity";

@ObjectType({ description: "A recorded output: content-addressed bytes, their kind, and their lineage." })
export class Artifact {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field()
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

  @Field()
  isDirectory: boolean;

  @Field(() => GraphQLJSONObject)
  metadata: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: "The stage run that produced it." })
  producedBy: string | null;

  @Field(() => ID, { nullable: true })
  runId: string | null;

  @Field(() => String, { nullable: true })
  outputName: string | null;

  @Field()
  createdAt: Date;

  static from(row: ArtifactRow): Artifact {
    // The stored uri names the server's artifact folder: never part of an answer.
    return Object.assign(new Artifact(), { ...row, uri: `/artifacts/${row.id}/content`, size: Number(row.size) });
  }
}
