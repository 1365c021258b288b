import { Field, ID, InputType, ObjectType } from "type-graphql";
import { GraphQLJSONObject } from "graphql-scalars";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { EventRow } from "../events/event.entity";
import type { ProjectRow } from "./project.entity";

@ObjectType({ description: "A namespace: datasets, pipelines, models and everything else belong to one project." })
export class Project {
  @Field(() => ID)
  id: string;

  @Field({ description: "Unique slug." })
  name: string;

  @Field()
  description: string;

  @Field({ description: "Archived projects are read-only until restored." })
  archived: boolean;

  @Field(() => Date, { nullable: true })
  archivedAt: Date | null;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  static from(row: ProjectRow): Project {
    return Object.assign(new Project(), {
      id: row.id,
      name: row.name,
      description: row.description,
      archived: row.archivedAt !== null,
      archivedAt: row.archivedAt,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

export const ProjectOrderField = { NAME: "name", CREATED_AT: "createdAt" } as const;
export const {
  Connection: ProjectConnection,
  Order: ProjectOrder,
  sortOf: projectSort,
  Filter: ProjectFilter,
} = ListTypes(Project, "Project", {
  orderBy: ProjectOrderField,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    nameContains: FilterBy.text("Case-insensitive substring of the name."),
    includeArchived: FilterBy.flag("True: archived projects are listed too; false (default): only active ones.", false),
  },
});
export type ProjectConnection = InstanceType<typeof ProjectConnection>;
export type ProjectOrder = InstanceType<typeof ProjectOrder>;
export type ProjectFilter = InstanceType<typeof ProjectFilter>;

@InputType()
export class CreateProjectInput {
  @Field({ description: "Lowercase slug: letters, digits and '-', at most 63 characters." })
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType()
export class RenameProjectInput {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;
}

@InputType()
export class ProjectIdInput {
  @Field(() => ID)
  id: string;
}

@ObjectType()
export class ProjectPayload {
  @Field(() => Project)
  project: Project;

  static of(row: ProjectRow): ProjectPayload {
    return Object.assign(new ProjectPayload(), { project: Project.from(row) });
  }
}

export const ProjectResult = MutationResult("Project", ProjectPayload);

@ObjectType({ description: "A change in a project, from the event stream. `cursor` resumes a subscription." })
export class ProjectEvent {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field({ description: "`noun.verb`, e.g. `project.renamed`." })
  type: string;

  @Field(() => ID, { nullable: true })
  projectId: string | null;

  @Field(() => String, { nullable: true })
  subjectId: string | null;

  @Field(() => ID, { nullable: true })
  actorId: string | null;

  @Field(() => GraphQLJSONObject)
  payload: Record<string, unknown>;

  @Field()
  at: Date;

  static from(row: EventRow): ProjectEvent {
    return Object.assign(new ProjectEvent(), {
      cursor: row.id,
      type: row.type,
      projectId: row.projectId,
      subjectId: row.subjectId,
      actorId: row.actorId,
      payload: row.payload,
      at: row.createdAt,
    });
  }
}
