/** KPI functions against second formulas, and the acceptance gate. */
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  annualizedReturn, computeKpis, dailyCurve, dailyEquityRows, evaluateAcceptance, maxDrawdown, monthlyWinRate, returnsOf, runBacktest, sharpeRatio,
  type SimResult,
} from '../../assets/backtests/engine/index.ts';
import { loadPolicies } from '../../assets/policies/index.ts';
import { metalsParams, seriesOf } from './helpers.ts';

const policies = loadPolicies(fileURLToPath(new URL('../../configs', import.meta.url)));
const DAY = 86_400_000;

describe('maxDrawdown', () => {
  it('equals the brute-force max over all i < j of (E_i − E_j) / E_i', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 1, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 60 }), (eq) => {
      let brute = 0;
      for (let i = 0; i < eq.length; i++) for (let j = i; j < eq.length; j++) brute = Math.max(brute, (eq[i] - eq[j]) / eq[i]);
      expect(maxDrawdown(eq)).toBeCloseTo(brute, 12);
    }));
  });

  it('counts a fall from the initial equity', () => {
    expect(maxDrawdown([90, 95, 80], 100)).toBeCloseTo(0.2, 12);
    expect(maxDrawdown([90, 95, 80])).toBeCloseTo(15 / 95, 12);
  });
});

describe('sharpeRatio', () => {
  it('is mean / sample sd · √252', () => {
    // mean 0.00275; squared deviations sum to 1.1475e-4 over n − 1 = 3.
    expect(sharpeRatio([0.01, -0.005, 0.002, 0.004])).toBeCloseTo((0.00275 / Math.sqrt(1.1475e-4 / 3)) * Math.sqrt(252), 10);
    expect(sharpeRatio([0.01, -0.005, 0.002, 0.004], 52)).toBeCloseTo((0.00275 / Math.sqrt(1.1475e-4 / 3)) * Math.sqrt(52), 10);
  });

  it('is 0 without variation or with one return', () => {
    expect(sharpeRatio([0.01, 0.01, 0.01])).toBe(0);
    expect(sharpeRatio([0.01])).toBe(0);
  });
});

describe('daily curve', () => {
  const t0 = Date.UTC(2024, 0, 8); // Monday
  const ts = [t0 + 1 * 3600e3, t0 + 20 * 3600e3, t0 + DAY + 5 * 3600e3, t0 + 3 * DAY + 3600e3, t0 + 3 * DAY + 2 * 3600e3];
  const eq = [100, 110, 99, 105, 88];

  it('keeps each UTC day\'s last bar and the drawdown from the running peak', () => {
    const c = dailyCurve(ts, eq, 100);
    expect(Array.from(c.equity)).toEqual([110, 99, 88]);
    expect(Array.from(c.dd)).toEqual([0, 11 / 110, 22 / 110]);
    expect(dailyEquityRows(c, 'P').map((r) => r.date)).toEqual(['2024-01-08', '2024-01-09', '2024-01-11']);
    const r = returnsOf(c.equity, 100);
    [0.1, 99 / 110 - 1, 88 / 99 - 1].forEach((want, i) => expect(r[i]).toBeCloseTo(want, 14));
  });

  it('monthly win rate compares month-end equities, the first with the initial equity', () => {
    const days = [Date.UTC(2024, 0, 10), Date.UTC(2024, 0, 31), Date.UTC(2024, 1, 15), Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 30)].map((t) => t / DAY);
    const curve = { days: Int32Array.from(days), equity: Float64Array.from([90, 101, 99, 120, 100]), dd: new Float64Array(5) };
    // Jan ends 101 > 100 (win), Feb 99 < 101 (loss), Mar 100 > 99 (win).
    expect(monthlyWinRate(curve, 100)).toBeCloseTo(2 / 3, 12);
  });
});

describe('annualizedReturn', () => {
  it('compounds over the span', () => {
    expect(annualizedReturn(100, 200, 1)).toBeCloseTo(1, 12);
    expect(annualizedReturn(100, 121, 2)).toBeCloseTo(0.1, 12);
    expect(annualizedReturn(100, 110, 0.5)).toBeCloseTo(0.21, 12);
    expect(annualizedReturn(100, 0, 1)).toBe(-1);
    expect(annualizedReturn(100, 110, 0)).toBeNaN();
  });
});

