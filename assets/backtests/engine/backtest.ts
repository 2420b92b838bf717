/** One pair's full backtest: the bar loop, the daily curve and the KPIs. */
import { computeKpis, dailyCurve, dailyEquityRows, returnsOf, tradePnls, type BacktestKpis, type BtDailyEquity, type DailyCurve } from './kpi.ts';
import type { BacktestParams } from './params.ts';
import { simulate, type BacktestSeries, type SimResult } from './simulate.ts';

export interface BacktestRun extends SimResult {
  /** The daily curve, columnar (day numbers). */
  curve: DailyCurve;
  /** bt_daily_equity rows. */
  daily: BtDailyEquity[];
  /** Daily simple returns (the first against the initial equity): the input of Sharpe and of the bootstrap. */
  dailyReturns: Float64Array;
  /** Closed trades' PnL in order: the input of the E/trade bootstrap. */
  tradePnls: Float64Array;
  kpis: BacktestKpis;
}

export function runBacktest(series: BacktestSeries, params: BacktestParams): BacktestRun {
  const sim = simulate(series, params);
  const curve = dailyCurve(series.ts, sim.equity, params.initialEquity);
  return {
    ...sim,
    curve,
    daily: dailyEquityRows(curve, params.pairId),
    dailyReturns: returnsOf(curve.equity, params.initialEquity),
    tradePnls: tradePnls(sim.trades),
    kpis: computeKpis(sim, series.ts, curve, params.initialEquity, params.periodsPerYear),
  };
}
