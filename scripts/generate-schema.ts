/**
 * Writes `schema.graphql` from the code-first types. CI fails when the committed file is stale
 * (test/app/schema.test.ts), so run `npm run schema` after changing the API.
 */
import fs from "node:fs";
import path from "node:path";
import { printSluiceSchema } from "../src/app/graphql/schema";

printSluiceSchema()
  .then((sdl) => {
    const target = path.resolve(__dirname, "../../schema.graphql");
    fs.writeFileSync(target, sdl);
    console.log(`wrote ${path.relative(process.cwd(), target)}`);
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
