/**
 * Histogram-based gradient-boosted decision trees for binary classification (the role LightGBM
 * plays in the seed spec): logistic loss, Newton leaf values −G/(H+λ)·lr, leaf-wise growth limited
 * by numLeaves and maxDepth, a learned default direction for missing values (NaN) at every split,
 * row bagging and per-tree feature sampling from a seeded generator, and early stopping on a
 * time-ordered validation set. The same data, params and seed always give the same model.
 *
 * Speed: bins are coded once as row-major histogram slots, so a histogram is one pass over each
 * row's slots; only the smaller child of a split is scanned (the larger one is the parent minus
 * it); leaves at their final depth get no histogram; and a leaf's rows are kept compact (copied
 * along at every other level) so that histogram passes read memory sequentially. Every bin sums
 * its rows in ascending row order, whatever the layout, so the layout never changes the model.
 */
import { mulberry32 } from '../../../core/random.ts';
import { binColumns, FLOAT32_MAX, type BinnedColumns } from './binning.ts';
import { invalid } from './errors.ts';
import { toDense, toFloat32, type DenseMatrix, type FeatureMatrix } from './matrix.ts';
import { logLoss } from './metrics.ts';
import { leafValue, sigmoid, type GbdtModel, type LeafNode, type Tree, type TreeNode } from './model.ts';
import { VarianceWatchdog, type WatchdogOptions } from './watchdog.ts';

export interface GbdtParams {
  /** Maximum boosting rounds (trees). */
  numRounds: number;
  learningRate: number;
  /** Maximum depth of a leaf (the root has depth 0). */
  maxDepth: number;
  /** Maximum leaves per tree; default 2^maxDepth. Trees grow best-gain leaf first. */
  numLeaves?: number;
  /** Minimum rows in a leaf. */
  minDataInLeaf: number;
  /** Minimum summed (weighted) hessian in a leaf. */
  minSumHessian: number;
  /** L2 regularisation λ of the leaf values. */
  lambdaL2: number;
  /** Value bins per feature, 2–255 (a missing bin comes on top). */
  maxBins: number;
  /** Share of features each tree may split on; default 1. */
  featureFraction?: number;
  /** Share of rows (drawn independently per row) each round trains on; default 1. */
  baggingFraction?: number;
  /** Stop when the validation logloss has not improved for this many rounds; default 50. */
  earlyStoppingRounds?: number;
  /** A split must reduce the loss by more than this; default 0. */
  minGainToSplit?: number;
  seed: number;
}

/** Features with their 0/1 labels and optional sample weights (e.g. class weights). */
export interface LabelledData {
  features: FeatureMatrix;
  labels: ArrayLike<number>;
  weights?: ArrayLike<number>;
}

export interface TrainOptions {
  /** Held-out rows, later in time than the training rows, for early stopping. */
  validation?: LabelledData;
  /** Column names, in feature order; default f0, f1, … */
  featureNames?: string[];
  /** Stop on variance collapse of the validation predictions (seed 004 §7.1); needs `validation`. */
  watchdog?: WatchdogOptions;
}

export interface TrainResult {
  /** Trees up to the best validation round (all trained trees without validation). */
  model: GbdtModel;
  /** Number of trees kept. */
  bestIteration: number;
  stopReason: 'num_rounds' | 'early_stopping' | 'no_split' | 'variance_collapse';
  /** (Weighted) logloss after each trained round; valid is null without a validation set. */
  history: { train: number[]; valid: number[] | null; stdRatio?: number[] };
}

type ResolvedParams = Required<GbdtParams>;

