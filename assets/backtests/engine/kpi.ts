/**
 * Strategy KPIs (seed 002 統合戦略のKPI): the bar equity curve is re-aggregated to UTC days
 * (each day's last bar) and Sharpe / MaxDD / annual return are read off the daily curve.
 *
 * Conventions:
 * - Daily return r_d = E_d / E_{d−1} − 1 with E_{−1} the initial equity; only days with bars count.
 * - Sharpe = mean(r) / sd(r) · √periodsPerYear (sample sd); 0 when sd is 0 or fewer than 2 days.
 * - MaxDD = max over days of (peak − E) / peak, peak starting at the initial equity.
 * - Years = (last bar time − first bar time) / 365.25 days; annual return is compound,
 *   (E_end / E_0)^(1/years) − 1, with the simple (E_end/E_0 − 1)/years alongside.
 * - Undefined ratios (no trades, zero drawdown, zero span) are NaN.
 */
import { DAY_MS, dateOf, dayOf } from './calendar.ts';
import type { BtTrade, SimResult } from './simulate.ts';

export const YEAR_MS = 365.25 * DAY_MS;

/** One bt_daily_equity row. */
export interface BtDailyEquity {
  pair_id: string;
  /** UTC date, YYYY-MM-DD. */
  date: string;
  /** Equity at the day's last bar, marked to market. */
  equity: number;
  /** Drawdown from the running peak (initial equity included), as a fraction. */
  dd: number;
}

/** The daily curve, columnar. */
export interface DailyCurve {
  /** Day numbers (days since 1970-01-01 UTC). */
  days: Int32Array;
  equity: Float64Array;
  dd: Float64Array;
}

export interface BacktestKpis {
  trades: number;
  days: number;
  years: number;
  /** Compound annual return. */
  annReturn: number;
  annReturnSimple: number;
  sharpe: number;
  maxDd: number;
  /** annReturn / maxDd. */
  calmar: number;
  /** Mean trade PnL, account currency. */
  ePerTrade: number;
  /** Mean trade PnL over the initial equity. */
  ePerTradeReturn: number;
  winRate: number;
  tradesPerYear: number;
  /** Sample sd of trade PnL, account currency. */
  pnlStd: number;
  /** Sample sd of daily PnL, account currency. */
  dailyPnlStd: number;
  /** Share of calendar months (UTC) whose equity rose. */
  monthlyWinRate: number;
  /** Share of the flat bars with returnProb > θ1 that AI2 vetoed (riskScore ≥ θ2): やらない勇気発動率. */
  haltRate: number;
  /** Among AI2 vetoes and risk stops with a known ai2Label, the share labelled 0. */
  ai2FalseStopRate: number;
  realizedPnl: number;
  unrealizedPnl: number;
  totalPnl: number;
  finalEquity: number;
}

/** Re-aggregates a bar equity curve to UTC days (last bar of each day). */
export function dailyCurve(ts: ArrayLike<number>, equity: ArrayLike<number>, initialEquity: number): DailyCurve {
  const n = ts.length;
  let count = 0;
  for (let i = 0, last = NaN; i < n; i++) {
    const d = dayOf(ts[i]);
    if (d !== last) { count++; last = d; }
  }
  const days = new Int32Array(count), eq = new Float64Array(count), dd = new Float64Array(count);
  let j = -1, last = NaN;
  for (let i = 0; i < n; i++) {
    const d = dayOf(ts[i]);
    if (d !== last) { j++; days[j] = d; last = d; }
    eq[j] = equity[i];
  }
  let peak = initialEquity;
  for (let i = 0; i < count; i++) {
    if (eq[i] > peak) peak = eq[i];
    dd[i] = peak > 0 ? (peak - eq[i]) / peak : 0;
  }
  return { days, equity: eq, dd };
}

export function dailyEquityRows(curve: DailyCurve, pairId: string): BtDailyEquity[] {
  const rows: BtDailyEquity[] = new Array(curve.days.length);
  for (let i = 0; i < rows.length; i++) rows[i] = { pair_id: pairId, date: dateOf(curve.days[i]), equity: curve.equity[i], dd: curve.dd[i] };
  return rows;
}

/** Simple returns of an equity series, the first against `initialEquity`. */
export function returnsOf(equity: ArrayLike<number>, initialEquity: number): Float64Array {
  const r = new Float64Array(equity.length);
  let prev = initialEquity;
  for (let i = 0; i < equity.length; i++) { r[i] = equity[i] / prev - 1; prev = equity[i]; }
  return r;
}

export function mean(x: ArrayLike<number>): number {
  if (x.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Sample standard deviation (n − 1); NaN below 2 values. */
export function sampleStd(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) return NaN;
  const m = mean(x);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i] - m) ** 2;
  return Math.sqrt(ss / (n - 1));
}

