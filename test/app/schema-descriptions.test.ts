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
  it("describes every type, field, argument, input field and enum value", async () => {
    const missing = undescribed(await buildSluiceSchema());
    assert.deepEqual(missing, [], `Undescribed schema elements (add \`description:\`):\n${missing.join("\n")}`);
  });
});
