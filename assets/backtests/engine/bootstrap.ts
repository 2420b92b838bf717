/**
 * 95 % confidence intervals by the moving-block bootstrap (seed 002: ブロックブートストラップ,
 * block_size_bars = 20): resamples glue together blocks of `blockSize` consecutive values with
 * uniformly drawn starts, so short-range dependence (volatility clusters, multi-day trades)
 * survives the resampling. Percentile intervals, seeded with mulberry32 — same seed, same CI.
 */
import { mulberry32 } from '../../../core/random.ts';
import { invalidParams } from './errors.ts';
import { mean, sharpeRatio } from './kpi.ts';

export interface BootstrapOptions {
  /** Block length in values (the seed: 20). */
  blockSize?: number;
  resamples?: number;
  seed?: number;
  /** Two-sided coverage (0.95). */
  level?: number;
}

export const BOOTSTRAP_DEFAULTS = Object.freeze({ blockSize: 20, resamples: 2000, seed: 1, level: 0.95 });

export interface ConfidenceInterval {
  /** The statistic on the data itself. */
  estimate: number;
  lower: number;
  upper: number;
  level: number;
  blockSize: number;
  resamples: number;
}

function resolve(o: BootstrapOptions): Required<BootstrapOptions> {
  const r = { ...BOOTSTRAP_DEFAULTS, ...o };
  if (!(Number.isInteger(r.blockSize) && r.blockSize >= 1)) invalidParams(`bootstrap blockSize must be a positive integer, got ${r.blockSize}`);
  if (!(Number.isInteger(r.resamples) && r.resamples >= 1)) invalidParams(`bootstrap resamples must be a positive integer, got ${r.resamples}`);
  if (!(r.level > 0 && r.level < 1)) invalidParams(`bootstrap level must be in (0, 1), got ${r.level}`);
  return r;
}

/** Linear-interpolation quantile (type 7) of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q, lo = Math.floor(h), hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Fills `out` with a moving-block resample of `x`'s indices. */
function resampleIndices(out: Int32Array, n: number, block: number, random: () => number): void {
  const b = Math.min(block, n), starts = n - b + 1;
  for (let i = 0; i < n;) {
    const s = Math.floor(random() * starts);
    for (let j = 0; j < b && i < n; j++) out[i++] = s + j;
  }
}

function interval(estimate: number, stats: Float64Array, o: Required<BootstrapOptions>): ConfidenceInterval {
  // A statistic undefined on any resample makes the interval undefined, not silently narrower.
  let bad = Number.isNaN(estimate);
  for (let i = 0; i < stats.length && !bad; i++) if (Number.isNaN(stats[i])) bad = true;
  if (bad) return { estimate, lower: NaN, upper: NaN, level: o.level, blockSize: o.blockSize, resamples: o.resamples };
  stats.sort();
  const tail = (1 - o.level) / 2;
  return { estimate, lower: quantileSorted(stats, tail), upper: quantileSorted(stats, 1 - tail), level: o.level, blockSize: o.blockSize, resamples: o.resamples };
}

/** Percentile CI of `statistic` over moving-block resamples of `x`. */
export function blockBootstrapCI(x: ArrayLike<number>, statistic: (sample: Float64Array) => number, options: BootstrapOptions = {}): ConfidenceInterval {
  const o = resolve(options);
  const n = x.length;
  const data = Float64Array.from(x);
  const estimate = statistic(data);
  const stats = new Float64Array(o.resamples).fill(NaN);
  if (n === 0) return interval(estimate, stats, o);
  const random = mulberry32(o.seed), idx = new Int32Array(n), sample = new Float64Array(n);
  for (let r = 0; r < o.resamples; r++) {
    resampleIndices(idx, n, o.blockSize, random);
    for (let i = 0; i < n; i++) sample[i] = data[idx[i]];
    stats[r] = statistic(sample);
  }
  return interval(estimate, stats, o);
}

