/** Stress scenarios change what they should, and only that. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  closeAtr, correlationBreakdown, gapBars, gapEvents, runBacktest, runStressScenarios, simulate, stressRuns, volSpike, windowBars, withCostIncrease,
  type BacktestSeries,
} from '../../assets/backtests/engine/index.ts';
import { loadPolicies } from '../../assets/policies/index.ts';
import { metalsParams } from './helpers.ts';
import { syntheticSeries } from './reference.ts';

const policies = loadPolicies(fileURLToPath(new URL('../../configs', import.meta.url)));
const series = syntheticSeries({ n: 6000, seed: 21 });
const params = metalsParams({ targetGrossNotional: 100_000 });

function logReturns(p: Float64Array, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = Math.max(1, from); i < to; i++) out.push(Math.log(p[i] / p[i - 1]));
  return out;
}

function correlation(x: number[], y: number[]): number {
  const mx = x.reduce((s, v) => s + v, 0) / x.length, my = y.reduce((s, v) => s + v, 0) / y.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ** 2; syy += (y[i] - my) ** 2; }
  return sxy / Math.sqrt(sxx * syy);
}

describe('cost increase', () => {
  const base = simulate(series, params);

  it('+x bp commission lowers PnL by exactly the extra commission on the same trades', () => {
    // Both legs pay 10 bp: +10 bp doubles every commission and touches nothing else.
    const up = simulate(series, withCostIncrease(params, 10, 0));
    expect(base.trades.length).toBeGreaterThan(20);
    expect(up.trades.map((t) => [t.bar_entry, t.bar_exit])).toEqual(base.trades.map((t) => [t.bar_entry, t.bar_exit]));
    up.trades.forEach((t, i) => {
      const b = base.trades[i];
      expect(t.cost_commission).toBeCloseTo(2 * b.cost_commission, 9);
      expect([t.cost_spread, t.cost_slippage, t.cost_swap, t.gross_pnl]).toEqual([b.cost_spread, b.cost_slippage, b.cost_swap, b.gross_pnl]);
      expect(b.pnl - t.pnl).toBeCloseTo(b.cost_commission, 9);
    });
    const extra = base.trades.reduce((s, t) => s + t.cost_commission, 0);
    expect(base.realizedPnl - up.realizedPnl).toBeCloseTo(extra, 6);
  });

  it('+x bp slippage scales slippage linearly; PnL falls by the extra slippage and the commission on the worse price', () => {
    const p = { ...params, costsB: { ...params.costsB, slippageBps: 10 } }; // both legs 10 bp
    const b0 = simulate(series, p), up = simulate(series, withCostIncrease(p, 0, 5));
    up.trades.forEach((t, i) => {
      const b = b0.trades[i];
      expect(t.cost_slippage).toBeCloseTo(1.5 * b.cost_slippage, 9);
      expect(t.cost_commission).not.toBe(b.cost_commission); // it is charged on the slipped price
      expect(b.pnl - t.pnl).toBeCloseTo(t.cost_slippage - b.cost_slippage + t.cost_commission - b.cost_commission, 9);
    });
  });
});

describe('latency', () => {
  it('+1 bar fills each trade at the next bar\'s closes', () => {
    const base = simulate(series, params), late = simulate(series, { ...params, latencyBars: 1 });
    expect(late.trades.length).toBeGreaterThan(10);
    let moved = 0;
    for (const t of late.trades) {
      expect(t.bar_entry).toBeGreaterThanOrEqual(t.bar_signal_entry + 1);
      expect(t.bar_exit).toBeGreaterThanOrEqual(t.bar_signal_exit + 1);
      expect(t.price_A_entry).toBeCloseTo(Math.round(series.priceA[t.bar_entry] / 0.01) * 0.01, 9);
      if (t.bar_entry === t.bar_signal_entry + 1) moved++;
    }
    expect(moved).toBeGreaterThan(late.trades.length * 0.9);
    expect(late.realizedPnl).not.toBeCloseTo(base.realizedPnl, 2);
  });
});

describe('volatility spike', () => {
  it('adds noise of k·ATR to each leg and keeps the decisions', () => {
    for (const k of [1.5, 2]) {
      const s = volSpike(series, k, 7);
      const atr = closeAtr(series.priceA, 14);
      const scaled: number[] = [];
      for (let i = 20; i < series.ts.length; i++) scaled.push((s.priceA[i] - series.priceA[i]) / atr[i]);
      const sd = Math.sqrt(scaled.reduce((acc, v) => acc + v * v, 0) / scaled.length);
      expect(sd).toBeGreaterThan(k * 0.95);
      expect(sd).toBeLessThan(k * 1.05);
      expect(s.z).toBe(series.z);
      const base = simulate(series, params), spiked = simulate(s, params);
      // Same signal bars (z, probabilities untouched), different fills.
      expect(spiked.trades.map((t) => t.bar_signal_entry).slice(0, 5)).toEqual(base.trades.map((t) => t.bar_signal_entry).slice(0, 5));
      expect(spiked.trades[0].price_A_entry).not.toBe(base.trades[0].price_A_entry);
    }
  });

  it('is seeded', () => {
    expect(volSpike(series, 2, 7).priceA).toEqual(volSpike(series, 2, 7).priceA);
    expect(volSpike(series, 2, 8).priceA).not.toEqual(volSpike(series, 2, 7).priceA);
  });

  it('closeAtr is the trailing mean |Δclose|', () => {
    const atr = closeAtr(Float64Array.from([10, 11, 9, NaN, 12, 12]), 2);
    expect(Array.from(atr)).toEqual([NaN, 1, 1.5, 1.5, 2.5, 1.5]);
  });
});

describe('correlation breakdown', () => {
  const window = windowBars(series.ts.length, { start: 0.4, length: 0.3 });

  it('pushes the legs\' return correlation to ≈ ρ inside the window only', () => {
    const before = correlation(logReturns(series.priceA, ...window), logReturns(series.priceB, ...window));
    expect(before).toBeGreaterThan(0.4);
    for (const rho of [0, 0.2]) {
      const s = correlationBreakdown(series, rho, window, 5);
      const inside = correlation(logReturns(s.priceA, ...window), logReturns(s.priceB, ...window));
      expect(Math.abs(inside - rho)).toBeLessThan(0.06);
      expect(s.priceB.subarray(0, window[0])).toEqual(series.priceB.subarray(0, window[0]));
      // Afterwards B moves as before, from where the window left it.
      const after = logReturns(s.priceB, window[1] + 1, series.ts.length), orig = logReturns(series.priceB, window[1] + 1, series.ts.length);
      after.forEach((r, i) => expect(r).toBeCloseTo(orig[i], 12));
    }
  });

  it('changes the PnL of trades in the window', () => {
    const s = correlationBreakdown(series, 0, window, 5);
    expect(simulate(s, params).realizedPnl).not.toBeCloseTo(simulate(series, params).realizedPnl, 0);
  });
});

describe('gap events', () => {
  it('shifts leg A by ±x % at each event bar and keeps the shift', () => {
    const bars = gapBars(series.ts, 28);
    expect(bars.length).toBeGreaterThan(5);
    const s = gapEvents(series, 2, bars, 9);
    const ratio = Array.from(s.priceA, (v, i) => v / series.priceA[i]);
    const events = new Set(bars);
    let ups = 0, downs = 0;
    for (let i = 1; i < ratio.length; i++) {
      const step = ratio[i] / ratio[i - 1];
      if (events.has(i)) {
        expect(Math.abs(step - 1)).toBeCloseTo(0.02, 12);
        if (step > 1) ups++; else downs++;
      } else {
        expect(step).toBeCloseTo(1, 12);
      }
    }
    expect(ups).toBeGreaterThan(0);
    expect(downs).toBeGreaterThan(0);
    expect(s.priceB).toBe(series.priceB);
  });

  it('event bars start each 28-day period', () => {
    const day = 86_400_000;
    const ts = Float64Array.from([0, 10, 27.9, 28.1, 40, 56, 57].map((d) => d * day));
    expect(gapBars(ts, 28)).toEqual([3, 5]);
  });
});

describe('runStressScenarios', () => {
  const settings = policies.backtest.stress;

  it('runs every scenario of backtest_policy.yaml, base first', () => {
    const seen: string[] = [];
    const rows = runStressScenarios(series, params, settings, { rederive: (s: BacktestSeries, name: string) => { seen.push(name); return s; } });
    expect(rows.map((r) => r.scenario)).toEqual([
      'base', 'vol_spike_k1.5', 'vol_spike_k2', 'corr_breakdown_rho0', 'corr_breakdown_rho0.2',
      'cost_increase_10bp', 'cost_increase_30bp', 'latency_+1bar', 'gap_0.5pct', 'gap_1pct', 'gap_2pct',
    ]);
    // Only the price scenarios are re-derived.
    expect(seen).toEqual(['vol_spike_k1.5', 'vol_spike_k2', 'corr_breakdown_rho0', 'corr_breakdown_rho0.2', 'gap_0.5pct', 'gap_1pct', 'gap_2pct']);
    const by = Object.fromEntries(rows.map((r) => [r.scenario, r]));
    const base = runBacktest(series, params).kpis;
    expect([by.base.sharpe, by.base.max_dd, by.base.ann_return, by.base.total_pnl]).toEqual([base.sharpe, base.maxDd, base.annReturn, base.totalPnl]);
    expect(by.cost_increase_10bp.total_pnl).toBeLessThan(by.base.total_pnl);
    expect(by.cost_increase_30bp.total_pnl).toBeLessThan(by.cost_increase_10bp.total_pnl);
    expect(by.cost_increase_10bp.trades).toBe(by.base.trades);
    expect(by['latency_+1bar'].total_pnl).not.toBe(by.base.total_pnl);
    for (const r of rows) {
      expect(r.pair_id).toBe('XAUUSD_XAGUSD');
      expect(r.notes.length).toBeGreaterThan(0);
      expect(Number.isFinite(r.sharpe) && Number.isFinite(r.max_dd) && Number.isFinite(r.ann_return)).toBe(true);
    }
  });

  it('is reproducible', () => {
    const a = stressRuns(series, params, settings, { seed: 4 }), b = stressRuns(series, params, settings, { seed: 4 });
    expect(a.map((r) => r.run.kpis.totalPnl)).toEqual(b.map((r) => r.run.kpis.totalPnl));
  });
});
