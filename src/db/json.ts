/**
 * The TypeScript type of a `jsonb` column holding an object. `any` members rather than
 * `unknown`: TypeORM's insert typing (a deep partial of the entity) rejects `unknown`.
 * Read values are still checked where they are used.
 */
export type JsonObject = Record<string, any>;