function resolveParams(p: GbdtParams): ResolvedParams {
  const r: ResolvedParams = {
    ...p,
    numLeaves: p.numLeaves ?? 2 ** p.maxDepth,
    featureFraction: p.featureFraction ?? 1,
    baggingFraction: p.baggingFraction ?? 1,
    earlyStoppingRounds: p.earlyStoppingRounds ?? 50,
    minGainToSplit: p.minGainToSplit ?? 0,
  };
  const check = (ok: boolean, what: string) => {
    if (!ok) invalid(`GBDT params: ${what}`, { params: p });
  };
  const isInt = (v: number, min: number) => Number.isInteger(v) && v >= min;
  check(isInt(r.numRounds, 1), 'numRounds must be an integer >= 1');
  check(r.learningRate > 0 && Number.isFinite(r.learningRate), 'learningRate must be > 0');
  check(isInt(r.maxDepth, 1), 'maxDepth must be an integer >= 1');
  check(isInt(r.numLeaves, 2), 'numLeaves must be an integer >= 2');
  check(isInt(r.minDataInLeaf, 1), 'minDataInLeaf must be an integer >= 1');
  check(r.minSumHessian >= 0 && Number.isFinite(r.minSumHessian), 'minSumHessian must be >= 0');
  check(r.lambdaL2 >= 0 && Number.isFinite(r.lambdaL2), 'lambdaL2 must be >= 0');
  check(isInt(r.maxBins, 2) && r.maxBins <= 255, 'maxBins must be an integer in [2, 255]');
  check(r.featureFraction > 0 && r.featureFraction <= 1, 'featureFraction must be in (0, 1]');
  check(r.baggingFraction > 0 && r.baggingFraction <= 1, 'baggingFraction must be in (0, 1]');
  check(isInt(r.earlyStoppingRounds, 1), 'earlyStoppingRounds must be an integer >= 1');
  check(r.minGainToSplit >= 0 && Number.isFinite(r.minGainToSplit), 'minGainToSplit must be >= 0');
  check(Number.isInteger(r.seed), 'seed must be an integer');
  return r;
}

// ---- inputs ----------------------------------------------------------------------------------

interface PreparedData {
  rows: number;
  cols: number;
  values: DenseMatrix;
  /** Row-major float32 features, as prediction sees them. */
  values32: Float32Array;
  labels: Uint8Array;
  weights: Float64Array;
}

function prepare(data: LabelledData, what: string, cols?: number): PreparedData {
  const x = toDense(data.features, cols);
  const n = x.rows;
  if (data.labels.length !== n) invalid(`${what}: ${data.labels.length} labels for ${n} rows`);
  if (data.weights !== undefined && data.weights.length !== n) invalid(`${what}: ${data.weights.length} weights for ${n} rows`);
  const labels = new Uint8Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const y = data.labels[i];
    if (y !== 0 && y !== 1) invalid(`${what}: label ${y} at row ${i} is not 0 or 1`);
    const w = data.weights === undefined ? 1 : data.weights[i];
    if (!Number.isFinite(w) || w < 0) invalid(`${what}: weight ${w} at row ${i} must be finite and >= 0`);
    labels[i] = y;
    weights[i] = w;
  }
  return { rows: n, cols: x.cols, values: x, values32: toFloat32(x), labels, weights };
}

/** Log-odds of the weighted share of class 1: the score before any tree. */
function priorLogOdds(data: PreparedData): number {
  let positive = 0;
  let total = 0;
  for (let i = 0; i < data.rows; i++) {
    positive += data.weights[i] * data.labels[i];
    total += data.weights[i];
  }
  if (!(positive > 0 && positive < total)) invalid('training data: both classes need a positive total weight', { positive, total });
  return Math.log(positive / (total - positive));
}

// ---- tree growth -----------------------------------------------------------------------------

interface Totals {
  grad: number;
  hess: number;
  count: number;
}

interface Split {
  gain: number;
  feature: number;
  /** Rows in bins 0..bin go left. */
  bin: number;
  defaultLeft: boolean;
  left: Totals;
}

/**
 * Training rows' data by position: row-major histogram slots, gradients, and which row sits at
 * each position.
 */
interface RowBuffer {
  /** Row-major histogram positions, `stride` per row: slots[k * stride + f] = 3 × (slotOffsets[f] + bin). */
  slots: Uint16Array | Uint32Array;
  /** The same memory as 32-bit words (for copying a row's slots). */
  words: Uint32Array;
  /** Gradient and hessian at each position, interleaved: gh[2k], gh[2k + 1]. */
  gh: Float64Array;
  /** The row at each position. */
  rows: Uint32Array;
}

/**
 * A leaf's rows, in ascending row order, are the positions ids[start..end) of `data` — or, for a
 * compact leaf (ids null), its positions start..end themselves, so that its histogram is one
 * sequential pass. Reading a sparse subset of a large buffer in place is bound by memory latency
 * (and TLB misses), so leaves alternate: the children of a compact leaf read its rows in place
 * (they are dense there), and the children of a leaf read in place get compact copies of their
 * rows (the copy reads those dense rows once and writes sequentially).
 */
interface GrowingLeaf {
  node: number;
  data: RowBuffer;
  ids: Uint32Array | null;
  start: number;
  end: number;
  /** The positions of `data` the leaf's rows may lie at: the range of the compact leaf they were copied for. */
  dataStart: number;
  dataEnd: number;
  depth: number;
  totals: Totals;
  /** Per histogram slot (feature bin): gradient sum, hessian sum, row count; null when no split needs it. */
  hist: Float64Array | null;
  split: Split | null;
}

