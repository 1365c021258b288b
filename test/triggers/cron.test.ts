import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { MAX_MISSED_STEPS, checkCron, checkTimeZone, latestMissedFire, nextFireTimes } from "../../src/triggers/cron";
import { assertNames } from "../helpers/names";

function problemsOf(fn: () => unknown): Array<{ field: string; message: string }> {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInputError) return err.problems;
    throw err;
  }
  assert.fail("expected an InvalidInputError");
}

/** Hour, minute and weekday of `d` on the wall clock of `timeZone`. */
function wallClock(d: Date, timeZone: string): { hour: number; minute: number; weekday: string } {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", minute: "numeric", weekday: "short", hourCycle: "h23" })
    .formatToParts(d)
    .reduce<Record<string, string>>((acc, p) => ({ ...acc, [p.type]: p.value }), {});
  return { hour: Number(parts.hour), minute: Number(parts.minute), weekday: parts.weekday! };
}

describe("checkCron", () => {
  it("accepts 5- and 6-field expressions and says which have seconds", () => {
    assert.deepEqual(checkCron(" 0  9 * * 1-5 "), { expression: "0 9 * * 1-5", withSeconds: false });
    assert.deepEqual(checkCron("*/10 * * * * *"), { expression: "*/10 * * * * *", withSeconds: true });
    assert.equal(checkCron("0 9 * * MON-FRI").withSeconds, false);
  });

  it("names the bad cron field with node-cron's message", () => {
    const [p] = problemsOf(() => checkCron("61 * * * *"));
    assert.equal(p!.field, "cron.minute");
    assertNames(p!.message, "61");
  });

  it("refuses a wrong number of fields on the whole expression", () => {
    assert.equal(problemsOf(() => checkCron("* * * *"))[0]!.field, "cron");
    assert.equal(problemsOf(() => checkCron(""))[0]!.field, "cron");
  });
});

describe("checkTimeZone", () => {
  it("returns the canonical name of a known zone", () => {
    assert.equal(checkTimeZone("America/New_York"), "America/New_York");
    assert.equal(checkTimeZone("UTC"), "UTC");
  });

  it("refuses a zone that does not exist", () => {
    assert.equal(problemsOf(() => checkTimeZone("Mars/Olympus_Mons"))[0]!.field, "timezone");
  });
});

describe("nextFireTimes", () => {
  it("reads weekday mornings on New York's wall clock", () => {
    const times = nextFireTimes("0 9 * * 1-5", "America/New_York", 5);
    assert.equal(times.length, 5);
    let previous = Date.now();
    for (const t of times) {
      assert.ok(t.getTime() > previous, "increasing, and in the future");
      previous = t.getTime();
      const wall = wallClock(t, "America/New_York");
      assert.deepEqual([wall.hour, wall.minute], [9, 0]);
      assert.ok(["Mon", "Tue", "Wed", "Thu", "Fri"].includes(wall.weekday), wall.weekday);
    }
    // New York is 4 or 5 hours behind UTC, so the same expression in UTC names other instants.
    const utc = nextFireTimes("0 9 * * 1-5", "UTC", 1)[0]!;
    assert.equal(utc.getUTCHours(), 9);
    assert.ok([13, 14].includes(times[0]!.getUTCHours()));
  });
});

describe("latestMissedFire", () => {
  const now = new Date("2026-03-04T10:17:42.500Z");

  it("finds the latest tick after the last fire", () => {
    const since = new Date("2026-03-04T05:00:00Z");
    assert.equal(latestMissedFire("0 * * * *", "UTC", since, now)?.toISOString(), "2026-03-04T10:00:00.000Z");
    assert.equal(latestMissedFire("*/5 * * * * *", "UTC", since, now)?.toISOString(), "2026-03-04T10:17:40.000Z");
  });

  it("finds nothing when no tick fell after the last fire", () => {
    assert.equal(latestMissedFire("0 * * * *", "UTC", new Date("2026-03-04T10:00:00Z"), now), null);
    assert.equal(latestMissedFire("0 9 * * *", "UTC", new Date("2026-03-04T09:00:00Z"), now), null);
  });

  it("looks back at most MAX_MISSED_STEPS steps", () => {
    const longAgo = new Date("2020-01-01T00:00:00Z");
    // Once a year, last on 1 January: more than 7 days of minutes back, so not looked for.
    assert.equal(latestMissedFire("0 0 1 1 *", "UTC", longAgo, now), null);
    // Daily at midnight: the latest is within the bound and found, however old the last fire.
    assert.equal(latestMissedFire("0 0 * * *", "UTC", longAgo, now)?.toISOString(), "2026-03-04T00:00:00.000Z");
    assert.equal(MAX_MISSED_STEPS, 7 * 24 * 60, "7 days of minutes");
  });
});
