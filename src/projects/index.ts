/**
 * The public surface of `projects`: the namespace every other resource lives in. This folder owns
 * creating, renaming, archiving and restoring projects and the project's event stream; other
 * capabilities relate their rows to `ProjectRow`, take `lockWritableProject` before writing under a
 * project (it refuses an archived one), and hang their GraphQL fields on `Project`.
 */
export { ProjectRow } from "./project.entity";
export { lockWritableProject } from "./project.service";
export { Project, ProjectEvent } from "./project.types";
