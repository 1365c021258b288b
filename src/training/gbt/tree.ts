/**
 * One regression tree fitted to gradients/hessians on binned features: histogram split search with L2
 * regularisation, learned missing-value directions and best-first (leaf-wise) growth bounded by
 * maxLeafNodes and/or maxDepth. Best-first with no leaf limit builds the same tree as depth-wise
 * growth, so one grower serves both LightGBM-style and depth-limited settings.
 */
import { MISSING_BIN, type BinMapper, type BinnedMatrix } from "./binning";
import { HistogramBuilder, HIST_STRIDE } from "./histogram";

/** A fitted tree as parallel arrays (node 0 is the root); plain arrays so the model is JSON as-is. */
export interface Tree {
  /** Split feature, or -1 for a leaf. */
  feature: number[];
  /** float32 threshold: non-missing values with fround(x) <= threshold go left. */
  threshold: number[];
  /** The same split on bins: bin <= binThreshold goes left. */
  binThreshold: number[];
  /** Where NaN goes. */
  missingLeft: boolean[];
  left: number[];
  right: number[];
  /** Leaf output (learning rate applied); 0 for internal nodes. */
  value: number[];
  /** Training rows that reached the node. */
  count: number[];
}

export interface GrowParams {
  maxDepth?: number;
  maxLeafNodes?: number;
  minSamplesLeaf: number;
  minHessianLeaf: number;
  l2: number;
  learningRate: number;
  minGainToSplit: number;
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** Left child's sums (the right child's are the parent's minus these). */
  gl: number;
  hl: number;
  cl: number;
}

interface Leaf {
  node: number;
  depth: number;
  start: number;
  end: number;
  g: number;
  h: number;
  /** (grad, hess, count) per (feature, bin); null once released. */
  hist: Float64Array | null;
  split: Split | null;
}

/** Buffers reused across trees so a boosting run allocates histograms a few times, not per node. */
export class TreeWorkspace {
  /** Row indices grouped by node: a node's rows are a range of it. */
  readonly order: Uint32Array;
  private readonly tmp: Uint32Array;
  private readonly tmpG: Float64Array;
  private readonly tmpH: Float64Array;
  private readonly free: Float64Array[] = [];
  readonly histograms: HistogramBuilder;
  readonly rows: number;
  readonly cols: number;

  /** `threads` for histogram building (default: SLUICE_TRAIN_THREADS or the cores); the trees do not depend on it. */
  constructor(binned: BinnedMatrix, threads?: number) {
    this.rows = binned.rows;
    this.cols = binned.cols;
    this.histograms = new HistogramBuilder(binned.bins, binned.rows, binned.cols, threads);
    this.order = this.histograms.order;
    this.tmp = new Uint32Array(binned.rows);
    this.tmpG = new Float64Array(binned.rows);
    this.tmpH = new Float64Array(binned.rows);
  }

  acquire(): Float64Array {
    const h = this.free.pop();
    if (!h) return new Float64Array(this.cols * HIST_STRIDE);
    h.fill(0);
    return h;
  }

  release(leaf: Leaf): void {
    if (leaf.hist) this.free.push(leaf.hist);
    leaf.hist = null;
  }

  /**
   * Stable in-place partition of order[start, end) — and of the node-ordered gradients with it — on
   * one feature's column: bin <= `bin` (or missing, when `missingLeft`) first. Returns the first
   * index of the right part.
   */
  partition(start: number, end: number, col: Uint8Array, bin: number, missingLeft: boolean): number {
    const { order, og, oh } = this.histograms;
    const { tmp, tmpG, tmpH } = this;
    let l = start;
    let r = 0;
    for (let i = start; i < end; i++) {
      const row = order[i]!;
      const b = col[row]!;
      if (b === MISSING_BIN ? missingLeft : b <= bin) {
        order[l] = row;
        og[l] = og[i]!;
        oh[l++] = oh[i]!;
      } else {
        tmp[r] = row;
        tmpG[r] = og[i]!;
        tmpH[r++] = oh[i]!;
      }
    }
    order.set(tmp.subarray(0, r), l);
    og.set(tmpG.subarray(0, r), l);
    oh.set(tmpH.subarray(0, r), l);
    return l;
  }