/** Compound annual return of a daily-return sample spanning `years`. */
export function annualReturnOfReturns(returns: ArrayLike<number>, years: number): number {
  if (!(years > 0)) return NaN;
  let g = 1;
  for (let i = 0; i < returns.length; i++) g *= 1 + returns[i];
  return g > 0 ? g ** (1 / years) - 1 : -1;
}

export interface KpiIntervals {
  sharpe: ConfidenceInterval;
  annReturn: ConfidenceInterval;
  ePerTrade: ConfidenceInterval;
}

/**
 * CIs of the headline KPIs: Sharpe and annual return from the daily returns (blocks of days),
 * E/trade from the trade PnL sequence (blocks of trades). `years` is the backtest's span, so
 * the annual-return estimate equals the KPI's.
 */
export function kpiConfidenceIntervals(
  input: { dailyReturns: ArrayLike<number>; tradePnls: ArrayLike<number>; years: number; periodsPerYear?: number },
  options: BootstrapOptions = {},
): KpiIntervals {
  const ppy = input.periodsPerYear ?? 252;
  return {
    sharpe: blockBootstrapCI(input.dailyReturns, (s) => sharpeRatio(s, ppy), options),
    annReturn: blockBootstrapCI(input.dailyReturns, (s) => annualReturnOfReturns(s, input.years), options),
    ePerTrade: blockBootstrapCI(input.tradePnls, mean, options),
  };
}

export type ImprovementStatistic = 'mean' | 'sharpe' | 'ann_return' | ((newSample: Float64Array, oldSample: Float64Array) => number);

export interface ImprovementOptions extends BootstrapOptions {
  /**
   * What "improvement" measures: 'mean' (default) = mean of new − old daily returns;
   * 'sharpe' = Sharpe(new) − Sharpe(old); 'ann_return' = annual return difference (needs years);
   * or a function of the two paired resamples.
   */
  statistic?: ImprovementStatistic;
  years?: number;
  periodsPerYear?: number;
}

export interface ImprovementInterval extends ConfidenceInterval {
  /** The seed's gate: 改善の下限が非負であれば合格. */
  lowerNonNegative: boolean;
}

/**
 * CI of the improvement of one daily-return series over another on the same days: both are
 * resampled with the same blocks (paired), so their common market moves cancel.
 */
export function improvementCI(newReturns: ArrayLike<number>, oldReturns: ArrayLike<number>, options: ImprovementOptions = {}): ImprovementInterval {
  if (newReturns.length !== oldReturns.length) invalidParams(`improvementCI needs aligned series: ${newReturns.length} vs ${oldReturns.length} values`);
  const o = resolve(options);
  const ppy = options.periodsPerYear ?? 252;
  const stat = options.statistic ?? 'mean';
  if (stat === 'ann_return' && !(options.years !== undefined && options.years > 0)) invalidParams('improvementCI with ann_return needs years > 0');
  const f: (a: Float64Array, b: Float64Array) => number =
    stat === 'mean' ? (a, b) => mean(a) - mean(b)
      : stat === 'sharpe' ? (a, b) => sharpeRatio(a, ppy) - sharpeRatio(b, ppy)
        : stat === 'ann_return' ? (a, b) => annualReturnOfReturns(a, options.years as number) - annualReturnOfReturns(b, options.years as number)
          : stat;
  const n = newReturns.length;
  const a = Float64Array.from(newReturns), b = Float64Array.from(oldReturns);
  const estimate = f(a, b);
  const stats = new Float64Array(o.resamples).fill(NaN);
  if (n > 0) {
    const random = mulberry32(o.seed), idx = new Int32Array(n), sa = new Float64Array(n), sb = new Float64Array(n);
    for (let r = 0; r < o.resamples; r++) {
      resampleIndices(idx, n, o.blockSize, random);
      for (let i = 0; i < n; i++) { sa[i] = a[idx[i]]; sb[i] = b[idx[i]]; }
      stats[r] = f(sa, sb);
    }
  }
  const ci = interval(estimate, stats, o);
  return { ...ci, lowerNonNegative: ci.lower >= 0 };
}