/** What one tree's growth needs: binned data, this round's gradients, and where each feature's bins sit in a histogram. */
interface GrowContext {
  data: BinnedColumns;
  params: ResolvedParams;
  /** First histogram slot of each feature; a feature has numBins + 1 slots (the last for missing). */
  slotOffsets: Uint32Array;
  histLength: number;
  /** Slots per row in a RowBuffer (cols, rounded up to whole 32-bit words). */
  stride: number;
  wordsPerRow: number;
  /** All training rows in row order (rows[k] = k); the round's gradients are written to its gh. */
  base: RowBuffer;
  /**
   * Up to two buffers for compact copies (made when first needed) and two arrays for in-place
   * positions: a leaf's children write to ones no leaf still reads in the leaf's range.
   */
  compact: RowBuffer[];
  ids: [Uint32Array, Uint32Array];
  /** Whether slots need 32 bits (3 × slot count > 65535: several hundred features). */
  wide: boolean;
  /** Histograms of split leaves, for reuse (their contents are stale). */
  pool: Float64Array[];
}

function rowBuffer(rows: number, stride: number, wide: boolean): RowBuffer {
  const slots = wide ? new Uint32Array(rows * stride) : new Uint16Array(rows * stride);
  return { slots, words: new Uint32Array(slots.buffer), gh: new Float64Array(2 * rows), rows: new Uint32Array(rows) };
}

function growContext(data: BinnedColumns, params: ResolvedParams): GrowContext {
  const { rows, cols, bins } = data;
  const slotOffsets = new Uint32Array(cols);
  let slotCount = 0;
  for (let f = 0; f < cols; f++) {
    slotOffsets[f] = slotCount;
    slotCount += data.numBins[f] + 1;
  }
  const wide = 3 * slotCount > 0xffff;
  const stride = wide ? cols : cols + (cols & 1);
  const base = rowBuffer(rows, stride, wide);
  for (let f = 0; f < cols; f++) {
    const column = f * rows;
    const first = 3 * slotOffsets[f];
    for (let i = 0, j = f; i < rows; i++, j += stride) base.slots[j] = first + 3 * bins[column + i];
  }
  for (let i = 0; i < rows; i++) base.rows[i] = i;
  return {
    data, params, slotOffsets, histLength: 3 * slotCount, stride, wordsPerRow: wide ? stride : stride / 2, base,
    compact: [], ids: [new Uint32Array(rows), new Uint32Array(rows)], wide, pool: [],
  };
}

/** A zeroed histogram, reusing a pooled one when there is one. */
function takeHistogram(ctx: GrowContext): Float64Array {
  const hist = ctx.pool.pop();
  return hist === undefined ? new Float64Array(ctx.histLength) : hist.fill(0);
}

/**
 * Adds a leaf's rows to the histogram, row by row: each bin still sums its rows in ascending row
 * order, exactly as a feature-by-feature pass would. `features` are the sampled ones, ascending.
 */
function fillHistogram(ctx: GrowContext, hist: Float64Array, leaf: GrowingLeaf, features: Uint32Array): void {
  const { start, end, ids } = leaf;
  const { slots, gh } = leaf.data;
  const { stride } = ctx;
  const cols = ctx.data.cols;
  if (ids === null) {
    if (features.length === cols) fillCompact(hist, slots, gh, start, end, cols, stride);
    else fillCompactSome(hist, slots, gh, start, end, stride, features);
  } else {
    if (features.length === cols) fillInPlace(hist, slots, gh, ids, start, end, cols, stride);
    else fillInPlaceSome(hist, slots, gh, ids, start, end, stride, features);
  }
}

// fillCompact / fillInPlace (and their *Some variants) are the hot loop written out per row layout on
// purpose: one shared body with an index indirection or callback costs about 2x in V8.
function fillCompact(hist: Float64Array, slots: Uint16Array | Uint32Array, gh: Float64Array, start: number, end: number, cols: number, stride: number): void {
  for (let k = start; k < end; k++) {
    const g = gh[2 * k];
    const h = gh[2 * k + 1];
    let j = k * stride;
    const last = j + cols;
    // Two features per step: their slots never coincide (each feature has its own slot range).
    for (; j + 1 < last; j += 2) {
      const s = slots[j];
      const t = slots[j + 1];
      hist[s] += g;
      hist[s + 1] += h;
      hist[s + 2] += 1;
      hist[t] += g;
      hist[t + 1] += h;
      hist[t + 2] += 1;
    }
    if (j < last) {
      const s = slots[j];
      hist[s] += g;
      hist[s + 1] += h;
      hist[s + 2] += 1;
    }
  }
}

