/**
 * Quantile binning of feature columns for histogram-based tree growth.
 *
 * Every bin has an upper bound that is a float32 value, and a (float32) feature value x falls in
 * the first bin with x <= bound. A split after bin b is therefore exactly the rule
 * `x <= upperBounds[b]`, the rule the trees (and the ONNX BRANCH_LEQ nodes) apply at prediction.
 */
import { invalid } from './errors.ts';
import type { DenseMatrix } from './matrix.ts';

/** The largest finite float32: the threshold of a split that sends every present value left. */
export const FLOAT32_MAX = 3.4028234663852886e38;

export interface BinnedColumns {
  rows: number;
  cols: number;
  /** Per feature, the ascending bin upper bounds; the last one is +Infinity. */
  upperBounds: Float64Array[];
  /** Per feature, the number of value bins; a missing value has bin index numBins[f]. */
  numBins: Uint16Array;
  /** Column-major bin indices: bins[f * rows + i]. */
  bins: Uint8Array;
}

/** A float32 cut c with a <= c < b, for float32 values a < b: the midpoint where it is representable. */
function cutBetween(a: number, b: number): number {
  const mid = Math.fround(a + (b - a) / 2);
  return mid >= b || mid < a ? a : mid;
}

/**
 * Upper bounds for one column's sorted, present (float32) values: one bin per distinct value when
 * there are at most maxBins of them, otherwise cuts at the quantiles (never inside a run of ties).
 */
function upperBoundsOf(sorted: Float64Array, maxBins: number): Float64Array {
  const n = sorted.length;
  const cuts: number[] = [];
  let distinct = n > 0 ? 1 : 0;
  for (let i = 1; i < n && distinct <= maxBins; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  if (distinct <= maxBins) {
    for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) cuts.push(cutBetween(sorted[i - 1], sorted[i]));
  } else {
    for (let k = 1; k < maxBins; k++) {
      const below = sorted[Math.floor((k * n) / maxBins) - 1];
      if (below === undefined || below === sorted[n - 1]) continue;
      const above = sorted[firstGreater(sorted, below)];
      const cut = cutBetween(below, above);
      if (cuts.length === 0 || cut > cuts[cuts.length - 1]) cuts.push(cut);
    }
  }
  cuts.push(Infinity);
  return Float64Array.from(cuts);
}

/** Index of the first element > v in an ascending array (its length when none is). */
function firstGreater(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bin of a present float32 value: the first bound >= it. */
export function binOf(upperBounds: Float64Array, v: number): number {
  let lo = 0;
  let hi = upperBounds.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= upperBounds[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Bins every column of `x` (values already float32) with at most `maxBins` value bins plus one
 * missing bin. Bounds come from all rows: the training sets here are modest, so no sampling.
 */
export function binColumns(x: DenseMatrix, values32: Float32Array, maxBins: number): BinnedColumns {
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > 255) invalid(`maxBins must be an integer in [2, 255], got ${maxBins}`);
  const { rows, cols } = x;
  const upperBounds: Float64Array[] = [];
  const numBins = new Uint16Array(cols);
  const bins = new Uint8Array(rows * cols);
  const present = new Float64Array(rows);
  for (let f = 0; f < cols; f++) {
    let count = 0;
    for (let i = 0; i < rows; i++) {
      const v = values32[i * cols + f];
      if (Number.isNaN(v)) continue;
      if (!Number.isFinite(v)) invalid(`feature ${f}, row ${i}: ${x.values[i * cols + f]} is not a finite float32 (use NaN for missing)`);
      present[count++] = v;
    }
    const sorted = present.slice(0, count).sort();
    const bounds = upperBoundsOf(sorted, maxBins);
    upperBounds.push(bounds);
    numBins[f] = bounds.length;
    const column = f * rows;
    for (let i = 0; i < rows; i++) {
      const v = values32[i * cols + f];
      bins[column + i] = Number.isNaN(v) ? bounds.length : binOf(bounds, v);
    }
  }
  return { rows, cols, upperBounds, numBins, bins };
}
