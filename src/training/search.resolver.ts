import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { Permission } from "../kernel/roles";
import { StageRun } from "../runs";
import { HyperparameterSearch } from "./search.types";
import type { Database } from "../db/data-source";

/**
 * `StageRun.hyperparameterSearch`: the trials of a `train` stage's search, as stored in its Model
 * output's metadata — queryable now, before trials become tracking runs of their own.
 */
/** What StageRunSearchResolver uses. */
export interface StageRunSearchResolverDeps {
  db: Database;
}

@Resolver(() => StageRun)
export class StageRunSearchResolver {
  constructor(readonly deps: StageRunSearchResolverDeps) {}

  @FieldResolver(() => HyperparameterSearch, {
    nullable: true,
    description: "The hyperparameter search a `train` stage ran (null for any other stage, or a train stage without `search`).",
  })
  async hyperparameterSearch(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<HyperparameterSearch | null> {
    ctx.authz.require(Permission.READ, sr.projectId);
    const rows = await this.deps.db.dataSource
      .getRepository(ArtifactRow)
      .find({ where: { producedBy: sr.reusedFrom ?? sr.id, kind: "Model" }, order: { outputName: "ASC" } });
    for (const row of rows) {
      const search = HyperparameterSearch.fromMetadata(row.metadata as Record<string, unknown>);
      if (search) return search;
    }
    return null;
  }
}
