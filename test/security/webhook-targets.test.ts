import assert from "node:assert/strict";
import type dns from "node:dns";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { generateSecret, webhookNotifier } from "../../plugins/webhook";
import { loadConfig } from "../../src/app/config";
import { runSystemChange } from "../../src/events/system-change";
import { WebhookTargetPolicy } from "../../src/notifications/webhook-targets";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";
import { TestReceiver, waitFor } from "../notifications/receiver";

/**
 * Every TCP connection attempt of this process (the address after DNS resolution), recorded as it
 * starts. An attempt to anything but loopback is a failure of the test: the refusals below must
 * happen before any connect.
 */
const attempts: string[] = [];
const strayAttempts: string[] = [];
const originalConnect = net.Socket.prototype.connect;
function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address === "::ffff:127.0.0.1";
}
function watchConnects(): void {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    this.on("connectionAttempt", (address: string) => {
      attempts.push(address);
      if (!isLoopback(address)) {
        strayAttempts.push(address);
        this.destroy(new Error(`test guard: a connection to ${address} was attempted`));
      }
    });
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
}

const CREATE = `mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) {
  __typename
  ... on NotificationChannelPayload { notificationChannel { id } }
  ... on InvalidInputError { code problems { field message } }
  ... on Error { code message } } }`;
const DELIVERIES = `query($c: ID!) { notificationDeliveries(channelId: $c, first: 10) { nodes {
  attempt status httpStatus error responseExcerpt durationMs finishedAt } } }`;

async function emit(t: TestServer, projectId: string, type: string): Promise<void> {
  await runSystemChange(t.server.services, async (tx) => {
    tx.emit({ type, projectId, subjectId: "s", payload: {} });
  });
}

async function createChannel(t: TestServer, projectId: string, name: string, url: string) {
  return dataOf(
    await t.gql(CREATE, {
      i: {
        projectId,
        kind: "webhook",
        name,
        secretName: "HOOK_SECRET",
        signingSecret: generateSecret(),
        eventTypes: ["probe.*"],
        config: { url, timeoutMs: 2000 },
      },
    }),
  ).createNotificationChannel as Record<string, any>;
}

async function settled(t: TestServer, channelId: string, token?: string): Promise<Record<string, any>> {
  return waitFor("a settled delivery", async () => {
    const nodes = dataOf(await t.gql(DELIVERIES, { c: channelId }, token)).notificationDeliveries.nodes as Array<Record<string, any>>;
    return nodes.find((d) => d.status !== "PENDING");
  });
}