function fillInPlace(hist: Float64Array, slots: Uint16Array | Uint32Array, gh: Float64Array, rows: Uint32Array, start: number, end: number, cols: number, stride: number): void {
  for (let k = start; k < end; k++) {
    const i = rows[k];
    const g = gh[2 * i];
    const h = gh[2 * i + 1];
    let j = i * stride;
    const last = j + cols;
    for (; j + 1 < last; j += 2) {
      const s = slots[j];
      const t = slots[j + 1];
      hist[s] += g;
      hist[s + 1] += h;
      hist[s + 2] += 1;
      hist[t] += g;
      hist[t + 1] += h;
      hist[t + 2] += 1;
    }
    if (j < last) {
      const s = slots[j];
      hist[s] += g;
      hist[s + 1] += h;
      hist[s + 2] += 1;
    }
  }
}

function fillCompactSome(hist: Float64Array, slots: Uint16Array | Uint32Array, gh: Float64Array, start: number, end: number, stride: number, features: Uint32Array): void {
  const m = features.length;
  for (let k = start; k < end; k++) {
    const g = gh[2 * k];
    const h = gh[2 * k + 1];
    const base = k * stride;
    for (let t = 0; t < m; t++) {
      const s = slots[base + features[t]];
      hist[s] += g;
      hist[s + 1] += h;
      hist[s + 2] += 1;
    }
  }
}

function fillInPlaceSome(
  hist: Float64Array, slots: Uint16Array | Uint32Array, gh: Float64Array, rows: Uint32Array, start: number, end: number, stride: number, features: Uint32Array,
): void {
  const m = features.length;
  for (let k = start; k < end; k++) {
    const i = rows[k];
    const g = gh[2 * i];
    const h = gh[2 * i + 1];
    const base = i * stride;
    for (let t = 0; t < m; t++) {
      const s = slots[base + features[t]];
      hist[s] += g;
      hist[s + 1] += h;
      hist[s + 2] += 1;
    }
  }
}

/** hist −= other over the sampled features' slots. */
function subtractHistogram(ctx: GrowContext, hist: Float64Array, other: Float64Array, features: Uint32Array): void {
  if (features.length === ctx.data.cols) {
    for (let s = 0; s < ctx.histLength; s++) hist[s] -= other[s];
    return;
  }
  for (const f of features) {
    const first = 3 * ctx.slotOffsets[f];
    const last = first + 3 * (ctx.data.numBins[f] + 1);
    for (let s = first; s < last; s++) hist[s] -= other[s];
  }
}

/** score(left) + score(right) − score(parent), score(g, h) = g²/(h + λ); −∞ when a side breaks a constraint. */
function splitGain(
  lg: number, lh: number, lc: number, totalGrad: number, totalHess: number, totalCount: number,
  parentScore: number, lambdaL2: number, minDataInLeaf: number, minSumHessian: number,
): number {
  const rh = totalHess - lh;
  const rc = totalCount - lc;
  if (lc < minDataInLeaf || rc < minDataInLeaf || lh < minSumHessian || rh < minSumHessian) return -Infinity;
  const rg = totalGrad - lg;
  return (lh + lambdaL2 > 0 ? (lg * lg) / (lh + lambdaL2) : 0) + (rh + lambdaL2 > 0 ? (rg * rg) / (rh + lambdaL2) : 0) - parentScore;
}

