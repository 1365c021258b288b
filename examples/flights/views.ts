// The flights example's feature views, shared by its pipeline and by the end-to-end demo
// (src/demo), which computes the same point-in-time features for the flights it replays.

/** Trailing 7-day delay rate and traffic of an airport, as the origin or the destination of a flight. */
export function airportDelays(role: "origin" | "destination") {
  return {
    name: `${role}_delays`,
    entities: [role],
    timestampColumn: "date",
    // A 7-day window: values older than that say nothing about today's airport.
    ttlSeconds: 7 * 24 * 3600,
    source: { dataset: "flights" },
    features: [
      { name: `${role}_delay_rate_7d`, aggregation: "avg", expr: "CASE WHEN delay > 15 THEN 1.0 ELSE 0.0 END", window: "7d" },
      { name: `${role}_flights_7d`, aggregation: "count", window: "7d" },
      { name: `${role}_mean_delay_7d`, aggregation: "avg", expr: "delay", window: "7d" },
    ],
  };
}

/** What the classifier sees: what is known when a flight is scheduled, and its airports' recent history. */
export const MODEL_FEATURES = [
  "hour",
  "day_of_week",
  "distance",
  "origin_delay_rate_7d",
  "origin_flights_7d",
  "origin_mean_delay_7d",
  "destination_delay_rate_7d",
  "destination_flights_7d",
  "destination_mean_delay_7d",
] as const;
