/**
 * The files `sluice init` writes: a pipeline repository as a user starts one, with nothing of
 * this repository in it but the SDK dependency. The example pipeline is the smallest one that
 * shows every step a user's own meets: ingest a CSV, check it, derive a label with SQL, split,
 * read the data in TypeScript stage code, train, evaluate.
 */

export interface ScaffoldOptions {
  /** The package's and the pipeline's name. */
  name: string;
  /** How package.json names the SDK (`file:…`, a tarball path, a version range). */
  sdk: string;
  /** The example's CSV. */
  sampleData: string;
}

/** File path (relative to the new folder) → content. */
export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  return {
    "package.json": `${JSON.stringify(
      {
        name: o.name,
        version: "0.1.0",
        private: true,
        description: `Pipelines of ${o.name}, run by a Sluice server`,
        scripts: {
          build: "tsc -p tsconfig.json",
          test: "tsc -p tsconfig.json && node --test dist/test/",
        },
        dependencies: { sluice: o.sdk },
        devDependencies: { "@types/node": "^20.19.0", typescript: "~5.9.3" },
      },
      null,
      2,
    )}\n`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "Node16",
          moduleResolution: "Node16",
          lib: ["ES2023"],
          types: ["node"],
          outDir: "dist",
          rootDir: ".",
          strict: true,
          esModuleInterop: true,
          skipLibCheck: true,
        },
        include: ["pipeline.ts", "stages.ts", "test"],
      },
      null,
      2,
    )}\n`,
    ".gitignore": "node_modules\ndist/\n",
    "data/weather.csv": o.sampleData,
    "pipeline.ts": pipelineTs(o.name),
    "stages.ts": STAGES_TS,
    "test/pipeline.test.ts": testTs(o.name),
    "README.md": readme(o.name),
  };
}

function pipelineTs(name: string): string {
  return `// The ${name} pipeline: Seattle's daily weather → a \`rainy\` label → a classifier of rain.
// Apply it with \`sluice apply pipeline.ts\`; run it with \`sluice run ${name} --watch\`.
import path from "node:path";
import { definePipeline, stage } from "sluice";

/** This folder (pipeline.ts may run compiled from dist/): data paths are absolute on the server's machine. */
const root = path.basename(__dirname) === "dist" ? path.dirname(__dirname) : __dirname;