/** The best split of a leaf over the sampled features, or null when none meets the constraints. */
function bestSplit(ctx: GrowContext, hist: Float64Array, totals: Totals, features: Uint32Array): Split | null {
  const { lambdaL2, minDataInLeaf, minSumHessian, minGainToSplit } = ctx.params;
  const { numBins } = ctx.data;
  const slotOffsets = ctx.slotOffsets;
  const { grad: totalGrad, hess: totalHess, count: totalCount } = totals;
  const parentScore = totalHess + lambdaL2 > 0 ? (totalGrad * totalGrad) / (totalHess + lambdaL2) : 0;
  // The best candidate so far. Strictly better only: ties keep the earlier (feature, bin) candidate, so growth is deterministic.
  let bestGain = -Infinity;
  let bestFeature = -1;
  let bestBin = 0;
  let bestDefaultLeft = false;
  let bestG = 0;
  let bestH = 0;
  let bestC = 0;
  for (let t = 0; t < features.length; t++) {
    const f = features[t];
    const bins = numBins[f];
    const first = 3 * slotOffsets[f];
    const missing = first + 3 * bins;
    const mg = hist[missing];
    const mh = hist[missing + 1];
    const mc = hist[missing + 2];
    let g = 0;
    let h = 0;
    let c = 0;
    for (let b = 0; b < bins; b++) {
      const s = first + 3 * b;
      g += hist[s];
      h += hist[s + 1];
      c += hist[s + 2];
      if (mc === 0) {
        // No missing rows here: a later NaN follows the side with more hessian (more evidence).
        if (b < bins - 1) {
          const gain = splitGain(g, h, c, totalGrad, totalHess, totalCount, parentScore, lambdaL2, minDataInLeaf, minSumHessian);
          if (gain > minGainToSplit && gain > bestGain) {
            [bestGain, bestFeature, bestBin, bestDefaultLeft] = [gain, f, b, h >= totalHess - h];
            [bestG, bestH, bestC] = [g, h, c];
          }
        }
      } else {
        // Missing rows right, then left; after the last bin this is "present vs missing".
        const gain = splitGain(g, h, c, totalGrad, totalHess, totalCount, parentScore, lambdaL2, minDataInLeaf, minSumHessian);
        if (gain > minGainToSplit && gain > bestGain) {
          [bestGain, bestFeature, bestBin, bestDefaultLeft] = [gain, f, b, false];
          [bestG, bestH, bestC] = [g, h, c];
        }
        if (b < bins - 1) {
          const lg = g + mg;
          const lh = h + mh;
          const lc = c + mc;
          const gainLeft = splitGain(lg, lh, lc, totalGrad, totalHess, totalCount, parentScore, lambdaL2, minDataInLeaf, minSumHessian);
          if (gainLeft > minGainToSplit && gainLeft > bestGain) {
            [bestGain, bestFeature, bestBin, bestDefaultLeft] = [gainLeft, f, b, true];
            [bestG, bestH, bestC] = [lg, lh, lc];
          }
        }
      }
    }
  }
  if (bestFeature < 0) return null;
  return { gain: bestGain, feature: bestFeature, bin: bestBin, defaultLeft: bestDefaultLeft, left: { grad: bestG, hess: bestH, count: bestC } };
}

/**
 * Sends a leaf's rows to its children, stably: the left child's to positions start.., the right
 * child's after the `split.left.count` of them. Into `toCompact` the rows' data is copied (compact
 * children); otherwise the children's positions in the leaf's buffer go to `toIds`.
 */
function partition(ctx: GrowContext, leaf: GrowingLeaf, split: Split, toCompact: RowBuffer | null, toIds: Uint32Array): void {
  const { start, end, ids } = leaf;
  const { feature } = split;
  const middle = start + split.left.count;
  let left = start;
  let right = middle;
  if (toCompact === null) {
    // Positions only: the decision comes from the column-major bins (one small column, cache-friendly).
    const n = ctx.data.rows;
    const column = ctx.data.bins.subarray(feature * n, (feature + 1) * n);
    const missingBin = ctx.data.numBins[feature];
    const splitBin = split.bin;
    const defaultLeft = split.defaultLeft ? 1 : 0;
    const rows = leaf.data.rows;
    for (let k = start; k < end; k++) {
      const at = ids === null ? k : ids[k];
      const b = column[rows[at]];
      const goLeft = b === missingBin ? defaultLeft : b <= splitBin ? 1 : 0;
      toIds[goLeft === 1 ? left : right] = at;
      left += goLeft;
      right += 1 - goLeft;
    }
  } else {
    const first = 3 * ctx.slotOffsets[feature];
    const missingSlot = first + 3 * ctx.data.numBins[feature];
    const lastLeftSlot = first + 3 * split.bin;
    const defaultLeft = split.defaultLeft ? 1 : 0;
    const { stride, wordsPerRow } = ctx;
    const { slots, words, gh, rows } = leaf.data;
    const { words: toWords, gh: toGh, rows: toRows } = toCompact;
    for (let k = start; k < end; k++) {
      const at = ids === null ? k : ids[k];
      const s = slots[at * stride + feature];
      const goLeft = s === missingSlot ? defaultLeft : s <= lastLeftSlot ? 1 : 0;
      const p = goLeft === 1 ? left : right;
      left += goLeft;
      right += 1 - goLeft;
      toRows[p] = rows[at];
      toGh[2 * p] = gh[2 * at];
      toGh[2 * p + 1] = gh[2 * at + 1];
      let w = at * wordsPerRow;
      let v = p * wordsPerRow;
      let remaining = wordsPerRow;
      for (; remaining >= 4; remaining -= 4, w += 4, v += 4) {
        toWords[v] = words[w];
        toWords[v + 1] = words[w + 1];
        toWords[v + 2] = words[w + 2];
        toWords[v + 3] = words[w + 3];
      }
      for (; remaining > 0; remaining--) toWords[v++] = words[w++];
    }
  }
  // The histogram counted the left rows; the partition must agree.
  if (left !== middle || right !== end) throw new Error(`GBDT internal error: partition sent ${left - start} rows left, the histogram counted ${middle - start}`);
}

