#!/usr/bin/env node
"use strict";
// The compiled CLI lives in dist/ (type-graphql and TypeORM need tsc's decorator metadata).
let cli;
try {
  cli = require("../dist/src/cli/index.js");
} catch (err) {
  if (err && err.code === "MODULE_NOT_FOUND" && String(err.message).includes("dist/src/cli")) {
    process.stderr.write("sluice: not built yet; run `npm run build` first\n");
    process.exit(2);
  }
  throw err;
}
cli.main(process.argv);
