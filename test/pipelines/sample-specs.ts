import type { PipelineSpec, StageSpec } from "../../src/pipelines/spec";

/** Specs the pipeline-spec tests share. Each call returns a fresh object, free to mutate. */

/** ingest feeds features and stats; both feed train (a diamond). Defaults omitted. */
export function diamond(): PipelineSpec {
  return {
    name: "diamond",
    description: "A diamond: one source, two branches, one join",
    stages: [
      { name: "ingest", run: { operator: "extract" }, outputs: { raw: { kind: "Dataset" } } },
      {
        name: "features",
        run: { command: ["python", "features.py"] },
        inputs: { raw: { from: "ingest.raw" } },
        outputs: { table: { kind: "FeatureSet" } },
      },
      { name: "stats", run: { operator: "profile" }, inputs: { raw: { from: "ingest.raw" } }, outputs: { report: { kind: "Report" } } },
      {
        name: "train",
        run: { module: "./train.ts" },
        inputs: { table: { from: "features.table" }, stats: { from: "stats.report" } },
        outputs: { model: { kind: "Model" } },
        paramsSchema: {
          type: "object",
          properties: { lr: { type: "number", exclusiveMinimum: 0, default: 0.01 }, epochs: { type: "integer", minimum: 1 } },
          required: ["epochs"],
          additionalProperties: false,
        },
        params: { epochs: 3 },
      },
    ],
  };
}

/** A stage with only what is required. */
export function bare(name: string, extra: Partial<StageSpec> = {}): StageSpec {
  return { name, run: { operator: "noop" }, ...extra };
}

/**
 * One source, `width` stages reading it, one sink reading them all: `width + 2` stages, declared
 * sink-first and workers in reverse so the order has real sorting to do.
 */
export function fanOutFanIn(width: number): PipelineSpec {
  const workers: StageSpec[] = [];
  const sinkInputs: Record<string, { from: string }> = {};
  for (let i = width - 1; i >= 0; i--) {
    const name = `w${String(i).padStart(4, "0")}`;
    workers.push(bare(name, { inputs: { data: { from: "source.data" } }, outputs: { out: { kind: "Dataset" } } }));
    sinkInputs[name] = { from: `${name}.out` };
  }
  return {
    name: "fan",
    stages: [
      bare("sink", { inputs: sinkInputs, outputs: { report: { kind: "Report" } } }),
      ...workers,
      bare("source", { outputs: { data: { kind: "Dataset" } } }),
    ],
  };
}
