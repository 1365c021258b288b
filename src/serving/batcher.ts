/**
 * A micro-batcher for one loaded model: requests arriving together are concatenated along the
 * batch (first) dimension into one `session.run`, and the outputs are split back per request.
 *
 * When a batch goes: at once when no run of this model is in flight (so a lone request pays no
 * wait); otherwise requests gather while the current run works, and the gathered batch goes when
 * that run ends, when it reaches `maxBatchRows`, or `maxWaitMs` after its first request —
 * whichever is first. This is adaptive batching: batches grow with the load, latency at low
 * load is the model's own.
 *
 * A request runs alone when the model cannot be batched (an input without a dynamic first
 * dimension, or outputs that do not have one row per input row), when its own rows reach the
 * limit, or when no other pending request has the same non-batch dimensions and outputs. If a
 * batched run fails, each member is run alone, so one bad request cannot fail the others.
 *
 * CPU: each `session.run` is timed with `process.cpuUsage()` before and after, and the delta is
 * shared among the run's requests by their rows (into the `RunUsage` each request passes). It is
 * the PROCESS's CPU during the run — onnxruntime's threads, and whatever else the process did
 * meanwhile (other requests' decoding, concurrent runs of other models, which then count twice).
 */
import * as ort from "onnxruntime-node";
import type { ModelSignature } from "../registry";

/** Batching limits. */
export interface BatchSettings {
  /** Most rows in one run. `SLUICE_SERVING_MAX_BATCH`. @default 64 */
  maxBatchRows: number;
  /** Longest a request waits for others while a run is in flight. `SLUICE_SERVING_MAX_WAIT_MS`. @default 5 */
  maxWaitMs: number;
}

export type OutputMap = Record<string, ort.OnnxValue>;
export type RunFn = (feeds: Record<string, ort.Tensor>, fetches: string[]) => Promise<OutputMap>;

/** Where a request's share of the CPU time of the runs it took part in is added up. */
export interface RunUsage {
  /** Process CPU milliseconds (user + system) over the runs, shared by rows. */
  cpuMs: number;
}

/** Process CPU milliseconds (user + system) since `start`. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** Told of every `session.run` the batcher makes: how many rows and how many requests it carried. */
export type RunObserver = (rows: number, requests: number) => void;

interface Member {
  feeds: Record<string, ort.Tensor>;
  fetches: string[];
  rows: number;
  usage: RunUsage | undefined;
  resolve(out: OutputMap): void;
  reject(err: unknown): void;
}

