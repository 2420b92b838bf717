/**
 * Types, thresholds and error ids of the data-quality (DQ) stage over one partition of canonical
 * bars (seed 002 "data-assets-pipeline 仕様 v1" → DQ rules; "監視・運用" → quarantine).
 *
 * Every threshold is a parameter: the functions of `checks/dq/` have no built-in defaults. The
 * seed's values are exported as constants for callers (and tests) to pass explicitly.
 */
import { z } from 'zod';
import { ConfigError } from '../../core/config/loader.ts';
import { issuesToProblems } from '../../core/config/loader.ts';
import type { CanonicalBar } from '../../core/market-data.ts';

/** Error ids of the DQ domain (`{DOMAIN}_{CATEGORY}_{CODE}`). */
export const DqErrorIds = {
  /** A partition breaches `missing_rate_max` / `outlier_rate_max`: it is quarantined. */
  THRESHOLD: 'DATA_DQ_THRESHOLD',
  /** The DQ input itself is unusable (a bar of another series, an unparsable expected ts, …). */
  INPUT: 'DATA_DQ_INPUT',
} as const;

/**
 * DQ thresholds. Names follow the seed's settings keys where the seed names one
 * (`missing_fill_max_run`, `outlier_sigma`, `dq_spike_k`; `dq_thresholds.missing_rate` /
 * `.outlier_rate` become `missing_rate_max` / `outlier_rate_max`). The window lengths are in
 * bars (seed: "すべての窓長・閾値は「バー数」"), and `dq_min_periods` is the fewest past
 * observations a rolling estimate needs before a bar is tested at all.
 */
export interface DqThresholds {
  /** Longest run of missing bars that is filled (seed: 連続欠損 ≤ 2 本). */
  missing_fill_max_run: number;
  /** Close returns beyond ±outlier_sigma·σ are outliers (seed: ±8σ). */
  outlier_sigma: number;
  /** Trailing returns the robust σ is estimated from (the seed's rolling window, 180 bars). */
  outlier_window_bars: number;
  /** k_spike of `|Δclose| > k_spike · median(|Δclose|, 180)` (seed: 12). */
  dq_spike_k: number;
  /** The 180 of `median(|Δclose|, 180)`. */
  dq_spike_window_bars: number;
  /** A bar is tested for outlier / spike only once this many past observations exist. */
  dq_min_periods: number;
  /** Quarantine when missing_rate > this (seed: 5 %). */
  missing_rate_max: number;
  /** Quarantine when outlier_rate > this (seed: 8 %). */
  outlier_rate_max: number;
}

/**
 * The seed's numbers (002: DQ rules and `dq_thresholds`). `dq_min_periods` is not in the seed:
 * 30 returns is our choice, the usual floor for a stable median/MAD estimate.
 */
export const SEED_DQ_THRESHOLDS: Readonly<DqThresholds> = Object.freeze({
  missing_fill_max_run: 2,
  outlier_sigma: 8,
  outlier_window_bars: 180,
  dq_spike_k: 12,
  dq_spike_window_bars: 180,
  dq_min_periods: 30,
  missing_rate_max: 0.05,
  outlier_rate_max: 0.08,
});

const posInt = z.number().int().positive();
export const DqThresholdsSchema = z.strictObject({
  missing_fill_max_run: z.number().int().min(0),
  outlier_sigma: z.number().positive(),
  outlier_window_bars: posInt,
  dq_spike_k: z.number().positive(),
  dq_spike_window_bars: posInt,
  dq_min_periods: posInt,
  missing_rate_max: z.number().min(0).max(1),
  outlier_rate_max: z.number().min(0).max(1),
});

/** The last thresholds object that passed the schema, its own keys and values then, and the result. */
let lastValid: { raw: unknown; values: [string, unknown][]; data: DqThresholds } | undefined;

/** A plain object's own keys and values when every key is a data property; undefined otherwise. */
function plainValues(raw: unknown): [string, unknown][] | undefined {
  if (raw === null || typeof raw !== 'object' || Object.getPrototypeOf(raw) !== Object.prototype) return undefined;
  const out: [string, unknown][] = [];
  for (const key of Reflect.ownKeys(raw)) {
    const d = Object.getOwnPropertyDescriptor(raw, key);
    if (typeof key !== 'string' || !d || !('value' in d) || !d.enumerable) return undefined;
    out.push([key, d.value]);
  }
  return out;
}

function sameValues(raw: Record<string, unknown>, values: [string, unknown][]): boolean {
  if (Object.getPrototypeOf(raw) !== Object.prototype) return false;
  const now = plainValues(raw);
  if (!now || now.length !== values.length) return false;
  for (let i = 0; i < values.length; i++) if (now[i][0] !== values[i][0] || !Object.is(now[i][1], values[i][1])) return false;
  return true;
}

