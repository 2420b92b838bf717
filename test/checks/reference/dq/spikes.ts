// Reference: checks/dq/spikes.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/**
 * Spikes (seed 002 DQ: "スパイク: |Δclose| > k_spike · median(|Δclose|, 180) でフラグ（k_spike=12）").
 *
 * Over a close series c[0..n) (lookback first, then the partition as it leaves DQ, filled bars
 * included — the series consumers will see): Δ(m) = c[m] − c[m−1] in price units. Bar n is a
 * spike when |Δ(n)| > dq_spike_k · median(|Δ(m)|) over the trailing `dq_spike_window_bars`
 * differences BEFORE n (the bar's own move is not part of its reference, so a spike cannot
 * raise its own bar). Not tested with fewer than `dq_min_periods` differences in the window, or
 * when that median is 0 (no scale: at least half the recent bars did not move). Spikes are only
 * flagged, never removed.
 */
import type { DqThresholds } from './types.ts';
import { SortedWindow } from './stats.ts';

export function detectSpikes(
  closes: readonly number[],
  start: number,
  p: Pick<DqThresholds, 'dq_spike_k' | 'dq_spike_window_bars' | 'dq_min_periods'>,
): boolean[] {
  const n = closes.length;
  const spike = new Array<boolean>(n).fill(false);
  const d = (m: number) => Math.abs(closes[m] - closes[m - 1]);
  // The trailing differences d(lo) … d(i−1), kept sorted as the window slides.
  const window = new SortedWindow(p.dq_spike_window_bars);
  let wLo = 1;
  let wHi = 1;
  for (let i = Math.max(start, 1); i < n; i++) {
    const lo = Math.max(1, i - p.dq_spike_window_bars);
    if (i - lo < p.dq_min_periods) continue;
    if (lo >= wHi) { window.clear(); wLo = wHi = lo; }
    for (; wHi < i; wHi++) window.insert(d(wHi));
    for (; wLo < lo; wLo++) window.remove(d(wLo));
    const med = window.median();
    if (med > 0 && d(i) > p.dq_spike_k * med) spike[i] = true;
  }
  return spike;
}
