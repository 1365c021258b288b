import type { Command } from "commander";
import { ERROR_FIELDS, connectionSettings, unwrap, type ConnectionFlags, type ResultUnion } from "./client";
import { commandAction, resolveRun, runLabel, withClient, withConnectionOptions } from "./common";
import { colorStatus, styleFor } from "./format";

/** `sluice cancel RUN`: cancels a run; its running stages are stopped by their runners. */

export function registerCancelCommand(program: Command): void {
  withConnectionOptions(
    program
      .command("cancel")
      .description("cancel a run: waiting stages are canceled at once, running ones are stopped")
      .argument("<run>", "a run id, or pipeline#number (in the project given)"),
  ).action(commandAction(cancelCommand));
}

export async function cancelCommand(ref: string, flags: ConnectionFlags): Promise<number> {
  connectionSettings(flags);
  const style = styleFor(process.stdout);
  return withClient(flags, async (client) => {
    const run = await resolveRun(client, ref);
    const res = await client.request<{ cancelRun: ResultUnion & { run?: { status: string } } }>(
      `mutation Cancel($id: ID!) { cancelRun(input: { id: $id }) { ${ERROR_FIELDS} ... on RunPayload { run { status } } } }`,
      { id: run.id },
    );
    const { run: after } = unwrap<{ run: { status: string } }>(res.cancelRun, "RunPayload", `canceling ${runLabel(run)}`);
    if (after.status === "CANCELED") process.stdout.write(`${runLabel(run)} ${colorStatus(style, "CANCELED")}\n`);
    else process.stdout.write(`cancel requested for ${runLabel(run)}: its running stages are being stopped\n`);
    return 0;
  });
}