function leafOutput(totals: Totals, params: ResolvedParams): number {
  const denominator = totals.hess + params.lambdaL2;
  return denominator > 0 ? Math.fround((-totals.grad / denominator) * params.learningRate) : 0;
}

/**
 * Grows one tree on the rows sampled[0..rowCount) (ascending), best-gain leaf first, from the
 * gradients in ctx.base.gh. Returns the tree and its leaves.
 */
function growTree(ctx: GrowContext, sampled: Uint32Array, rowCount: number, features: Uint32Array): { tree: Tree; leaves: GrowingLeaf[] } {
  const { params, data } = ctx;
  const canSplit = (depth: number, totals: Totals) => depth < params.maxDepth && totals.count >= 2 * params.minDataInLeaf;
  const release = (leaf: GrowingLeaf) => {
    if (leaf.hist !== null) ctx.pool.push(leaf.hist);
    leaf.hist = null;
  };
  const nodes: TreeNode[] = [{ kind: 'leaf', value: 0 }];
  const totals: Totals = { grad: 0, hess: 0, count: rowCount };
  const baseGh = ctx.base.gh;
  for (let k = 0; k < rowCount; k++) {
    totals.grad += baseGh[2 * sampled[k]];
    totals.hess += baseGh[2 * sampled[k] + 1];
  }
  // Without a row sample the root is the base buffer, compact; a sample's rows are read in place.
  const ids = rowCount === data.rows ? null : sampled;
  const root: GrowingLeaf = { node: 0, data: ctx.base, ids, start: 0, end: rowCount, dataStart: 0, dataEnd: data.rows, depth: 0, totals, hist: null, split: null };
  if (canSplit(0, totals)) {
    root.hist = takeHistogram(ctx);
    fillHistogram(ctx, root.hist, root, features);
    root.split = bestSplit(ctx, root.hist, root.totals, features);
  }
  const leaves = [root];

  while (leaves.length < params.numLeaves) {
    let pick = -1;
    for (let k = 0; k < leaves.length; k++) {
      const gain = leaves[k].split?.gain;
      if (gain !== undefined && (pick < 0 || gain > leaves[pick].split!.gain)) pick = k;
    }
    if (pick < 0) break;
    const parent = leaves[pick];
    const split = parent.split!;
    const leftNode = nodes.length;
    nodes.push({ kind: 'leaf', value: 0 }, { kind: 'leaf', value: 0 });
    const isLastBin = split.bin === data.numBins[split.feature] - 1;
    nodes[parent.node] = {
      kind: 'split',
      feature: split.feature,
      threshold: isLastBin ? FLOAT32_MAX : data.upperBounds[split.feature][split.bin],
      defaultLeft: split.defaultLeft,
      left: leftNode,
      right: leftNode + 1,
      gain: split.gain,
    };
    const rightTotals: Totals = {
      grad: parent.totals.grad - split.left.grad,
      hess: parent.totals.hess - split.left.hess,
      count: parent.totals.count - split.left.count,
    };
    const depth = parent.depth + 1;
    // Histograms only for children that may still split: none once the tree has all its leaves.
    const full = leaves.length + 1 >= params.numLeaves;
    const leftCan = !full && canSplit(depth, split.left);
    const rightCan = !full && canSplit(depth, rightTotals);
    // Where the children's rows go: compact copies (children of a leaf read in place that will need
    // histograms) into a buffer no other leaf still reads in that range; else positions in the parent's buffer.
    let toCompact: RowBuffer | null = null;
    if ((leftCan || rightCan) && parent.ids !== null) {
      const { start, end } = parent;
      const inUse = (buffer: RowBuffer) =>
        buffer === parent.data || leaves.some((leaf) => leaf.data === buffer && leaf.ids !== null && leaf.dataStart < end && start < leaf.dataEnd);
      toCompact = ctx.compact.find((buffer) => !inUse(buffer)) ?? null;
      if (toCompact === null && ctx.compact.length < 2) {
        toCompact = rowBuffer(data.rows, ctx.stride, ctx.wide);
        ctx.compact.push(toCompact);
      }
    }
    const toIds = parent.ids === ctx.ids[0] ? ctx.ids[1] : ctx.ids[0];
    partition(ctx, parent, split, toCompact, toIds);
    // Children read in place may lie anywhere in the range the parent's rows may (the parent's own range if it is compact).
    const [childData, childIds] = toCompact === null ? [parent.data, toIds] : [toCompact, null];
    const [dataStart, dataEnd] = toCompact === null && parent.ids !== null ? [parent.dataStart, parent.dataEnd] : [parent.start, parent.end];
    const middle = parent.start + split.left.count;
    const left: GrowingLeaf = {
      node: leftNode, data: childData, ids: childIds, start: parent.start, end: middle, dataStart, dataEnd, depth, totals: split.left, hist: null, split: null,
    };
    const right: GrowingLeaf = {
      node: leftNode + 1, data: childData, ids: childIds, start: middle, end: parent.end, dataStart, dataEnd, depth, totals: rightTotals, hist: null, split: null,
    };
    leaves.splice(pick, 1, left, right);
    if (leftCan || rightCan) {
      // Scan only the smaller child; the larger one's histogram is the parent's minus it.
      const [small, large] = left.totals.count <= right.totals.count ? [left, right] : [right, left];
      small.hist = takeHistogram(ctx);
      fillHistogram(ctx, small.hist, small, features);
      subtractHistogram(ctx, parent.hist!, small.hist, features);
      large.hist = parent.hist;
      parent.hist = null;
      if (leftCan) left.split = bestSplit(ctx, left.hist!, left.totals, features);
      else release(left);
      if (rightCan) right.split = bestSplit(ctx, right.hist!, right.totals, features);
      else release(right);
    } else {
      release(parent);
    }
  }
  for (const leaf of leaves) {
    release(leaf);
    nodes[leaf.node] = { kind: 'leaf', value: leafOutput(leaf.totals, params) };
  }
  return { tree: nodes, leaves };
}

