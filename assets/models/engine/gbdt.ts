/**
 * Histogram-based gradient-boosted decision trees for binary classification (the role LightGBM
 * plays in the seed spec): logistic loss, Newton leaf values −G/(H+λ)·lr, leaf-wise growth limited
 * by numLeaves and maxDepth, a learned default direction for missing values (NaN) at every split,
 * row bagging and per-tree feature sampling from a seeded generator, and early stopping on a
 * time-ordered validation set. The same data, params and seed always give the same model.
 */
import { mulberry32 } from '../../../core/random.ts';
import { binColumns, FLOAT32_MAX, type BinnedColumns } from './binning.ts';
import { invalid } from './errors.ts';
import { toDense, toFloat32, type DenseMatrix, type FeatureMatrix } from './matrix.ts';
import { logLoss } from './metrics.ts';
import { leafValue, sigmoid, type GbdtModel, type Tree, type TreeNode } from './model.ts';
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

interface GrowingLeaf {
  node: number;
  /** The leaf's rows are rows[start..end). */
  start: number;
  end: number;
  depth: number;
  totals: Totals;
  /** Per histogram slot (feature bin): gradient sum, hessian sum, row count. */
  hist: Float64Array;
  split: Split | null;
}

/** What one tree's growth needs: binned data, this round's gradients, and where each feature's bins sit in a histogram. */
interface GrowContext {
  data: BinnedColumns;
  params: ResolvedParams;
  grad: Float64Array;
  hess: Float64Array;
  /** First histogram slot of each feature; a feature has numBins + 1 slots (the last for missing). */
  slotOffsets: Uint32Array;
  histLength: number;
}

function growContext(data: BinnedColumns, params: ResolvedParams, grad: Float64Array, hess: Float64Array): GrowContext {
  const slotOffsets = new Uint32Array(data.cols);
  let slots = 0;
  for (let f = 0; f < data.cols; f++) {
    slotOffsets[f] = slots;
    slots += data.numBins[f] + 1;
  }
  return { data, params, grad, hess, slotOffsets, histLength: 3 * slots };
}

function fillHistogram(ctx: GrowContext, hist: Float64Array, rows: Uint32Array, start: number, end: number, features: Uint32Array): void {
  const { bins, rows: n } = ctx.data;
  const { grad, hess } = ctx;
  for (const f of features) {
    const column = f * n;
    const first = 3 * ctx.slotOffsets[f];
    for (let k = start; k < end; k++) {
      const i = rows[k];
      const s = first + 3 * bins[column + i];
      hist[s] += grad[i];
      hist[s + 1] += hess[i];
      hist[s + 2] += 1;
    }
  }
}

/** hist −= other over the sampled features' slots. */
function subtractHistogram(ctx: GrowContext, hist: Float64Array, other: Float64Array, features: Uint32Array): void {
  for (const f of features) {
    const first = 3 * ctx.slotOffsets[f];
    const last = first + 3 * (ctx.data.numBins[f] + 1);
    for (let s = first; s < last; s++) hist[s] -= other[s];
  }
}

/** The best split of a leaf over the sampled features, or null when none meets the constraints. */
function bestSplit(ctx: GrowContext, hist: Float64Array, totals: Totals, features: Uint32Array): Split | null {
  const { lambdaL2, minDataInLeaf, minSumHessian, minGainToSplit } = ctx.params;
  const score = (g: number, h: number) => (h + lambdaL2 > 0 ? (g * g) / (h + lambdaL2) : 0);
  const parentScore = score(totals.grad, totals.hess);
  const gainOf = (g: number, h: number, count: number): number => {
    const rh = totals.hess - h;
    const rCount = totals.count - count;
    if (count < minDataInLeaf || rCount < minDataInLeaf || h < minSumHessian || rh < minSumHessian) return -Infinity;
    return score(g, h) + score(totals.grad - g, rh) - parentScore;
  };
  let best: Split | null = null;
  const offer = (gain: number, feature: number, bin: number, defaultLeft: boolean, g: number, h: number, count: number) => {
    // Strictly better only: ties keep the earlier (feature, bin) candidate, so growth is deterministic.
    if (gain > minGainToSplit && (best === null || gain > best.gain)) best = { gain, feature, bin, defaultLeft, left: { grad: g, hess: h, count } };
  };
  for (const f of features) {
    const numBins = ctx.data.numBins[f];
    const first = 3 * ctx.slotOffsets[f];
    const missing = first + 3 * numBins;
    const [mg, mh, mc] = [hist[missing], hist[missing + 1], hist[missing + 2]];
    let g = 0;
    let h = 0;
    let c = 0;
    for (let b = 0; b < numBins; b++) {
      g += hist[first + 3 * b];
      h += hist[first + 3 * b + 1];
      c += hist[first + 3 * b + 2];
      if (mc === 0) {
        // No missing rows here: a later NaN follows the side with more hessian (more evidence).
        if (b < numBins - 1) offer(gainOf(g, h, c), f, b, h >= totals.hess - h, g, h, c);
      } else {
        // Missing rows right, then left; after the last bin this is "present vs missing".
        offer(gainOf(g, h, c), f, b, false, g, h, c);
        if (b < numBins - 1) offer(gainOf(g + mg, h + mh, c + mc), f, b, true, g + mg, h + mh, c + mc);
      }
    }
  }
  return best;
}

