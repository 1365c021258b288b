import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Grant, Permission, Role, allowedProjects, isAllowed, roleAllows } from "../../src/kernel/roles";

const A = "aaaaaaaa-1111-4111-8111-111111111111";
const B = "bbbbbbbb-2222-4222-8222-222222222222";
const C = "cccccccc-3333-4333-8333-333333333333";

const ROLES = [Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.RUNNER, Role.ADMIN] as const;
const PERMISSIONS = [Permission.READ, Permission.WRITE, Permission.APPROVE, Permission.RUN, Permission.ADMIN] as const;

/**
 * The permission table, written out by hand (not derived from the code under test):
 * which permissions each role includes.
 */
const EXPECTED: Record<Role, readonly Permission[]> = {
  [Role.VIEWER]: [Permission.READ],
  [Role.EDITOR]: [Permission.READ, Permission.WRITE],
  [Role.APPROVER]: [Permission.READ, Permission.APPROVE],
  [Role.RUNNER]: [Permission.RUN],
  [Role.ADMIN]: [Permission.READ, Permission.WRITE, Permission.APPROVE, Permission.RUN, Permission.ADMIN],
};

describe("roleAllows", () => {
  for (const role of ROLES) {
    for (const permission of PERMISSIONS) {
      const expected = EXPECTED[role].includes(permission);
      it(`${expected ? "gives" : "does not give"} ${role} the ${permission} permission`, () => {
        assert.equal(roleAllows(role, permission), expected);
      });
    }
  }

  it("covers every role and every permission the enums declare", () => {
    assert.deepEqual(Object.values(Role).sort(), [...ROLES].sort());
    assert.deepEqual(Object.values(Permission).sort(), [...PERMISSIONS].sort());
  });

  it("keeps RUNNER to the runner API: it cannot even read", () => {
    assert.equal(roleAllows(Role.RUNNER, Permission.READ), false);
    assert.equal(roleAllows(Role.RUNNER, Permission.WRITE), false);
  });
});

describe("isAllowed", () => {
  it("allows nothing without grants, globally or in a project", () => {
    for (const permission of PERMISSIONS) {
      assert.equal(isAllowed([], permission), false, permission);
      assert.equal(isAllowed([], permission, A), false, permission);
    }
  });

  for (const role of ROLES) {
    for (const permission of PERMISSIONS) {
      const included = EXPECTED[role].includes(permission);

      it(`${included ? "allows" : "refuses"} ${permission} globally and in every project with a global ${role} grant`, () => {
        const grants: Grant[] = [{ role, projectId: null }];
        assert.equal(isAllowed(grants, permission), included, "global form");
        assert.equal(isAllowed(grants, permission, A), included, "project A");
        assert.equal(isAllowed(grants, permission, B), included, "project B");
      });

      it(`${included ? "allows" : "refuses"} ${permission} only in project A with a ${role} grant scoped to A, never globally`, () => {
        const grants: Grant[] = [{ role, projectId: A }];
        assert.equal(isAllowed(grants, permission, A), included, "project A");
        assert.equal(isAllowed(grants, permission, B), false, "project B");
        assert.equal(isAllowed(grants, permission), false, "global form");
        assert.equal(isAllowed(grants, permission, undefined), false, "explicit undefined");
      });
    }
  }

  it("never lets project-scoped grants add up to the global form, even ADMIN in several projects", () => {
    const grants: Grant[] = [
      { role: Role.ADMIN, projectId: A },
      { role: Role.ADMIN, projectId: B },
      { role: Role.EDITOR, projectId: C },
    ];
    for (const permission of PERMISSIONS) assert.equal(isAllowed(grants, permission), false, permission);
  });

  it("combines grants: a global VIEWER with EDITOR in A writes only in A and reads everywhere", () => {
    const grants: Grant[] = [
      { role: Role.VIEWER, projectId: null },
      { role: Role.EDITOR, projectId: A },
    ];
    assert.equal(isAllowed(grants, Permission.WRITE, A), true);
    assert.equal(isAllowed(grants, Permission.WRITE, B), false);
    assert.equal(isAllowed(grants, Permission.WRITE), false);
    assert.equal(isAllowed(grants, Permission.READ, B), true);
    assert.equal(isAllowed(grants, Permission.READ), true);
    assert.equal(isAllowed(grants, Permission.ADMIN, A), false);
  });

  it("does not let a global grant of one role lend another role's permission", () => {
    const grants: Grant[] = [
      { role: Role.RUNNER, projectId: null },
      { role: Role.VIEWER, projectId: A },
    ];
    assert.equal(isAllowed(grants, Permission.RUN, B), true);
    assert.equal(isAllowed(grants, Permission.READ, B), false);
    assert.equal(isAllowed(grants, Permission.READ), false);
    assert.equal(isAllowed(grants, Permission.READ, A), true);
  });

  it("matches project ids exactly, not by prefix or case", () => {
    const grants: Grant[] = [{ role: Role.ADMIN, projectId: A }];
    assert.equal(isAllowed(grants, Permission.READ, A.slice(0, 8)), false);
    assert.equal(isAllowed(grants, Permission.READ, A.toUpperCase()), false);
    assert.equal(isAllowed(grants, Permission.READ, ""), false);
  });
});

describe("allowedProjects", () => {
  it("answers an empty list without grants", () => {
    for (const permission of PERMISSIONS) assert.deepEqual(allowedProjects([], permission), []);
  });

  for (const role of ROLES) {
    for (const permission of PERMISSIONS) {
      const included = EXPECTED[role].includes(permission);
      it(`answers ${included ? '"all"' : "no projects"} for ${permission} with a global ${role} grant, and ${included ? "[A]" : "[]"} with one scoped to A`, () => {
        assert.deepEqual(allowedProjects([{ role, projectId: null }], permission), included ? "all" : []);
        assert.deepEqual(allowedProjects([{ role, projectId: A }], permission), included ? [A] : []);
      });
    }
  }

  it("lists each bound project once, only for roles that include the permission", () => {
    const grants: Grant[] = [
      { role: Role.VIEWER, projectId: A },
      { role: Role.EDITOR, projectId: A },
      { role: Role.EDITOR, projectId: B },
      { role: Role.RUNNER, projectId: C },
    ];
    assert.deepEqual([...(allowedProjects(grants, Permission.READ) as string[])].sort(), [A, B]);
    assert.deepEqual([...(allowedProjects(grants, Permission.WRITE) as string[])].sort(), [A, B]);
    assert.deepEqual(allowedProjects(grants, Permission.RUN), [C]);
    assert.deepEqual(allowedProjects(grants, Permission.ADMIN), []);
  });

  it('answers "all" when any global grant includes the permission, whatever the order of grants', () => {
    const scopedFirst: Grant[] = [
      { role: Role.EDITOR, projectId: A },
      { role: Role.VIEWER, projectId: null },
    ];
    const globalFirst: Grant[] = [...scopedFirst].reverse();
    assert.equal(allowedProjects(scopedFirst, Permission.READ), "all");
    assert.equal(allowedProjects(globalFirst, Permission.READ), "all");
    assert.deepEqual(allowedProjects(scopedFirst, Permission.WRITE), [A]);
    assert.deepEqual(allowedProjects(globalFirst, Permission.WRITE), [A]);
  });

  it('does not answer "all" for a global grant whose role lacks the permission', () => {
    const grants: Grant[] = [
      { role: Role.RUNNER, projectId: null },
      { role: Role.VIEWER, projectId: B },
    ];
    assert.deepEqual(allowedProjects(grants, Permission.READ), [B]);
    assert.equal(allowedProjects(grants, Permission.RUN), "all");
  });
});
