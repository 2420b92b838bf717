/**
 * The backtest acceptance gate (seed 002 採用判定（再掲・厳格化））:
 * Sharpe > sharpe_min AND MaxDD < max_dd_max AND trades/yr ≥ trades_per_year_min.
 * The seed's reference ranges (やらない勇気発動率 10–40 %, stop 誤検出 < 10 %) are reported as
 * warnings: they inform, they do not fail the gate.
 */
import type { BacktestPolicy } from '../../policies/schemas.ts';
import type { BacktestKpis } from './kpi.ts';

export type AcceptanceCriteria = BacktestPolicy['acceptance'];

export interface AcceptanceCheck {
  name: 'sharpe' | 'max_dd' | 'trades_per_year';
  value: number;
  threshold: number;
  /** How the value must compare with the threshold. */
  rule: '>' | '<' | '≥';
  passed: boolean;
}

export interface AcceptanceResult {
  passed: boolean;
  /** One line per failed check (empty when passed). */
  reasons: string[];
  checks: AcceptanceCheck[];
  /** Reference ranges missed (non-blocking). */
  warnings: string[];
}

export const HALT_RATE_RANGE = [0.1, 0.4] as const;
export const FALSE_STOP_MAX = 0.1;

export function evaluateAcceptance(
  kpis: Pick<BacktestKpis, 'sharpe' | 'maxDd' | 'tradesPerYear'> & Partial<Pick<BacktestKpis, 'haltRate' | 'ai2FalseStopRate'>>,
  criteria: AcceptanceCriteria,
): AcceptanceResult {
  // NaN compares false everywhere, so an undefined KPI fails its check.
  const checks: AcceptanceCheck[] = [
    { name: 'sharpe', value: kpis.sharpe, threshold: criteria.sharpe_min, rule: '>', passed: kpis.sharpe > criteria.sharpe_min },
    { name: 'max_dd', value: kpis.maxDd, threshold: criteria.max_dd_max, rule: '<', passed: kpis.maxDd < criteria.max_dd_max },
    { name: 'trades_per_year', value: kpis.tradesPerYear, threshold: criteria.trades_per_year_min, rule: '≥', passed: kpis.tradesPerYear >= criteria.trades_per_year_min },
  ];
  const fmt = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));
  const reasons = checks.filter((c) => !c.passed).map((c) => `${c.name} ${fmt(c.value)} is not ${c.rule} ${c.threshold}`);
  const warnings: string[] = [];
  const halt = kpis.haltRate;
  if (halt !== undefined && Number.isFinite(halt) && (halt < HALT_RATE_RANGE[0] || halt > HALT_RATE_RANGE[1])) {
    warnings.push(`halt rate ${fmt(halt)} is outside the reference range ${HALT_RATE_RANGE[0]}–${HALT_RATE_RANGE[1]}`);
  }
  const fs = kpis.ai2FalseStopRate;
  if (fs !== undefined && Number.isFinite(fs) && fs >= FALSE_STOP_MAX) warnings.push(`AI2 false-stop rate ${fmt(fs)} is not below ${FALSE_STOP_MAX}`);
  return { passed: reasons.length === 0, reasons, checks, warnings };
}
