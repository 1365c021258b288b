/**
 * The `noop` operator: does nothing and produces an empty file for each declared output. For
 * wiring pipelines before their stages exist, and for measuring the runner's own overhead.
 */
import type { StageContext } from "../stage";

export async function noop(ctx: StageContext): Promise<void> {
  await Promise.all(Object.values(ctx.outputs).map((output) => output.writeBuffer(new Uint8Array(0))));
}
