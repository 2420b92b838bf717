/** Moving-block bootstrap CIs: seeded, blockwise, paired for improvements. */
import { describe, expect, it } from 'vitest';
import {
  annualReturnOfReturns, blockBootstrapCI, improvementCI, kpiConfidenceIntervals, mean, quantileSorted, runBacktest, sharpeRatio,
} from '../../assets/backtests/engine/index.ts';
import { mulberry32 } from '../../core/random.ts';
import { metalsParams } from './helpers.ts';
import { syntheticSeries } from './reference.ts';

function normals(n: number, seed: number, mu = 0, sd = 1): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: n }, () => mu + sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

/** AR(1) with coefficient phi: strongly dependent for phi near 1. */
function ar1(n: number, seed: number, phi: number): Float64Array {
  const e = normals(n, seed), x = new Float64Array(n);
  for (let i = 1; i < n; i++) x[i] = phi * x[i - 1] + e[i];
  return x;
}

describe('blockBootstrapCI', () => {
  const returns = normals(500, 3, 0.001, 0.01);

  it('is deterministic for a seed and moves with it', () => {
    const a = blockBootstrapCI(returns, mean, { seed: 42 }), b = blockBootstrapCI(returns, mean, { seed: 42 }), c = blockBootstrapCI(returns, mean, { seed: 43 });
    expect(a).toEqual(b);
    expect(c.lower).not.toBe(a.lower);
    expect(a).toMatchObject({ level: 0.95, blockSize: 20, resamples: 2000 });
  });

  it('contains the point estimate on typical data', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const x = normals(400, seed, 0.0008, 0.01);
      for (const stat of [mean, (s: Float64Array) => sharpeRatio(s)]) {
        const ci = blockBootstrapCI(x, stat, { seed });
        expect(ci.estimate).toBe(stat(x));
        expect(ci.lower).toBeLessThan(ci.estimate);
        expect(ci.upper).toBeGreaterThan(ci.estimate);
      }
    }
  });

  it('covers the true mean of i.i.d. data about 95 % of the time', () => {
    let covered = 0;
    for (let seed = 0; seed < 60; seed++) {
      const ci = blockBootstrapCI(normals(300, 1000 + seed, 0.5, 1), mean, { seed, resamples: 400, blockSize: 1 });
      if (ci.lower <= 0.5 && 0.5 <= ci.upper) covered++;
    }
    expect(covered).toBeGreaterThanOrEqual(50);
  });

  it('keeps dependence: blocks widen the interval of an autocorrelated series', () => {
    const x = ar1(1000, 9, 0.9);
    const iid = blockBootstrapCI(x, mean, { blockSize: 1, seed: 1 }), blocks = blockBootstrapCI(x, mean, { blockSize: 20, seed: 1 });
    expect(blocks.upper - blocks.lower).toBeGreaterThan(2 * (iid.upper - iid.lower));
  });

  it('a block as long as the series only ever resamples the series itself', () => {
    const x = normals(50, 5);
    const ci = blockBootstrapCI(x, mean, { blockSize: 50, resamples: 100 });
    expect(ci.lower).toBeCloseTo(mean(x), 14);
    expect(ci.upper).toBeCloseTo(mean(x), 14);
  });

  it('is NaN when the statistic is undefined', () => {
    expect(blockBootstrapCI([], mean)).toMatchObject({ lower: NaN, upper: NaN });
  });

  it('percentiles interpolate linearly', () => {
    expect(quantileSorted([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantileSorted([0, 10], 0.975)).toBeCloseTo(9.75, 12);
  });
});

describe('improvementCI', () => {
  const old = normals(500, 11, 0.0005, 0.01);

  it('pairs the resamples: a constant improvement has a zero-width interval', () => {
    const better = old.map((r) => r + 0.001), worse = old.map((r) => r - 0.001);
    const up = improvementCI(better, old);
    expect(up.lower).toBeCloseTo(0.001, 12);
    expect(up.upper).toBeCloseTo(0.001, 12);
    expect(up.lowerNonNegative).toBe(true);
    expect(improvementCI(worse, old).lowerNonNegative).toBe(false);
  });

  it('an unrelated series of the same quality does not prove an improvement', () => {
    const ci = improvementCI(normals(500, 12, 0.0005, 0.01), old, { statistic: 'sharpe', seed: 3 });
    expect(ci.lower).toBeLessThan(0);
    expect(ci.upper).toBeGreaterThan(0);
    expect(ci.lowerNonNegative).toBe(false);
  });

  it('supports annual return differences and custom statistics', () => {
    const better = old.map((r) => r + 0.002);
    const ann = improvementCI(better, old, { statistic: 'ann_return', years: 2 });
    expect(ann.estimate).toBeCloseTo(annualReturnOfReturns(better, 2) - annualReturnOfReturns(old, 2), 12);
    expect(ann.lower).toBeGreaterThan(0);
    const custom = improvementCI(better, old, { statistic: (a, b) => a[0] - b[0] });
    expect(custom.estimate).toBeCloseTo(0.002, 12);
    expect(() => improvementCI(better, old.subarray(1))).toThrow(/aligned/);
    expect(() => improvementCI(better, old, { statistic: 'ann_return' })).toThrow(/years/);
  });
});

describe('kpiConfidenceIntervals', () => {
  it('centres on the backtest\'s own KPIs', () => {
    const run = runBacktest(syntheticSeries({ n: 24 * 5 * 60, seed: 8 }), metalsParams({ targetGrossNotional: 100_000 }));
    expect(run.trades.length).toBeGreaterThan(20);
    const ci = kpiConfidenceIntervals({ dailyReturns: run.dailyReturns, tradePnls: run.tradePnls, years: run.kpis.years }, { seed: 7, resamples: 500 });
    expect(ci.sharpe.estimate).toBeCloseTo(run.kpis.sharpe, 12);
    expect(ci.annReturn.estimate).toBeCloseTo(run.kpis.annReturn, 10);
    expect(ci.ePerTrade.estimate).toBeCloseTo(run.kpis.ePerTrade, 9);
    for (const c of [ci.sharpe, ci.annReturn, ci.ePerTrade]) {
      expect(c.lower).toBeLessThan(c.estimate);
      expect(c.upper).toBeGreaterThan(c.estimate);
    }
  });
});