  /** Stops the histogram threads; call once the boosting run is over. */
  close(): void {
    this.histograms.close();
  }
}

function score(g: number, h: number, l2: number): number {
  return (g * g) / (h + l2);
}

function findBestSplit(leaf: Leaf, mapper: BinMapper, p: GrowParams): Split | null {
  const hist = leaf.hist!;
  const G = leaf.g;
  const H = leaf.h;
  const C = leaf.end - leaf.start;
  const parentScore = score(G, H, p.l2);
  let best: Split | null = null;
  const consider = (f: number, bin: number, missingLeft: boolean, gl: number, hl: number, cl: number) => {
    const cr = C - cl;
    const hr = H - hl;
    if (cl < p.minSamplesLeaf || cr < p.minSamplesLeaf || hl < p.minHessianLeaf || hr < p.minHessianLeaf) return;
    const gain = score(gl, hl, p.l2) + score(G - gl, hr, p.l2) - parentScore;
    // strict ">" keeps the first (lowest feature, lowest bin) of equal gains: deterministic ties
    if (gain > p.minGainToSplit && (best === null || gain > best.gain)) best = { gain, feature: f, bin, missingLeft, gl, hl, cl };
  };
  for (let f = 0; f < mapper.thresholds.length; f++) {
    const nb = mapper.thresholds[f]!.length + 1;
    const base = f * HIST_STRIDE;
    const mg = hist[base + 3 * MISSING_BIN]!;
    const mh = hist[base + 3 * MISSING_BIN + 1]!;
    const mc = hist[base + 3 * MISSING_BIN + 2]!;
    if (mc === 0) {
      // No missing rows here: sklearn's rule sends future NaNs to the child with more samples.
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < nb - 1; b++) {
        gl += hist[base + 3 * b]!;
        hl += hist[base + 3 * b + 1]!;
        cl += hist[base + 3 * b + 2]!;
        consider(f, b, cl >= C - cl, gl, hl, cl);
      }
      continue;
    }
    // Missing to the right; the last cut (b = nb-1) separates all non-missing from missing.
    let gl = 0;
    let hl = 0;
    let cl = 0;
    for (let b = 0; b < nb; b++) {
      gl += hist[base + 3 * b]!;
      hl += hist[base + 3 * b + 1]!;
      cl += hist[base + 3 * b + 2]!;
      consider(f, b, false, gl, hl, cl);
    }
    // Missing to the left.
    gl = mg;
    hl = mh;
    cl = mc;
    for (let b = 0; b < nb - 1; b++) {
      gl += hist[base + 3 * b]!;
      hl += hist[base + 3 * b + 1]!;
      cl += hist[base + 3 * b + 2]!;
      consider(f, b, true, gl, hl, cl);
    }
  }
  return best;
}

export interface GrownTree {
  tree: Tree;
  /** Final leaves with their rows as ranges of `workspace.order` (for updating training predictions without traversal). */
  leaves: Array<{ node: number; start: number; end: number }>;
}

/**
 * Grows one tree on all rows of `binned`. Each split builds the histogram of the smaller child only;
 * the larger child's is the parent's minus it, computed in the parent's buffer.
 */