describe("webhook targets", () => {
  let receiver: TestReceiver;
  before(async () => {
    watchConnects();
    receiver = await TestReceiver.start();
  });
  after(async () => {
    net.Socket.prototype.connect = originalConnect;
    await receiver.close();
    assert.deepEqual(strayAttempts, [], "no connection left this machine");
  });

  describe("without SLUICE_WEBHOOK_ALLOW", () => {
    let t: TestServer;
    let projectId: string;
    before(async () => {
      t = await startTestServer({ env: { SLUICE_NOTIFY_MAX_ATTEMPTS: "1" } });
      projectId = await seedProject(t, "hooks-closed");
    });
    after(async () => {
      await t.close();
    });

    it("refuses channels to loopback, private, link-local, CGNAT and unspecified addresses with the range and setting named", async () => {
      const targets = [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/hook",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0:9/",
        "http://[::]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:10.0.0.1]/",
        "https://[::ffff:127.0.0.1]/",
      ];
      for (const [i, url] of targets.entries()) {
        const res = await createChannel(t, projectId, `refused-${i}`, url);
        assert.equal(res.__typename, "InvalidInputError", `${url}: ${JSON.stringify(res)}`);
        assert.equal(res.code, "BAD_USER_INPUT");
        assert.equal(res.problems[0].field, "config.url");
        assertNames(res.problems[0].message, "SLUICE_WEBHOOK_ALLOW");
      }
      assert.match((await createChannel(t, projectId, "metadata", "http://169.254.169.254/")).problems[0].message, /link-local/);
    });

    it("fails a delivery to a name that resolves to loopback, before connecting, with the reason in the log", async () => {
      const url = receiver.url("/via-localhost").replace("127.0.0.1", "localhost");
      const res = await createChannel(t, projectId, "by-name", url);
      assert.equal(res.__typename, "NotificationChannelPayload", JSON.stringify(res));
      await emit(t, projectId, "probe.sent");
      const d = await settled(t, res.notificationChannel.id);
      assert.equal(d.status, "FAILED");
      assert.equal(d.httpStatus, null);
      assert.match(d.error, /^refused: localhost resolves to .*loopback.*SLUICE_WEBHOOK_ALLOW/);
      assert.equal(receiver.at("/via-localhost").length, 0, "the receiver was never reached");
      assert.deepEqual(strayAttempts, []);
    });

    it("refuses a name that re-resolves to a private address (DNS rebinding) without opening a socket", async () => {
      // A resolver standing in for a hostile DNS server: the name now points into the private network.
      const rebinding = ((_host: string, _options: unknown, callback: (e: null, a: dns.LookupAddress[]) => void) =>
        callback(null, [{ address: "10.1.2.3", family: 4 }])) as unknown as typeof dns.lookup;
      const policy = new WebhookTargetPolicy([], rebinding);
      const before = attempts.length;
      for (const url of [
        "http://rebind.example.test/hook",
        "https://rebind.example.test/hook",
        "http://10.0.0.1/hook",
        "http://[::ffff:a00:1]/",
      ]) {
        const notifier = webhookNotifier.create({ url, timeoutMs: 2000 }, generateSecret(), policy);
        const result = await notifier.send({
          messageId: "evt_1",
          attempt: 1,
          event: { id: "1", type: "probe.sent", createdAt: new Date(), projectId: "p", subjectId: null, actorId: null, payload: {} },
        });
        assert.equal(result.ok, false, url);
        assert.equal(result.retryable, false);
        assert.match(result.error!, /^refused: .*(private|10\.).*SLUICE_WEBHOOK_ALLOW/, url);
      }
      assert.deepEqual(attempts.slice(before), [], "no connection was attempted");
    });
  });

  describe("the allow list", () => {
    it("lets listed hosts, addresses and CIDRs through and nothing else", () => {
      const policy = new WebhookTargetPolicy(["10.1.0.0/16", "fd00::5", "hooks.internal"]);
      assert.equal(policy.rangeOf("10.1.2.3"), undefined);
      assert.equal(policy.rangeOf("::ffff:10.1.2.3"), undefined);
      assert.equal(policy.rangeOf("10.2.0.1"), "a private (RFC 1918) address");
      assert.equal(policy.rangeOf("fd00::5"), undefined);
      assert.equal(policy.rangeOf("fd00::6"), "a unique-local (private) address");
      assert.equal(policy.rangeOf("93.184.216.34"), undefined, "public addresses need no listing");
      assert.equal(policy.hostProblem("[fd00::5]"), undefined);
      assert.match(policy.hostProblem("127.0.0.1")!, /loopback/);
    });

    it("refuses a malformed SLUICE_WEBHOOK_ALLOW at startup, naming the variable", () => {
      assert.throws(() => loadConfig({ SLUICE_WEBHOOK_ALLOW: "127.0.0.1,10.0.0.0/99" }), /SLUICE_WEBHOOK_ALLOW="10.0.0.0\/99"/);
      assert.throws(() => loadConfig({ SLUICE_WEBHOOK_ALLOW: "http://x/" }), /SLUICE_WEBHOOK_ALLOW/);
      assert.deepEqual(loadConfig({ SLUICE_WEBHOOK_ALLOW: " 127.0.0.1 , localhost" }).webhookAllow, ["127.0.0.1", "localhost"]);
    });
  });

  describe("with SLUICE_WEBHOOK_ALLOW=127.0.0.1", () => {
    let t: TestServer;
    let projectId: string;
    before(async () => {
      t = await startTestServer({ env: { SLUICE_NOTIFY_MAX_ATTEMPTS: "1", SLUICE_WEBHOOK_ALLOW: "127.0.0.1" } });
      projectId = await seedProject(t, "hooks-open");
    });
    after(async () => {
      await t.close();
    });

    it("delivers to the listed address, still refusing the others", async () => {
      const res = await createChannel(t, projectId, "allowed", receiver.url("/allowed"));
      assert.equal(res.__typename, "NotificationChannelPayload", JSON.stringify(res));
      assert.equal((await createChannel(t, projectId, "other", "http://10.0.0.1/")).__typename, "InvalidInputError");
      await emit(t, projectId, "probe.sent");
      const d = await settled(t, res.notificationChannel.id);
      assert.equal(d.status, "SUCCEEDED");
      assert.equal(receiver.at("/allowed").length, 1);
    });

    it("shows a failed attempt's status and timing to a VIEWER, and the receiver's answer only to an ADMIN", async () => {
      const res = await createChannel(t, projectId, "failing", receiver.url("/failing", [503]));
      await emit(t, projectId, "probe.sent");
      const viewer = await seedCaller(t, "VIEWER", projectId);
      const projectAdmin = await seedCaller(t, "ADMIN", projectId);
      const seen = await settled(t, res.notificationChannel.id, viewer.token);
      assert.equal(seen.status, "FAILED");
      assert.equal(seen.httpStatus, 503);
      assert.equal(seen.error, "HTTP 503");
      assert.ok(seen.durationMs >= 0 && seen.finishedAt);
      assert.equal(seen.responseExcerpt, null, "a VIEWER does not read the receiver's answer");
      const asAdmin = await settled(t, res.notificationChannel.id, projectAdmin.token);
      assert.equal(asAdmin.responseExcerpt, "refused with 503");
      assert.equal((await settled(t, res.notificationChannel.id)).responseExcerpt, "refused with 503");
    });
  });
});
