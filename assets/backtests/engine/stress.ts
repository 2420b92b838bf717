/**
 * Stress scenarios (seed 002 ストレスシナリオ, backtest_policy.yaml `stress`). Each one perturbs the
 * prices or the parameters and reruns the same backtest:
 *
 * - vol_spike k: every bar's close of each leg gets independent noise k·ATR·N(0, 1), ATR being
 *   the trailing mean |Δclose| over `atrPeriod` bars (closes only: the engine has no highs/lows).
 * - corr_breakdown ρ: inside a window (default the middle 10 % of the bars), leg B's log returns
 *   are rebuilt as σ_B·(ρ·r_A/σ_A + √(1−ρ²)·ε), so the legs' return correlation falls to ≈ ρ;
 *   after the window B continues with its own returns from where the window left it.
 * - cost_increase x: +x bps one-way commission and +x/2 bps slippage on both legs (the seed's
 *   手数料 +10〜30bp with スリッページ +5〜15bp).
 * - latency x: orders fill x bars later.
 * - gap x %: at the first bar of every `gapEveryDays`-day period, leg A jumps by ±x % (seeded sign)
 *   and stays there — a level shift the hedge cannot see coming.
 *
 * The model inputs (z, β, returnProb, riskScore) are kept as they were: the scenarios measure
 * what the same decisions earn in a harsher market. A caller that can re-derive them from the
 * stressed prices (features → models) passes `rederive`.
 */
import { mulberry32 } from '../../../core/random.ts';
import type { BacktestPolicy } from '../../policies/schemas.ts';
import { runBacktest, type BacktestRun } from './backtest.ts';
import { dayOf } from './calendar.ts';
import { invalidParams } from './errors.ts';
import { withCostIncrease, type BacktestParams } from './params.ts';
import type { BacktestSeries } from './simulate.ts';

export type StressSettings = BacktestPolicy['stress'];

export interface StressOptions {
  seed?: number;
  atrPeriod?: number;
  /** The correlation-breakdown window as fractions of the bars: start and length. */
  corrWindow?: { start: number; length: number };
  gapEveryDays?: number;
  /** Re-derives the model inputs from stressed prices; default: keep them. */
  rederive?: (stressed: BacktestSeries, scenario: string) => BacktestSeries;
}

export const STRESS_DEFAULTS = Object.freeze({ seed: 1, atrPeriod: 14, corrWindow: Object.freeze({ start: 0.45, length: 0.1 }), gapEveryDays: 28 });

/** One bt_stress_results row. */
export interface BtStressRow {
  scenario: string;
  pair_id: string;
  sharpe: number;
  max_dd: number;
  ann_return: number;
  trades: number;
  total_pnl: number;
  notes: string;
}

function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Trailing mean |Δclose| over `period` bars (missing closes skipped); NaN until a change is seen. */
export function closeAtr(price: Float64Array, period: number): Float64Array {
  const n = price.length, out = new Float64Array(n).fill(NaN);
  const ring = new Float64Array(period);
  let sum = 0, count = 0, head = 0, prev = NaN;
  for (let i = 0; i < n; i++) {
    const p = price[i];
    if (p === p && prev === prev) {
      const d = Math.abs(p - prev);
      if (count === period) sum -= ring[head]; else count++;
      ring[head] = d; sum += d; head = (head + 1) % period;
    }
    if (p === p) prev = p;
    if (count > 0) out[i] = sum / count;
  }
  return out;
}

/** Closes with noise of k·ATR per bar, independent per leg; a price never falls below half its value. */
export function volSpike(s: BacktestSeries, k: number, seed: number, atrPeriod: number = STRESS_DEFAULTS.atrPeriod): BacktestSeries {
  const normal = gaussian(mulberry32(seed));
  const noisy = (price: Float64Array) => {
    const atr = closeAtr(price, atrPeriod), out = new Float64Array(price.length);
    for (let i = 0; i < price.length; i++) {
      const e = normal();
      out[i] = atr[i] === atr[i] ? Math.max(price[i] + k * atr[i] * e, 0.5 * price[i]) : price[i];
    }
    return out;
  };
  return { ...s, priceA: noisy(s.priceA), priceB: noisy(s.priceB) };
}

/** Bars [start, end) of a window given as fractions of n. */
export function windowBars(n: number, w: { start: number; length: number }): [number, number] {
  if (!(w.start >= 0 && w.length > 0 && w.start + w.length <= 1)) invalidParams(`stress window must lie in [0, 1], got start ${w.start}, length ${w.length}`);
  const start = Math.max(1, Math.floor(n * w.start));
  return [start, Math.min(n, Math.max(start + 2, Math.floor(n * (w.start + w.length))))];
}

