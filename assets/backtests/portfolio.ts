/**
 * A pair group's backtest: one engine run per pair over the models' walk-forward OOS predictions,
 * and the group's portfolio (the pairs' daily equity summed) that θ and the gates judge.
 */
import type { Policies } from '../policies/index.ts';
import type { OosRow } from '../models/training.ts';
import {
  annualizedReturn, backtestParamsFromPolicies, maxDrawdown, runBacktest, sharpeRatio,
  type BacktestParams, type BacktestRun, type BacktestSeries, type PolicyOverrides,
} from './engine/index.ts';
import { holidayCalendars } from './holidays.ts';

export interface Theta { theta1: number; theta2: number }

/** The OOS rows of one pair as the engine's columnar series (NaN = missing), β as a notional hedge ratio. */
export function seriesOf(oos: readonly OosRow[], pair: string): BacktestSeries {
  const rows = oos.filter((r) => r.pair === pair);
  const col = (f: (r: OosRow) => number | null) => Float64Array.from(rows, (r) => f(r) ?? Number.NaN);
  return {
    ts: col((r) => Date.parse(r.ts)),
    priceA: col((r) => r.close_A),
    priceB: col((r) => r.close_B),
    z: col((r) => r.z),
    // The features' β is in price units (S = P_A − β·P_B); the engine sizes notionals 1 : |β_n|.
    // Holding β units of B per unit of A is the notional ratio β·P_B/P_A, so the position is the spread.
    beta: col((r) => (r.beta === null ? null : (r.beta * r.close_B) / r.close_A)),
    returnProb: col((r) => r.return_prob),
    riskScore: col((r) => r.risk_score),
    ai2Label: col((r) => r.ai2_label),
  };
}

export interface PortfolioKpis {
  trades: number;
  years: number;
  annReturn: number;
  sharpe: number;
  maxDd: number;
  calmar: number;
  ePerTrade: number;
  winRate: number;
  tradesPerYear: number;
  haltRate: number;
  ai2FalseStopRate: number;
  totalPnl: number;
}

export interface GroupBacktest {
  runs: Map<string, BacktestRun>;
  kpis: PortfolioKpis;
  /** Portfolio daily returns, aligned on `days`. */
  days: number[];
  dailyReturns: Float64Array;
}

export class GroupBacktester {
  private readonly series = new Map<string, BacktestSeries>();
  private readonly params = new Map<string, BacktestParams>();

  constructor(policies: Policies, oos: readonly OosRow[], readonly pairs: readonly string[], overrides: PolicyOverrides = {}) {
    // universe.yaml names each leg's holiday calendar: no new entries on those days.
    const years = oos.length ? [Number(oos[0].ts.slice(0, 4)), Number(oos[oos.length - 1].ts.slice(0, 4))] : [1970, 1970];
    const calendars = holidayCalendars(years[0], years[1]);
    for (const pair of pairs) {
      this.series.set(pair, seriesOf(oos, pair));
      this.params.set(pair, backtestParamsFromPolicies(policies, pair, { holidayCalendars: calendars, ...overrides }));
    }
  }

  seriesOf(pair: string): BacktestSeries { return this.series.get(pair)!; }
  paramsOf(pair: string, theta: Theta): BacktestParams { return { ...this.params.get(pair)!, ...theta }; }

  run(theta: Theta): GroupBacktest {
    const runs = new Map<string, BacktestRun>();
    for (const pair of this.pairs) if (this.series.get(pair)!.ts.length) runs.set(pair, runBacktest(this.series.get(pair)!, this.paramsOf(pair, theta)));
    return combine(runs, new Map(this.pairs.map((p) => [p, this.params.get(p)!.initialEquity])));
  }
}

/** Sums the pairs' daily equity (each at its initial equity before its first day, then carried forward over days it has no bar) into the group's curve. */
export function combine(runs: Map<string, BacktestRun>, initialEquities: Map<string, number>): GroupBacktest {
  const all = [...runs.values()];
  const initialEquity = [...initialEquities.values()].reduce((a, b) => a + b, 0);
  const days = [...new Set(all.flatMap((r) => [...r.curve.days]))].sort((a, b) => a - b);
  const equity = new Float64Array(days.length);
  // A pair without bars (no run) stays at its initial equity throughout.
  for (const [pair, e0] of initialEquities) if (!runs.has(pair)) for (let i = 0; i < equity.length; i++) equity[i] += e0;
  for (const [pair, r] of runs) {
    let j = 0, last = initialEquities.get(pair)!;
    days.forEach((d, i) => {
      while (j < r.curve.days.length && r.curve.days[j] <= d) last = r.curve.equity[j++];
      equity[i] += last;
    });
  }
  const returns = new Float64Array(days.length);
  let prev = initialEquity;
  equity.forEach((e, i) => { returns[i] = prev > 0 ? e / prev - 1 : 0; prev = e; });
  const trades = all.reduce((a, r) => a + r.kpis.trades, 0);
  const years = Math.max(...all.map((r) => r.kpis.years), 0);
  const pnls = all.flatMap((r) => [...r.tradePnls]);
  const sum = (f: (r: BacktestRun) => number) => all.reduce((a, r) => a + f(r), 0);
  const maxDd = days.length ? maxDrawdown(equity, initialEquity) : 0;
  const annReturn = days.length && years > 0 ? annualizedReturn(initialEquity, equity[equity.length - 1], years) : 0;
  const haltCandidates = sum((r) => r.counters.haltCandidates), stopsLabelled = sum((r) => r.counters.stopsLabelled);
  return {
    runs,
    days,
    dailyReturns: returns,
    kpis: {
      trades,
      years,
      annReturn,
      sharpe: days.length > 1 ? sharpeRatio(returns) : 0,
      maxDd,
      calmar: maxDd > 0 ? annReturn / maxDd : 0,
      ePerTrade: pnls.length ? pnls.reduce((a, b) => a + b, 0) / pnls.length : 0,
      winRate: pnls.length ? pnls.filter((p) => p > 0).length / pnls.length : 0,
      tradesPerYear: years > 0 ? trades / years : 0,
      haltRate: haltCandidates ? sum((r) => r.counters.haltVetoes) / haltCandidates : 0,
      ai2FalseStopRate: stopsLabelled ? sum((r) => r.counters.falseStops) / stopsLabelled : 0,
      totalPnl: sum((r) => r.kpis.totalPnl),
    },
  };
}
