/** Every id in Sluice is a UUID (PostgreSQL's `gen_random_uuid()`). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` has the form of a Sluice id (a UUID). */
export function isUuid(id: unknown): id is string {
  return typeof id === "string" && UUID.test(id);
}