/** Leg B rebuilt inside [start, end) so its log returns correlate ≈ rho with leg A's. */
export function correlationBreakdown(s: BacktestSeries, rho: number, window: [number, number], seed: number): BacktestSeries {
  if (!(rho >= -1 && rho <= 1)) invalidParams(`correlation target must be in [−1, 1], got ${rho}`);
  const [start, end] = window;
  const n = s.ts.length, A = s.priceA, B = s.priceB;
  const logRet = (p: Float64Array, i: number) => { const r = Math.log(p[i] / p[i - 1]); return Number.isFinite(r) ? r : 0; };
  const std = (p: Float64Array) => {
    let m = 0, ss = 0;
    for (let i = start; i < end; i++) m += logRet(p, i);
    m /= end - start;
    for (let i = start; i < end; i++) ss += (logRet(p, i) - m) ** 2;
    return Math.sqrt(ss / Math.max(1, end - start - 1));
  };
  const sA = std(A), sB = std(B);
  const normal = gaussian(mulberry32(seed));
  const out = Float64Array.from(B);
  let level = 0; // last finite rebuilt log price
  for (let i = start - 1; i >= 0; i--) if (B[i] === B[i]) { level = Math.log(B[i]); break; }
  for (let i = start; i < end; i++) {
    const zA = sA > 0 ? logRet(A, i) / sA : 0;
    level += sB * (rho * zA + Math.sqrt(1 - rho * rho) * normal());
    if (B[i] === B[i]) out[i] = Math.exp(level);
  }
  // After the window B keeps its own moves from where the window left it.
  let last = end - 1;
  while (last >= start && B[last] !== B[last]) last--;
  const shift = last >= start ? out[last] / B[last] : 1;
  for (let i = end; i < n; i++) out[i] = B[i] * shift;
  return { ...s, priceB: out };
}

/** Bars where a gap event happens: the first bar of each `everyDays`-day period after the first. */
export function gapBars(ts: Float64Array, everyDays: number): number[] {
  if (!(Number.isInteger(everyDays) && everyDays >= 1)) invalidParams(`gapEveryDays must be a positive integer, got ${everyDays}`);
  const out: number[] = [];
  for (let i = 1; i < ts.length; i++) if (Math.floor(dayOf(ts[i]) / everyDays) !== Math.floor(dayOf(ts[i - 1]) / everyDays)) out.push(i);
  return out;
}

/** Leg A multiplied by (1 ± pct/100) from each event bar on (signs seeded). */
export function gapEvents(s: BacktestSeries, pct: number, bars: readonly number[], seed: number): BacktestSeries {
  const random = mulberry32(seed);
  const out = Float64Array.from(s.priceA);
  let factor = 1, next = 0;
  const sorted = [...bars].sort((x, y) => x - y);
  for (let i = 0; i < out.length; i++) {
    while (next < sorted.length && sorted[next] === i) { factor *= 1 + (random() < 0.5 ? -1 : 1) * pct / 100; next++; }
    out[i] *= factor;
  }
  return { ...s, priceA: out };
}

interface Scenario { name: string; series: BacktestSeries; params: BacktestParams; notes: string; rederive: boolean }

/** Every scenario of the stress settings, plus "base" first, as bt_stress_results rows. */
export function runStressScenarios(series: BacktestSeries, params: BacktestParams, settings: StressSettings, options: StressOptions = {}): BtStressRow[] {
  return stressRuns(series, params, settings, options).map(({ scenario, notes, run }) => ({
    scenario, pair_id: params.pairId, sharpe: run.kpis.sharpe, max_dd: run.kpis.maxDd, ann_return: run.kpis.annReturn,
    trades: run.kpis.trades, total_pnl: run.kpis.totalPnl, notes,
  }));
}

/** The scenarios with their full runs, for callers that want the trades too. */
export function stressRuns(series: BacktestSeries, params: BacktestParams, settings: StressSettings, options: StressOptions = {}): Array<{ scenario: string; notes: string; run: BacktestRun }> {
  const o: Required<Omit<StressOptions, 'rederive'>> = { ...STRESS_DEFAULTS, ...options };
  const scenarios: Scenario[] = [{ name: 'base', series, params, notes: 'no stress', rederive: false }];
  settings.vol_spike.forEach((k, i) => scenarios.push({
    name: `vol_spike_k${k}`, series: volSpike(series, k, o.seed + 101 * (i + 1), o.atrPeriod), params,
    notes: `price noise ${k}×ATR(${o.atrPeriod}) per bar on both legs`, rederive: true,
  }));
  const window = windowBars(series.ts.length, o.corrWindow);
  settings.corr_breakdown.forEach((rho, i) => scenarios.push({
    name: `corr_breakdown_rho${rho}`, series: correlationBreakdown(series, rho, window, o.seed + 211 * (i + 1)), params,
    notes: `leg B return correlation → ${rho} over bars ${window[0]}–${window[1] - 1}`, rederive: true,
  }));
  for (const bps of settings.cost_increase_bps) scenarios.push({
    name: `cost_increase_${bps}bp`, series, params: withCostIncrease(params, bps, bps / 2),
    notes: `commission +${bps} bp, slippage +${bps / 2} bp one-way on both legs`, rederive: false,
  });
  for (const l of settings.latency_bars) scenarios.push({
    name: `latency_+${l}bar`, series, params: { ...params, latencyBars: params.latencyBars + l },
    notes: `fills ${params.latencyBars + l} bar(s) after the signal`, rederive: false,
  });
  const gaps = gapBars(series.ts, o.gapEveryDays);
  settings.gap_percent.forEach((pct, i) => scenarios.push({
    name: `gap_${pct}pct`, series: gapEvents(series, pct, gaps, o.seed + 307 * (i + 1)), params,
    notes: `leg A jumps ±${pct}% at ${gaps.length} bars (every ${o.gapEveryDays} days)`, rederive: true,
  }));
  return scenarios.map((sc) => {
    const input = sc.rederive && options.rederive ? options.rederive(sc.series, sc.name) : sc.series;
    return { scenario: sc.name, notes: sc.notes, run: runBacktest(input, sc.params) };
  });
}