describe('computeKpis', () => {
  const t0 = Date.UTC(2024, 0, 8);
  const ts = Float64Array.from({ length: 4 }, (_, i) => t0 + i * 91.3125 * DAY); // four days, each in its own quarter
  const sim = {
    trades: [{ pnl: 300 }, { pnl: -100 }, { pnl: 200 }, { pnl: 0 }],
    open: null,
    equity: Float64Array.from([10_300, 10_200, 10_400, 10_400]),
    realizedPnl: 400,
    unrealizedPnl: 0,
    counters: { bars: 4, entrySignals: 4, entriesDropped: 0, haltCandidates: 10, haltVetoes: 3, riskStops: 2, stopsLabelled: 4, falseStops: 1, exitsDelayed: 0 },
  } as unknown as SimResult;
  const k = computeKpis(sim, ts, dailyCurve(ts, sim.equity, 10_000), 10_000);

  it('trade statistics', () => {
    expect(k.trades).toBe(4);
    expect(k.ePerTrade).toBe(100);
    expect(k.ePerTradeReturn).toBeCloseTo(0.01, 12);
    expect(k.winRate).toBe(0.5);
    expect(k.pnlStd).toBeCloseTo(Math.sqrt((200 ** 2 + 200 ** 2 + 100 ** 2 + 100 ** 2) / 3), 10);
    expect(k.years).toBeCloseTo(273.9375 / 365.25, 12);
    expect(k.tradesPerYear).toBeCloseTo(4 / k.years, 10);
  });

  it('curve statistics', () => {
    expect(k.totalPnl).toBeCloseTo(400, 9);
    expect(k.annReturn).toBeCloseTo(1.04 ** (1 / k.years) - 1, 12);
    expect(k.annReturnSimple).toBeCloseTo(0.04 / k.years, 12);
    expect(k.maxDd).toBeCloseTo(100 / 10_300, 12);
    expect(k.calmar).toBeCloseTo(k.annReturn / k.maxDd, 12);
    expect(k.sharpe).toBeCloseTo(sharpeRatio([0.03, 10_200 / 10_300 - 1, 10_400 / 10_200 - 1, 0]), 12);
  });

  it('AI2 statistics: halt rate and false-stop rate', () => {
    expect(k.haltRate).toBeCloseTo(0.3, 12);
    expect(k.ai2FalseStopRate).toBeCloseTo(0.25, 12);
  });

  it('are NaN where undefined', () => {
    const empty = computeKpis({ ...sim, trades: [], counters: { ...sim.counters, haltCandidates: 0, stopsLabelled: 0 } }, ts, dailyCurve(ts, Float64Array.from([1e4, 1e4, 1e4, 1e4]), 1e4), 1e4);
    expect([empty.ePerTrade, empty.winRate, empty.haltRate, empty.ai2FalseStopRate, empty.calmar]).toEqual([NaN, NaN, NaN, NaN, NaN]);
    expect(empty.tradesPerYear).toBe(0);
    expect(empty.sharpe).toBe(0);
  });
});

describe('runBacktest', () => {
  it('halt rate on a series: the share of θ1-passing flat bars AI2 vetoed', () => {
    const at = (h: number) => `2024-01-09T${String(h).padStart(2, '0')}:00Z`;
    const run = runBacktest(seriesOf([
      { t: at(8), a: 2000, b: 25, z: 2.5, rp: 0.9, rs: 0.5, label: 1 },
      { t: at(9), a: 2000, b: 25, z: 2.5, rp: 0.9, rs: 0.35, label: 0 },
      { t: at(10), a: 2000, b: 25, z: 2.5, rp: 0.6, rs: 0.5 }, // fails θ1: not counted
      { t: at(11), a: 2000, b: 25, z: 2.5, rp: 0.9, rs: 0.1, label: 1 }, // enters
      { t: at(12), a: 2000, b: 25, z: 0.1 },
    ]), metalsParams());
    expect(run.kpis.haltRate).toBeCloseTo(2 / 3, 12);
    expect(run.kpis.ai2FalseStopRate).toBeCloseTo(1 / 2, 12);
    expect(run.daily).toHaveLength(1);
    expect(run.daily[0]).toMatchObject({ pair_id: 'XAUUSD_XAGUSD', date: '2024-01-09' });
    expect(run.daily[0].equity).toBeCloseTo(100_000 + run.trades[0].pnl, 9);
    expect(Array.from(run.tradePnls)).toEqual([run.trades[0].pnl]);
  });
});

describe('acceptance gate', () => {
  const criteria = policies.backtest.acceptance;

  it('uses the policy: Sharpe > 1.2, MaxDD < 0.12, trades/yr ≥ 150', () => {
    expect(criteria).toEqual({ sharpe_min: 1.2, max_dd_max: 0.12, trades_per_year_min: 150 });
    expect(evaluateAcceptance({ sharpe: 1.21, maxDd: 0.119, tradesPerYear: 150 }, criteria)).toMatchObject({ passed: true, reasons: [] });
  });

  it('fails at each boundary, with one reason per failed check', () => {
    const r = evaluateAcceptance({ sharpe: 1.2, maxDd: 0.12, tradesPerYear: 149.9 }, criteria);
    expect(r.passed).toBe(false);
    expect(r.reasons).toEqual(['sharpe 1.2 is not > 1.2', 'max_dd 0.12 is not < 0.12', 'trades_per_year 149.9 is not ≥ 150']);
    expect(evaluateAcceptance({ sharpe: 2, maxDd: 0.05, tradesPerYear: 149 }, criteria).reasons).toHaveLength(1);
  });

  it('fails an undefined KPI', () => {
    expect(evaluateAcceptance({ sharpe: NaN, maxDd: 0.05, tradesPerYear: 300 }, criteria).passed).toBe(false);
  });

  it('warns outside the reference ranges without failing', () => {
    const r = evaluateAcceptance({ sharpe: 2, maxDd: 0.05, tradesPerYear: 300, haltRate: 0.5, ai2FalseStopRate: 0.1 }, criteria);
    expect(r.passed).toBe(true);
    expect(r.warnings).toHaveLength(2);
    expect(evaluateAcceptance({ sharpe: 2, maxDd: 0.05, tradesPerYear: 300, haltRate: 0.2, ai2FalseStopRate: 0.05 }, criteria).warnings).toEqual([]);
  });
});
