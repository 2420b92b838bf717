/**
 * Pure backtest engine of the pair-trading library (seed 002 backtest-assets-engine 仕様 v1):
 * the θ1/θ2 rule over columnar bars with β-neutral sizing and the full cost model, daily equity
 * and KPIs, block-bootstrap CIs, stress scenarios and the acceptance gate. No I/O.
 */
export {
  BACKTEST_DEFAULTS, backtestParamsFromPolicies, validateParams, withCostIncrease, withoutCosts,
  type BacktestParams, type LegCosts, type LegSpec, type PolicyOverrides, type TradingSession,
} from './params.ts';
export {
  checkSeries, simulate,
  type BacktestCounters, type BacktestSeries, type BtTrade, type ExitReason, type OpenPosition, type Side, type SimResult,
} from './simulate.ts';
export { runBacktest, type BacktestRun } from './backtest.ts';
export { sizePair, type LegLot, type PairSize } from './sizing.ts';
export {
  annualizedReturn, computeKpis, dailyCurve, dailyEquityRows, maxDrawdown, mean, monthlyWinRate, returnsOf, sampleStd, sharpeRatio, spanYears, tradePnls, YEAR_MS,
  type BacktestKpis, type BtDailyEquity, type DailyCurve,
} from './kpi.ts';
export {
  annualReturnOfReturns, blockBootstrapCI, BOOTSTRAP_DEFAULTS, improvementCI, kpiConfidenceIntervals, quantileSorted,
  type BootstrapOptions, type ConfidenceInterval, type ImprovementInterval, type ImprovementOptions, type ImprovementStatistic, type KpiIntervals,
} from './bootstrap.ts';
export {
  closeAtr, correlationBreakdown, gapBars, gapEvents, runStressScenarios, STRESS_DEFAULTS, stressRuns, volSpike, windowBars,
  type BtStressRow, type StressOptions, type StressSettings,
} from './stress.ts';
export { evaluateAcceptance, FALSE_STOP_MAX, HALT_RATE_RANGE, type AcceptanceCheck, type AcceptanceCriteria, type AcceptanceResult } from './acceptance.ts';
export { DAY_MS, dateOf, dayOf, inWindow, isWeekend, parseHhmm, RolloverClock, SlippageClock, TradingCalendar, weekdayOf, WEEKDAYS, type Weekday } from './calendar.ts';
export { BT_FX_MISSING, BT_INPUT_INVALID, BT_PAIR_UNKNOWN, BT_PARAMS_INVALID } from './errors.ts';
