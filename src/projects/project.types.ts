import { Field, ID, InputType, ObjectType } from "type-graphql";
import { GraphQLJSONObject } from "graphql-scalars";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { EventRow } from "../events/event.entity";
import type { ProjectRow } from "./project.entity";

@ObjectType({ description: "A namespace: datasets, pipelines, models and everything else belong to one project." })
export class Project {
  @Field(() => ID, { description: "Server-assigned UUID of the project." })
  id: string;

  @Field({ description: "Unique slug." })
  name: string;

  @Field({ description: "Free text; empty when none." })
  description: string;

  @Field({ description: "Archived projects are read-only until restored." })
  archived: boolean;

  @Field(() => Date, { nullable: true, description: "When the project was archived; null while it is active." })
  archivedAt: Date | null;

  @Field({ description: "When the project was created." })
  createdAt: Date;

  @Field({ description: "When the project was last renamed, archived or restored." })
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

@InputType({ description: "A new project: its unique name and an optional description." })
export class CreateProjectInput {
  @Field({ description: "Lowercase slug: letters, digits and '-', at most 63 characters." })
  name: string;

  @Field(() => String, { nullable: true, description: "Free text shown with the project; empty when omitted." })
  description?: string | null;
}

@InputType({ description: "A project and its new name." })
export class RenameProjectInput {
  @Field(() => ID, { description: "UUID of the project to rename." })
  id: string;

  @Field({ description: "The new name: lowercase slug of letters, digits and '-', at most 63 characters." })
  name: string;
}

@InputType({ description: "Names one project." })
export class ProjectIdInput {
  @Field(() => ID, { description: "UUID of the project." })
  id: string;
}

@ObjectType({ description: "The project after the change." })
export class ProjectPayload {
  @Field(() => Project, { description: "The project after the change." })
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

  @Field(() => ID, { nullable: true, description: "Project the event belongs to; null for a global event." })
  projectId: string | null;

  @Field(() => String, { nullable: true, description: "Id of the thing the event is about (a run, a dataset…); null when none." })
  subjectId: string | null;

  @Field(() => ID, { nullable: true, description: "The principal whose action caused the event; null for the system." })
  actorId: string | null;

  @Field(() => GraphQLJSONObject, { description: "Event-specific details; the fields depend on `type`." })
  payload: Record<string, unknown>;

  @Field({ description: "When the event was committed." })
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