export function growTree(
  binned: BinnedMatrix,
  mapper: BinMapper,
  grad: Float64Array,
  hess: Float64Array,
  p: GrowParams,
  ws: TreeWorkspace,
): GrownTree {
  const n = binned.rows;
  ws.histograms.beginTree(grad, hess);
  const tree: Tree = { feature: [], threshold: [], binThreshold: [], missingLeft: [], left: [], right: [], value: [], count: [] };
  const addNode = (count: number): number => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.binThreshold.push(0);
    tree.missingLeft.push(false);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(0);
    tree.count.push(count);
    return tree.feature.length - 1;
  };
  const maxDepth = p.maxDepth ?? Infinity;
  const maxLeaves = p.maxLeafNodes ?? Infinity;
  const canSplit = (leaf: Leaf) => leaf.depth < maxDepth && leaf.end - leaf.start >= 2 * p.minSamplesLeaf && leaf.h >= 2 * p.minHessianLeaf;

  const done: Leaf[] = [];
  const frontier: Leaf[] = [];
  const settle = (leaf: Leaf) => {
    leaf.split = canSplit(leaf) ? findBestSplit(leaf, mapper, p) : null;
    if (leaf.split) frontier.push(leaf);
    else {
      ws.release(leaf);
      done.push(leaf);
    }
  };

  let G = 0;
  let H = 0;
  for (let i = 0; i < n; i++) {
    G += grad[i]!;
    H += hess[i]!;
  }
  const root: Leaf = { node: addNode(n), depth: 0, start: 0, end: n, g: G, h: H, hist: ws.acquire(), split: null };
  ws.histograms.build(0, n, root.hist!);
  settle(root);

  while (frontier.length > 0 && frontier.length + done.length < maxLeaves) {
    let bi = 0;
    for (let i = 1; i < frontier.length; i++) if (frontier[i]!.split!.gain > frontier[bi]!.split!.gain) bi = i;
    const leaf = frontier.splice(bi, 1)[0]!;
    const s = leaf.split!;
    const nodeId = leaf.node;
    const f = s.feature;
    const t = mapper.thresholds[f]!;
    tree.feature[nodeId] = f;
    tree.binThreshold[nodeId] = s.bin;
    tree.threshold[nodeId] = s.bin < t.length ? t[s.bin]! : Infinity;
    tree.missingLeft[nodeId] = s.missingLeft;

    const col = binned.bins.subarray(f * n, (f + 1) * n);
    const mid = ws.partition(leaf.start, leaf.end, col, s.bin, s.missingLeft);
    const left: Leaf = {
      node: addNode(mid - leaf.start),
      depth: leaf.depth + 1,
      start: leaf.start,
      end: mid,
      g: s.gl,
      h: s.hl,
      hist: null,
      split: null,
    };
    const right: Leaf = {
      node: addNode(leaf.end - mid),
      depth: leaf.depth + 1,
      start: mid,
      end: leaf.end,
      g: leaf.g - s.gl,
      h: leaf.h - s.hl,
      hist: null,
      split: null,
    };
    tree.left[nodeId] = left.node;
    tree.right[nodeId] = right.node;

    const [small, large] = left.end - left.start <= right.end - right.start ? [left, right] : [right, left];
    small.hist = ws.acquire();
    ws.histograms.build(small.start, small.end, small.hist);
    const ph = leaf.hist!;
    for (let i = 0; i < ph.length; i++) ph[i] -= small.hist[i]!;
    large.hist = ph;
    leaf.hist = null;
    settle(left);
    settle(right);
  }
  for (const leaf of frontier) {
    ws.release(leaf);
    done.push(leaf);
  }
  const leaves = done.map((leaf) => {
    tree.value[leaf.node] = (-p.learningRate * leaf.g) / (leaf.h + p.l2);
    return { node: leaf.node, start: leaf.start, end: leaf.end };
  });
  leaves.sort((a, b) => a.node - b.node);
  return { tree, leaves };
}

/** The leaf reached by row `r` of a raw row-major matrix (float32 comparison, as ONNX does). */
export function leafOfRaw(tree: Tree, X: Float64Array, cols: number, r: number): number {
  let node = 0;
  while (tree.feature[node]! >= 0) {
    const v = X[r * cols + tree.feature[node]!]!;
    const goLeft = Number.isNaN(v) ? tree.missingLeft[node]! : Math.fround(v) <= tree.threshold[node]!;
    node = goLeft ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

/** The leaf reached by row `r` of a column-major binned matrix. */
export function leafOfBinned(tree: Tree, binned: BinnedMatrix, r: number): number {
  let node = 0;
  const n = binned.rows;
  while (tree.feature[node]! >= 0) {
    const b = binned.bins[tree.feature[node]! * n + r]!;
    const goLeft = b === MISSING_BIN ? tree.missingLeft[node]! : b <= tree.binThreshold[node]!;
    node = goLeft ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}
