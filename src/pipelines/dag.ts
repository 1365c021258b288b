import { InvalidInputError, NotFoundError, type InputProblem } from "../kernel/errors";
import { formatFieldPath } from "./field-path";
import type { PipelineSpec } from "./spec";

/**
 * The stage graph of a pipeline: which stage feeds which, in what order they can run. Pure and
 * linear in stages plus wires (the topological sort is O((V + E) log V) for its stable tie-break),
 * so building it for a 1,000-stage fan-out costs well under a millisecond or two.
 *
 * An edge `a -> b` means stage `b` has an input `{ from: "a.<output>" }`. Inputs naming a stored
 * `artifact` make no edge.
 */
export interface PipelineDag {
  /** Stage names in declaration order. */
  readonly stages: readonly string[];
  /** Every stage once, each after all the stages it reads from; ties go in declaration order. */
  readonly order: readonly string[];
  /** Stages that read from no other stage, in declaration order. */
  readonly roots: readonly string[];
  /** Stages no other stage reads from, in declaration order. */
  readonly leaves: readonly string[];
  /** Every wire, in declaration order of the reading stage and then of its inputs. */
  readonly edges: readonly DagEdge[];
  /** The stages `stage` reads from directly, in declaration order. @throws NotFoundError for an unknown stage */
  upstreamOf(stage: string): readonly string[];
  /** The stages that read from `stage` directly, in declaration order. @throws NotFoundError for an unknown stage */
  downstreamOf(stage: string): readonly string[];
  /** Every stage that depends on `stage`, directly or not (not `stage` itself), in topological order. @throws NotFoundError */
  descendantsOf(stage: string): readonly string[];
  /** Every stage `stage` depends on, directly or not (not `stage` itself), in topological order. @throws NotFoundError */
  ancestorsOf(stage: string): readonly string[];
  /** Where `stage` is in `order` (0-based). @throws NotFoundError */
  positionOf(stage: string): number;
}

/** One wire: `to.input` reads `from.output`. */
export interface DagEdge {
  from: string;
  output: string;
  to: string;
  input: string;
}

/**
 * Builds the graph of a spec. Meant for a spec `validatePipelineSpec` accepted; given one that
 * names an unknown stage or has a cycle it throws InvalidInputError (with the same fields validation
 * would give), since no order exists then.
 */
export function buildDag(spec: PipelineSpec): PipelineDag {
  const names = spec.stages.map((s) => s.name);
  const n = names.length;
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) if (!index.has(names[i])) index.set(names[i], i);

  const problems: InputProblem[] = [];
  const edges: DagEdge[] = [];
  const upstream: number[][] = Array.from({ length: n }, () => []);
  const downstream: number[][] = Array.from({ length: n }, () => []);
  // Dedupe repeated wires between the same two stages with a per-stage mark.
  const seenFrom = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const inputs = spec.stages[i].inputs ?? {};
    for (const input of Object.keys(inputs)) {
      const ref = inputs[input];
      if (!("from" in ref)) continue;
      const dot = ref.from.indexOf(".");
      const from = dot < 0 ? ref.from : ref.from.slice(0, dot);
      const j = index.get(from);
      if (j === undefined || j === i) {
        problems.push({
          field: formatFieldPath(["stages", i, "inputs", input]),
          message: j === undefined ? `reads from unknown stage "${from}"` : "a stage may not read its own output",
        });
        continue;
      }
      edges.push({ from, output: ref.from.slice(dot + 1), to: names[i], input });
      if (seenFrom[j] !== i) {
        seenFrom[j] = i;
        upstream[i].push(j);
        downstream[j].push(i);
      }
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  for (const list of upstream) list.sort((a, b) => a - b);
  for (const list of downstream) list.sort((a, b) => a - b);

  const order = kahn(n, upstream, downstream);
  if (order.length < n) {
    throw new InvalidInputError(
      findCycles(n, downstream).map((cycle) => {
        const [first, last] = [names[cycle[0]], names[cycle[cycle.length - 1]]];
        const closing = edges.find((e) => e.to === first && e.from === last)!;
        return {
          field: formatFieldPath(["stages", cycle[0], "inputs", closing.input]),
          message: cycleMessage(cycle.map((i) => names[i])),
        };
      }),
    );
  }
  const position = new Int32Array(n);
  order.forEach((stage, pos) => (position[stage] = pos));

  const indexOf = (stage: string): number => {
    const i = index.get(stage);
    if (i === undefined) throw new NotFoundError("Stage", stage);
    return i;
  };
  const namesOf = (list: readonly number[]) => list.map((i) => names[i]);
  const reach = (start: number, next: number[][]): string[] => {
    const seen = new Uint8Array(n);
    const found: number[] = [];
    const queue = [start];
    seen[start] = 1;
    for (let q = 0; q < queue.length; q++) {
      for (const j of next[queue[q]]) {
        if (seen[j]) continue;
        seen[j] = 1;
        found.push(j);
        queue.push(j);
      }
    }
    found.sort((a, b) => position[a] - position[b]);
    return namesOf(found);
  };
  const upstreamNames = upstream.map((list) => Object.freeze(namesOf(list)));
  const downstreamNames = downstream.map((list) => Object.freeze(namesOf(list)));

  return {
    stages: Object.freeze([...names]),
    order: Object.freeze(namesOf(order)),
    roots: Object.freeze(names.filter((_, i) => upstream[i].length === 0)),
    leaves: Object.freeze(names.filter((_, i) => downstream[i].length === 0)),
    edges: Object.freeze(edges),
    upstreamOf: (stage) => upstreamNames[indexOf(stage)],
    downstreamOf: (stage) => downstreamNames[indexOf(stage)],
    descendantsOf: (stage) => reach(indexOf(stage), downstream),
    ancestorsOf: (stage) => reach(indexOf(stage), upstream),
    positionOf: (stage) => position[indexOf(stage)],
  };
}

