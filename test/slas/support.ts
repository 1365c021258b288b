import assert from "node:assert/strict";
import { createLogger } from "../../src/kernel/logger";
import { SlaLoop } from "../../src/slas";
import { dataOf, type TestServer } from "../helpers/server";

/** Servers for SLA tests: their own SLA loop is off; each test ticks one on a clock it controls. */
export const SLA_TEST_ENV = { SLUICE_SLA_INTERVAL_MS: "0" };

export const SLA_FIELDS = `id name kind subjectKind subjectName objective windowSeconds schedule metric severity enabled source pipelineId
  state observed evaluatedAt`;

export const CREATE_SLA = `mutation($i: CreateSlaInput!) { createSla(input: $i) { __typename
  ... on SlaPayload { sla { ${SLA_FIELDS} } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

export const STATUS = `query($id: ID!) { slaStatus(slaId: $id) { state observed objective evaluatedAt stateSince detail
  openBreach { id observed objective windowSeconds alertId startedAt recoveredAt }
  recentBreaches { id startedAt recoveredAt observed recoveredObserved } sla { id name state } } }`;

/** An SLA loop over the server's services whose clock is `clock.now`, started (its timer off). */
export function controlledLoop(t: TestServer): { loop: SlaLoop; clock: { now: Date } } {
  const clock = { now: new Date() };
  const loop = new SlaLoop(
    t.server.services,
    () => true,
    0,
    createLogger("silent"),
    () => clock.now,
  );
  loop.start();
  return { loop, clock };
}

/** Ticks at `at` and returns the check of `slaId`. */
export async function tickAt(loop: SlaLoop, at: Date, slaId: string) {
  const checks = await loop.tick(at);
  const check = checks.find((c) => c.slaId === slaId);
  assert.ok(check, `the tick checked SLA ${slaId}`);
  return check;
}

/** The project's SLA events of one SLA, oldest first. */
export async function slaEventsOf(t: TestServer, slaId: string): Promise<Array<{ type: string; payload: Record<string, any> }>> {
  const rows = (await t.server.services.db.dataSource.manager.query(
    `SELECT type, payload FROM events WHERE subject_id = $1 AND type IN ('sla.breached', 'sla.recovered') ORDER BY id`,
    [slaId],
  )) as Array<{ type: string; payload: Record<string, any> }>;
  return rows;
}

/** The SLA of `name` in the project. */
export async function slaNamed(t: TestServer, projectId: string, name: string): Promise<Record<string, any>> {
  const nodes = dataOf(await t.gql(`query($p: ID!) { slas(projectId: $p, first: 500) { nodes { ${SLA_FIELDS} } } }`, { p: projectId })).slas
    .nodes as Array<Record<string, any>>;
  const found = nodes.find((n) => n.name === name);
  assert.ok(found, `SLA ${name} is listed: ${JSON.stringify(nodes.map((n) => n.name))}`);
  return found;
}

export const HOUR = 3600_000;
export const MINUTE = 60_000;
export const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);
