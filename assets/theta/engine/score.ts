/**
 * Scalarised objective of a θ1/θ2 trial (seed 002 閾値最適化 v1, OOS aggregate):
 *
 *   Score = AnnReturn − λ_dd·max(0, MaxDD − dd_target) − λ_trades·max(0, trades_min − trades_per_year) − λ_stop·FP_rate_AI2
 *
 * plus the hard constraints MaxDD ≤ 0.12 and trades_per_year ≥ 150 (an infeasible trial is logged,
 * never chosen) and the recommended FP_rate_AI2 ≤ 10 % (only flagged).
 */
import { invalid } from './errors.ts';
import { SEED_THETA, type ThetaScoreOptions } from './settings.ts';

/**
 * What the caller's evaluation of one θ returns (OOS aggregate). Fractions, not percent:
 * `maxDD` 0.12 = a 12 % drawdown (positive), `fpRateAi2` 0.08 = 8 % false stops. Extra fields are kept.
 */
export interface ThetaEvaluation {
  annReturn: number;
  maxDD: number;
  tradesPerYear: number;
  fpRateAi2: number;
  sharpe: number;
  trades: number;
  [extra: string]: unknown;
}

export type ThetaViolation = 'max_dd' | 'trades_per_year';

export interface ThetaScore {
  score: number;
  /** Each term of the formula, penalties as positive amounts subtracted from annReturn. */
  terms: { annReturn: number; ddPenalty: number; tradesPenalty: number; stopPenalty: number };
  /** Hard constraints met. */
  feasible: boolean;
  violations: ThetaViolation[];
  /** FP_rate_AI2 above the recommended ceiling (not a constraint). */
  fpWarning: boolean;
}

const REQUIRED = ['annReturn', 'maxDD', 'tradesPerYear', 'fpRateAi2', 'sharpe', 'trades'] as const;

/** Throws ML_THETA_INVALID when the evaluation cannot be scored. */
export function checkEvaluation(ev: unknown): asserts ev is ThetaEvaluation {
  if (ev === null || typeof ev !== 'object') invalid(`A θ evaluation must be an object with ${REQUIRED.join(', ')} (got ${String(ev)}).`);
  const e = ev as Record<string, unknown>;
  const bad = REQUIRED.filter((k) => typeof e[k] !== 'number' || !Number.isFinite(e[k] as number));
  if (bad.length > 0) invalid(`A θ evaluation needs finite numbers for ${bad.join(', ')}.`, { fields: bad, values: Object.fromEntries(bad.map((k) => [k, e[k]])) });
  // A negative MaxDD (the "−0.15" sign convention) would pass the DD constraint silently.
  if ((e.maxDD as number) < 0) invalid(`maxDD must be a positive fraction (0.12 = 12 % drawdown), got ${e.maxDD as number}.`, { maxDD: e.maxDD });
  if ((e.fpRateAi2 as number) < 0 || (e.fpRateAi2 as number) > 1) invalid(`fpRateAi2 must be a fraction in [0, 1], got ${e.fpRateAi2 as number}.`, { fpRateAi2: e.fpRateAi2 });
  if ((e.tradesPerYear as number) < 0 || (e.trades as number) < 0) invalid('tradesPerYear and trades must be ≥ 0.', { tradesPerYear: e.tradesPerYear, trades: e.trades });
}

export function thetaScore(ev: ThetaEvaluation, opts: Partial<ThetaScoreOptions> = {}): ThetaScore {
  checkEvaluation(ev);
  const o = { ...SEED_THETA.score, ...opts };
  const ddPenalty = o.lambdaDd * Math.max(0, ev.maxDD - o.ddTarget);
  const tradesPenalty = o.lambdaTrades * Math.max(0, o.tradesMin - ev.tradesPerYear);
  const stopPenalty = o.lambdaStop * ev.fpRateAi2;
  const violations: ThetaViolation[] = [];
  if (ev.maxDD > o.maxDd) violations.push('max_dd');
  if (ev.tradesPerYear < o.tradesPerYearMin) violations.push('trades_per_year');
  return {
    score: ev.annReturn - ddPenalty - tradesPenalty - stopPenalty,
    terms: { annReturn: ev.annReturn, ddPenalty, tradesPenalty, stopPenalty },
    feasible: violations.length === 0,
    violations,
    fpWarning: ev.fpRateAi2 > o.fpRateAi2Max,
  };
}
