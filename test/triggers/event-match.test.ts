import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { EventRow } from "../../src/events/event.entity";
import {
  MissingEventValue,
  checkEventType,
  checkFilter,
  checkParamTemplates,
  eventView,
  matchesFilter,
  resolveParamTemplates,
  ruleHears,
} from "../../src/triggers/event-match";

const P = "11111111-1111-4111-8111-111111111111";
const OTHER = "22222222-2222-4222-8222-222222222222";

function event(type: string, payload: Record<string, unknown>, projectId: string | null = P): EventRow {
  const createdAt = new Date("2026-01-01T00:00:01Z");
  return Object.assign(new EventRow(), { id: "42", type, projectId, subjectId: null, actorId: null, payload, createdAt });
}

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInputError) return err.problems.map((p) => p.field);
    throw err;
  }
  assert.fail("expected an InvalidInputError");
}

describe("event filters", () => {
  const view = eventView(event("dataset.version.created", { dataset: "flights", rows: 3, tags: ["a", "b"], meta: { owner: "x" } }));

  it("matches when every condition holds, comparing values as JSON", () => {
    assert.ok(matchesFilter({ "payload.dataset": "flights", type: "dataset.version.created", projectId: P }, view));
    assert.ok(matchesFilter({ "payload.rows": 3, "payload.tags.1": "b", "payload.meta": { owner: "x" } }, view));
    assert.ok(!matchesFilter({ "payload.rows": "3" }, view), "a string is not a number");
    assert.ok(!matchesFilter({ "payload.dataset": "weather" }, view));
  });

  it("never matches a path the event lacks, not even with null", () => {
    assert.ok(!matchesFilter({ "payload.missing": null }, view));
    assert.ok(!matchesFilter({ "payload.dataset.deeper": "x" }, view));
  });

  it("refuses paths that no event has", () => {
    assert.deepEqual(fieldsOf(() => checkFilter({ "body.x": 1, "payload..x": 2, "type.x": 3, projectId: 5 })).sort(), [
      "filter.body.x",
      "filter.payload..x",
      "filter.projectId",
      "filter.type.x",
    ]);
  });
});

describe("rules hearing events", () => {
  const rule = { projectId: P, eventType: "deploy.finished", filter: {}, enabled: true, armedAfter: "41" };

  it("hears only its own project unless the filter names another", () => {
    assert.ok(ruleHears(rule, event("deploy.finished", {})));
    assert.ok(!ruleHears(rule, event("deploy.finished", {}, OTHER)));
    assert.ok(ruleHears({ ...rule, filter: { projectId: OTHER } }, event("deploy.finished", {}, OTHER)));
  });

  it("does not hear events from before its arming, other types, or anything while disabled", () => {
    assert.ok(!ruleHears({ ...rule, armedAfter: "42" }, event("deploy.finished", {})));
    assert.ok(!ruleHears(rule, event("deploy.started", {})));
    assert.ok(!ruleHears({ ...rule, enabled: false }, event("deploy.finished", {})));
  });
});

describe("parameter templates", () => {
  const view = eventView(event("dataset.version.created", { dataset: "flights", rows: 3, files: [{ name: "a.csv" }] }));

  it("fills templates from the event, keeping JSON types, at any depth", () => {
    const params = {
      train: { dataset: "$.payload.dataset", rows: "$.payload.rows", first: "$.payload.files.0.name", literal: "$$.payload.x" },
      report: { list: ["$.type", "fixed"], nested: { project: "$.projectId" } },
    };
    assert.deepEqual(resolveParamTemplates(params, view), {
      train: { dataset: "flights", rows: 3, first: "a.csv", literal: "$.payload.x" },
      report: { list: ["dataset.version.created", "fixed"], nested: { project: P } },
    });
  });

  it("names the missing path and the parameter that wanted it", () => {
    assert.throws(
      () => resolveParamTemplates({ train: { x: "$.payload.absent" } }, view),
      (err: unknown) => err instanceof MissingEventValue && err.path === "payload.absent" && err.field === "params.train.x",
    );
  });

  it("refuses a template whose path no event has", () => {
    assert.deepEqual(
      fieldsOf(() => checkParamTemplates({ train: { a: "$.body.x", b: "$.payload.ok" } })),
      ["params.train.a"],
    );
  });
});

describe("event types", () => {
  it("accepts dotted words, and reserved prefixes only where they are not custom", () => {
    assert.equal(checkEventType("dataset.version.created", "type", { custom: true }), "dataset.version.created");
    assert.equal(checkEventType("run.succeeded", "eventType", { custom: false }), "run.succeeded");
  });

  it("refuses malformed types, and custom types under a reserved prefix", () => {
    for (const bad of ["deploy", "deploy.", ".x", "has space.x", "x".repeat(130) + ".y"])
      assert.deepEqual(
        fieldsOf(() => checkEventType(bad, "type", { custom: true })),
        ["type"],
        bad,
      );
    for (const reserved of ["run.succeeded", "stage.failed", "project.created", "pipeline.x", "auth.changed", "Run.faked", "trigger.fired"])
      assert.deepEqual(
        fieldsOf(() => checkEventType(reserved, "type", { custom: true })),
        ["type"],
        reserved,
      );
  });
});
