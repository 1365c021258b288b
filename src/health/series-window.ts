/** The window and step of a plot-ready series, checked before any query: bounded points. Pure. */
import { InvalidInputError } from "../kernel/errors";

/** Most points one series may have. */
export const MAX_SERIES_POINTS = 1000;

/**
 * How many points [from, to) cut into `stepSeconds` makes.
 *
 * @throws InvalidInputError naming `step` or `to` when the step is not a whole number of
 *   seconds of at least `minStepSeconds`, the window is empty, or it would exceed MAX_SERIES_POINTS
 */
export function seriesPoints(from: Date, to: Date, stepSeconds: number, minStepSeconds = 1): number {
  if (!(Number.isInteger(stepSeconds) && stepSeconds >= minStepSeconds)) {
    throw new InvalidInputError([{ field: "step", message: `the step is a whole number of seconds, at least ${minStepSeconds}` }]);
  }
  if (!(to.getTime() > from.getTime()))
    throw new InvalidInputError([{ field: "to", message: "the window must end after it starts (to > from)" }]);
  const points = Math.ceil((to.getTime() - from.getTime()) / (stepSeconds * 1000));
  if (points > MAX_SERIES_POINTS) {
    throw new InvalidInputError([
      { field: "step", message: `${points} points asked for; at most ${MAX_SERIES_POINTS}: use a larger step or a shorter window` },
    ]);
  }
  return points;
}
