/**
 * Seeded synthetic pair bars for tests and benchmarks (no I/O, reproducible from the seed).
 *  - random-walk: two independent geometric random walks (no cointegration; β wanders);
 *  - cointegrated: P_A = 20 + 1.5·P_B + an Ornstein–Uhlenbeck spread;
 *  - outliers: cointegrated, with alternating 1,000-bar regimes in which ~6 % of P_A closes are
 *    single-bar spikes of ±8–20 spread σ (heavy tails that push the MAD ratio over 2, then back).
 */
import type { PairBar } from './engine.ts';
import { mulberry32 } from '../../../core/random.ts';

export { mulberry32 };

export type SyntheticKind = 'random-walk' | 'cointegrated' | 'outliers';

export interface SyntheticPairOptions {
  n: number;
  seed?: number;
  kind?: SyntheticKind;
}

export interface SyntheticPair {
  a: PairBar[];
  b: PairBar[];
}

/** Standard normal draws (Box–Muller) from a uniform source. */
export function gaussian(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform(); // (0, 1]: log stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

function bar(prevClose: number, close: number, wick: number): PairBar {
  return { high: Math.max(prevClose, close) + wick, low: Math.min(prevClose, close) - wick, close };
}

export function syntheticPair({ n, seed = 1, kind = 'cointegrated' }: SyntheticPairOptions): SyntheticPair {
  const rnd = mulberry32(seed);
  const normal = gaussian(rnd);
  const a: PairBar[] = [], b: PairBar[] = [];
  let logA = Math.log(100), logB = Math.log(50), ou = 0;
  let prevA = Math.exp(logA), prevB = Math.exp(logB);
  for (let i = 0; i < n; i++) {
    logB += 0.004 * normal();
    const pB = Math.exp(logB);
    let pA: number;
    if (kind === 'random-walk') {
      logA += 0.005 * normal() + 0.002 * normal();
      pA = Math.exp(logA);
    } else {
      ou += -0.05 * ou + 0.3 * normal(); // OU spread, stationary σ ≈ 0.3/√(1−0.95²) ≈ 0.96
      pA = 20 + 1.5 * pB + ou;
      if (kind === 'outliers' && Math.floor(i / 1000) % 2 === 1 && rnd() < 0.06) {
        pA += (rnd() < 0.5 ? -1 : 1) * (8 + 12 * rnd());
      }
    }
    a.push(bar(prevA, pA, 0.05 * Math.abs(normal())));
    b.push(bar(prevB, pB, 0.02 * Math.abs(normal())));
    prevA = pA;
    prevB = pB;
  }
  return { a, b };
}
