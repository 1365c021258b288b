import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from "graphql";
import { buildSluiceSchema } from "../../src/app/graphql/schema";
import { UNDESCRIBED_ALLOWED } from "./schema-descriptions.allowlist";

/**
 * Every element of the schema a client reads without a description: types (`Type`), fields
 * (`Type.field`), arguments (`Type.field(arg)`), input fields and enum values (`Enum.VALUE`).
 */
function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const blank = (d: string | null | undefined) => !d || d.trim() === "";
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__") || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
    if (blank(type.description)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) if (blank(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (blank(field.description)) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) if (blank(value.description)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing.sort();
}

describe("schema descriptions", () => {
  it("describes every type, field, argument, input field and enum value (the allow-list only shrinks)", async () => {
    const missing = undescribed(await buildSluiceSchema());
    const allowed = new Set(UNDESCRIBED_ALLOWED);
    const newlyMissing = missing.filter((name) => !allowed.has(name));
    assert.deepEqual(newlyMissing, [], `Undescribed schema elements (add \`description:\`): \n${newlyMissing.join("\n")}`);
    const stale = UNDESCRIBED_ALLOWED.filter((name) => !missing.includes(name));
    assert.deepEqual(stale, [], `Described now or gone: remove from test/app/schema-descriptions.allowlist.ts:\n${stale.join("\n")}`);
  });
});
