/**
 * Evaluation metrics for binary classifiers. Labels are 0/1; optional sample weights (e.g. class
 * weights) scale each row's contribution, so integer weights equal repeating rows. A metric that is
 * undefined for the input (no rows, or a missing class where one is needed) is NaN.
 */
import { invalid } from './errors.ts';

type Values = ArrayLike<number>;

/** Checks lengths, 0/1 labels, finite scores and weights; returns the weights (all 1 when absent). */
function checked(labels: Values, scores: Values, weights: Values | undefined, what: string): Float64Array {
  const n = labels.length;
  if (scores.length !== n) invalid(`${what}: ${scores.length} scores for ${n} labels`);
  if (weights !== undefined && weights.length !== n) invalid(`${what}: ${weights.length} weights for ${n} labels`);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) invalid(`${what}: label ${labels[i]} at row ${i} is not 0 or 1`);
    if (!Number.isFinite(scores[i])) invalid(`${what}: score ${scores[i]} at row ${i} is not finite`);
    const wi = weights === undefined ? 1 : weights[i];
    if (!Number.isFinite(wi) || wi < 0) invalid(`${what}: weight ${wi} at row ${i} must be finite and >= 0`);
    w[i] = wi;
  }
  return w;
}

function checkProbabilities(probs: Values, what: string): void {
  for (let i = 0; i < probs.length; i++) {
    if (!(probs[i] >= 0 && probs[i] <= 1)) invalid(`${what}: probability ${probs[i]} at row ${i} is outside [0, 1]`);
  }
}

/** Mean negative log-likelihood; probabilities are clipped to [eps, 1 − eps]. */
export function logLoss(labels: Values, probs: Values, weights?: Values, eps = 1e-15): number {
  const w = checked(labels, probs, weights, 'logLoss');
  checkProbabilities(probs, 'logLoss');
  let loss = 0;
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    const p = Math.min(Math.max(probs[i], eps), 1 - eps);
    loss -= w[i] * (labels[i] === 1 ? Math.log(p) : Math.log(1 - p));
    total += w[i];
  }
  return loss / total;
}

/** Mean squared error of the probabilities. */
export function brierScore(labels: Values, probs: Values, weights?: Values): number {
  const w = checked(labels, probs, weights, 'brierScore');
  checkProbabilities(probs, 'brierScore');
  let sum = 0;
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    sum += w[i] * (probs[i] - labels[i]) ** 2;
    total += w[i];
  }
  return sum / total;
}

/** Row indices ordered by score, ascending (ties in row order, so results are reproducible). */
function orderByScore(scores: Values): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => scores[a] - scores[b] || a - b);
}

/**
 * ROC AUC as the Mann–Whitney statistic: the (weighted) share of positive–negative pairs ranked
 * correctly, a tie counting one half.
 */
export function rocAuc(labels: Values, scores: Values, weights?: Values): number {
  const w = checked(labels, scores, weights, 'rocAuc');
  const order = orderByScore(scores);
  let negativesBelow = 0;
  let correct = 0;
  let positives = 0;
  for (let k = 0; k < order.length; ) {
    // One group of tied scores at a time.
    let groupPos = 0;
    let groupNeg = 0;
    const s = scores[order[k]];
    for (; k < order.length && scores[order[k]] === s; k++) {
      const i = order[k];
      if (labels[i] === 1) groupPos += w[i];
      else groupNeg += w[i];
    }
    correct += groupPos * negativesBelow + 0.5 * groupPos * groupNeg;
    negativesBelow += groupNeg;
    positives += groupPos;
  }
  const pairs = positives * negativesBelow;
  return pairs > 0 ? correct / pairs : NaN;
}

/**
 * Area under the precision–recall curve as average precision: Σ (R_k − R_{k−1}) · P_k over the
 * distinct score thresholds, highest first (tied scores form one threshold, as in scikit-learn).
 */
export function averagePrecision(labels: Values, scores: Values, weights?: Values): number {
  const w = checked(labels, scores, weights, 'averagePrecision');
  const order = orderByScore(scores).reverse();
  let positives = 0;
  for (let i = 0; i < w.length; i++) if (labels[i] === 1) positives += w[i];
  if (positives === 0) return NaN;
  let truePos = 0;
  let falsePos = 0;
  let lastRecall = 0;
  let ap = 0;
  for (let k = 0; k < order.length; ) {
    const s = scores[order[k]];
    for (; k < order.length && scores[order[k]] === s; k++) {
      const i = order[k];
      if (labels[i] === 1) truePos += w[i];
      else falsePos += w[i];
    }
    if (truePos + falsePos === 0) continue;
    const recall = truePos / positives;
    ap += (recall - lastRecall) * (truePos / (truePos + falsePos));
    lastRecall = recall;
  }
  return ap;
}

/**
 * Expected calibration error: over equal-width probability bins ([0, 0.1), …, [0.9, 1] for 10),
 * the weight share of each bin times |mean label − mean probability| in it.
 */
export function expectedCalibrationError(labels: Values, probs: Values, options: { bins?: number; weights?: Values } = {}): number {
  const bins = options.bins ?? 10;
  if (!Number.isInteger(bins) || bins < 1) invalid(`expectedCalibrationError: bins must be a positive integer, got ${bins}`);
  const w = checked(labels, probs, options.weights, 'expectedCalibrationError');
  checkProbabilities(probs, 'expectedCalibrationError');
  const weight = new Float64Array(bins);
  const labelSum = new Float64Array(bins);
  const probSum = new Float64Array(bins);
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    const b = Math.min(Math.floor(probs[i] * bins), bins - 1);
    weight[b] += w[i];
    labelSum[b] += w[i] * labels[i];
    probSum[b] += w[i] * probs[i];
    total += w[i];
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (weight[b] > 0) ece += Math.abs(labelSum[b] - probSum[b]) / total;
  return total > 0 ? ece : NaN;
}

export type F1Average = 'binary' | 'macro' | 'weighted';

/**
 * F1 of the predictions `score >= threshold`. 'binary': F1 of class 1; 'macro': mean of both
 * classes' F1; 'weighted' (default): both classes' F1 weighted by their support. A class with no
 * true or predicted rows has F1 0.
 */
export function f1Score(
  labels: Values,
  scores: Values,
  threshold: number,
  options: { average?: F1Average; weights?: Values } = {},
): number {
  const w = checked(labels, scores, options.weights, 'f1Score');
  // confusion[2 * label + predicted]
  const confusion = [0, 0, 0, 0];
  for (let i = 0; i < w.length; i++) confusion[2 * labels[i] + (scores[i] >= threshold ? 1 : 0)] += w[i];
  const [tn, fp, fn, tp] = confusion;
  const f1 = (hit: number, falseAlarm: number, miss: number) => (hit > 0 ? (2 * hit) / (2 * hit + falseAlarm + miss) : 0);
  const f1Pos = f1(tp, fp, fn);
  const f1Neg = f1(tn, fn, fp);
  switch (options.average ?? 'weighted') {
    case 'binary':
      return f1Pos;
    case 'macro':
      return (f1Pos + f1Neg) / 2;
    case 'weighted': {
      const support = tp + fn + tn + fp;
      return support > 0 ? ((tp + fn) * f1Pos + (tn + fp) * f1Neg) / support : NaN;
    }
  }
}