/** Validates a thresholds object (strict: unknown or missing keys are errors, `CORE_CONFIG_*`). */
export function parseDqThresholds(raw: unknown): DqThresholds {
  // Every partition passes the same thresholds object: one that was valid before and still holds
  // the same plain values gives the same result without running the schema again.
  const last = lastValid;
  if (last !== undefined && raw === last.raw && sameValues(raw as Record<string, unknown>, last.values)) return { ...last.data };
  const r = DqThresholdsSchema.safeParse(raw);
  if (r.success) {
    const values = plainValues(raw);
    lastValid = values ? { raw, values, data: { ...r.data } } : undefined;
    return r.data;
  }
  throw new ConfigError(issuesToProblems(r.error, raw, '(dq thresholds)'));
}

/**
 * The policy keys of `pipeline_policy.yaml` that carry DQ thresholds (structural, so `checks/`
 * does not import `assets/`).
 */
export interface DqPolicyKeys {
  missing_fill_max_run: number;
  outlier_sigma: number;
  dq_spike_k: number;
  dq_thresholds: { missing_rate: number; outlier_rate: number };
}

/** Thresholds from the pipeline policy plus the window lengths the policy has no key for. */
export function dqThresholdsFromPolicy(
  policy: DqPolicyKeys,
  windows: Pick<DqThresholds, 'outlier_window_bars' | 'dq_spike_window_bars' | 'dq_min_periods'>,
): DqThresholds {
  return parseDqThresholds({
    missing_fill_max_run: policy.missing_fill_max_run,
    outlier_sigma: policy.outlier_sigma,
    dq_spike_k: policy.dq_spike_k,
    missing_rate_max: policy.dq_thresholds.missing_rate,
    outlier_rate_max: policy.dq_thresholds.outlier_rate,
    outlier_window_bars: windows.outlier_window_bars,
    dq_spike_window_bars: windows.dq_spike_window_bars,
    dq_min_periods: windows.dq_min_periods,
  });
}

/** Why a bar left the partition; also written to the excluded bar's `metadata.dq_reason`. */
export type DqExclusionReason = 'duplicate' | 'misaligned' | 'off_calendar' | 'ohlc' | 'outlier';

export interface DqInput {
  /** The series this partition belongs to; every bar must carry it. */
  symbol: string;
  timeframe: string;
  /** The partition's bars, in any order, duplicates allowed. */
  bars: readonly CanonicalBar[];
  /**
   * The bars that should exist (the session calendar's bar starts in the partition), as ts_utc.
   * Any order; normalised to canonical ts text.
   */
  expected: readonly string[];
  /**
   * Earlier, already cleaned bars of the same series (e.g. the previous month's output): context
   * for the rolling windows and the left anchor of a leading gap. Only bars before the first
   * expected ts are used; they are never counted, flagged or returned.
   */
  lookback?: readonly CanonicalBar[];
}

/** Counters of one DQ pass; JSON-safe (assignable to JsonObject), to be stored as `dq_counters` in the partition's meta. */
export type DqReport = {
  symbol: string;
  timeframe: string;
  /** First and last expected bar start (null when nothing was expected). */
  range: { from: string | null; to: string | null };
  rows_in: number;
  /** Bars in the cleaned partition: real bars kept + filled bars. */
  rows_out: number;
  expected_count: number;
  /** Superseded versions of a (symbol, timeframe, ts_utc) key (`data_dedupe_drops_total`). */
  duplicates_dropped: number;
  /** Not RFC3339 UTC (`Z`) or not on the timeframe grid. */
  misaligned_count: number;
  /** Aligned, but not an expected bar start (outside the session calendar or the partition). */
  unexpected_count: number;
  /** Not finite / non-positive prices, low > min(open, close), max(open, close) > high, or a negative / non-finite volume. */
  ohlc_violations: number;
  /** Expected slots with no usable bar — filled or not (the seed's 欠損). */
  missing_count: number;
  /** missing_count / expected_count (0 when nothing is expected). */
  missing_rate: number;
  /** Missing slots that were filled (runs ≤ missing_fill_max_run with an anchor). */
  filled_count: number;
  /** Missing slots left empty (runs > missing_fill_max_run, or no left anchor). */
  unfilled_count: number;
  /** Maximal runs of consecutive missing expected slots, and the longest one. */
  missing_runs: number;
  longest_missing_run: number;
  outlier_count: number;
  /** outlier_count / expected_count (0 when nothing is expected). */
  outlier_rate: number;
  /** Bars flagged (kept) by the spike rule. */
  spike_count: number;
};

export interface DqResult {
  /** The cleaned partition, ascending by ts_utc: real bars kept plus filled (`resampled`) bars. */
  bars: CanonicalBar[];
  /** Every input bar that is not in `bars`, with `metadata.dq_reason` and its quality flag. */
  excluded: CanonicalBar[];
  report: DqReport;
}
