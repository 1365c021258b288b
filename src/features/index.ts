/**
 * The public surface of `features`: feature views over a dataset (a point-in-time correct offline
 * store, an online store of the latest values per entity) and training sets joined from them.
 * The operators' stage hooks record materializations and training sets; serving enriches a
 * prediction request with online values, keyed as `encodeEntityKey` keys them.
 */
export { FeatureMaterializationRow } from "./feature-materialization.entity";
export { FeatureService, MAX_ONLINE_KEYS } from "./feature.service";
export { encodeEntityKey, latestPerEntity } from "./online";
export type { ColumnType, FeatureView } from "./definition";