interface Group {
  key: string;
  members: Member[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

export class MicroBatcher {
  /** False once the model shows it cannot be batched (checked from the signature, then from outputs). */
  private batchable: boolean;
  private readonly pending = new Map<string, Group>();
  private running = 0;
  /** `session.run` calls made, and requests served; tests and the bench read them. */
  readonly stats = { runs: 0, requests: 0, batchedRuns: 0 };

  constructor(
    private readonly run: RunFn,
    signature: ModelSignature,
    private readonly settings: BatchSettings,
    private readonly observe: RunObserver = () => undefined,
  ) {
    this.batchable =
      signature.inputs.length > 0 && signature.inputs.every((s) => s.shape !== null && s.shape.length >= 1 && s.shape[0] === null);
  }

  /** Runs one request, batched with others when it can be; resolves with its own outputs. Its CPU share is added to `usage`. */
  submit(feeds: Record<string, ort.Tensor>, fetches: string[], usage?: RunUsage): Promise<OutputMap> {
    this.stats.requests++;
    const key = this.batchable ? this.batchKey(feeds, fetches) : undefined;
    const rows = key === undefined ? 0 : Number(Object.values(feeds)[0]!.dims[0]);
    if (key === undefined || rows >= this.settings.maxBatchRows) return this.runAlone(feeds, fetches, usage);
    return new Promise<OutputMap>((resolve, reject) => {
      let group = this.pending.get(key);
      if (group && group.rows + rows > this.settings.maxBatchRows) {
        this.dispatch(group);
        group = undefined;
      }
      if (!group) {
        group = { key, members: [], rows: 0, timer: undefined };
        this.pending.set(key, group);
      }
      group.members.push({ feeds, fetches, rows, usage, resolve, reject });
      group.rows += rows;
      if (group.rows >= this.settings.maxBatchRows || this.running === 0) this.dispatch(group);
      else if (!group.timer) {
        const g = group;
        g.timer = setTimeout(() => this.dispatch(g), this.settings.maxWaitMs);
      }
    });
  }

  /** Requests with equal keys can share a run: same fetches, same types and non-batch dimensions. */
  private batchKey(feeds: Record<string, ort.Tensor>, fetches: string[]): string | undefined {
    let rows: number | undefined;
    const parts: string[] = [fetches.join(",")];
    for (const name of Object.keys(feeds).sort()) {
      const t = feeds[name]!;
      if (t.dims.length < 1) return undefined;
      const r = Number(t.dims[0]);
      if (rows === undefined) rows = r;
      else if (r !== rows) return undefined;
      parts.push(`${name}:${t.type}:${t.dims.slice(1).join("x")}`);
    }
    return rows && rows > 0 ? parts.join("|") : undefined;
  }

  private async runAlone(feeds: Record<string, ort.Tensor>, fetches: string[], usage: RunUsage | undefined): Promise<OutputMap> {
    this.stats.runs++;
    this.observe(Number(Object.values(feeds)[0]?.dims[0] ?? 1), 1);
    const start = process.cpuUsage();
    try {
      return await this.run(feeds, fetches);
    } finally {
      if (usage) usage.cpuMs += cpuMsSince(start);
    }
  }

  private dispatch(group: Group): void {
    if (this.pending.get(group.key) === group) this.pending.delete(group.key);
    if (group.timer) clearTimeout(group.timer);
    group.timer = undefined;
    this.running++;
    void this.execute(group).finally(() => {
      this.running--;
      // The run is over: what gathered meanwhile goes now, oldest group first.
      const next = this.pending.values().next();
      if (!next.done) this.dispatch(next.value);
    });
  }

  private async execute(group: Group): Promise<void> {
    const { members } = group;
    if (members.length === 1) {
      const m = members[0]!;
      await this.runAlone(m.feeds, m.fetches, m.usage).then(m.resolve, m.reject);
      return;
    }
    let outputs: OutputMap;
    const start = process.cpuUsage();
    try {
      const feeds = concatFeeds(members.map((m) => m.feeds));
      this.stats.runs++;
      this.stats.batchedRuns++;
      this.observe(group.rows, members.length);
      outputs = await this.run(feeds, members[0]!.fetches);
    } catch {
      shareByRows(members, cpuMsSince(start));
      // Someone's input broke the batch: each runs alone and gets its own answer.
      await Promise.all(members.map((m) => this.runAlone(m.feeds, m.fetches, m.usage).then(m.resolve, m.reject)));
      return;
    }
    shareByRows(members, cpuMsSince(start));
    const split = splitOutputs(
      outputs,
      members.map((m) => m.rows),
    );
    if (!split) {
      // Outputs without a row per input row cannot be split: this model runs unbatched from now on.
      this.batchable = false;
      await Promise.all(members.map((m) => this.runAlone(m.feeds, m.fetches, m.usage).then(m.resolve, m.reject)));
      return;
    }
    members.forEach((m, i) => m.resolve(split[i]!));
  }
}

/** A batched run's CPU time, shared among its members by their rows. */
function shareByRows(members: Member[], cpuMs: number): void {
  const rows = members.reduce((n, m) => n + m.rows, 0);
  for (const m of members) if (m.usage && rows > 0) m.usage.cpuMs += (cpuMs * m.rows) / rows;
}

type NumericArray = Exclude<ort.Tensor.DataType, string[]>;

/** The members' feeds joined along the first dimension, input by input. */
export function concatFeeds(parts: Array<Record<string, ort.Tensor>>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(parts[0]!)) {
    const tensors = parts.map((p) => p[name]!);
    const first = tensors[0]!;
    const rows = tensors.reduce((s, t) => s + Number(t.dims[0]), 0);
    const dims = [rows, ...first.dims.slice(1)];
    if (first.type === "string") {
      out[name] = new ort.Tensor(
        "string",
        tensors.flatMap((t) => t.data as string[]),
        dims,
      );
      continue;
    }
    const total = tensors.reduce((s, t) => s + (t.data as NumericArray).length, 0);
    const Ctor = (first.data as NumericArray).constructor as new (n: number) => NumericArray;
    const data = new Ctor(total);
    let at = 0;
    for (const t of tensors) {
      const d = t.data as NumericArray;
      (data as unknown as { set(a: ArrayLike<unknown>, at: number): void }).set(d as ArrayLike<unknown>, at);
      at += d.length;
    }
    out[name] = new ort.Tensor(first.type as "float32", data as Float32Array, dims);
  }
  return out;
}

/** Each member's rows of every output; null when an output does not have one row per input row. */
export function splitOutputs(outputs: OutputMap, rows: number[]): OutputMap[] | null {
  const total = rows.reduce((a, b) => a + b, 0);
  const result: OutputMap[] = rows.map(() => ({}));
  for (const [name, value] of Object.entries(outputs)) {
    const t = value as ort.Tensor;
    if (!t || !("dims" in t) || t.dims.length < 1 || Number(t.dims[0]) !== total) return null;
    const rest = t.dims.slice(1);
    const per = rest.reduce((a, b) => a * Number(b), 1);
    let at = 0;
    rows.forEach((r, i) => {
      const data =
        t.type === "string"
          ? (t.data as string[]).slice(at * per, (at + r) * per)
          : (t.data as NumericArray).subarray(at * per, (at + r) * per);
      result[i]![name] = new ort.Tensor(t.type as "float32", data as Float32Array, [r, ...rest]);
      at += r;
    });
  }
  return result;
}
