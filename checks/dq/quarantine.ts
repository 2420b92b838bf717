/**
 * Quarantine (seed 002 "隔離（Quarantine）": `missing_rate > 5%` または `outlier_rate > 8%`; the
 * timeframe×symbol×month partition is kept out of training/backtest outputs and
 * `__quarantine.json` records the reasons, thresholds and time range — the decision below is
 * that record). Strictly greater: a rate exactly at the threshold passes.
 *
 * The seed's third condition, a jump of `beta_stability_std`, is a property of a pair's derived
 * β series, not of one symbol's bars; it belongs to the derived-series checks, not here.
 */
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import { DqErrorIds, type DqReport, type DqThresholds } from './types.ts';

/** JSON-safe (assignable to JsonObject): write it as `__quarantine.json`. */
export type QuarantineDecision = {
  quarantined: boolean;
  /** `DATA_DQ_THRESHOLD` when quarantined, else null. */
  error_id: typeof DqErrorIds.THRESHOLD | null;
  /** One line per breached threshold, e.g. `missing_rate 0.0625 > missing_rate_max 0.05`. */
  reasons: string[];
  thresholds: { missing_rate_max: number; outlier_rate_max: number };
  observed: { missing_rate: number; outlier_rate: number; missing_count: number; outlier_count: number; expected_count: number };
  /** The partition's series and time range (first and last expected bar start). */
  symbol: string;
  timeframe: string;
  range: { from: string | null; to: string | null };
};

export function quarantineDecision(report: DqReport, thresholds: Pick<DqThresholds, 'missing_rate_max' | 'outlier_rate_max'>): QuarantineDecision {
  const { missing_rate_max, outlier_rate_max } = thresholds;
  for (const [k, v] of [['missing_rate_max', missing_rate_max], ['outlier_rate_max', outlier_rate_max]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new OrreryError(ErrorIds.CONFIG_INVALID, `${k} must be a number in [0, 1], got ${String(v)}.`, { key: k, value: v });
  }
  const reasons: string[] = [];
  if (report.missing_rate > missing_rate_max) reasons.push(`missing_rate ${report.missing_rate.toFixed(4)} > missing_rate_max ${missing_rate_max} (${report.missing_count}/${report.expected_count} bars missing)`);
  if (report.outlier_rate > outlier_rate_max) reasons.push(`outlier_rate ${report.outlier_rate.toFixed(4)} > outlier_rate_max ${outlier_rate_max} (${report.outlier_count}/${report.expected_count} bars outliers)`);
  const quarantined = reasons.length > 0;
  return {
    quarantined,
    error_id: quarantined ? DqErrorIds.THRESHOLD : null,
    reasons,
    thresholds: { missing_rate_max, outlier_rate_max },
    observed: { missing_rate: report.missing_rate, outlier_rate: report.outlier_rate, missing_count: report.missing_count, outlier_count: report.outlier_count, expected_count: report.expected_count },
    symbol: report.symbol,
    timeframe: report.timeframe,
    range: { ...report.range },
  };
}

/** The error a step raises for a quarantined partition (`DATA_DQ_THRESHOLD`, details = the decision). */
export function quarantineError(decision: QuarantineDecision): OrreryError {
  return new OrreryError(
    DqErrorIds.THRESHOLD,
    `Partition ${decision.timeframe}|${decision.symbol} ${decision.range.from ?? '?'}..${decision.range.to ?? '?'} is quarantined: ${decision.reasons.join('; ')}. Re-fetch and fill the range, then re-run DQ; it is released when the rates are back under the thresholds.`,
    decision as unknown as Record<string, unknown>,
  );
}