/** Annualised Sharpe of periodic returns (risk-free 0); 0 when it is undefined (sd 0, < 2 returns). */
export function sharpeRatio(returns: ArrayLike<number>, periodsPerYear = 252): number {
  const sd = sampleStd(returns);
  if (!(sd > 0)) return 0;
  return (mean(returns) / sd) * Math.sqrt(periodsPerYear);
}

/** Largest fall from a running peak as a fraction of the peak; the peak starts at `initial` when given. */
export function maxDrawdown(equity: ArrayLike<number>, initial = -Infinity): number {
  let peak = initial, worst = 0;
  for (let i = 0; i < equity.length; i++) {
    if (equity[i] > peak) peak = equity[i];
    if (peak > 0) { const d = (peak - equity[i]) / peak; if (d > worst) worst = d; }
  }
  return worst;
}

/** Compound annual growth; −1 when the equity is gone, NaN for a zero span. */
export function annualizedReturn(startEquity: number, endEquity: number, years: number): number {
  if (!(years > 0)) return NaN;
  if (!(endEquity > 0)) return -1;
  return (endEquity / startEquity) ** (1 / years) - 1;
}

/** Years between the first and last bar close. */
export function spanYears(ts: ArrayLike<number>): number {
  return ts.length < 2 ? 0 : (ts[ts.length - 1] - ts[0]) / YEAR_MS;
}

/** Share of calendar months (by the daily curve) whose month-end equity is above the previous month-end (initial equity first). */
export function monthlyWinRate(curve: DailyCurve, initialEquity: number): number {
  const n = curve.days.length;
  let months = 0, wins = 0, prevEnd = initialEquity;
  for (let i = 0; i < n; i++) {
    if (i < n - 1 && monthOfDay(curve.days[i]) === monthOfDay(curve.days[i + 1])) continue;
    months++;
    if (curve.equity[i] > prevEnd) wins++;
    prevEnd = curve.equity[i];
  }
  return months === 0 ? NaN : wins / months;
}

/** Months since year 0 of a day number. */
function monthOfDay(day: number): number {
  const d = new Date(day * DAY_MS);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

/** Every KPI of one simulated pair. */
export function computeKpis(sim: SimResult, ts: ArrayLike<number>, curve: DailyCurve, initialEquity: number, periodsPerYear = 252): BacktestKpis {
  const trades = sim.trades;
  const pnls = tradePnls(trades);
  const returns = returnsOf(curve.equity, initialEquity);
  const dailyPnl = new Float64Array(curve.equity.length);
  for (let i = 0, prev = initialEquity; i < dailyPnl.length; i++) { dailyPnl[i] = curve.equity[i] - prev; prev = curve.equity[i]; }
  const years = spanYears(ts);
  const finalEquity = curve.equity.length > 0 ? curve.equity[curve.equity.length - 1] : initialEquity;
  const annReturn = annualizedReturn(initialEquity, finalEquity, years);
  const maxDd = maxDrawdown(curve.equity, initialEquity);
  const c = sim.counters;
  let wins = 0;
  for (const p of pnls) if (p > 0) wins++;
  const ePerTrade = mean(pnls);
  return {
    trades: trades.length,
    days: curve.days.length,
    years,
    annReturn,
    annReturnSimple: years > 0 ? (finalEquity / initialEquity - 1) / years : NaN,
    sharpe: sharpeRatio(returns, periodsPerYear),
    maxDd,
    calmar: maxDd > 0 ? annReturn / maxDd : NaN,
    ePerTrade,
    ePerTradeReturn: ePerTrade / initialEquity,
    winRate: trades.length > 0 ? wins / trades.length : NaN,
    tradesPerYear: years > 0 ? trades.length / years : NaN,
    pnlStd: sampleStd(pnls),
    dailyPnlStd: sampleStd(dailyPnl),
    monthlyWinRate: monthlyWinRate(curve, initialEquity),
    haltRate: c.haltCandidates > 0 ? c.haltVetoes / c.haltCandidates : NaN,
    ai2FalseStopRate: c.stopsLabelled > 0 ? c.falseStops / c.stopsLabelled : NaN,
    realizedPnl: sim.realizedPnl,
    unrealizedPnl: sim.unrealizedPnl,
    totalPnl: finalEquity - initialEquity,
    finalEquity,
  };
}

export function tradePnls(trades: readonly BtTrade[]): Float64Array {
  const out = new Float64Array(trades.length);
  for (let i = 0; i < trades.length; i++) out[i] = trades[i].pnl;
  return out;
}
