/** Seeded synthetic binary-classification data with a known signal, for the model engine tests. */
import type { DenseMatrix } from '../../assets/models/engine/index.ts';

import { mulberry32 } from '../../core/random.ts';

export { mulberry32 as seededRandom };

export interface SyntheticData {
  features: DenseMatrix;
  labels: Uint8Array;
}

export const SYNTHETIC_FEATURES = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'];

/**
 * Six uniform features in [−1, 1]: the log-odds are 2·(2.5·[x0 > 0.3] + 2·x1·[x0 > 0.3] + 0.8·x2 − 1.2),
 * so the signal is a threshold on x0 and its interaction with x1; x3–x5 are noise. x1 is missing
 * (NaN) in 10% of rows and x3 in 20%.
 */
export function syntheticData(rows: number, seed: number): SyntheticData {
  const random = mulberry32(seed);
  const cols = SYNTHETIC_FEATURES.length;
  const values = new Float64Array(rows * cols);
  const labels = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const x = Array.from({ length: cols }, () => 2 * random() - 1);
    const high = x[0] > 0.3 ? 1 : 0;
    const z = 2.5 * high + 2 * x[1] * high + 0.8 * x[2] - 1.2;
    labels[i] = random() < 1 / (1 + Math.exp(-2 * z)) ? 1 : 0;
    if (random() < 0.1) x[1] = NaN;
    if (random() < 0.2) x[3] = NaN;
    values.set(x, i * cols);
  }
  return { features: { values, rows, cols }, labels };
}
