/**
 * The SDK's HTTP client against a real server: a 429 is waited out and retried, and each way a
 * request fails becomes a SluiceError with its code. The `sluice` command line's client is built
 * on it: the same requests, retried the same way, its failures reported as CliErrors that name
 * the flag to check.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { SluiceClient, SluiceError } from "../../packages/sdk/src/client";
import { CliError, SluiceClient as CliClient, connectionSettings } from "../../src/cli/client";
import { startTestServer, type TestServer } from "../helpers/server";
import { openSharedDatabase, type SharedDatabase } from "../helpers/shared-database";

const ME = "{ me { tokenId } }";
/** An id that is not a UUID: refused before execution, naming the variable. */
const MALFORMED = "query($id: ID!) { run(id: $id) { id } }";

/** Sends `query` until the server answers 429: the token's rate and burst are spent. */
async function spendAllowance(t: TestServer): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const res = await t.gql(ME);
    if (res.status === 429) return;
  }
  assert.fail("the server never answered 429");
}

/** A local address nothing listens at: a port the system handed out, then closed. */
async function closedAddress(): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** What `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.fail("expected the request to fail");
}

let shared: SharedDatabase;
before(async () => {
  shared = await openSharedDatabase();
});
after(async () => {
  await shared.close();
});

describe("with SLUICE_RATE_LIMIT=1 and SLUICE_RATE_LIMIT_BURST=1", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ db: shared.db, testDb: shared.testDb, env: { SLUICE_RATE_LIMIT: "1", SLUICE_RATE_LIMIT_BURST: "1" } });
  });
  after(async () => {
    await t.close();
  });

  it("the SDK client waits out a 429 as Retry-After says and answers", async () => {
    await spendAllowance(t);
    const client = new SluiceClient({ url: t.url, token: t.adminToken });
    const data = await client.request<{ me: { tokenId: string | null } }>(ME);
    assert.ok("tokenId" in data.me);
  });

  it("the command line's client retries the same way", async () => {
    await spendAllowance(t);
    const client = new CliClient(connectionSettings({ server: t.url, token: t.adminToken }, {}));
    const data = await client.request<{ me: { tokenId: string | null } }>(ME);
    assert.ok("tokenId" in data.me);
  });
});

describe("failed requests", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ db: shared.db, testDb: shared.testDb });
  });
  after(async () => {
    await t.close();
  });
  const sdk = (url: string, token: string) => new SluiceClient({ url, token });
  const cli = (url: string, token: string) => new CliClient(connectionSettings({ server: url, token }, {}));

  it("GraphQL errors: the code, and the problems naming each input", async () => {
    const refused = await rejection(sdk(t.url, "slc_not_a_token_at_all_0123456789abcdef").request(ME));
    assert.ok(refused instanceof SluiceError);
    assert.equal(refused.code, "UNAUTHENTICATED");

    const invalid = await rejection(sdk(t.url, t.adminToken).request(MALFORMED, { id: "nope" }));
    assert.ok(invalid instanceof SluiceError);
    assert.equal(invalid.code, "BAD_USER_INPUT");
    assert.deepEqual(
      invalid.problems.map((p) => p.field),
      ["$id"],
    );

    const cliRefused = await rejection(cli(t.url, "slc_not_a_token_at_all_0123456789abcdef").request(ME));
    assert.ok(cliRefused instanceof CliError);
    assert.match(cliRefused.message, /--token \/ SLUICE_TOKEN/);
    const cliInvalid = await rejection(cli(t.url, t.adminToken).request(MALFORMED, { id: "nope" }));
    assert.ok(cliInvalid instanceof CliError);
    assert.equal(cliInvalid.details.length, 1);
    assert.match(cliInvalid.details[0]!, /^\$id: /);
  });

  it("an address that answers no GraphQL", async () => {
    const wrong = `${t.url}/not-sluice`; // the client posts to /not-sluice/graphql: a 404 page
    const err = await rejection(sdk(wrong, t.adminToken).request(ME));
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, "HTTP_404");
    const cliErr = await rejection(cli(wrong, t.adminToken).request(ME));
    assert.ok(cliErr instanceof CliError);
    assert.match(cliErr.message, /--server \/ SLUICE_URL/);
  });

  it("a server nobody answers at", async () => {
    const closed = await closedAddress();
    const err = await rejection(sdk(closed, t.adminToken).request(ME));
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, "UNREACHABLE");
    const cliErr = await rejection(cli(closed, t.adminToken).request(ME));
    assert.ok(cliErr instanceof CliError);
    assert.equal(cliErr.message, `cannot reach the Sluice server at ${closed} (ECONNREFUSED); set --server or SLUICE_URL`);
  });
});