/** Stable in-place partition of rows[start..end) by the split; returns where the right part begins. */
function partition(ctx: GrowContext, rows: Uint32Array, scratch: Uint32Array, start: number, end: number, split: Split): number {
  const { bins, rows: n, numBins } = ctx.data;
  const column = split.feature * n;
  const missingBin = numBins[split.feature];
  let left = start;
  let right = 0;
  for (let k = start; k < end; k++) {
    const i = rows[k];
    const b = bins[column + i];
    if (b === missingBin ? split.defaultLeft : b <= split.bin) rows[left++] = i;
    else scratch[right++] = i;
  }
  rows.set(scratch.subarray(0, right), left);
  return left;
}

function leafOutput(totals: Totals, params: ResolvedParams): number {
  const denominator = totals.hess + params.lambdaL2;
  return denominator > 0 ? Math.fround((-totals.grad / denominator) * params.learningRate) : 0;
}

/** Grows one tree on rows[0..rowCount), best-gain leaf first. */
function growTree(ctx: GrowContext, rows: Uint32Array, rowCount: number, features: Uint32Array, scratch: Uint32Array): Tree {
  const { params, data } = ctx;
  const canSplit = (leaf: GrowingLeaf) => leaf.depth < params.maxDepth && leaf.totals.count >= 2 * params.minDataInLeaf;
  const nodes: TreeNode[] = [{ kind: 'leaf', value: 0 }];
  const totals: Totals = { grad: 0, hess: 0, count: rowCount };
  for (let k = 0; k < rowCount; k++) {
    totals.grad += ctx.grad[rows[k]];
    totals.hess += ctx.hess[rows[k]];
  }
  const root: GrowingLeaf = { node: 0, start: 0, end: rowCount, depth: 0, totals, hist: new Float64Array(ctx.histLength), split: null };
  fillHistogram(ctx, root.hist, rows, 0, rowCount, features);
  root.split = canSplit(root) ? bestSplit(ctx, root.hist, root.totals, features) : null;
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
    const middle = partition(ctx, rows, scratch, parent.start, parent.end, split);
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
    const left: GrowingLeaf = { node: leftNode, start: parent.start, end: middle, depth, totals: split.left, hist: parent.hist, split: null };
    const right: GrowingLeaf = { node: leftNode + 1, start: middle, end: parent.end, depth, totals: rightTotals, hist: parent.hist, split: null };
    // Scan only the smaller child; the larger one's histogram is the parent's minus it.
    const [small, large] = left.totals.count <= right.totals.count ? [left, right] : [right, left];
    small.hist = new Float64Array(ctx.histLength);
    fillHistogram(ctx, small.hist, rows, small.start, small.end, features);
    subtractHistogram(ctx, large.hist, small.hist, features);
    for (const child of [left, right]) child.split = canSplit(child) ? bestSplit(ctx, child.hist, child.totals, features) : null;
    leaves.splice(pick, 1, left, right);
  }
  for (const leaf of leaves) nodes[leaf.node] = { kind: 'leaf', value: leafOutput(leaf.totals, params) };
  return nodes;
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

function probabilities(sums: Float32Array, baseScore: number): Float64Array {
  const out = new Float64Array(sums.length);
  for (let i = 0; i < sums.length; i++) out[i] = sigmoid(Math.fround(sums[i] + baseScore));
  return out;
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
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const ctx = growContext(binned, p, grad, hess);
  const random = mulberry32(p.seed);
  const rows = new Uint32Array(n);
  const scratch = new Uint32Array(n);
  // Tree sums without the base score, in float32 like prediction (it adds the base last).
  const trainSums = new Float32Array(n);
  const validSums = new Float32Array(valid?.rows ?? 0);

  const trees: Tree[] = [];
  const history: TrainResult['history'] = { train: [], valid: valid ? [] : null };
  let best = { round: 0, loss: Infinity };
  let stopReason: TrainResult['stopReason'] = 'num_rounds';
  const watchdog = valid && options.watchdog ? new VarianceWatchdog(valid.labels, options.watchdog) : undefined;
  if (watchdog) history.stdRatio = watchdog.history;
  for (let round = 1; round <= p.numRounds; round++) {
    const trainProbs = probabilities(trainSums, baseScore);
    for (let i = 0; i < n; i++) {
      const [y, w, prob] = [data.labels[i], data.weights[i], trainProbs[i]];
      grad[i] = w * (prob - y);
      hess[i] = w * prob * (1 - prob);
    }
    const features = sampleFeatures(cols, p.featureFraction, random);
    const rowCount = sampleRows(rows, n, p.baggingFraction, random);
    const tree = growTree(ctx, rows, rowCount, features, scratch);
    trees.push(tree);

    addTree(tree, data, trainSums);
    history.train.push(logLoss(data.labels, probabilities(trainSums, baseScore), data.weights));
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
