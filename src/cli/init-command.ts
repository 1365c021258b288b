import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { CliError, UsageError } from "./client";
import { commandAction } from "./common";
import { scaffoldFiles, type ScaffoldOptions } from "./scaffold";

/**
 * `sluice init DIR`: scaffolds a repository of pipelines a user owns — package.json depending on
 * the SDK, tsconfig, one example pipeline with its stage code and data, and a test that applies
 * and runs it against a server. Writes nothing over an existing file.
 */

export interface InitFlags {
  sdk?: string;
  name?: string;
  force?: boolean;
}

/** The repository root (this file runs from dist/src/cli). */
const REPO = path.resolve(__dirname, "../../..");

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description("scaffold a pipeline repository in DIR: package.json (the sluice SDK), tsconfig, an example pipeline and its test")
    .argument("<dir>", "the folder to create (or an empty one)")
    .option("--sdk <spec>", "how package.json names the SDK (an npm version, a tarball from `npm pack packages/sdk`, or file:PATH)")
    .option("--name <name>", "the package and pipeline name (default: the folder's name)")
    .option("--force", "write into a folder that is not empty (existing files are still never overwritten)")
    .action(commandAction(initCommand));
}

export async function initCommand(dir: string, flags: InitFlags): Promise<number> {
  const target = path.resolve(dir);
  const name =
    flags.name ??
    path
      .basename(target)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, "-")
      .replace(/^[^a-z0-9]+/, "");
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)}: a pipeline name is lower-case letters, digits, - and _ (at most 63)`);
  }
  if (fs.existsSync(target) && fs.readdirSync(target).length > 0 && !flags.force) {
    throw new CliError(`${dir} is not empty; choose a new folder or pass --force (existing files are kept)`);
  }
  const options: ScaffoldOptions = { name, sdk: flags.sdk ?? `file:${path.join(REPO, "packages/sdk")}`, sampleData: sampleData() };
  const written: string[] = [];
  for (const [file, content] of Object.entries(scaffoldFiles(options))) {
    const to = path.join(target, file);
    if (fs.existsSync(to)) continue;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.writeFileSync(to, content);
    written.push(file);
  }
  process.stdout.write(
    [
      `Created ${written.length} file(s) in ${target}:`,
      ...written.map((f) => `  ${f}`),
      "",
      "Next:",
      `  cd ${shortPath(target)} && npm install`,
      "  sluice apply pipeline.ts --create-project      # SLUICE_URL, SLUICE_TOKEN, SLUICE_PROJECT as for any command",
      `  sluice run ${name} --watch`,
      "  npm test                                        # applies and runs it when SLUICE_URL and SLUICE_TOKEN are set",
      "",
      "The server must allow this folder: SLUICE_CODE_ROOTS (stage code) and SLUICE_DATA_ROOTS (data files).",
      "",
    ].join("\n"),
  );
  return 0;
}

/** `target` relative to the working directory when it lies inside it, else absolute. */
function shortPath(target: string): string {
  const relative = path.relative(process.cwd(), target);
  return relative === "" ? "." : relative.startsWith("..") ? target : relative;
}

/** The example's data: Seattle's daily weather 2012–2015, from the vega-datasets package the server ships with. */
function sampleData(): string {
  const file = path.join(REPO, "node_modules/vega-datasets/data/seattle-weather.csv");
  return fs.readFileSync(file, "utf8");
}