export default definePipeline({
  name: "${name}",
  description: "Daily weather in Seattle 2012–2015: will it rain, from the temperatures and the wind?",
  stages: [
    stage({
      name: "ingest",
      description: "The CSV as a version of the ${name}-weather dataset",
      run: { operator: "ingest" },
      params: { dataset: "${name}-weather", format: "csv", paths: [path.join(root, "data", "weather.csv")] },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "validate",
      description: "Expectations on the raw data: rows breaking a row-level one go to quarantine, others fail the run",
      run: { operator: "validate" },
      inputs: { data: { from: "ingest.data" } },
      params: {
        suite: {
          name: "${name}-weather",
          expectations: [
            { type: "not_null", column: "date" },
            { type: "unique", column: "date" },
            { type: "between", column: "temp_max", min: -30, max: 50 },
            { type: "in_set", column: "weather", values: ["drizzle", "rain", "sun", "snow", "fog"] },
            { type: "row_count_between", min: 365 },
          ],
        },
        quarantine: true,
      },
      outputs: { report: { kind: "Report" }, passed: { kind: "Dataset" }, quarantine: { kind: "Dataset" } },
    }),
    stage({
      name: "label",
      description: "The label and the features, derived with SQL over the input (DuckDB, sandboxed)",
      run: { operator: "transform" },
      inputs: { weather: { from: "validate.passed" } },
      params: {
        dataset: "${name}-labelled",
        sql: \`SELECT date, temp_max, temp_min, temp_max - temp_min AS temp_range, wind,
                     monthname(date) AS month, (weather IN ('rain', 'drizzle'))::INTEGER AS rainy
              FROM weather\`,
      },
      outputs: { data: { kind: "Dataset" } },
    }),
    stage({
      name: "split",
      description: "2012–2014 to train on, 2015 to evaluate on",
      run: { operator: "split" },
      inputs: { data: { from: "label.data" } },
      params: { dataset: "${name}", by: "time", timeColumn: "date", cutoff: "2015-01-01" },
      outputs: { train: { kind: "Dataset" }, test: { kind: "Dataset" } },
    }),
    stage({
      name: "summarize",
      description: "TypeScript stage code reading the training rows as a table",
      run: { module: "./stages.ts", export: "summarize" },
      inputs: { data: { from: "split.train" } },
      outputs: { summary: { kind: "Metrics" } },
    }),
    stage({
      name: "train",
      run: { operator: "train" },
      inputs: { data: { from: "split.train" } },
      params: {
        algorithm: "logistic_regression",
        target: "rainy",
        features: ["temp_max", "temp_min", "temp_range", "wind", "month"],
        preprocessing: [{ column: "month", oneHot: {} }],
      },
      outputs: { model: { kind: "Model" } },
    }),
    stage({
      name: "evaluate",
      run: { operator: "evaluate" },
      inputs: { model: { from: "train.model" }, data: { from: "split.test" } },
      params: { target: "rainy", task: "binary" },
      outputs: { report: { kind: "Report" } },
    }),
  ],
});
`;
}

const STAGES_TS = `// Stage code: functions a module stage names (\`run: { module: "./stages.ts", export: "summarize" }\`).
import type { StageContext } from "sluice";

/** The share of rainy days by month in the training data, as metrics and a Metrics output. */
export async function summarize(ctx: StageContext): Promise<void> {
  const byMonth = new Map<string, { days: number; rainy: number }>();
  // Streamed in batches: memory stays bounded whatever the size of the dataset.
  for await (const batch of ctx.inputs.data.batches()) {
    for (const row of batch) {
      const m = byMonth.get(String(row.month)) ?? { days: 0, rainy: 0 };
      m.days += 1;
      m.rainy += Number(row.rainy);
      byMonth.set(String(row.month), m);
    }
  }
  const share: Record<string, number> = {};
  for (const [month, m] of byMonth) {
    share[month] = m.rainy / m.days;
    ctx.metric(\`rain_share_\${month.toLowerCase()}\`, m.rainy / m.days);
  }
  ctx.log(\`\${byMonth.size} months summarized\`);
  await ctx.outputs.summary.writeJson(share);
}
`;

function testTs(name: string): string {
  return `// \`npm test\`: checks the pipeline's shape; with SLUICE_URL and SLUICE_TOKEN set it also applies
// and runs it on that server (in SLUICE_PROJECT, default "${name}") and checks the run succeeds.
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { SluiceClient } from "sluice";
import pipeline from "../pipeline";

test("the pipeline wires every input to an earlier stage's output", () => {
  const names = new Set<string>();
  for (const s of pipeline.stages) {
    for (const input of Object.values(s.inputs ?? {})) {
      if ("from" in input) assert.ok(names.has(input.from.split(".")[0]), \`\${s.name} reads \${input.from} before it exists\`);
    }
    names.add(s.name);
  }
});

const live = process.env.SLUICE_URL && process.env.SLUICE_TOKEN ? {} : { skip: "set SLUICE_URL and SLUICE_TOKEN to run it on a server" };

test("the pipeline runs on the server", live, async () => {
  const client = new SluiceClient();
  const project = await client.ensureProject(process.env.SLUICE_PROJECT ?? "${name}");
  const root = path.resolve(__dirname, "../..");
  const applied = await client.applyPipeline(project.id, pipeline, { baseDir: root });
  const run = await client.triggerRun(applied.pipelineId);
  const done = await client.waitForRun(run.id, { timeoutMs: 5 * 60_000 });
  assert.equal(done.status, "SUCCEEDED", JSON.stringify(done.stageRuns.filter((s) => s.failure)));
});
`;
}

function readme(name: string): string {
  return `# ${name}

Pipelines run by a [Sluice](https://github.com/) server, written with the \`sluice\` SDK.

\`\`\`sh
npm install
export SLUICE_URL=http://localhost:4000 SLUICE_TOKEN=slc_… SLUICE_PROJECT=${name}
sluice apply pipeline.ts --create-project   # store the pipeline (prints what changed)
sluice run ${name} --watch                   # run it and follow its stages
npm test                                     # type-check, check the pipeline, and run it on the server
\`\`\`

- \`pipeline.ts\`: the pipeline (ingest → validate → label with SQL → split → summarize in TypeScript → train → evaluate).
- \`stages.ts\`: stage code; \`ctx.inputs.data.batches()\` reads a dataset as rows.
- \`data/weather.csv\`: Seattle's daily weather 2012–2015 (vega-datasets). Replace it with your own.

The server reads this folder's code and data: start it with this folder in \`SLUICE_CODE_ROOTS\`
and \`SLUICE_DATA_ROOTS\`.
`;
}
