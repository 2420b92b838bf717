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
function upperBoundsOf(sorted: Float32Array, maxBins: number): Float64Array {
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
function firstGreater(sorted: Float32Array, v: number): number {
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
 * Sorts keys[0..count) ascending together with their payloads `rowsOf`: a least-significant-digit
 * radix sort, three 11-bit digits (stable, though equal keys are equal values anyway).
 */
function radixSort(keys: Uint32Array, rowsOf: Uint32Array, tmpKeys: Uint32Array, tmpRows: Uint32Array, count: number, counts: Uint32Array): void {
  let [fromKeys, fromRows, toKeys, toRows] = [keys, rowsOf, tmpKeys, tmpRows];
  for (let shift = 0; shift < 33; shift += 11) {
    counts.fill(0);
    for (let k = 0; k < count; k++) counts[(fromKeys[k] >>> shift) & 2047]++;
    let sum = 0;
    for (let d = 0; d < 2048; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let k = 0; k < count; k++) {
      const key = fromKeys[k];
      const to = counts[(key >>> shift) & 2047]++;
      toKeys[to] = key;
      toRows[to] = fromRows[k];
    }
    [fromKeys, fromRows, toKeys, toRows] = [toKeys, toRows, fromKeys, fromRows];
  }
  // An odd number of passes leaves the result in the scratch arrays.
  keys.set(fromKeys.subarray(0, count));
  rowsOf.set(fromRows.subarray(0, count));
}

/**
 * Bins every column of `x` (values already float32) with at most `maxBins` value bins plus one
 * missing bin. Bounds come from all rows: the training sets here are modest, so no sampling.
 * The present values of a column are sorted as float32 bit patterns mapped to unsigned keys that
 * order like the numbers (the sign bit flipped for positives, all bits for negatives): the same
 * order, −0 before +0 included, as a numeric sort of the values.
 */
export function binColumns(x: DenseMatrix, values32: Float32Array, maxBins: number): BinnedColumns {
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > 255) invalid(`maxBins must be an integer in [2, 255], got ${maxBins}`);
  const { rows, cols } = x;
  const upperBounds: Float64Array[] = [];
  const numBins = new Uint16Array(cols);
  const bins = new Uint8Array(rows * cols);
  const bits = new Uint32Array(values32.buffer, values32.byteOffset, values32.length);
  const keys = new Uint32Array(rows);
  const rowsOf = new Uint32Array(rows);
  const tmpKeys = new Uint32Array(rows);
  const tmpRows = new Uint32Array(rows);
  const counts = new Uint32Array(2048);
  // The sorted values, decoded from the keys in place.
  const sortedBits = new Uint32Array(rows);
  const sortedValues = new Float32Array(sortedBits.buffer);
  for (let f = 0; f < cols; f++) {
    const column = f * rows;
    let count = 0;
    for (let i = 0, j = f; i < rows; i++, j += cols) {
      const v = values32[j];
      if (v !== v) {
        bins[column + i] = 255; // the missing bin, set below once numBins is known
        continue;
      }
      if (v === Infinity || v === -Infinity) invalid(`feature ${f}, row ${i}: ${x.values[j]} is not a finite float32 (use NaN for missing)`);
      const b = bits[j];
      keys[count] = b & 0x80000000 ? ~b : b | 0x80000000;
      rowsOf[count++] = i;
    }
    radixSort(keys, rowsOf, tmpKeys, tmpRows, count, counts);
    for (let k = 0; k < count; k++) {
      const key = keys[k];
      sortedBits[k] = key & 0x80000000 ? key & 0x7fffffff : ~key;
    }
    const bounds = upperBoundsOf(sortedValues.subarray(0, count), maxBins);
    upperBounds.push(bounds);
    numBins[f] = bounds.length;
    // Ascending values: each one's bin (the first bound >= it) is at or after the previous one's.
    let bin = 0;
    for (let k = 0; k < count; k++) {
      const v = sortedValues[k];
      while (v > bounds[bin]) bin++;
      bins[column + rowsOf[k]] = bin;
    }
    if (count < rows) {
      for (let i = 0; i < rows; i++) if (bins[column + i] === 255) bins[column + i] = bounds.length;
    }
  }
  return { rows, cols, upperBounds, numBins, bins };
}