// ---- sampling --------------------------------------------------------------------------------

/** The features one tree may use, ascending (a seeded partial shuffle). */
function sampleFeatures(count: number, fraction: number, random: () => number): Uint32Array {
  const all = new Uint32Array(count);
  for (let f = 0; f < count; f++) all[f] = f;
  if (fraction >= 1) return all;
  const take = Math.max(1, Math.round(count * fraction));
  for (let k = 0; k < take; k++) {
    const j = k + Math.floor(random() * (count - k));
    [all[k], all[j]] = [all[j], all[k]];
  }
  return all.slice(0, take).sort();
}

/** The rows one round trains on, in row order; returns how many were drawn. */
function sampleRows(rows: Uint32Array, total: number, fraction: number, random: () => number): number {
  let count = 0;
  for (let i = 0; i < total; i++) if (fraction >= 1 || random() < fraction) rows[count++] = i;
  return count;
}

// ---- training --------------------------------------------------------------------------------

/** Adds a tree's leaf values to running float32 sums (the same accumulation as predictRaw). */
function addTree(tree: Tree, data: PreparedData, sums: Float32Array): void {
  for (let i = 0; i < data.rows; i++) sums[i] += leafValue(tree, data.values32, i * data.cols);
}

/**
 * addTree for the rows the tree was grown on: each leaf's rows are exactly the rows that reach it
 * (a row's bin is <= the split bin exactly when its value is <= the split threshold).
 */
function addGrownTree(leaves: GrowingLeaf[], tree: Tree, sums: Float32Array): void {
  for (const { node, data, ids, start, end } of leaves) {
    const value = (tree[node] as LeafNode).value;
    const rows = data.rows;
    if (ids === null) for (let k = start; k < end; k++) sums[rows[k]] += value;
    else for (let k = start; k < end; k++) sums[rows[ids[k]]] += value;
  }
}

