import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { WebhookVerificationError, generateSecret, signWebhook, verifyWebhook } from "../../plugins/webhook";
import { secretProblem } from "../../plugins/webhook/signature";

const reason = (r: WebhookVerificationError["reason"]) => (err: unknown) => err instanceof WebhookVerificationError && err.reason === r;

describe("Standard Webhooks signatures", () => {
  const secret = generateSecret();
  const id = "evt_42";
  const ts = 1_700_000_000;
  const body = '{"type":"approval.decided","data":{"decision":"APPROVED"}}';

  it("signs v1,<base64 HMAC-SHA256 of id.timestamp.body> keyed by the secret's bytes", () => {
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
    assert.equal(signWebhook(secret, id, ts, body), `v1,${expected}`);
  });

  it("verifies a good signature among several, in the tolerance window", () => {
    const headers = {
      "webhook-id": id,
      "webhook-timestamp": String(ts),
      "webhook-signature": `v1,AAAA v1a,xyz ${signWebhook(secret, id, ts, body)}`,
    };
    assert.deepEqual(verifyWebhook(secret, headers, body, { now: ts + 299 }), { id, timestamp: ts });
    assert.deepEqual(verifyWebhook(secret, new Headers(headers), Buffer.from(body), { now: ts - 10 }), { id, timestamp: ts });
  });

  it("refuses a changed body, another secret, a replayed (old) timestamp and missing headers", () => {
    const headers = { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": signWebhook(secret, id, ts, body) };
    assert.throws(() => verifyWebhook(secret, headers, body.replace("APPROVED", "REJECTED"), { now: ts }), reason("NO_MATCHING_SIGNATURE"));
    assert.throws(() => verifyWebhook(generateSecret(), headers, body, { now: ts }), reason("NO_MATCHING_SIGNATURE"));
    assert.throws(() => verifyWebhook(secret, { ...headers, "webhook-id": "evt_43" }, body, { now: ts }), reason("NO_MATCHING_SIGNATURE"));
    assert.throws(() => verifyWebhook(secret, headers, body, { now: ts + 301 }), reason("TIMESTAMP_OUT_OF_TOLERANCE"));
    assert.throws(() => verifyWebhook(secret, { ...headers, "webhook-timestamp": "soon" }, body, { now: ts }), reason("BAD_TIMESTAMP"));
    assert.throws(() => verifyWebhook(secret, { "webhook-id": id }, body, { now: ts }), reason("MISSING_HEADER"));
  });

  it("accepts only whsec_ secrets of 24 to 64 bytes", () => {
    assert.equal(secretProblem(secret), undefined);
    assert.match(secretProblem("plain-password")!, /whsec_/);
    assert.match(secretProblem(`whsec_${Buffer.alloc(8).toString("base64")}`)!, /24 to 64 bytes/);
    assert.match(secretProblem("whsec_not base64!")!, /base64/);
  });
});
