/**
 * Perfect foresight bounds every θ: with the exit rule fixed, a trade is decided by its entry bar
 * alone, so any θ1/θ2 picks a chain of non-overlapping trades out of one fixed menu. The best
 * chain (weighted interval scheduling over that menu, knowing every trade's outcome in advance)
 * is an upper bound for all of them — with or without costs.
 */
import { describe, expect, it } from 'vitest';
import { simulate, withoutCosts, type BacktestParams, type BacktestSeries } from '../../assets/backtests/engine/index.ts';
import { metalsParams } from './helpers.ts';
import { syntheticSeries } from './reference.ts';

interface MenuItem { pnl: number; lastBar: number }

/** The trade an entry signal at bar i would make (null when its fill is dropped). */
function tradeFrom(series: BacktestSeries, params: BacktestParams, i: number): MenuItem | null {
  const n = series.ts.length;
  const returnProb = new Float64Array(n).fill(NaN), riskScore = Float64Array.from(series.riskScore);
  returnProb[i] = 1;
  riskScore[i] = 0;
  const r = simulate({ ...series, returnProb, riskScore }, { ...params, theta1: 0.5, theta2: 0.5 });
  if (r.counters.entriesDropped > 0) return null;
  const total = r.equity[n - 1] - params.initialEquity;
  return { pnl: total, lastBar: r.trades.length > 0 ? r.trades[0].bar_exit : n };
}

/** Best total PnL of a chain of menu trades, each starting after the previous one's exit fill. */
function perfectForesight(series: BacktestSeries, params: BacktestParams): number {
  const n = series.ts.length;
  const best = new Float64Array(n + 2);
  for (let k = n - 1; k >= 0; k--) {
    best[k] = best[k + 1];
    const usable = Number.isFinite(series.returnProb[k]) && Number.isFinite(series.riskScore[k]) && Number.isFinite(series.z[k]) && series.z[k] !== 0
      && Number.isFinite(series.beta[k]) && series.beta[k] !== 0;
    if (!usable) continue;
    const t = tradeFrom(series, params, k);
    if (t) best[k] = Math.max(best[k], t.pnl + best[Math.min(n, t.lastBar + 1)]);
  }
  return best[0];
}

const totalPnl = (series: BacktestSeries, params: BacktestParams) => {
  const r = simulate(series, params);
  return r.equity[r.equity.length - 1] - params.initialEquity;
};

describe('perfect foresight', () => {
  const thetas: Array<[number, number]> = [];
  for (const t1 of [0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9]) for (const t2 of [0.1, 0.2, 0.3, 0.45, 0.6, 1]) thetas.push([t1, t2]);

  for (const seed of [3, 11]) {
    it(`the zero-cost oracle bounds the PnL of every θ (seed ${seed})`, () => {
      const series = syntheticSeries({ n: 700, seed, zEntry: 1.6 });
      // Charged swaps only, so that costs can only lower PnL.
      const costed = metalsParams({ maxBars: 24, costsA: { spreadBps: 6, slippageBps: 10, commissionBps: 10, swapLongBpsDay: -4, swapShortBpsDay: -1 } });
      const free = withoutCosts(costed);
      const boundFree = perfectForesight(series, free), boundCosted = perfectForesight(series, costed);
      expect(boundFree).toBeGreaterThan(0);
      expect(boundCosted).toBeLessThanOrEqual(boundFree + 1e-9);
      let someTrades = 0, bestTheta = -Infinity;
      for (const [theta1, theta2] of thetas) {
        const free1 = totalPnl(series, { ...free, theta1, theta2 }), costed1 = totalPnl(series, { ...costed, theta1, theta2 });
        expect(free1).toBeLessThanOrEqual(boundFree + 1e-9);
        expect(costed1).toBeLessThanOrEqual(boundCosted + 1e-9);
        expect(costed1).toBeLessThanOrEqual(free1 + 1e-9);
        if (simulate(series, { ...free, theta1, theta2 }).trades.length > 0) someTrades++;
        bestTheta = Math.max(bestTheta, free1);
      }
      expect(someTrades).toBeGreaterThan(thetas.length / 2);
      expect(someTrades).toBeLessThan(thetas.length); // and some θ never trade
      // Foresight is worth something: no threshold finds the best chain on these series.
      expect(boundFree).toBeGreaterThan(bestTheta);
    });
  }
});
