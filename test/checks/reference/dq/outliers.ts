// Reference: checks/dq/outliers.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/**
 * Close-return outliers (seed 002 DQ: "外れ値: 終値リターンが ±8σ 超過で除外・quality_flag=outlier").
 *
 * Definitions, over a close series c[0..n) (lookback bars first, then the partition's bars):
 *   - return r(m) = ln(c[m] / c[m−1]) between consecutive bars (log returns: symmetric for up and
 *     down moves, additive across gaps);
 *   - σ at bar n is ROLLING and TRAILING: it comes from the `outlier_window_bars` returns before
 *     n, r(max(1, n−W)) … r(n−1), never r(n) itself, so a bar's verdict uses no data after it;
 *   - σ is a SIGMA-CLIPPED standard deviation (stats.ts clippedScale): returns farther than
 *     outlier_sigma·s0 from the window's median are set aside, s0 being the larger of the MAD-
 *     and the mean-absolute-deviation estimates of σ (stats.ts clipScale: the MAD alone collapses
 *     on tick-discrete returns), and σ and the center are the sample standard deviation and mean
 *     of the rest. Why not the plain rolling
 *     std: one bad print (and the return that reverts it) would inflate it for the next 180 bars
 *     and mask other outliers — a 50σ print among 30 returns makes the std ≈ 9σ. Why not the MAD
 *     σ itself: for any symmetric return distribution 12·median|Δclose| ≈ 8.1 MAD-σ, so with the
 *     seed's k_spike = 12 every spike would already be an 8σ outlier and the spike rule could
 *     never fire; the clipped std keeps the usual meaning of "σ" (it equals the std for clean
 *     data, fat tails included), which leaves spikes between 12·median|Δ| and 8σ to be flagged;
 *   - with fewer than `dq_min_periods` returns in the window, or no scale, the bar is not tested;
 *   - bar n is an outlier when BOTH its return from the previous bar, r(n), AND its return from
 *     the last bar that survived this rule, ln(c[n] / c[last kept]), lie more than
 *     outlier_sigma·σ from the center. The two coincide unless the previous bar was an outlier.
 *     With only the first, the bar after a single bad print (whose return reverts the print)
 *     would be excluded too; with only the second, a genuine level shift would make every later
 *     bar an "outlier" against the pre-shift price, forever (and across partitions through the
 *     lookback). Requiring both removes exactly the bad print in the first case and exactly the
 *     jump bar in the second.
 */
import type { DqThresholds } from './types.ts';
import { SortedWindow, clippedScaleSorted } from './stats.ts';

export interface OutlierStat {
  /** r(n) and the return from the last kept bar. */
  ret: number;
  retFromKept: number;
  center: number;
  sigma: number;
}

export interface OutlierResult {
  /** One per close; lookback positions (< start) are always false. */
  outlier: boolean[];
  /** The statistics a tested bar was judged on (null when not tested). */
  stats: Array<OutlierStat | null>;
}

export function detectOutliers(
  closes: readonly number[],
  start: number,
  p: Pick<DqThresholds, 'outlier_sigma' | 'outlier_window_bars' | 'dq_min_periods'>,
): OutlierResult {
  const n = closes.length;
  const outlier = new Array<boolean>(n).fill(false);
  const stats = new Array<OutlierStat | null>(n).fill(null);
  const ret = (m: number) => Math.log(closes[m] / closes[m - 1]);
  let lastKept = start - 1; // lookback bars are trusted
  // The trailing returns r(lo) … r(i−1), kept sorted as the window slides.
  const window = new SortedWindow(p.outlier_window_bars);
  let wLo = 1;
  let wHi = 1;
  for (let i = Math.max(start, 0); i < n; i++) {
    if (i === 0) { lastKept = 0; continue; }
    const lo = Math.max(1, i - p.outlier_window_bars);
    if (i - lo < p.dq_min_periods) { lastKept = i; continue; }
    if (lo >= wHi) { window.clear(); wLo = wHi = lo; }
    for (; wHi < i; wHi++) window.insert(ret(wHi));
    for (; wLo < lo; wLo++) window.remove(ret(wLo));
    const s = clippedScaleSorted(window.sorted(), p.outlier_sigma);
    if (!s) { lastKept = i; continue; }
    const r = ret(i);
    const rk = Math.log(closes[i] / closes[lastKept]);
    stats[i] = { ret: r, retFromKept: rk, center: s.center, sigma: s.sigma };
    const limit = p.outlier_sigma * s.sigma;
    if (Math.abs(r - s.center) > limit && Math.abs(rk - s.center) > limit) outlier[i] = true;
    else lastKept = i;
  }
  return { outlier, stats };
}
