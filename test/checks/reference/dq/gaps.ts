// Reference: checks/dq/gaps.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/**
 * Gaps against the expected bar starts (seed 002 DQ: "欠損: 連続欠損 ≤ 2 本は前方埋め+線形補間、
 * >2 本は区間除外・quality_flag=missing").
 *
 * Which bars should exist is the session calendar's decision: the caller passes the expected
 * bar starts. A slot is MISSING when no usable bar arrived for it (none, or one that failed the
 * OHLC rule). Slots whose bar was excluded as an outlier are not missing (they have their own
 * rule and counter) and are never filled; they do not join missing runs either.
 *
 * A maximal run of consecutive missing slots of length ≤ `missing_fill_max_run` is filled:
 *   - the left anchor is the nearest kept bar before the run (or the last lookback bar, which
 *     sits at position −1 of the expected list), the right anchor the nearest kept bar after it;
 *   - with both anchors, the close is linearly interpolated by slot position between the two
 *     anchors' closes ("線形補間"); with only a left anchor (a run at the end of the partition) it
 *     is the left close carried forward ("前方埋め");
 *   - without a left anchor (a run at the very start, no lookback) nothing is filled: we do not
 *     back-fill from the future;
 *   - a filled bar has open = high = low = close, volume null, quality_flag `resampled` (the
 *     seed's flag for a synthesised bar: "リサンプル…resampled フラグを必須付与") and
 *     `metadata.dq_fill` ('interpolated' | 'forward_fill') with the anchors' ts.
 * A longer run is left empty (the seed's "区間除外"): it produces no bars — a placeholder with
 * invented prices would be worse than a hole — and its slots count as missing and unfilled; the
 * `quality_flag=missing` of the seed is therefore carried by the report, not by rows.
 */
import type { CanonicalBar } from '../../../../core/market-data.ts';

export interface GapRun {
  from: string;
  to: string;
  length: number;
  filled: boolean;
}

export interface FillArgs {
  /** Canonical, ascending, unique. */
  expected: readonly string[];
  /** Kept real bars by canonical ts. */
  present: ReadonlyMap<string, CanonicalBar>;
  /** Slots whose bar was excluded as an outlier: neither missing nor anchors. */
  holes: ReadonlySet<string>;
  /** The last lookback bar, if any: left anchor at position −1. */
  leftAnchor?: CanonicalBar;
  symbol: string;
  timeframe: string;
  missing_fill_max_run: number;
}

export interface FillResult {
  filled: CanonicalBar[];
  missingSlots: string[];
  runs: GapRun[];
}

export function fillGaps(a: FillArgs): FillResult {
  const { expected, present, holes } = a;
  const isMissing = (ts: string) => !present.has(ts) && !holes.has(ts);
  const filled: CanonicalBar[] = [];
  const missingSlots: string[] = [];
  const runs: GapRun[] = [];
  // Nearest kept bar at or before each position (index into expected, −1 = lookback anchor).
  let left: { pos: number; bar: CanonicalBar } | null = a.leftAnchor ? { pos: -1, bar: a.leftAnchor } : null;
  let i = 0;
  while (i < expected.length) {
    const ts = expected[i];
    if (present.has(ts)) { left = { pos: i, bar: present.get(ts)! }; i++; continue; }
    if (!isMissing(ts)) { i++; continue; }
    let j = i;
    while (j + 1 < expected.length && isMissing(expected[j + 1])) j++;
    const length = j - i + 1;
    for (let s = i; s <= j; s++) missingSlots.push(expected[s]);
    let right: { pos: number; bar: CanonicalBar } | null = null;
    for (let r = j + 1; r < expected.length; r++) {
      const b = present.get(expected[r]);
      if (b) { right = { pos: r, bar: b }; break; }
    }
    const fill = length <= a.missing_fill_max_run && left !== null;
    runs.push({ from: expected[i], to: expected[j], length, filled: fill });
    if (fill && left) {
      const cl = left.bar.close;
      for (let s = i; s <= j; s++) {
        let close = cl;
        if (right) {
          const w = (s - left.pos) / (right.pos - left.pos);
          const cr = right.bar.close;
          close = Math.min(Math.max((1 - w) * cl + w * cr, Math.min(cl, cr)), Math.max(cl, cr));
        }
        filled.push({
          ts_utc: expected[s],
          symbol: a.symbol,
          timeframe: a.timeframe,
          open: close,
          high: close,
          low: close,
          close,
          volume: null,
          quality_flag: 'resampled',
          source_id: left.bar.source_id,
          ingest_run_id: left.bar.ingest_run_id,
          metadata: {
            dq_fill: right ? 'interpolated' : 'forward_fill',
            dq_fill_from: left.bar.ts_utc,
            dq_fill_to: right ? right.bar.ts_utc : null,
          },
        });
      }
    }
    i = j + 1;
  }
  return { filled, missingSlots, runs };
}
