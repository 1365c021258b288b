/**
 * The child process of the registration output check (output-check.ts): reads on stdin the
 * model's signature as one JSON line, then the ONNX file; loads it and runs it on synthetic batches of 1, 2 and 8 rows, writing one JSON line per
 * step to stdout. It runs under an address-space cap set by its parent, so a model that expands a
 * tiny input into gigabytes fails here, never in the server.
 *
 * Lines: `{"rows": n, "bytes": b}` after each run; `{"error": "…", "stage": "load" | "run"}` when
 * onnxruntime refuses; `{"done": true}` at the end. Stops early once outputs pass `limit` bytes per row.
 */
import * as ort from "onnxruntime-node";
import type { ModelSignature } from "./signature";
import { CHECK_ROWS, syntheticFeeds } from "./synthetic-feeds";

/** Bytes an output takes: its buffer, or for strings their UTF-8 length plus one per element. */
function outputBytes(value: ort.OnnxValue): number {
  const t = value as ort.Tensor;
  if (t.type === "string") return (t.data as string[]).reduce((s, v) => s + Buffer.byteLength(v) + 1, 0);
  return (t.data as ArrayBufferView).byteLength;
}

function say(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The signature line and the model bytes after it. (The signature comes from the parent: reading it here would load protobuf and slow every check.) */
async function readStdin(): Promise<{ signature: ModelSignature; bytes: Uint8Array }> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const all = Buffer.concat(chunks);
  const eol = all.indexOf(10);
  return { signature: JSON.parse(all.subarray(0, eol).toString("utf8")) as ModelSignature, bytes: all.subarray(eol + 1) };
}

async function main(): Promise<void> {
  const limit = Number(process.argv[2]);
  const { signature, bytes } = await readStdin();
  // Tensor outputs only: onnxruntime-node cannot return ZipMap's sequences of maps.
  const fetches = signature.outputs.filter((o) => !["sequence", "map", "unknown"].includes(o.type)).map((o) => o.name);
  let session: ort.InferenceSession;
  try {
    // One thread and no arena: the cap measures the model, not thread stacks or allocator slack.
    session = await ort.InferenceSession.create(bytes, {
      logSeverityLevel: 4,
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      enableCpuMemArena: false,
    });
  } catch (err) {
    say({ error: (err as Error).message.split("\n")[0], stage: "load" });
    return;
  }
  if (fetches.length === 0) {
    say({ done: true });
    return;
  }
  for (const rows of CHECK_ROWS) {
    let total = 0;
    try {
      const out = await session.run(syntheticFeeds(signature, rows), fetches);
      for (const name of fetches) total += outputBytes(out[name]!);
    } catch (err) {
      say({ error: (err as Error).message.split("\n")[0], stage: "run", rows });
      return;
    }
    say({ rows, bytes: total });
    if (total > limit * rows) break;
  }
  say({ done: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say({ error: String((err as Error)?.message ?? err).split("\n")[0], stage: "run" });
    process.exit(1);
  },
);
