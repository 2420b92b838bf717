// Reference: checks/dq/pipeline.ts as of commit 5b2be95, before the ingest speed-up; test/checks/equivalence.test.ts holds the optimised code to it. Do not edit.
/**
 * One DQ pass over one partition of canonical bars (seed 002 ETL step 2 "整形" + step 3 "DQ 検査"):
 *
 *   1. UTC alignment: RFC3339 with `Z`, on the timeframe grid; ts rewritten to
 *      canonical text (`…T05:00:00.000Z`)                                    → misaligned_count
 *   2. dedupe by (symbol, timeframe, ts_utc), latest wins                    → duplicates_dropped
 *      (after alignment, so `…T05:00:00Z` and `…T05:00:00.000Z` are one key, while a
 *      misaligned spelling such as `…T05:00:00+00:00` cannot shadow the valid bar; every
 *      misaligned row counts)
 *   3. calendar: an aligned bar whose start is not expected is dropped        → unexpected_count
 *   4. OHLC(V) consistency; such a bar is dropped and its slot is missing     → ohlc_violations
 *   5. re-order ascending; close-return outliers (±outlier_sigma·σ, trailing sigma-
 *      clipped σ — see outliers.ts) are dropped with quality_flag `outlier`  → outlier_count
 *   6. gaps against `expected`: runs ≤ missing_fill_max_run filled (see gaps.ts) → missing_count, filled_count
 *   7. spikes on the resulting series: flagged `metadata.dq_spike = true`, kept → spike_count
 *
 * Dropped bars go to `excluded` with `metadata.dq_reason`; misaligned, unexpected and OHLC-broken
 * bars get quality_flag `conflict` (they contradict the contract), outliers `outlier`, and
 * superseded duplicates keep their own flag (they are older versions, not bad data).
 * Conservation: rows_in = rows_out − filled_count + excluded.length.
 *
 * Pure: the input is not mutated; a bar that changes (ts text, flag, metadata) is a copy.
 */
import { OrreryError } from '../../../../core/errors.ts';
import { timeframeMs, type CanonicalBar } from '../../../../core/market-data.ts';
import { dedupeBars, sortBars } from './dedupe.ts';
import { fillGaps } from './gaps.ts';
import { ohlcProblem } from './ohlc.ts';
import { detectOutliers } from './outliers.ts';
import { detectSpikes } from './spikes.ts';
import { checkAlignment } from './time.ts';
import { DqErrorIds, parseDqThresholds, type DqExclusionReason, type DqInput, type DqReport, type DqResult, type DqThresholds } from './types.ts';

function withMeta(bar: CanonicalBar, patch: Partial<CanonicalBar>, meta: Record<string, unknown>): CanonicalBar {
  return { ...bar, ...patch, metadata: { ...(bar.metadata ?? {}), ...meta } };
}

/** Canonical, ascending, unique expected bar starts; every one must be aligned. */
export function normaliseExpected(expected: readonly string[], timeframe: string): string[] {
  const out = new Set<string>();
  for (const ts of expected) {
    const a = checkAlignment(ts, timeframe);
    if (!a.ok) throw new OrreryError(DqErrorIds.INPUT, `Expected bar start "${ts}" is not an aligned UTC ${timeframe} bar start (${a.why}).`, { ts, timeframe, why: a.why });
    out.add(a.ts);
  }
  return [...out].sort();
}

