import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, logFormatFor, prettyDestination, prettyLine } from "../../src/kernel/logger";

describe("the log's formats", () => {
  it("writes pretty lines: time, level, message, fields, an error's stack below", () => {
    const written: string[] = [];
    const log = createLogger("info", prettyDestination({ write: (t: string) => written.push(t) }));
    log.info({ method: "POST", path: "/graphql", status: 200, operation: "Me", fields: ["me"] }, "request");
    log.debug("not at info");
    const err = new Error("boom");
    log.error({ err, token: "slc_secret" }, "it failed");
    assert.equal(written.length, 2);
    assert.match(written[0]!, /^\d\d:\d\d:\d\d INFO {2}request method=POST path=\/graphql status=200 operation=Me fields=\["me"\]\n$/);
    assert.match(written[1]!, /^\d\d:\d\d:\d\d ERROR it failed token=\[redacted\]\n {4}Error: boom\n +at /);
    assert.ok(!written.join("").includes("slc_secret"));
  });

  it("passes a line that is not JSON through, and quotes values with spaces", () => {
    assert.equal(prettyLine("plain words"), "plain words\n");
    assert.equal(prettyLine(JSON.stringify({ level: "warn", msg: "m", why: "two words" })), 'WARN  m why="two words"\n');
  });

  it("chooses pretty on a terminal outside production, JSON otherwise, unless told", () => {
    assert.equal(logFormatFor("auto", { isTTY: true }, false), "pretty");
    assert.equal(logFormatFor("auto", { isTTY: true }, true), "json");
    assert.equal(logFormatFor("auto", { isTTY: false }, false), "json");
    assert.equal(logFormatFor("auto", {}, false), "json");
    assert.equal(logFormatFor("json", { isTTY: true }, false), "json");
    assert.equal(logFormatFor("pretty", {}, true), "pretty");
  });
});
