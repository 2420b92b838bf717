/**
 * Isotonic calibration: a non-decreasing map from model scores to probabilities, fitted on
 * validation predictions by weighted pool-adjacent-violators (PAV). Like scikit-learn's
 * IsotonicRegression, it keeps each pooled block's first and last score as knots at the block's
 * mean label, interpolates linearly between knots, and clips outside the fitted range.
 */
import { z } from 'zod';
import { invalid } from './errors.ts';

export interface IsotonicCalibrator {
  kind: 'isotonic';
  /** Strictly increasing scores. */
  x: number[];
  /** Non-decreasing calibrated values at those scores. */
  y: number[];
}

/** Fits y ≈ f(x) with f non-decreasing, minimising the weighted squared error. */
export function fitIsotonic(x: ArrayLike<number>, y: ArrayLike<number>, weights?: ArrayLike<number>): IsotonicCalibrator {
  const n = x.length;
  if (y.length !== n || (weights !== undefined && weights.length !== n)) invalid(`fitIsotonic: lengths differ (x ${n}, y ${y.length}, weights ${weights?.length})`);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = weights === undefined ? 1 : weights[i];
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i]) || !Number.isFinite(w) || w < 0) {
      invalid(`fitIsotonic: row ${i} needs finite x, y and a weight >= 0`, { x: x[i], y: y[i], weight: w });
    }
    if (w > 0) order.push(i); // zero weight: no influence on the fit
  }
  if (order.length === 0) invalid('fitIsotonic: no rows with positive weight');
  order.sort((a, b) => x[a] - x[b] || a - b);

  // Tied scores must share one fitted value: pool them before PAV.
  type Block = { first: number; last: number; weightedSum: number; weight: number };
  const points: Block[] = [];
  for (const i of order) {
    const w = weights === undefined ? 1 : weights[i];
    const top = points[points.length - 1];
    if (top !== undefined && top.last === x[i]) {
      top.weightedSum += w * y[i];
      top.weight += w;
    } else {
      points.push({ first: x[i], last: x[i], weightedSum: w * y[i], weight: w });
    }
  }
  const mean = (b: Block) => b.weightedSum / b.weight;
  const blocks: Block[] = [];
  for (const point of points) {
    blocks.push({ ...point });
    // Pool backwards while the last two blocks violate monotonicity.
    while (blocks.length > 1 && mean(blocks[blocks.length - 2]) > mean(blocks[blocks.length - 1])) {
      const merged = blocks.pop()!;
      const into = blocks[blocks.length - 1];
      into.last = merged.last;
      into.weightedSum += merged.weightedSum;
      into.weight += merged.weight;
    }
  }
  const knotsX: number[] = [];
  const knotsY: number[] = [];
  for (const block of blocks) {
    const value = mean(block);
    knotsX.push(block.first);
    knotsY.push(value);
    if (block.last !== block.first) {
      knotsX.push(block.last);
      knotsY.push(value);
    }
  }
  return { kind: 'isotonic', x: knotsX, y: knotsY };
}

/** The calibrated value of one score; NaN stays NaN. */
export function isotonicValue(calibrator: IsotonicCalibrator, score: number): number {
  const { x, y } = calibrator;
  if (Number.isNaN(score)) return NaN;
  if (score <= x[0]) return y[0];
  if (score >= x[x.length - 1]) return y[y.length - 1];
  // Last knot at or below the score.
  let lo = 0;
  let hi = x.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] <= score) lo = mid;
    else hi = mid;
  }
  const t = (score - x[lo]) / (x[hi] - x[lo]);
  // Clamped so rounding can never step outside [y_lo, y_hi] and break monotonicity.
  return Math.min(Math.max(y[lo] + t * (y[hi] - y[lo]), y[lo]), y[hi]);
}

export function applyIsotonic(calibrator: IsotonicCalibrator, scores: ArrayLike<number>): Float64Array {
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = isotonicValue(calibrator, scores[i]);
  return out;
}

const calibratorSchema = z.object({ kind: z.literal('isotonic'), x: z.array(z.number()).min(1), y: z.array(z.number()).min(1) });

export function isotonicToJSON(calibrator: IsotonicCalibrator): string {
  return JSON.stringify(calibrator);
}

/** Parses and checks a serialised calibrator (equal lengths, x increasing, y non-decreasing). */
export function isotonicFromJSON(json: string | unknown): IsotonicCalibrator {
  const parsed = calibratorSchema.safeParse(typeof json === 'string' ? (JSON.parse(json) as unknown) : json);
  if (!parsed.success) invalid(`not a valid isotonic calibrator: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { x, y } = parsed.data;
  if (x.length !== y.length) invalid(`isotonic calibrator: ${x.length} knots x but ${y.length} y`);
  for (let k = 1; k < x.length; k++) {
    if (!(x[k] > x[k - 1]) || !(y[k] >= y[k - 1])) invalid(`isotonic calibrator: knot ${k} breaks monotonicity`);
  }
  return parsed.data;
}