/** The topological order of a spec's stages (see {@link PipelineDag.order}). @throws InvalidInputError as {@link buildDag} */
export function topologicalOrder(spec: PipelineSpec): readonly string[] {
  return buildDag(spec).order;
}

/** Kahn's algorithm over indexes; a min-heap of ready stages keeps ties in declaration order. Shorter than `n` when there is a cycle. */
function kahn(n: number, upstream: number[][], downstream: number[][]): number[] {
  const waiting = new Int32Array(n);
  const heap = new MinHeap(n);
  for (let i = 0; i < n; i++) {
    waiting[i] = upstream[i].length;
    if (waiting[i] === 0) heap.push(i);
  }
  const order: number[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(i);
    for (const j of downstream[i]) if (--waiting[j] === 0) heap.push(j);
  }
  return order;
}

/**
 * Whether a graph given as `downstream[i]` = the nodes `i` feeds has a cycle: a cheap linear
 * check, so the costlier {@link findCycles} runs only when there is one to report.
 *
 * @internal shared by validate.ts.
 */
export function hasCycle(downstream: readonly (readonly number[])[]): boolean {
  const n = downstream.length;
  const waiting = new Int32Array(n);
  for (const list of downstream) for (const j of list) waiting[j]++;
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) if (waiting[i] === 0) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    for (const j of downstream[queue[head]]) if (--waiting[j] === 0) queue[tail++] = j;
  }
  return tail < n;
}

/**
 * The cycles of a graph given as `downstream[i]` = the nodes `i` feeds, one per strongly connected
 * component of two or more nodes (self-loops are left to the caller): the shortest cycle through
 * the component's first node, starting there. Iterative (Tarjan), so deep graphs do not overflow
 * the stack.
 *
 * @internal shared by validate.ts and buildDag.
 */
export function findCycles(n: number, downstream: readonly (readonly number[])[]): number[][] {
  const indexOf = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const components: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (indexOf[root] !== -1) continue;
    const frames: Array<{ node: number; next: number }> = [{ node: root, next: 0 }];
    indexOf[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const edges = downstream[frame.node];
      if (frame.next < edges.length) {
        const to = edges[frame.next++];
        if (indexOf[to] === -1) {
          indexOf[to] = low[to] = counter++;
          stack.push(to);
          onStack[to] = 1;
          frames.push({ node: to, next: 0 });
        } else if (onStack[to]) {
          low[frame.node] = Math.min(low[frame.node], indexOf[to]);
        }
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1].node;
        low[parent] = Math.min(low[parent], low[frame.node]);
      }
      if (low[frame.node] === indexOf[frame.node]) {
        const component: number[] = [];
        let member: number;
        do {
          member = stack.pop()!;
          onStack[member] = 0;
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) components.push(component);
      }
    }
  }
  return components.map((component) => shortestCycle(component, downstream)).sort((a, b) => a[0] - b[0]);
}

/** Breadth-first from the component's smallest node back to itself, staying inside the component. */
function shortestCycle(component: number[], downstream: readonly (readonly number[])[]): number[] {
  const members = new Set(component);
  const start = Math.min(...component);
  const parent = new Map<number, number>([[start, -1]]);
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q];
    for (const to of downstream[node]) {
      if (!members.has(to)) continue;
      if (to === start) {
        const cycle: number[] = [];
        for (let at = node; at !== -1; at = parent.get(at)!) cycle.push(at);
        return cycle.reverse();
      }
      if (parent.has(to)) continue;
      parent.set(to, node);
      queue.push(to);
    }
  }
  return component; // unreachable for a strongly connected component
}

/**
 * The problem message for a cycle given as its stages in wiring order (`a` feeds `b` feeds `c` feeds `a`).
 * @internal shared by validate.ts and buildDag.
 */
export function cycleMessage(stages: readonly string[]): string {
  return `forms a cycle: ${[...stages, stages[0]].join(" -> ")}; a stage may not depend, directly or through others, on its own outputs`;
}

/** A binary min-heap of small integers. */
class MinHeap {
  private readonly items: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.items = new Int32Array(Math.max(capacity, 1));
  }
  push(value: number): void {
    const items = this.items;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= value) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = value;
  }
  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items[--this.size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && items[child + 1] < items[child]) child++;
      if (items[child] >= last) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = last;
    return top;
  }
}