function probabilities(sums: Float32Array, baseScore: number): Float64Array {
  const out = new Float64Array(sums.length);
  for (let i = 0; i < sums.length; i++) out[i] = sigmoid(Math.fround(sums[i] + baseScore));
  return out;
}

/**
 * One pass over the training rows after a round: their logloss — logLoss(labels, probabilities,
 * weights) of metrics.ts, with the same arithmetic — and, into gh, the gradient and hessian of the
 * logistic loss for the next round.
 */
function lossAndGradients(sums: Float32Array, baseScore: number, labels: Uint8Array, weights: Float64Array, gh: Float64Array): number {
  const eps = 1e-15;
  let loss = 0;
  let total = 0;
  for (let i = 0; i < sums.length; i++) {
    const prob = sigmoid(Math.fround(sums[i] + baseScore));
    const y = labels[i];
    const w = weights[i];
    const p = Math.min(Math.max(prob, eps), 1 - eps);
    loss -= w * (y === 1 ? Math.log(p) : Math.log(1 - p));
    total += w;
    gh[2 * i] = w * (prob - y);
    gh[2 * i + 1] = w * prob * (1 - prob);
  }
  return loss / total;
}

export function trainGbdt(train: LabelledData, params: GbdtParams, options: TrainOptions = {}): TrainResult {
  const p = resolveParams(params);
  const data = prepare(train, 'training data');
  const { rows: n, cols } = data;
  if (n === 0 || cols === 0) invalid(`training data: needs rows and features, got ${n} × ${cols}`);
  const featureNames = options.featureNames ?? Array.from({ length: cols }, (_, j) => `f${j}`);
  if (featureNames.length !== cols) invalid(`${featureNames.length} feature names for ${cols} features`);
  const valid = options.validation ? prepare(options.validation, 'validation data', cols) : null;
  // An empty or weightless validation set has no loss to stop on.
  if (valid && !(valid.weights.reduce((a, b) => a + b, 0) > 0)) invalid('validation data: needs rows with a positive total weight');

  const baseScore = Math.fround(priorLogOdds(data));
  const binned = binColumns(data.values, data.values32, p.maxBins);
  const ctx = growContext(binned, p);
  const gh = ctx.base.gh;
  const random = mulberry32(p.seed);
  const rows = new Uint32Array(n);
  // Tree sums without the base score, in float32 like prediction (it adds the base last).
  const trainSums = new Float32Array(n);
  const validSums = new Float32Array(valid?.rows ?? 0);
  const { labels, weights } = data;
  lossAndGradients(trainSums, baseScore, labels, weights, gh);

  const trees: Tree[] = [];
  const history: TrainResult['history'] = { train: [], valid: valid ? [] : null };
  let best = { round: 0, loss: Infinity };
  let stopReason: TrainResult['stopReason'] = 'num_rounds';
  const watchdog = valid && options.watchdog ? new VarianceWatchdog(valid.labels, options.watchdog) : undefined;
  if (watchdog) history.stdRatio = watchdog.history;
  for (let round = 1; round <= p.numRounds; round++) {
    const features = sampleFeatures(cols, p.featureFraction, random);
    const rowCount = sampleRows(rows, n, p.baggingFraction, random);
    const { tree, leaves } = growTree(ctx, rows, rowCount, features);
    trees.push(tree);

    if (rowCount === n) addGrownTree(leaves, tree, trainSums);
    else addTree(tree, data, trainSums);
    history.train.push(lossAndGradients(trainSums, baseScore, labels, weights, gh));
    if (valid) {
      addTree(tree, valid, validSums);
      const loss = logLoss(valid.labels, probabilities(validSums, baseScore), valid.weights);
      history.valid!.push(loss);
      if (watchdog?.observe(probabilities(validSums, baseScore))) {
        stopReason = 'variance_collapse';
        if (loss < best.loss) best = { round, loss };
        break;
      }
      if (loss < best.loss) best = { round, loss };
      else if (round - best.round >= p.earlyStoppingRounds) {
        stopReason = 'early_stopping';
        break;
      }
    }
    if (tree.length === 1 && p.featureFraction === 1 && p.baggingFraction === 1) {
      // No split met the constraints; without sampling, later rounds face the same rows and features.
      stopReason = 'no_split';
      break;
    }
  }
  const bestIteration = valid ? best.round : trees.length;
  const model: GbdtModel = { format: 'orrery-gbdt', version: 1, featureNames: [...featureNames], baseScore, trees: trees.slice(0, bestIteration) };
  return { model, bestIteration, stopReason, history };
}