export function runDq(input: DqInput, thresholds: DqThresholds): DqResult {
  const t = parseDqThresholds(thresholds);
  const { symbol, timeframe } = input;
  timeframeMs(timeframe); // DATA_TF_UNKNOWN for an unknown timeframe
  for (const [what, list] of [['bars', input.bars], ['lookback', input.lookback ?? []]] as const) {
    const foreign = list.find((b) => b.symbol !== symbol || b.timeframe !== timeframe);
    if (foreign) {
      throw new OrreryError(DqErrorIds.INPUT, `DQ runs over one series (${symbol} ${timeframe}); ${what} holds a bar of ${foreign.symbol} ${foreign.timeframe}.`, { symbol, timeframe, found: { symbol: foreign.symbol, timeframe: foreign.timeframe, ts_utc: foreign.ts_utc } });
    }
  }
  const expected = normaliseExpected(input.expected, timeframe);
  const expectedSet = new Set(expected);
  const excluded: CanonicalBar[] = [];
  const exclude = (bar: CanonicalBar, reason: DqExclusionReason, flag: CanonicalBar['quality_flag'], extra: Record<string, unknown> = {}) =>
    excluded.push(withMeta(bar, { quality_flag: flag }, { dq_reason: reason, ...extra }));

  // 1. alignment
  let misaligned = 0, unexpected = 0, ohlc = 0;
  const aligned: CanonicalBar[] = [];
  for (const b of input.bars) {
    const a = checkAlignment(b.ts_utc, timeframe);
    if (!a.ok) { misaligned++; exclude(b, 'misaligned', 'conflict', { dq_detail: a.why }); continue; }
    aligned.push(a.ts === b.ts_utc ? b : { ...b, ts_utc: a.ts });
  }

  // 2. dedupe
  const dd = dedupeBars(aligned);
  for (const b of dd.dropped) exclude(b, 'duplicate', b.quality_flag);

  // 3–4. calendar, OHLC
  const usable: CanonicalBar[] = [];
  for (const bar of dd.bars) {
    if (!expectedSet.has(bar.ts_utc)) { unexpected++; exclude(bar, 'off_calendar', 'conflict'); continue; }
    const problem = ohlcProblem(bar);
    if (problem) { ohlc++; exclude(bar, 'ohlc', 'conflict', { dq_detail: problem }); continue; }
    usable.push(bar);
  }
  const partition = sortBars(usable);

  // Lookback: same series, deduped, aligned, usable, strictly before the partition's first expected bar.
  const first = expected[0];
  const lookback = first === undefined ? [] : sortBars(
    dedupeBars(input.lookback ?? []).bars
      .map((b) => { const a = checkAlignment(b.ts_utc, timeframe); return a.ok ? (a.ts === b.ts_utc ? b : { ...b, ts_utc: a.ts }) : null; })
      .filter((b): b is CanonicalBar => b !== null && b.ts_utc < first && ohlcProblem(b) === null),
  );

  // 5. outliers
  const L = lookback.length;
  const { outlier, stats } = detectOutliers([...lookback, ...partition].map((b) => b.close), L, t);
  const kept: CanonicalBar[] = [];
  const holes = new Set<string>();
  partition.forEach((b, k) => {
    const s = stats[L + k];
    if (outlier[L + k] && s) {
      holes.add(b.ts_utc);
      exclude(b, 'outlier', 'outlier', { dq_return: s.ret, dq_return_from_kept: s.retFromKept, dq_center: s.center, dq_sigma: s.sigma });
    } else kept.push(b);
  });

  // 6. gaps
  const present = new Map(kept.map((b) => [b.ts_utc, b] as const));
  const gaps = fillGaps({ expected, present, holes, leftAnchor: lookback[L - 1], symbol, timeframe, missing_fill_max_run: t.missing_fill_max_run });
  const filledByTs = new Map(gaps.filled.map((b) => [b.ts_utc, b] as const));
  const series: CanonicalBar[] = [];
  for (const ts of expected) {
    const b = present.get(ts) ?? filledByTs.get(ts);
    if (b) series.push(b);
  }

  // 7. spikes
  const spike = detectSpikes([...lookback, ...series].map((b) => b.close), L, t);
  let spikes = 0;
  const bars = series.map((b, k) => {
    if (!spike[L + k]) return b;
    spikes++;
    return withMeta(b, {}, { dq_spike: true });
  });

  const n = expected.length;
  const missing = gaps.missingSlots.length;
  const filled = gaps.filled.length;
  const outliers = holes.size;
  const report: DqReport = {
    symbol,
    timeframe,
    range: { from: expected[0] ?? null, to: expected[n - 1] ?? null },
    rows_in: input.bars.length,
    rows_out: bars.length,
    expected_count: n,
    duplicates_dropped: dd.dropped.length,
    misaligned_count: misaligned,
    unexpected_count: unexpected,
    ohlc_violations: ohlc,
    missing_count: missing,
    missing_rate: n === 0 ? 0 : missing / n,
    filled_count: filled,
    unfilled_count: missing - filled,
    missing_runs: gaps.runs.length,
    longest_missing_run: gaps.runs.reduce((m, r) => Math.max(m, r.length), 0),
    outlier_count: outliers,
    outlier_rate: n === 0 ? 0 : outliers / n,
    spike_count: spikes,
  };
  return { bars, excluded, report };
}
