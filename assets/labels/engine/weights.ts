import { invalid, DEFAULT_LABEL_CONFIG } from './config.ts';

export interface ClassWeights {
  0: number;
  1: number;
}

/**
 * Inverse-frequency class weights w_c = N / (2·n_c), with the larger weight scaled down so
 * max/min ≤ maxRatio (the smaller, majority weight is kept as is).
 *
 * With only one class present (or no labels) there is nothing to balance, so both weights are 1
 * rather than an infinite weight for a class that never occurs.
 */
export function classWeights(labels: ReadonlyArray<0 | 1>, maxRatio: number = DEFAULT_LABEL_CONFIG.classWeightMaxRatio): ClassWeights {
  if (!(Number.isFinite(maxRatio) && maxRatio >= 1)) invalid(`maxRatio must be ≥ 1, got ${maxRatio}`);
  let n1 = 0;
  for (const y of labels) {
    if (y !== 0 && y !== 1) invalid(`labels must be 0 or 1, got ${String(y)}`);
    n1 += y;
  }
  const N = labels.length;
  const n0 = N - n1;
  if (n0 === 0 || n1 === 0) return { 0: 1, 1: 1 };
  const w0 = N / (2 * n0);
  const w1 = N / (2 * n1);
  const cap = Math.min(w0, w1) * maxRatio;
  return { 0: Math.min(w0, cap), 1: Math.min(w1, cap) };
}
